#ifndef C_LIBCRYPTO_SHIM_H
#define C_LIBCRYPTO_SHIM_H

// OpenSSL 3 libcrypto: the EVP AEAD, RAND and CRYPTO_memcmp/OPENSSL_cleanse functions import
// directly; only macros need a typed wrapper here.
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

// RSA keys read from and written to PEM (RS256 signing, RSA-OAEP-256).
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#endif
