/*
 * wordpiece.c - BERT's tokenizer in C, exact against the Hugging Face
 * `tokenizers` BertNormalizer + BertPreTokenizer + WordPiece of an uncased
 * model's tokenizer.json:
 *   1. clean text: drop NUL, U+FFFD and control characters (category C*,
 *      except tab, newline, carriage return); whitespace (Rust's White_Space)
 *      becomes a space;
 *   2. CJK ideographs get a space on each side;
 *   3. NFD, then combining marks (Mn) dropped; lower-cased;
 *   4. split on whitespace, every punctuation character (ASCII punctuation
 *      or a Unicode P* category) a word of its own;
 *   5. each word: greedy longest-match-first pieces from the vocabulary,
 *      "##" before continuations; a word with a piece that matches nothing,
 *      or over 100 characters, is one [UNK].
 * Unicode properties come from libutf8proc.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "clinner/encoder.h"
#include "clinner/util.h"

#define WP_MAX_WORD_CHARS 100

struct cl_wordpiece {
    char **pieces; /* id -> piece */
    int32_t n;
    int32_t *table; /* open addressing: id or -1 */
    uint32_t mask;
    int32_t unk;
};

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int32_t lookup(const cl_wordpiece *wp, const char *s, size_t n)
{
    for (uint32_t h = hash_bytes(s, n) & wp->mask;; h = (h + 1) & wp->mask) {
        int32_t id = wp->table[h];
        if (id < 0)
            return -1;
        if (strlen(wp->pieces[id]) == n && !memcmp(wp->pieces[id], s, n))
            return id;
    }
}

static cl_status build_table(cl_wordpiece *wp, cl_error *err)
{
    uint32_t size = 1024;
    while (size < (uint32_t)wp->n * 2u)
        size *= 2;
    wp->table = malloc(size * sizeof *wp->table);
    if (!wp->table)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    memset(wp->table, 0xff, size * sizeof *wp->table);
    wp->mask = size - 1;
    for (int32_t id = 0; id < wp->n; id++) {
        const char *p = wp->pieces[id];
        uint32_t h = hash_bytes(p, strlen(p)) & wp->mask;
        while (wp->table[h] >= 0 && strcmp(wp->pieces[wp->table[h]], p) != 0)
            h = (h + 1) & wp->mask;
        if (wp->table[h] < 0) /* a duplicate line keeps its first id, as tokenizers does */
            wp->table[h] = id;
    }
    return CL_OK;
}

cl_status cl_wordpiece_new(const char *vocab, size_t n, cl_wordpiece **out, cl_error *err)
{
    *out = NULL;
    cl_wordpiece *wp = calloc(1, sizeof *wp);
    int32_t cap = 0;
    if (!wp)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && vocab[j] != '\n')
            j++;
        size_t len = j - i;
        if (len && vocab[i + len - 1] == '\r')
            len--;
        if (wp->n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **np = realloc(wp->pieces, (size_t)cap * sizeof *np);
            if (!np) {
                cl_wordpiece_free(wp);
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            }
            wp->pieces = np;
        }
        if (!(wp->pieces[wp->n] = strndup(vocab + i, len))) {
            cl_wordpiece_free(wp);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        wp->n++;
        i = j + 1;
    }
    cl_status st = wp->n ? build_table(wp, err)
                         : cl_error_set(err, CL_ERR_MODEL, "vocabulary: no pieces");
    if (st == CL_OK && (wp->unk = lookup(wp, "[UNK]", 5)) < 0)
        st = cl_error_set(err, CL_ERR_MODEL, "vocabulary: no [UNK] piece");
    if (st != CL_OK) {
        cl_wordpiece_free(wp);
        return st;
    }
    *out = wp;
    return CL_OK;
}

cl_status cl_wordpiece_load(const char *vocab_path, cl_wordpiece **out, cl_error *err)
{
    char *text;
    size_t len;
    cl_status st = cl_read_file(vocab_path, &text, &len, err);
    if (st != CL_OK)
        return st;
    st = cl_wordpiece_new(text, len, out, err);
    free(text);
    if (st != CL_OK)
        cl_error_prefix(err, "%s: ", vocab_path);
    return st;
}

void cl_wordpiece_free(cl_wordpiece *wp)
{
    if (!wp)
        return;
    for (int32_t i = 0; i < wp->n; i++)
        free(wp->pieces[i]);
    free(wp->pieces);
    free(wp->table);
    free(wp);
}

int32_t cl_wordpiece_size(const cl_wordpiece *wp) { return wp->n; }

int32_t cl_wordpiece_id(const cl_wordpiece *wp, const char *piece)
{
    return lookup(wp, piece, strlen(piece));
}

const char *cl_wordpiece_piece(const cl_wordpiece *wp, int32_t id)
{
    return id >= 0 && id < wp->n ? wp->pieces[id] : NULL;
}

char *cl_wordpiece_text(const cl_wordpiece *wp)
{
    cl_buf b;
    cl_buf_init(&b);
    for (int32_t i = 0; i < wp->n; i++)
        if (cl_buf_puts(&b, wp->pieces[i]) || cl_buf_putc(&b, '\n')) {
            cl_buf_free(&b);
            return NULL;
        }
    return cl_buf_detach(&b);
}

/* ---- BasicTokenizer ---- */

static bool is_control(utf8proc_int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r')
        return false;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
        return true;
    default:
        return false;
    }
}

