#ifndef CBASE64_H
#define CBASE64_H

#include <stdbool.h>
#include <stddef.h>

/// Writes the standard base64 encoding (with padding) of `length` bytes at `input` to `output`, which has room
/// for `(length + 2) / 3 * 4` bytes. `input` may be NULL when `length` is 0.
void cbase64_encode(const void *_Nullable input, size_t length, void *_Nullable output);

/// Decodes strict standard base64: `length` must be a non-zero multiple of 4, every byte must be in the alphabet
/// except a final `=` or `==`, and the padding bits must be zero. `output` has room for `length / 4 * 3` bytes.
/// Returns false for anything else (the contents of `output` are then unspecified); on success stores the
/// decoded byte count in `written`.
bool cbase64_decode(const void *_Nonnull text, size_t length, void *_Nonnull output, size_t *_Nonnull written);

#endif
