#ifndef C_LIBCRYPTO_SHIM_H
#define C_LIBCRYPTO_SHIM_H

// OpenSSL 3 libcrypto: the EVP AEAD, RAND, PEM/BIO and RSA parameter functions and
// CRYPTO_memcmp/OPENSSL_cleanse import directly; only macros need a typed wrapper here.
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#endif
