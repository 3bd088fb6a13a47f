/*
 * text.c - UTF-8 decoding (through utf8proc), validation, the code-point <->
 * byte offset map, and the character classes the tokenizers need.
 *
 * This is the only file that converts between code-point and byte offsets.
 */
#include <stdlib.h>
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
    ix->nchars = 0;
    ix->nbytes = n;
    ix->cp_to_byte = NULL;
    size_t bad;
    if (!cl_utf8_valid(s, n, &bad))
        return cl_error_set(err, CL_ERR_UTF8, "invalid UTF-8 at byte offset %zu", bad);
    if (n > (size_t)INT32_MAX)
        return cl_error_set(err, CL_ERR_RANGE, "text too long (%zu bytes)", n);
    int32_t nchars = cl_utf8_length(s, n);
    ix->cp_to_byte = malloc(((size_t)nchars + 1) * sizeof *ix->cp_to_byte);
    if (!ix->cp_to_byte)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int32_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            ix->cp_to_byte[k++] = i;
    ix->cp_to_byte[k] = n;
    ix->nchars = nchars;
    return CL_OK;
}

void cl_text_index_free(cl_text_index *ix)
{
    free(ix->cp_to_byte);
    ix->cp_to_byte = NULL;
    ix->nchars = 0;
    ix->nbytes = 0;
}

size_t cl_text_cp_to_byte(const cl_text_index *ix, int32_t cp)
{
    if (!ix->cp_to_byte || cp < 0 || cp > ix->nchars)
        return SIZE_MAX;
    return ix->cp_to_byte[cp];
}

int32_t cl_text_byte_to_cp(const cl_text_index *ix, size_t b)
{
    if (!ix->cp_to_byte || b > ix->nbytes)
        return -1;
    int32_t lo = 0, hi = ix->nchars; /* cp_to_byte is strictly increasing */
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        size_t v = ix->cp_to_byte[mid];
        if (v == b)
            return mid;
        if (v < b)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
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
