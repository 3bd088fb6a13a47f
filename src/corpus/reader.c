/*
 * reader.c - the streaming document reader (corpus.h, cl_doc_reader): hands
 * out the documents of a FILE* one at a time so that a tagger can work
 * through an input of any size (standard input included) in memory bounded
 * by one document.
 *
 * jsonl is read line by line with the same per-line parser as the
 * whole-file reader; conll feeds its line state machine (conll.c) and hands
 * out each document as the next document line completes it; text is the
 * whole stream; paper-csv is parsed whole and handed out in order.  A
 * malformed jsonl line or conll document is skipped with an error that
 * names its line, its raw text kept for a rejects file; the next call goes
 * on after it.  A filter on ids (shards) judges a jsonl line by an id read
 * with a light scan of the line's top level, before any parsing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/text.h"
#include "clinner/util.h"
#include "corpus/formats.h"

struct cl_doc_reader {
    FILE *fp;
    cl_format fmt;
    char *name;
    cl_corpus *ready; /* parsed, not yet handed out */
    int32_t next_ready;
    char *line;       /* getline's buffer */
    size_t cap;
    bool pending;     /* line holds a line read ahead (conll: after a bad document) */
    ssize_t pending_len;
    bool eof;
    long lineno;      /* lines read (jsonl) */
    long rec_line;    /* first line of the last record */
    cl_buf raw;       /* conll: the current document's lines */
    long raw_line;    /* its first line */
    cl_buf rejected;
    bool has_rejected;
    cl_conll_state cs;
    bool (*keep)(void *ctx, const char *id); /* NULL: every document */
    void *keep_ctx;
    int64_t filtered;
};

cl_status cl_doc_reader_open(FILE *fp, cl_format fmt, const char *name, cl_doc_reader **out,
                             cl_error *err)
{
    *out = NULL;
    if (!fp)
        return cl_error_set(err, CL_ERR_ARG, "fp: no stream");
    if (fmt == CL_FORMAT_BRAT || fmt == CL_FORMAT_PAPER_LINES)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "fmt: %s cannot be read from a stream (jsonl, conll, paper-csv "
                            "and text can)",
                            cl_format_name(fmt));
    cl_doc_reader *r = calloc(1, sizeof *r);
    if (!r)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    r->fp = fp;
    r->fmt = fmt;
    r->name = cl_strdup(name ? name : "stdin");
    cl_status st = cl_corpus_new(&r->ready, err);
    cl_buf_init(&r->raw);
    cl_buf_init(&r->rejected);
    cl_conll_state_init(&r->cs, r->name);
    if (st != CL_OK || !r->name) {
        cl_doc_reader_free(r);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    *out = r;
    return CL_OK;
}

void cl_doc_reader_free(cl_doc_reader *r)
{
    if (!r)
        return;
    if (r->ready) {
        for (int32_t i = 0; i < r->next_ready; i++)
            r->ready->docs[i] = NULL; /* handed out */
        for (int32_t i = r->next_ready; i < r->ready->ndocs; i++)
            cl_doc_free(r->ready->docs[i]);
        r->ready->ndocs = 0;
        cl_corpus_free(r->ready);
    }
    cl_conll_state_free(&r->cs);
    cl_buf_free(&r->raw);
    cl_buf_free(&r->rejected);
    free(r->line);
    free(r->name);
    free(r);
}

const char *cl_doc_reader_rejected(const cl_doc_reader *r, size_t *n)
{
    if (n)
        *n = r->has_rejected ? r->rejected.len : 0;
    return r->has_rejected ? r->rejected.data : NULL;
}

long cl_doc_reader_line(const cl_doc_reader *r) { return r->rec_line; }

void cl_doc_reader_set_filter(cl_doc_reader *r, bool (*keep)(void *ctx, const char *id),
                              void *ctx)
{
    r->keep = keep;
    r->keep_ctx = ctx;
}

int64_t cl_doc_reader_filtered(const cl_doc_reader *r) { return r->filtered; }

/* ---- a light scan for a jsonl line's "id" ---- */

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* Past the string starting at s[i] == '"'; *escaped when it has a
 * backslash; n when unterminated. */
static size_t skip_string(const char *s, size_t n, size_t i, bool *escaped)
{
    *escaped = false;
    for (i++; i < n; i++) {
        if (s[i] == '\\') {
            *escaped = true;
            i++;
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return n;
}

/* Past the value at s[i] (object, array, string or scalar); n when malformed. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    bool esc;
    if (i < n && s[i] == '"')
        return skip_string(s, n, i, &esc);
    int depth = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            i = skip_string(s, n, i, &esc) - 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i; /* the end of the enclosing object */
            if (--depth == 0)
                return i + 1;
        } else if (c == ',' && depth == 0) {
            return i;
        }
    }
    return n;
}

