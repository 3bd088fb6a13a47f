/*
 * text.h - UTF-8 validation and the one mapping between Unicode code-point
 * offsets and UTF-8 byte offsets.
 *
 * BRAT and clinner's JSON count offsets in code points; C strings are bytes.
 * Every conversion between the two goes through cl_text_index, so there is
 * exactly one place where that arithmetic can be wrong.
 */
#ifndef CLINNER_TEXT_H
#define CLINNER_TEXT_H

#include "clinner/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Check that s[0..n) is valid UTF-8 (no overlongs, no surrogates).  On
 * failure returns false and stores the offending byte offset. */
bool cl_utf8_valid(const char *s, size_t n, size_t *bad_offset);

/* Decode one code point at s[0..n); returns its byte length (>=1) and stores
 * it in *cp, or returns -1 on invalid UTF-8. */
int cl_utf8_decode(const char *s, size_t n, int32_t *cp);

/* Encode cp into out (at least 4 bytes); returns the byte length. */
int cl_utf8_encode(int32_t cp, char *out);

/* Number of code points in a valid UTF-8 string. */
int32_t cl_utf8_length(const char *s, size_t n);

/* Code-point <-> byte offset map of one text.  Only the code points that
 * take more than one byte are listed (clinical text is nearly all ASCII), so
 * an ASCII text costs nothing and the others 8 bytes per such code point;
 * a lookup is a binary search over them. */
typedef struct cl_text_index {
    int32_t nchars; /* code points in the text */
    size_t nbytes;  /* bytes in the text */
    int32_t nwide;  /* code points of more than one byte */
    int32_t *wide_cp;    /* their positions, ascending */
    int32_t *wide_extra; /* bytes beyond one of wide_cp[0..i], cumulated */
} cl_text_index;

/* Build the map for valid UTF-8 text (validates; CL_ERR_UTF8 names the byte). */
cl_status cl_text_index_init(cl_text_index *ix, const char *s, size_t n, cl_error *err);
void cl_text_index_free(cl_text_index *ix);

/* Byte offset of code point cp (0 <= cp <= nchars); SIZE_MAX if out of range. */
size_t cl_text_cp_to_byte(const cl_text_index *ix, int32_t cp);

/* Code point whose encoding starts at byte b (or nchars for b == nbytes);
 * -1 if b is out of range or not on a character boundary. */
int32_t cl_text_byte_to_cp(const cl_text_index *ix, size_t b);

/* Python's str.isspace() / str.split() whitespace set (includes U+00A0,
 * U+2000..U+200A, U+3000, ...). */
bool cl_uc_is_python_space(int32_t cp);

/* Unicode general category helpers (via utf8proc). */
bool cl_uc_is_punct(int32_t cp);  /* P* categories */
bool cl_uc_is_dash(int32_t cp);   /* Pd plus U+2212 minus sign */
bool cl_uc_is_alpha(int32_t cp);  /* L* */
bool cl_uc_is_digit(int32_t cp);  /* Nd */
bool cl_uc_is_upper(int32_t cp);  /* Lu / Lt */
bool cl_uc_is_symbol(int32_t cp); /* S* */

#ifdef __cplusplus
}
#endif
#endif
