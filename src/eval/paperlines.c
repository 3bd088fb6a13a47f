/*
 * paperlines.c - the paper's LLM output format ("token : label" lines,
 * "######" between sentences), parsed exactly as the paper's evaluation
 * script parses it, so that scoring its GPT-4 file reproduces its table.
 *
 * The script reads the file in Python text mode (so "\r\n" and "\r" are line
 * ends), strips it, splits it at every "######" (anywhere, not only on a line
 * of its own), drops the piece before the first separator, and in each piece,
 * stripped, turns every non-empty line into one label: the line loses its
 * '[' and ']' characters and is split at ": "; exactly two parts give the
 * stripped second part, anything else gives "O".  So "tok : B-SIGN" is
 * B-SIGN, "( " or "### Output:" are O, and ": : O" (a colon token) is O
 * whatever its label.  Labels are kept as written ("B-Sign", "I-ORGANIZATION")
 * and read by the seqeval rules later.  Two choices of ours: an empty label
 * reads as O (seqeval would crash on it), and a non-blank piece before the
 * first separator is kept as a block rather than silently lost; a NUL byte
 * is an error (C strings cannot hold it, and no LLM output has one).
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/text.h"
#include "eval/eval_internal.h"

static const char SEP[] = "######";
#define SEP_LEN 6

void cl_paperlines_free(cl_paperlines *pl)
{
    if (!pl)
        return;
    for (int32_t i = 0; i < pl->nblocks; i++) {
        cl_pl_block *b = &pl->blocks[i];
        for (int32_t j = 0; j < b->n; j++) {
            free(b->tokens[j]);
            free(b->labels[j]);
        }
        free(b->tokens);
        free(b->labels);
    }
    free(pl->blocks);
    memset(pl, 0, sizeof *pl);
}

/* Python's str.strip() on valid UTF-8 s[*a, *b). */
static void py_strip(const char *s, size_t *a, size_t *b)
{
    while (*a < *b) {
        int32_t cp;
        int len = cl_utf8_decode(s + *a, *b - *a, &cp);
        if (len < 1 || !cl_uc_is_python_space(cp))
            break;
        *a += (size_t)len;
    }
    while (*b > *a) {
        size_t k = *b - 1;
        while (k > *a && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        int32_t cp;
        int len = cl_utf8_decode(s + k, *b - k, &cp);
        if (len < 1 || !cl_uc_is_python_space(cp))
            break;
        *b = k;
    }
}

static cl_pl_block *new_block(cl_paperlines *pl, int64_t line)
{
    if (pl->nblocks == pl->cap) {
        int32_t cap = pl->cap ? pl->cap * 2 : 256;
        cl_pl_block *v = realloc(pl->blocks, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        pl->blocks = v;
        pl->cap = cap;
    }
    cl_pl_block *b = &pl->blocks[pl->nblocks++];
    memset(b, 0, sizeof *b);
    b->line = line;
    return b;
}

static int block_push(cl_pl_block *b, const char *tok, size_t tn, const char *lab, size_t ln)
{
    if (b->n == b->cap) {
        int32_t cap = b->cap ? b->cap * 2 : 32;
        char **t = realloc(b->tokens, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        b->tokens = t;
        char **l = realloc(b->labels, (size_t)cap * sizeof *l);
        if (!l)
            return -1;
        b->labels = l;
        b->cap = cap;
    }
    char *ts = cl_strndup(tok, tn);
    char *ls = cl_strndup(lab, ln);
    if (!ts || !ls) {
        free(ts);
        free(ls);
        return -1;
    }
    b->tokens[b->n] = ts;
    b->labels[b->n] = ls;
    b->n++;
    return 0;
}

/* One non-empty line of a block: drop '[' and ']', split at ": ". */
static int parse_line(cl_pl_block *b, const char *s, size_t n, cl_buf *tmp)
{
    cl_buf_reset(tmp);
    for (size_t i = 0; i < n; i++)
        if (s[i] != '[' && s[i] != ']' && cl_buf_putc(tmp, s[i]))
            return -1;
    const char *t = tmp->data ? tmp->data : "";
    size_t m = tmp->len;
    size_t parts = 1, at = 0;
    for (size_t i = 0; i + 1 < m; i++)
        if (t[i] == ':' && t[i + 1] == ' ') {
            if (parts == 1)
                at = i;
            parts++;
            i++;
        }
    if (parts != 2) {
        size_t a = 0, z = m;
        py_strip(t, &a, &z);
        return block_push(b, t + a, z - a, "O", 1);
    }
    size_t ta = 0, tz = at, la = at + 2, lz = m;
    py_strip(t, &ta, &tz);
    py_strip(t, &la, &lz);
    if (lz == la)
        return block_push(b, t + ta, tz - ta, "O", 1);
    return block_push(b, t + ta, tz - ta, t + la, lz - la);
}

static int parse_piece(cl_paperlines *pl, const char *s, size_t a, size_t z, int64_t line,
                       cl_buf *tmp)
{
    py_strip(s, &a, &z);
    cl_pl_block *b = new_block(pl, line);
    if (!b)
        return -1;
    while (a < z) {
        const char *nl = memchr(s + a, '\n', z - a);
        size_t e = nl ? (size_t)(nl - s) : z;
        if (e > a && parse_line(b, s + a, e - a, tmp))
            return -1;
        a = e + 1;
    }
    return 0;
}

static size_t find_sep(const char *s, size_t from, size_t z)
{
    for (size_t i = from; i + SEP_LEN <= z; i++)
        if (s[i] == '#' && !memcmp(s + i, SEP, SEP_LEN))
            return i;
    return SIZE_MAX;
}

cl_status cl_paperlines_parse(const char *data, size_t n, const char *file,
                              cl_paperlines *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!file)
        file = "<memory>";
    size_t bad = 0;
    if (n > 0 && !cl_utf8_valid(data, n, &bad))
        return cl_error_set(err, CL_ERR_UTF8, "%s: invalid UTF-8 at byte %zu", file, bad);
    const char *nul = n > 0 ? memchr(data, '\0', n) : NULL;
    if (nul) {
        long line = 1;
        for (const char *q = data; q < nul; q++)
            line += *q == '\n' || (*q == '\r' && q[1] != '\n');
        return cl_error_set(err, CL_ERR_PARSE, "%s:%ld: NUL byte in the text", file, line);
    }
    /* Python text mode: "\r\n" and "\r" become "\n" */
    char *t = malloc(n + 1);
    if (!t)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", file);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\r') {
            t[m++] = '\n';
            if (i + 1 < n && data[i + 1] == '\n')
                i++;
        } else {
            t[m++] = data[i];
        }
    }
    t[m] = '\0';
    size_t a = 0, z = m;
    py_strip(t, &a, &z);

    cl_buf tmp;
    cl_buf_init(&tmp);
    int rc = 0;
    int64_t line = 1;
    size_t counted = 0; /* line numbers: newlines in t[0, counted) */
    for (size_t i = 0; i < a; i++)
        line += t[i] == '\n';
    counted = a;
    size_t sep = find_sep(t, a, z);
    /* the piece before the first separator: dropped when blank */
    size_t p0a = a, p0z = sep == SIZE_MAX ? z : sep;
    py_strip(t, &p0a, &p0z);
    if (p0z > p0a)
        rc = parse_piece(out, t, a, sep == SIZE_MAX ? z : sep, line, &tmp);
    while (rc == 0 && sep != SIZE_MAX) {
        for (size_t i = counted; i < sep; i++)
            line += t[i] == '\n';
        counted = sep;
        size_t start = sep + SEP_LEN;
        size_t next = find_sep(t, start, z);
        rc = parse_piece(out, t, start, next == SIZE_MAX ? z : next, line, &tmp);
        sep = next;
    }
    cl_buf_free(&tmp);
    free(t);
    if (rc) {
        cl_paperlines_free(out);
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", file);
    }
    return CL_OK;
}

