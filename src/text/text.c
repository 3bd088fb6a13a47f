/*
 * text.c - UTF-8 decoding (through utf8proc), validation, the code-point <->
 * byte offset map, and the character classes the tokenizers need.
 *
 * This is the only file that converts between code-point and byte offsets.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "clinner/text.h"

int cl_utf8_decode(const char *s, size_t n, int32_t *cp)
{
    if (n == 0)
        return -1;
    utf8proc_int32_t c;
    utf8proc_ssize_t len = utf8proc_iterate((const utf8proc_uint8_t *)s,
                                            n > 4 ? 4 : (utf8proc_ssize_t)n, &c);
    if (len <= 0 || c < 0)
        return -1;
    *cp = c;
    return (int)len;
}

int cl_utf8_encode(int32_t cp, char *out)
{
    return (int)utf8proc_encode_char(cp, (utf8proc_uint8_t *)out);
}

bool cl_utf8_valid(const char *s, size_t n, size_t *bad_offset)
{
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        int32_t cp;
        int len = cl_utf8_decode(s + i, n - i, &cp);
        if (len < 0) {
            if (bad_offset)
                *bad_offset = i;
            return false;
        }
        i += (size_t)len;
    }
    return true;
}

int32_t cl_utf8_length(const char *s, size_t n)
{
    int32_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

cl_status cl_text_index_init(cl_text_index *ix, const char *s, size_t n, cl_error *err)
{
    memset(ix, 0, sizeof *ix);
    size_t bad;
    if (!cl_utf8_valid(s, n, &bad))
        return cl_error_set(err, CL_ERR_UTF8, "invalid UTF-8 at byte offset %zu", bad);
    if (n > (size_t)INT32_MAX)
        return cl_error_set(err, CL_ERR_RANGE, "text too long (%zu bytes)", n);
    int32_t nchars = cl_utf8_length(s, n);
    int32_t nwide = 0; /* every wide code point has one lead byte >= 0xC0 */
    for (size_t i = 0; i < n; i++)
        nwide += (unsigned char)s[i] >= 0xC0;
    if (nwide > 0) {
        ix->wide_cp = malloc((size_t)nwide * sizeof *ix->wide_cp);
        ix->wide_extra = malloc((size_t)nwide * sizeof *ix->wide_extra);
        if (!ix->wide_cp || !ix->wide_extra) {
            cl_text_index_free(ix);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        int32_t cp = 0, k = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if ((c & 0xC0) == 0x80) {
                ix->wide_extra[k - 1]++; /* a continuation byte of wide code point k - 1 */
                continue;
            }
            if (c >= 0xC0) {
                ix->wide_cp[k] = cp;
                ix->wide_extra[k] = k > 0 ? ix->wide_extra[k - 1] : 0;
                k++;
            }
            cp++;
        }
    }
    ix->nchars = nchars;
    ix->nbytes = n;
    ix->nwide = nwide;
    return CL_OK;
}

void cl_text_index_free(cl_text_index *ix)
{
    free(ix->wide_cp);
    free(ix->wide_extra);
    memset(ix, 0, sizeof *ix);
}

size_t cl_text_cp_to_byte(const cl_text_index *ix, int32_t cp)
{
    if (cp < 0 || cp > ix->nchars)
        return SIZE_MAX;
    /* extra bytes of the wide code points before cp: count those < cp */
    int32_t lo = 0, hi = ix->nwide;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (ix->wide_cp[mid] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (size_t)cp + (size_t)(lo > 0 ? ix->wide_extra[lo - 1] : 0);
}

int32_t cl_text_byte_to_cp(const cl_text_index *ix, size_t b)
{
    if (b > ix->nbytes)
        return -1;
    /* the last wide code point that starts at or before b */
    int32_t lo = 0, hi = ix->nwide;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        size_t start = (size_t)ix->wide_cp[mid] + (size_t)(mid > 0 ? ix->wide_extra[mid - 1] : 0);
        if (start <= b)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return (int32_t)b; /* only one-byte code points before b */
    int32_t k = lo - 1;
    size_t before = (size_t)(k > 0 ? ix->wide_extra[k - 1] : 0);
    size_t start = (size_t)ix->wide_cp[k] + before;
    size_t end = start + 1 + (size_t)ix->wide_extra[k] - before; /* past its last byte */
    if (b == start)
        return ix->wide_cp[k];
    if (b < end)
        return -1; /* inside the code point */
    return ix->wide_cp[k] + 1 + (int32_t)(b - end);
}

bool cl_uc_is_python_space(int32_t cp)
{
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

static utf8proc_category_t category(int32_t cp)
{
    if (cp < 0 || cp > 0x10FFFF)
        return UTF8PROC_CATEGORY_CN;
    return utf8proc_category(cp);
}

bool cl_uc_is_punct(int32_t cp)
{
    utf8proc_category_t c = category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

bool cl_uc_is_dash(int32_t cp) { return category(cp) == UTF8PROC_CATEGORY_PD || cp == 0x2212; }

bool cl_uc_is_alpha(int32_t cp)
{
    utf8proc_category_t c = category(cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

bool cl_uc_is_digit(int32_t cp) { return category(cp) == UTF8PROC_CATEGORY_ND; }

bool cl_uc_is_upper(int32_t cp)
{
    utf8proc_category_t c = category(cp);
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT;
}

bool cl_uc_is_symbol(int32_t cp)
{
    utf8proc_category_t c = category(cp);
    return c >= UTF8PROC_CATEGORY_SM && c <= UTF8PROC_CATEGORY_SO;
}
