#ifndef CBASE64_H
#define CBASE64_H

#include <stdbool.h>
#include <stddef.h>

// Nullability tells Swift which pointers are optional; other compilers only need the words gone.
#if !defined(__clang__)
#define _Nullable
#define _Nonnull
#endif

/// Writes the standard base64 encoding (with padding) of `length` bytes at `input` to `output`, which has room
/// for `(length + 2) / 3 * 4` bytes. `input` may be NULL when `length` is 0.
void cbase64_encode(const void *_Nullable input, size_t length, void *_Nullable output);

/// The encoding kernels, fastest last.
typedef enum { CBASE64_SCALAR = 0, CBASE64_AVX2 = 1, CBASE64_AVX512VBMI = 2 } cbase64_kernel;

/// `cbase64_encode` using no kernel faster than `kernel` (the scalar code finishes what a kernel leaves), so that
/// tests reach every kernel on a CPU that has a faster one. Returns false, writing nothing, when this CPU or this
/// build lacks `kernel`.
bool cbase64_encode_with(cbase64_kernel kernel, const void *_Nullable input, size_t length, void *_Nullable output);

/// Decodes strict standard base64: `length` must be a non-zero multiple of 4, every byte must be in the alphabet
/// except a final `=` or `==`, and the padding bits must be zero. `output` has room for `length / 4 * 3` bytes.
/// Returns false for anything else (the contents of `output` are then unspecified); on success stores the
/// decoded byte count in `written`.
bool cbase64_decode(const void *_Nonnull text, size_t length, void *_Nonnull output, size_t *_Nonnull written);

#endif