/* The first top-level "id" of the object on a line, when it is a string
 * without escapes; NULL otherwise (the caller parses the line instead). */
static char *scan_id(const char *s, size_t n)
{
    size_t i = skip_ws(s, n, 0);
    if (i >= n || s[i] != '{')
        return NULL;
    i = skip_ws(s, n, i + 1);
    while (i < n && s[i] == '"') {
        bool esc;
        size_t kend = skip_string(s, n, i, &esc);
        bool is_id = !esc && kend - i == 4 && !memcmp(s + i, "\"id\"", 4);
        i = skip_ws(s, n, kend);
        if (i >= n || s[i] != ':')
            return NULL;
        i = skip_ws(s, n, i + 1);
        if (is_id) {
            if (i >= n || s[i] != '"')
                return NULL;
            size_t vend = skip_string(s, n, i, &esc);
            return vend <= n && s[vend - 1] == '"' && vend - i >= 2 && !esc
                       ? cl_strndup(s + i + 1, vend - i - 2)
                       : NULL;
        }
        i = skip_ws(s, n, skip_value(s, n, i));
        if (i >= n || s[i] != ',')
            return NULL;
        i = skip_ws(s, n, i + 1);
    }
    return NULL;
}

/* Whether the filter leaves a jsonl line out, judged before parsing. */
static bool filtered_out(cl_doc_reader *r, const char *line, size_t len)
{
    if (!r->keep)
        return false;
    char *id = scan_id(line, len);
    bool out = id && !r->keep(r->keep_ctx, id);
    free(id);
    r->filtered += out;
    return out;
}

/* Whether the filter keeps a parsed document (else it is freed). */
static bool keep_doc(cl_doc_reader *r, cl_doc *doc)
{
    if (!r->keep || !doc || r->keep(r->keep_ctx, doc->id ? doc->id : ""))
        return true;
    r->filtered++;
    cl_doc_free(doc);
    return false;
}

/* Hand out the next parsed document, if any. */
static bool pop_ready(cl_doc_reader *r, cl_doc **out)
{
    if (r->next_ready >= r->ready->ndocs) {
        r->ready->ndocs = 0;
        r->next_ready = 0;
        return false;
    }
    *out = r->ready->docs[r->next_ready];
    r->ready->docs[r->next_ready++] = NULL;
    if (r->next_ready == r->ready->ndocs) {
        r->ready->ndocs = 0;
        r->next_ready = 0;
    }
    return true;
}

/* The next line into r->line (its length with the newline, -1 at the end). */
static cl_status next_line(cl_doc_reader *r, ssize_t *len, cl_error *err)
{
    if (r->pending) {
        r->pending = false;
        *len = r->pending_len;
        return CL_OK;
    }
    errno = 0;
    *len = r->eof ? -1 : getline(&r->line, &r->cap, r->fp);
    if (*len < 0) {
        if (!r->eof && ferror(r->fp))
            return cl_error_set(err, CL_ERR_IO, "%s: read error: %s", r->name,
                                errno ? strerror(errno) : "unknown");
        r->eof = true;
    }
    return CL_OK;
}

