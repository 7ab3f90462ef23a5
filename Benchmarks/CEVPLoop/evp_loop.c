/*
 * The C baseline for Benchmarks/compare: AES-256-GCM sealing through libcrypto's EVP API the way a
 * careful C caller writes it. The cipher is fetched once and one context keeps the key schedule,
 * so each message only re-sets the IV; the IV comes from RAND_bytes for every message, as a caller
 * without an IV pool does. Output buffers are allocated once, which favours this loop: the engine
 * allocates every blob it returns.
 *
 * Usage: evp_loop [SECONDS] [WARMUP_SECONDS]
 * Prints `c NAME OPS_PER_S MB_PER_S` per size, MB being 10^6 plaintext bytes as in `openssl speed`.
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { KEY_BYTES = 32, IV_BYTES = 12, TAG_BYTES = 16 };

static double monotonic_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void fail(const char *operation)
{
    fprintf(stderr, "evp_loop: %s failed\n", operation);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* One message: a fresh IV on the kept context, the plaintext through, the tag out. */
static void seal_one(EVP_CIPHER_CTX *context, const unsigned char *plaintext, unsigned char *ciphertext, int length,
                     unsigned char tag[TAG_BYTES])
{
    unsigned char iv[IV_BYTES];
    int written = 0;
    int final_written = 0;

    if (RAND_bytes(iv, sizeof iv) != 1)
        fail("RAND_bytes");
    if (EVP_EncryptInit_ex(context, NULL, NULL, NULL, iv) != 1)
        fail("EVP_EncryptInit_ex");
    if (EVP_EncryptUpdate(context, ciphertext, &written, plaintext, length) != 1)
        fail("EVP_EncryptUpdate");
    if (EVP_EncryptFinal_ex(context, ciphertext + written, &final_written) != 1)
        fail("EVP_EncryptFinal_ex");
    if (EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, tag) != 1)
        fail("EVP_CTRL_GCM_GET_TAG");
}

/*
 * Seals until `seconds` have passed and returns messages per second. Batches double until one lasts
 * about 10 ms, so clock reads stay out of the per-message cost (same scheme as EngineThroughput).
 */
static double seals_per_second(EVP_CIPHER_CTX *context, const unsigned char *plaintext, unsigned char *ciphertext,
                               int length, double seconds)
{
    unsigned char tag[TAG_BYTES];
    long batch = 1;
    long messages = 0;
    double start = monotonic_seconds();
    double elapsed;

    do {
        double batch_start = monotonic_seconds();
        for (long i = 0; i < batch; i++)
            seal_one(context, plaintext, ciphertext, length, tag);
        double batch_end = monotonic_seconds();
        messages += batch;
        elapsed = batch_end - start;
        if (batch_end - batch_start < 0.01)
            batch *= 2;
    } while (elapsed < seconds);
    return (double)messages / elapsed;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int length;
    } sizes[] = {{"seal-64b", 64}, {"seal-1mib", 1024 * 1024}};
    double seconds = argc > 1 ? atof(argv[1]) : 1.5;
    double warmup = argc > 2 ? atof(argv[2]) : 0.3;
    unsigned char key[KEY_BYTES];

    if (seconds <= 0 || warmup <= 0) {
        fprintf(stderr, "usage: %s [SECONDS] [WARMUP_SECONDS]\n", argv[0]);
        return 2;
    }

    /* An explicit fetch once: EVP_aes_256_gcm() in every init would look the provider up each time. */
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    EVP_CIPHER_CTX *context = EVP_CIPHER_CTX_new();
    if (cipher == NULL || context == NULL)
        fail("EVP_CIPHER_fetch / EVP_CIPHER_CTX_new");
    if (RAND_bytes(key, sizeof key) != 1)
        fail("RAND_bytes");
    if (EVP_EncryptInit_ex(context, cipher, NULL, key, NULL) != 1)
        fail("EVP_EncryptInit_ex");
    OPENSSL_cleanse(key, sizeof key);

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int length = sizes[i].length;
        unsigned char *plaintext = malloc((size_t)length);
        unsigned char *ciphertext = malloc((size_t)length);
        if (plaintext == NULL || ciphertext == NULL)
            fail("malloc");
        if (RAND_bytes(plaintext, length) != 1)
            fail("RAND_bytes");

        (void)seals_per_second(context, plaintext, ciphertext, length, warmup);
        double messages = seals_per_second(context, plaintext, ciphertext, length, seconds);
        printf("c %s %.0f %.2f\n", sizes[i].name, messages, messages * length / 1e6);
        fflush(stdout);

        free(plaintext);
        free(ciphertext);
    }

    EVP_CIPHER_CTX_free(context);
    EVP_CIPHER_free(cipher);
    return 0;
}
