/* UTF-8 characters in error messages.
 *
 * Messages quote the character where input went wrong ("unexpected 'é' at
 * position 3").  Quoting a single byte of a multi-byte character would make
 * the message itself invalid UTF-8 (and JSON logs, AdmissionReview
 * responses and kubectl would then mangle or refuse it), so the whole
 * character is quoted, or, when there is no printable character there, the
 * byte's value.  Pure functions, no allocation.
 */
#ifndef DPM_UTF8_H
#define DPM_UTF8_H

#include <stddef.h>

/* Bytes of the well-formed UTF-8 character at s (RFC 3629: no overlong
 * form, no surrogate, at most U+10FFFF), 1 for ASCII including NUL; 0 when
 * s does not start one.  Reads at most 4 bytes and never past a NUL. */
size_t dpm_utf8_char_len(const char *s);

/* The same for a buffer that is not NUL-terminated: 0 as well when the
 * character would run past avail bytes.  avail must be at least 1. */
size_t dpm_utf8_char_len_n(const char *s, size_t avail);

/* Room for what dpm_utf8_quote() writes, its NUL included. */
#define DPM_UTF8_QUOTE_SIZE 16

/* Writes into out how a message names the character at s:
 *   'x'        the whole character in single quotes, when it is a
 *              well-formed printable one ("'é'", "'€'", "'.'");
 *   byte 0xNN  a control character, DEL, or a byte that does not start a
 *              well-formed UTF-8 character;
 *   the end    at the terminating NUL.
 * Returns out (caller-owned, at least DPM_UTF8_QUOTE_SIZE bytes). */
const char *dpm_utf8_quote(const char *s, char out[DPM_UTF8_QUOTE_SIZE]);

#endif