static cl_status reject(cl_doc_reader *r, const char *data, size_t n, cl_error *err)
{
    cl_buf_reset(&r->rejected);
    if (n && cl_buf_append(&r->rejected, data, n) != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    r->has_rejected = true;
    return CL_OK;
}

static cl_status next_jsonl(cl_doc_reader *r, cl_doc **out, cl_error *err)
{
    for (;;) {
        ssize_t n;
        cl_status st = next_line(r, &n, err);
        if (st != CL_OK || n < 0)
            return st;
        r->lineno++;
        size_t len = (size_t)n;
        if (len > 0 && r->line[len - 1] == '\n')
            len--;
        r->rec_line = r->lineno;
        if (filtered_out(r, r->line, len))
            continue;
        st = cl_jsonl_parse_line(r->ready, r->line, len, r->name, r->lineno, err);
        if (st != CL_OK) {
            cl_error keep = *err;
            if (reject(r, r->line, (size_t)n, err) != CL_OK)
                return CL_ERR_NOMEM;
            *err = keep;
            return st;
        }
        if (pop_ready(r, out)) {
            if (keep_doc(r, *out))
                return CL_OK;
            *out = NULL;
        }
    }
}

/* conll: after an error in a document, skip its remaining lines up to the
 * next document line (kept for the next call); they join the rejected text. */
static cl_status skip_bad_document(cl_doc_reader *r, const char *bad, size_t badn,
                                   cl_status why, cl_error *err)
{
    cl_error keep = *err;
    cl_buf_reset(&r->rejected);
    r->has_rejected = true;
    int oom = r->ready->ndocs == 0 ? cl_buf_append(&r->rejected, r->raw.data, r->raw.len) : 0;
    oom = oom || cl_buf_append(&r->rejected, bad, badn);
    r->rec_line = r->ready->ndocs == 0 && r->raw.len ? r->raw_line : r->cs.line;
    cl_buf_reset(&r->raw);
    cl_conll_state_drop_doc(&r->cs);
    for (;;) {
        ssize_t n;
        cl_status st = next_line(r, &n, err);
        if (st != CL_OK || n < 0)
            break;
        if (cl_conll_starts_doc(r->line, (size_t)n)) {
            r->pending = true;
            r->pending_len = n;
            break;
        }
        r->cs.line++;
        oom = oom || cl_buf_append(&r->rejected, r->line, (size_t)n);
    }
    if (oom)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    *err = keep;
    return why;
}

static cl_status next_conll(cl_doc_reader *r, cl_doc **out, cl_error *err)
{
    for (;;) {
        if (pop_ready(r, out))
            return CL_OK;
        ssize_t n;
        cl_status st = next_line(r, &n, err);
        if (st != CL_OK)
            return st;
        if (n < 0) {
            if (r->eof && !r->cs.open && r->raw.len == 0)
                return CL_OK;
            r->rec_line = r->raw_line;
            st = cl_conll_end(&r->cs, r->ready, err);
            if (st != CL_OK)
                return skip_bad_document(r, "", 0, st, err);
            cl_buf_reset(&r->raw);
            if (!pop_ready(r, out))
                *out = NULL;
            return CL_OK;
        }
        size_t len = (size_t)n, bad;
        if (len > 0 && r->line[len - 1] == '\n')
            len--;
        /* checked here, per line, as the whole-file parser does up front */
        if (!cl_utf8_valid(r->line, len, &bad))
            st = cl_error_set(err, CL_ERR_UTF8, "%s:%ld: invalid UTF-8 at byte %zu of the line",
                              r->name, r->cs.line + 1, bad);
        else if (memchr(r->line, '\0', len))
            st = cl_error_set(err, CL_ERR_PARSE, "%s:%ld: NUL byte", r->name, r->cs.line + 1);
        if (st != CL_OK) {
            r->cs.line++;
            return skip_bad_document(r, r->line, (size_t)n, st, err);
        }
        bool starts = cl_conll_starts_doc(r->line, len);
        long before = r->raw_line;
        st = cl_conll_line(&r->cs, r->ready, r->line, len, err);
        if (st != CL_OK)
            return skip_bad_document(r, r->line, (size_t)n, st, err);
        if (starts) { /* the previous document (if any) is complete */
            r->rec_line = before;
            cl_buf_reset(&r->raw);
        }
        if (r->raw.len == 0)
            r->raw_line = r->cs.line;
        if (cl_buf_append(&r->raw, r->line, (size_t)n) != 0)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
}

/* text, paper-csv: the whole stream at once */
static cl_status read_whole(cl_doc_reader *r, cl_error *err)
{
    cl_buf b;
    cl_buf_init(&b);
    char chunk[65536];
    size_t n;
    int oom = cl_buf_append(&b, "", 0);
    while (!oom && (n = fread(chunk, 1, sizeof chunk, r->fp)) > 0)
        oom = cl_buf_append(&b, chunk, n);
    r->eof = true;
    cl_status st = CL_OK;
    if (oom)
        st = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", r->name);
    else if (ferror(r->fp))
        st = cl_error_set(err, CL_ERR_IO, "%s: read error: %s", r->name, strerror(errno));
    else if (r->fmt == CL_FORMAT_PAPER_CSV)
        st = cl_papercsv_parse(r->ready, b.data, b.len, r->name, err);
    else {
        const char *base = strrchr(r->name, '/');
        base = base ? base + 1 : r->name;
        const char *dot = strrchr(base, '.');
        char *id = cl_strndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
        st = id ? cl_text_parse(r->ready, b.data, b.len, r->name, id, err)
                : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        free(id);
    }
    cl_buf_free(&b);
    return st;
}

static cl_status next_any(cl_doc_reader *r, cl_doc **out, cl_error *err);

cl_status cl_doc_reader_next(cl_doc_reader *r, cl_doc **out, cl_error *err)
{
    for (;;) {
        cl_status st = next_any(r, out, err);
        if (st != CL_OK || !*out || r->fmt == CL_FORMAT_JSONL || keep_doc(r, *out))
            return st;
    }
}

static cl_status next_any(cl_doc_reader *r, cl_doc **out, cl_error *err)
{
    *out = NULL;
    r->has_rejected = false;
    switch (r->fmt) {
    case CL_FORMAT_JSONL:
        return next_jsonl(r, out, err);
    case CL_FORMAT_CONLL:
        return next_conll(r, out, err);
    default:
        if (pop_ready(r, out) || r->eof)
            return CL_OK;
        r->rec_line = 1;
        cl_status st = read_whole(r, err);
        if (st == CL_OK)
            pop_ready(r, out);
        return st;
    }
}
