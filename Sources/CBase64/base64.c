// Strict standard base64 (RFC 4648 section 4): a portable scalar codec, and on x86-64 vector kernels for the bulk
// of long inputs (encoding: AVX-512 VBMI, then AVX2; decoding: AVX2), chosen at run time. The scalar code finishes
// what a kernel leaves (the tail and the padded final quantum), so all paths share one definition of the format.

#include "CBase64.h"

#include <stdint.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define CBASE64_X86 1
#include <immintrin.h>
#endif

// 65 with the string's NUL; the VBMI kernel loads the first 64 as its lookup table.
static const uint8_t alphabet[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Characters outside the alphabet map to 0xFF, so OR-ing four lookups tests a whole quad at once.
static const uint8_t decoding[256] = {
#define X 0xFF
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  // 0x00
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  // 0x10
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63,  // 0x20: '+' '/'
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  // 0x30: '0'-'9'
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,  // 0x40: 'A'-'O'
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,  // 0x50: 'P'-'Z'
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,  // 0x60: 'a'-'o'
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  // 0x70: 'p'-'z'
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  // 0x80-0xFF: never ASCII
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
#undef X
};

#if CBASE64_X86

// The runtime's startup code fills the CPU model once (checking that the OS saves the YMM and ZMM state too), so
// these are a load and a test, not a CPUID per call.
static bool has_avx2(void) { return __builtin_cpu_supports("avx2"); }
static bool has_avx512vbmi(void) { return __builtin_cpu_supports("avx512vbmi"); }

// Encodes 48 bytes into 64 characters per iteration with byte permutes, which AVX-512 VBMI makes full width;
// returns how many input bytes it consumed (a multiple of 48). It loads 64 bytes, so it stops 64 bytes from the end.
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) static size_t encode_avx512vbmi(const uint8_t *input,
                                                                                       size_t length,
                                                                                       uint8_t *output) {
    // As in the AVX2 kernel: per 32-bit word the 3 input bytes b0 b1 b2 as [b1, b0, b2, b1].
    const __m512i spread = _mm512_set_epi32(0x2E2F2D2E, 0x2B2C2A2B, 0x28292728, 0x25262425, 0x22232122, 0x1F201E1F,
                                            0x1C1D1B1C, 0x191A1819, 0x16171516, 0x13141213, 0x10110F10, 0x0D0E0C0D,
                                            0x0A0B090A, 0x07080607, 0x04050304, 0x01020001);
    // Per word the fields a, b, c, d start at bits 10, 4, 22 and 16 (see the AVX2 kernel); multishift copies the 8
    // bits from each offset into one byte, and the alphabet permute ignores the top 2 bits, so no mask is needed.
    const __m512i fields = _mm512_set1_epi64(0x3036242A1016040A);
    const __m512i letters = _mm512_loadu_si512((const void *)alphabet);

    size_t consumed = 0;
    while (length - consumed >= 64) {
        __m512i bytes = _mm512_permutexvar_epi8(spread, _mm512_loadu_si512((const void *)(input + consumed)));
        __m512i indices = _mm512_multishift_epi64_epi8(fields, bytes);
        _mm512_storeu_si512((void *)(output + consumed / 3 * 4), _mm512_permutexvar_epi8(indices, letters));
        consumed += 48;
    }
    return consumed;
}

// Encodes 24 bytes into 32 characters per iteration; returns how many input bytes it consumed (a multiple of 24).
// Each 128-bit lane takes 12 input bytes, so the loop reads 4 bytes past the 24 it encodes and stops early enough
// never to read past `length`.
__attribute__((target("avx2"))) static size_t encode_avx2(const uint8_t *input, size_t length, uint8_t *output) {
    // Per 32-bit word, the 3 input bytes b0 b1 b2 as [b1, b0, b2, b1]: each 6-bit field then lies within one of
    // the two 16-bit halves, where a multiply can shift it into place.
    const __m256i spread =
        _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10, 1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9,
                         11, 10);
    // With b0 b1 b2 -> fields a b c d, the low 16-bit half (b0:b1) holds a at bits 10-15 and b at bits 4-9, the
    // high half (b1:b2) c at bits 6-11 and d at bits 0-5. mulhi by 2^6 and 2^10 brings a and c down to bits 0-5
    // of their halves; mullo by 2^4 and 2^8 lifts b and d to bits 8-13. OR-ed: one 6-bit index per byte, in order.
    const __m256i mask_ac = _mm256_set1_epi32(0x0FC0FC00);
    const __m256i shift_ac = _mm256_set1_epi32(0x04000040);
    const __m256i mask_bd = _mm256_set1_epi32(0x003F03F0);
    const __m256i shift_bd = _mm256_set1_epi32(0x01000010);
    // Index to ASCII by adding an offset picked by range: 0-25 'A', 26-51 'a'-26, 52-61 '0'-52, 62 '+', 63 '/'.
    // The saturating subtract gives 0 for 0-51 and 1-12 for 52-63; indices below 26 are then forced to 13.
    const __m256i offsets = _mm256_setr_epi8(
        'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
        '+' - 62, '/' - 63, 'A', 0, 0, 'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
        '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
    const __m256i fifty_one = _mm256_set1_epi8(51);
    const __m256i twenty_six = _mm256_set1_epi8(26);
    const __m256i thirteen = _mm256_set1_epi8(13);

    size_t consumed = 0;
    while (length - consumed >= 28) {
        __m128i low = _mm_loadu_si128((const __m128i *)(input + consumed));
        __m128i high = _mm_loadu_si128((const __m128i *)(input + consumed + 12));
        __m256i bytes = _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(low), high, 1), spread);
        __m256i ac = _mm256_mulhi_epu16(_mm256_and_si256(bytes, mask_ac), shift_ac);
        __m256i bd = _mm256_mullo_epi16(_mm256_and_si256(bytes, mask_bd), shift_bd);
        __m256i indices = _mm256_or_si256(ac, bd);
        __m256i range = _mm256_subs_epu8(indices, fifty_one);
        range = _mm256_or_si256(range, _mm256_and_si256(_mm256_cmpgt_epi8(twenty_six, indices), thirteen));
        __m256i ascii = _mm256_add_epi8(indices, _mm256_shuffle_epi8(offsets, range));
        _mm256_storeu_si256((__m256i *)(output + consumed / 3 * 4), ascii);
        consumed += 24;
    }
    return consumed;
}

