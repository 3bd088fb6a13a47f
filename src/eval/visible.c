/*
 * visible.c - a label or token as an error message should show it: control
 * characters, a byte-order mark, zero-width and other invisible or
 * space-like characters (anything but ' ' of Unicode categories Cc, Cf, Z*,
 * Co, Cn) are written as \u{XXXX}, invalid UTF-8 bytes as \xHH, and a long
 * string is cut with "...".  Without this, "gold 'a', predictions 'a'" is
 * what a BOM or a no-break space in one file looks like.
 */
#include <stdio.h>
#include <string.h>

#include <utf8proc.h>

#include "eval/eval_internal.h"

static bool invisible(utf8proc_int32_t c)
{
    if (c == ' ')
        return false;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
        return true;
    default:
        return false;
    }
}

const char *cl__ev_visible(const char *s, char *out, size_t cap)
{
    size_t len = 0, n = s ? strlen(s) : 0, i = 0;
    if (cap < 16) {
        if (cap)
            out[0] = '\0';
        return out;
    }
    while (i < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        char piece[16];
        size_t plen;
        if (k <= 0) {
            plen = (size_t)snprintf(piece, sizeof piece, "\\x%02X", (unsigned char)s[i]);
            k = 1;
        } else if (invisible(c)) {
            plen = (size_t)snprintf(piece, sizeof piece, "\\u{%04X}", (unsigned)c);
        } else {
            plen = (size_t)k;
            memcpy(piece, s + i, plen);
        }
        if (len + plen + 4 > cap) { /* room for "..." and the NUL */
            memcpy(out + len, "...", 3);
            len += 3;
            break;
        }
        memcpy(out + len, piece, plen);
        len += plen;
        i += (size_t)k;
    }
    out[len] = '\0';
    return out;
}