/* Rust's char::is_whitespace (the White_Space property). */
static bool is_whitespace(utf8proc_int32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

static bool is_cjk(utf8proc_int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static bool is_punct(utf8proc_int32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return true;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return true;
    default:
        return false;
    }
}

typedef struct wp_state {
    const cl_wordpiece *wp;
    char word[WP_MAX_WORD_CHARS * 4 + 8]; /* the word's UTF-8 (only while it fits) */
    size_t wlen;
    int32_t wchars;
    int32_t **ids, **word_of, *nids, *cap, *nwords;
    cl_error *err;
} wp_state;

static cl_status push_id(wp_state *s, int32_t id)
{
    if (*s->nids == *s->cap) {
        int32_t nc = *s->cap ? *s->cap * 2 : 64;
        int32_t *ni = realloc(*s->ids, (size_t)nc * sizeof *ni);
        if (!ni)
            return cl_error_set(s->err, CL_ERR_NOMEM, "out of memory");
        *s->ids = ni;
        if (s->word_of) {
            int32_t *nw = realloc(*s->word_of, (size_t)nc * sizeof *nw);
            if (!nw)
                return cl_error_set(s->err, CL_ERR_NOMEM, "out of memory");
            *s->word_of = nw;
        }
        *s->cap = nc;
    }
    (*s->ids)[*s->nids] = id;
    if (s->word_of)
        (*s->word_of)[*s->nids] = *s->nwords;
    (*s->nids)++;
    return CL_OK;
}

/* Greedy longest-match-first pieces of the current word. */
static cl_status flush_word(wp_state *s)
{
    if (!s->wchars)
        return CL_OK;
    cl_status st = CL_OK;
    int32_t first = *s->nids;
    if (s->wchars > WP_MAX_WORD_CHARS) {
        st = push_id(s, s->wp->unk);
    } else {
        char cand[sizeof s->word + 2];
        size_t start = 0;
        while (start < s->wlen && st == CL_OK) {
            size_t end = s->wlen;
            int32_t id = -1;
            while (end > start) {
                size_t off = 0;
                if (start > 0) {
                    cand[0] = cand[1] = '#';
                    off = 2;
                }
                memcpy(cand + off, s->word + start, end - start);
                if ((id = lookup(s->wp, cand, off + end - start)) >= 0)
                    break;
                do /* back to the previous character boundary */
                    end--;
                while (end > start && ((unsigned char)s->word[end] & 0xc0) == 0x80);
            }
            if (id < 0) { /* no piece: the whole word is [UNK] */
                *s->nids = first;
                st = push_id(s, s->wp->unk);
                break;
            }
            st = push_id(s, id);
            start = end;
        }
    }
    (*s->nwords)++;
    s->wlen = 0;
    s->wchars = 0;
    return st;
}

static cl_status add_char(wp_state *s, utf8proc_int32_t c)
{
    s->wchars++;
    if (s->wchars <= WP_MAX_WORD_CHARS)
        s->wlen += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)s->word + s->wlen);
    return CL_OK;
}

/* One normalized character: whitespace ends a word, punctuation is a word. */
static cl_status feed(wp_state *s, utf8proc_int32_t c)
{
    if (is_whitespace(c))
        return flush_word(s);
    if (is_punct(c)) {
        cl_status st = flush_word(s);
        if (st == CL_OK)
            st = add_char(s, c);
        return st == CL_OK ? flush_word(s) : st;
    }
    return add_char(s, c);
}

/* Strip accents (NFD, drop Mn) and lower-case one cleaned character. */
static cl_status normalize_feed(wp_state *s, utf8proc_int32_t c)
{
    utf8proc_int32_t dec[32];
    int lbc = 0;
    utf8proc_ssize_t nd = utf8proc_decompose_char(c, dec, 32, UTF8PROC_DECOMPOSE, &lbc);
    if (nd < 0 || nd > 32) {
        dec[0] = c;
        nd = 1;
    }
    for (utf8proc_ssize_t i = 0; i < nd; i++) {
        if (utf8proc_category(dec[i]) == UTF8PROC_CATEGORY_MN)
            continue;
        cl_status st = feed(s, utf8proc_tolower(dec[i]));
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

cl_status cl_wordpiece_encode(const cl_wordpiece *wp, const char *text, size_t n, int32_t **ids,
                              int32_t **word_of, int32_t *nids, int32_t *cap, int32_t *nwords,
                              cl_error *err)
{
    int32_t words = nwords ? *nwords : 0;
    wp_state s = {.wp = wp, .ids = ids, .word_of = word_of, .nids = nids, .cap = cap,
                  .nwords = &words, .err = err};
    cl_status st = CL_OK;
    size_t i = 0;
    while (i < n && st == CL_OK) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0)
            return cl_error_set(err, CL_ERR_UTF8, "invalid UTF-8 at byte %zu", i);
        i += (size_t)k;
        if (c == 0 || c == 0xFFFD || is_control(c))
            continue;
        if (is_whitespace(c))
            c = ' ';
        if (is_cjk(c)) {
            st = feed(&s, ' ');
            if (st == CL_OK)
                st = normalize_feed(&s, c);
            if (st == CL_OK)
                st = feed(&s, ' ');
        } else {
            st = normalize_feed(&s, c);
        }
    }
    if (st == CL_OK)
        st = flush_word(&s);
    if (nwords)
        *nwords = words;
    return st;
}