static cl_status read_stdin(char **out, size_t *len, cl_error *err)
{
    cl_buf b;
    cl_buf_init(&b);
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (cl_buf_append(&b, chunk, k)) {
            cl_buf_free(&b);
            return cl_error_set(err, CL_ERR_NOMEM, "stdin: out of memory");
        }
    if (ferror(stdin)) {
        cl_buf_free(&b);
        return cl_error_set(err, CL_ERR_IO, "stdin: read error");
    }
    *len = b.len;
    *out = b.data ? cl_buf_detach(&b) : cl_strdup("");
    return *out ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "stdin: out of memory");
}

cl_status cl_paperlines_read(const char *path, cl_paperlines *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    char *data = NULL;
    size_t n = 0;
    bool is_stdin = !strcmp(path, "-");
    cl_status st = is_stdin ? read_stdin(&data, &n, err) : cl_read_file(path, &data, &n, err);
    if (st != CL_OK)
        return st;
    st = cl_paperlines_parse(data, n, is_stdin ? "stdin" : path, out, err);
    free(data);
    return st;
}

bool cl_eval_align(const char *const *pred, int32_t npred, int32_t ngold, const char **out)
{
    for (int32_t i = 0; i < ngold; i++)
        out[i] = i < npred ? pred[i] : "O";
    return npred != ngold;
}