// Decodes 32 characters into 24 bytes per iteration; returns how many characters it consumed (a multiple of 32),
// or stops and sets `*invalid` at the first block holding a character outside the alphabet ('=' included: the
// caller passes only the quads before a padded one). The 32-byte store writes 8 bytes past the 24 decoded, so it
// runs only while at least 44 characters remain, which leaves room for them in `output`.
__attribute__((target("avx2"))) static size_t decode_avx2(const uint8_t *text, size_t length, uint8_t *output,
                                                          bool *invalid) {
    // Validity by nibbles: the high nibble picks a class bit, the low nibble the set of classes in which it is
    // invalid; a character is invalid when the two share a bit. Classes: 1 = high nibble 0, 1 or 8-F (nothing
    // valid), 2 = 0x2_ (only B '+' and F '/'), 4 = 0x3_ (only 0-9), 8 = 0x4_ and 0x6_ (all but 0), 16 = 0x5_ and
    // 0x7_ (only 0-A).
    const __m256i class_of_high = _mm256_setr_epi8(1, 1, 2, 4, 8, 16, 8, 16, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 8, 16,
                                                   8, 16, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m256i invalid_for_low =
        _mm256_setr_epi8(0x0B, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x07, 0x15, 0x17, 0x17, 0x17,
                         0x15, 0x0B, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x07, 0x15, 0x17, 0x17,
                         0x17, 0x15);
    // Character to 6-bit value by adding an offset picked by the high nibble, with '/' moved to slot 1 so that it
    // does not share slot 2 with '+'.
    const __m256i offsets = _mm256_setr_epi8(0, 63 - '/', 62 - '+', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a', 0, 0, 0,
                                             0, 0, 0, 0, 0, 0, 63 - '/', 62 - '+', 52 - '0', -'A', -'A', 26 - 'a',
                                             26 - 'a', 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i slash = _mm256_set1_epi8('/');
    // Packing: [a, b, c, d] 6-bit values per word -> (a << 6 | b, c << 6 | d) -> a 24-bit value, then its three
    // bytes big-endian to the front of each lane, then the two lanes' 12 bytes next to each other.
    const __m256i pair_weights = _mm256_set1_epi32(0x01400140);
    const __m256i quad_weights = _mm256_set1_epi32(0x00011000);
    const __m256i gather = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2, 1, 0, 6, 5, 4,
                                            10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i join_lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);

    size_t consumed = 0;
    while (length - consumed >= 44) {
        __m256i characters = _mm256_loadu_si256((const __m256i *)(text + consumed));
        __m256i high = _mm256_and_si256(_mm256_srli_epi32(characters, 4), nibble);
        __m256i low = _mm256_and_si256(characters, nibble);
        __m256i bad = _mm256_and_si256(_mm256_shuffle_epi8(class_of_high, high),
                                       _mm256_shuffle_epi8(invalid_for_low, low));
        if (!_mm256_testz_si256(bad, bad)) {
            *invalid = true;
            return consumed;
        }
        __m256i slot = _mm256_add_epi8(high, _mm256_cmpeq_epi8(characters, slash));
        __m256i values = _mm256_add_epi8(characters, _mm256_shuffle_epi8(offsets, slot));
        __m256i pairs = _mm256_maddubs_epi16(values, pair_weights);
        __m256i quads = _mm256_madd_epi16(pairs, quad_weights);
        __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(quads, gather), join_lanes);
        _mm256_storeu_si256((__m256i *)(output + consumed / 4 * 3), packed);
        consumed += 32;
    }
    return consumed;
}

#endif

static void encode_scalar(const uint8_t *input, size_t length, uint8_t *output) {
    size_t whole = length - length % 3;
    size_t read = 0;
    for (; read < whole; read += 3, output += 4) {
        uint32_t group = (uint32_t)input[read] << 16 | (uint32_t)input[read + 1] << 8 | input[read + 2];
        output[0] = alphabet[group >> 18];
        output[1] = alphabet[group >> 12 & 0x3F];
        output[2] = alphabet[group >> 6 & 0x3F];
        output[3] = alphabet[group & 0x3F];
    }
    switch (length - whole) {
    case 1: {
        uint32_t group = (uint32_t)input[read] << 16;
        output[0] = alphabet[group >> 18];
        output[1] = alphabet[group >> 12 & 0x3F];
        output[2] = '=';
        output[3] = '=';
        break;
    }
    case 2: {
        uint32_t group = (uint32_t)input[read] << 16 | (uint32_t)input[read + 1] << 8;
        output[0] = alphabet[group >> 18];
        output[1] = alphabet[group >> 12 & 0x3F];
        output[2] = alphabet[group >> 6 & 0x3F];
        output[3] = '=';
        break;
    }
    default:
        break;
    }
}

// Encodes with kernels no faster than `fastest`, assuming the CPU has them.
static void encode(cbase64_kernel fastest, const uint8_t *in, size_t length, uint8_t *out) {
#if CBASE64_X86
    if (fastest >= CBASE64_AVX512VBMI && length >= 64) {
        size_t consumed = encode_avx512vbmi(in, length, out);
        in += consumed;
        out += consumed / 3 * 4;
        length -= consumed;
    }
    if (fastest >= CBASE64_AVX2 && length >= 28) {
        size_t consumed = encode_avx2(in, length, out);
        in += consumed;
        out += consumed / 3 * 4;
        length -= consumed;
    }
#else
    (void)fastest;
#endif
    encode_scalar(in, length, out);
}

static bool cpu_has(cbase64_kernel kernel) {
    switch (kernel) {
    case CBASE64_SCALAR:
        return true;
#if CBASE64_X86
    case CBASE64_AVX2:
        return has_avx2();
    case CBASE64_AVX512VBMI:
        return has_avx512vbmi() && has_avx2();
#endif
    default:
        return false;
    }
}

void cbase64_encode(const void *input, size_t length, void *output) {
    cbase64_kernel fastest = CBASE64_SCALAR;
    // Below 28 bytes no kernel runs: skip the CPU checks.
    if (length >= 28) {
        fastest = cpu_has(CBASE64_AVX512VBMI) ? CBASE64_AVX512VBMI
                  : cpu_has(CBASE64_AVX2)     ? CBASE64_AVX2
                                              : CBASE64_SCALAR;
    }
    encode(fastest, input, length, output);
}

bool cbase64_encode_with(cbase64_kernel kernel, const void *input, size_t length, void *output) {
    if (!cpu_has(kernel)) {
        return false;
    }
    encode(kernel, input, length, output);
    return true;
}

bool cbase64_decode(const void *text, size_t length, void *output, size_t *written) {
    const uint8_t *in = text;
    uint8_t *out = output;
    if (length == 0 || length % 4 != 0) {
        return false;
    }
    // Padding can only be the last one or two characters; a '=' anywhere else fails the alphabet test below.
    size_t padding = in[length - 1] == '=' ? (in[length - 2] == '=' ? 2 : 1) : 0;
    size_t full = padding > 0 ? length - 4 : length;
    size_t read = 0;
#if CBASE64_X86
    if (full >= 44 && has_avx2()) {
        bool invalid = false;
        read = decode_avx2(in, full, out, &invalid);
        if (invalid) {
            return false;
        }
        out += read / 4 * 3;
    }
#endif
    for (; read < full; read += 4, out += 3) {
        uint8_t a = decoding[in[read]], b = decoding[in[read + 1]];
        uint8_t c = decoding[in[read + 2]], d = decoding[in[read + 3]];
        if ((a | b | c | d) & 0x80) {
            return false;
        }
        uint32_t group = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        out[0] = (uint8_t)(group >> 16);
        out[1] = (uint8_t)(group >> 8);
        out[2] = (uint8_t)group;
    }
    if (padding > 0) {
        // The last quad is "xx==" or "xxx=", and its unused low bits must be zero (one encoding per byte string).
        uint8_t a = decoding[in[full]], b = decoding[in[full + 1]];
        if (padding == 2) {
            if (((a | b) & 0x80) || (b & 0x0F)) {
                return false;
            }
            *out++ = (uint8_t)(a << 2 | b >> 4);
        } else {
            uint8_t c = decoding[in[full + 2]];
            if (((a | b | c) & 0x80) || (c & 0x03)) {
                return false;
            }
            *out++ = (uint8_t)(a << 2 | b >> 4);
            *out++ = (uint8_t)(b << 4 | c >> 2);
        }
    }
    *written = (size_t)(out - (uint8_t *)output);
    return true;
}
