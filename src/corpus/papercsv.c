/*
 * papercsv.c - the paper's token CSV (Lu et al. 2024, brat2iob.py output):
 *
 *     Token,Tag,Sentence_Num,Sentence_Num_Global,File
 *     AP-4-associated,B-RAREDISEASE,1,1,AP.txt
 *     ",",O,3,3,AP.txt
 *
 * The released files were written by pandas' to_csv, i.e. Python's csv
 * module with QUOTE_MINIMAL and "\n" line ends: a field is quoted only when
 * it holds a comma, a double quote, CR or LF, and quotes inside are doubled.
 * The writer reproduces that byte for byte, so a corpus converted here can
 * be compared with theirs with cmp(1).  Sentence_Num restarts at 1 in every
 * document; Sentence_Num_Global runs over the whole file and, as in
 * brat2iob, advances only where a sentence ends: after a sentence that is
 * followed by another in its document, or whose last token is ".", "?" or
 * "!".  A document whose text ends without such a token (11 of the 312
 * dev+test documents, e.g. on ")") therefore shares its last global number
 * with the next document's first sentence.  That is why the paper counts
 * 1,735 test sentences (Table 1, and the 1,735 blocks of its GPT-4 output)
 * where there are 1,743 (document, Sentence_Num) pairs.  *sentence_global
 * holds the number of sentences closed so far.
 *
 * The reader accepts what Python's csv reader accepts in its strict mode
 * (LF, CRLF or CR line ends, blank lines skipped), finds the columns by
 * header name, and rebuilds each document's text as its tokens joined by
 * single spaces (sentences joined by a space too), since the CSV does not
 * keep the original text.  Documents split where File changes, sentences
 * where Sentence_Num changes.
 *
 * This file also holds the token-document builder (cl_tokbuild) that the
 * CoNLL reader shares.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/text.h"
#include "clinner/util.h"
#include "corpus/formats.h"

/* ---- token-document builder ---- */

void cl_tokbuild_init(cl_tokbuild *b)
{
    memset(b, 0, sizeof *b);
    cl_buf_init(&b->text);
}

static void tokbuild_reset(cl_tokbuild *b)
{
    for (int32_t i = 0; i < b->ntoks; i++)
        free(b->tags[i]);
    b->ntoks = 0;
    b->nsents = 0;
    b->nchars = 0;
    b->any_conf = false;
    cl_buf_reset(&b->text);
}

void cl_tokbuild_free(cl_tokbuild *b)
{
    tokbuild_reset(b);
    free(b->toks);
    free(b->tags);
    free(b->conf);
    free(b->sent_ends);
    cl_buf_free(&b->text);
    memset(b, 0, sizeof *b);
}

int cl_tokbuild_token(cl_tokbuild *b, const char *tok, size_t n, const char *tag, size_t tagn,
                      bool new_sentence)
{
    if (b->ntoks == b->cap) {
        int32_t nc = b->cap ? b->cap * 2 : 256;
        cl_token *t = realloc(b->toks, (size_t)nc * sizeof *t);
        if (!t)
            return -1;
        b->toks = t;
        char **g = realloc(b->tags, (size_t)nc * sizeof *g);
        if (!g)
            return -1;
        b->tags = g;
        float *f = realloc(b->conf, (size_t)nc * sizeof *f);
        if (!f)
            return -1;
        b->conf = f;
        b->cap = nc;
    }
    if (b->nsents == b->scap) {
        int32_t nc = b->scap ? b->scap * 2 : 64;
        int32_t *s = realloc(b->sent_ends, (size_t)nc * sizeof *s);
        if (!s)
            return -1;
        b->sent_ends = s;
        b->scap = nc;
    }
    char *t = cl_strndup(tag, tagn);
    if (!t)
        return -1;
    if (b->ntoks > 0) {
        if (cl_buf_putc(&b->text, ' ') != 0) {
            free(t);
            return -1;
        }
        b->nchars++;
        if (new_sentence)
            b->sent_ends[b->nsents++] = b->ntoks;
    }
    if (cl_buf_append(&b->text, tok, n) != 0) {
        free(t);
        return -1;
    }
    int32_t len = cl_utf8_length(tok, n);
    b->toks[b->ntoks].start = b->nchars;
    b->toks[b->ntoks].end = b->nchars + len;
    b->tags[b->ntoks] = t;
    b->conf[b->ntoks] = -1.0f;
    b->nchars += len;
    b->ntoks++;
    return 0;
}

cl_doc *cl_tokbuild_finish(cl_tokbuild *b, const char *id, cl_error *err)
{
    cl_doc *doc;
    if (cl_doc_new(id, b->text.data ? b->text.data : "", b->text.len, &doc, err) != CL_OK) {
        tokbuild_reset(b);
        return NULL;
    }
    for (int32_t i = 0; i < b->ntoks; i++) {
        if (cl_doc_push_token(doc, b->toks[i].start, b->toks[i].end, err) != CL_OK)
            goto fail;
    }
    if (b->ntoks > 0) {
        int32_t begin = 0;
        for (int32_t s = 0; s <= b->nsents; s++) {
            int32_t end = s < b->nsents ? b->sent_ends[s] : b->ntoks;
            if (cl_doc_push_sentence(doc, begin, end, err) != CL_OK)
                goto fail;
            begin = end;
        }
        /* Hand the tag strings over instead of copying them. */
        doc->tags = malloc((size_t)b->ntoks * sizeof *doc->tags);
        if (!doc->tags) {
            cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (b->any_conf) {
            doc->tag_conf = malloc((size_t)b->ntoks * sizeof *doc->tag_conf);
            if (!doc->tag_conf) {
                free(doc->tags);
                doc->tags = NULL;
                cl_error_set(err, CL_ERR_NOMEM, "out of memory");
                goto fail;
            }
            memcpy(doc->tag_conf, b->conf, (size_t)b->ntoks * sizeof *b->conf);
        }
        memcpy(doc->tags, b->tags, (size_t)b->ntoks * sizeof *b->tags);
        b->ntoks = 0; /* the doc owns the strings now */
    }
    tokbuild_reset(b);
    return doc;
fail:
    cl_doc_free(doc);
    tokbuild_reset(b);
    return NULL;
}

/* ---- shared helpers ---- */

/* 1-based line of byte offset off in data. */
static long line_of(const char *data, size_t off)
{
    long line = 1;
    for (size_t i = 0; i < off; i++)
        if (data[i] == '\n' || (data[i] == '\r' && (i + 1 >= off || data[i + 1] != '\n')))
            line++;
    return line;
}

bool cl_bio_tag_valid(const char *tag, size_t n)
{
    if (n == 1 && tag[0] == 'O')
        return true;
    if (n < 3 || tag[1] != '-' || !strchr("BIES", tag[0]) || tag[0] == '\0')
        return false;
    for (size_t i = 2; i < n; i++)
        if ((unsigned char)tag[i] <= ' ')
            return false;
    return true;
}

/* ---- reader ---- */

enum { COL_TOKEN, COL_TAG, COL_SENT, COL_GLOBAL, COL_FILE, NCOLS };
static const char *const col_names[NCOLS] = {"Token", "Tag", "Sentence_Num",
                                             "Sentence_Num_Global", "File"};

#define MAX_FIELDS 64

typedef struct csv_row {
    cl_buf f[MAX_FIELDS];
    int n;
    long line; /* physical line where the row starts */
} csv_row;

/* Parse one row starting at *pos; returns 1 row read, 0 end of input, -1 error. */
static int csv_next(const char *d, size_t n, size_t *pos, long *line, csv_row *row,
                    const char *file, cl_error *err)
{
    size_t i = *pos;
    /* skip blank lines, as pandas does */
    while (i < n && (d[i] == '\n' || d[i] == '\r')) {
        if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
            i++;
        i++;
        (*line)++;
    }
    if (i >= n) {
        *pos = i;
        return 0;
    }
    row->n = 0;
    row->line = *line;
    for (;;) {
        if (row->n == MAX_FIELDS) {
            cl_error_set(err, CL_ERR_PARSE, "%s:%ld: more than %d fields", file, *line,
                         MAX_FIELDS);
            return -1;
        }
        cl_buf *f = &row->f[row->n++];
        cl_buf_reset(f);
        if (cl_buf_append(f, "", 0) != 0)
            goto nomem;
        if (i < n && d[i] == '"') {
            long open_line = *line;
            i++;
            for (;;) {
                if (i >= n) {
                    cl_error_set(err, CL_ERR_PARSE,
                                 "%s:%ld: bad quoting: quoted field opened here is never closed",
                                 file, open_line);
                    return -1;
                }
                if (d[i] == '"') {
                    if (i + 1 < n && d[i + 1] == '"') {
                        if (cl_buf_putc(f, '"') != 0)
                            goto nomem;
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (d[i] == '\n' || (d[i] == '\r' && !(i + 1 < n && d[i + 1] == '\n')))
                    (*line)++;
                if (cl_buf_putc(f, d[i]) != 0)
                    goto nomem;
                i++;
            }
            if (i < n && d[i] != ',' && d[i] != '\n' && d[i] != '\r') {
                cl_error_set(err, CL_ERR_PARSE,
                             "%s:%ld: bad quoting: '%c' after the closing quote of field %d",
                             file, *line, d[i], row->n);
                return -1;
            }
        } else {
            size_t s = i;
            while (i < n && d[i] != ',' && d[i] != '\n' && d[i] != '\r')
                i++;
            if (cl_buf_append(f, d + s, i - s) != 0)
                goto nomem;
        }
        if (i < n && d[i] == ',') {
            i++;
            continue;
        }
        /* end of row */
        if (i < n && d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
            i++;
        if (i < n) {
            i++;
            (*line)++;
        }
        *pos = i;
        return 1;
    }
nomem:
    cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", file);
    return -1;
}

/* Strict non-negative decimal integer. */
static bool parse_int(const char *s, long long *out)
{
    if (!*s)
        return false;
    long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

static char *doc_id_from_file(const char *file)
{
    size_t n = strlen(file);
    if (n > 4 && strcmp(file + n - 4, ".txt") == 0)
        n -= 4;
    return cl_strndup(file, n);
}

cl_status cl_papercsv_parse(cl_corpus *c, const char *d, size_t n, const char *file,
                            cl_error *err)
{
    size_t bad = 0;
    if (!cl_utf8_valid(d, n, &bad))
        return cl_error_set(err, CL_ERR_UTF8, "%s:%ld: invalid UTF-8 at byte %zu", file,
                            line_of(d, bad), bad);
    const char *nul = memchr(d, '\0', n);
    if (nul)
        return cl_error_set(err, CL_ERR_PARSE, "%s:%ld: NUL byte at byte %zu", file,
                            line_of(d, (size_t)(nul - d)), (size_t)(nul - d));
    csv_row *row = calloc(1, sizeof *row);
    if (!row)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", file);
    cl_tokbuild b;
    cl_tokbuild_init(&b);
    char *cur_file = NULL; /* File of the current document */
    long long cur_sent = -1;
    int col[NCOLS];
    int ncols = 0;
    size_t pos = 0;
    long line = 1;
    cl_status st = CL_OK;
    int r;

    if (n >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0)
        pos = 3; /* UTF-8 BOM, as Excel writes */
    r = csv_next(d, n, &pos, &line, row, file, err);
    if (r < 0) {
        st = err ? err->code : CL_ERR_PARSE;
        goto done;
    }
    if (r == 0) {
        st = cl_error_set(err, CL_ERR_PARSE, "%s:1: empty file (no header line)", file);
        goto done;
    }
    ncols = row->n;
    for (int k = 0; k < NCOLS; k++) {
        col[k] = -1;
        for (int j = 0; j < row->n; j++)
            if (strcmp(row->f[j].data, col_names[k]) == 0)
                col[k] = j;
        if (col[k] < 0 && k != COL_GLOBAL) {
            st = cl_error_set(err, CL_ERR_PARSE,
                              "%s:%ld: header has no '%s' column (expected "
                              "Token,Tag,Sentence_Num,Sentence_Num_Global,File)",
                              file, row->line, col_names[k]);
            goto done;
        }
    }

    while ((r = csv_next(d, n, &pos, &line, row, file, err)) > 0) {
        if (row->n != ncols) {
            st = cl_error_set(err, CL_ERR_PARSE, "%s:%ld: expected %d fields, found %d", file,
                              row->line, ncols, row->n);
            goto done;
        }
        const cl_buf *tok = &row->f[col[COL_TOKEN]];
        const cl_buf *tag = &row->f[col[COL_TAG]];
        const char *fname = row->f[col[COL_FILE]].data;
        long long sent, glob;
        if (!parse_int(row->f[col[COL_SENT]].data, &sent)) {
            st = cl_error_set(err, CL_ERR_PARSE,
                              "%s:%ld: field Sentence_Num: '%.40s' is not a non-negative integer",
                              file, row->line, row->f[col[COL_SENT]].data);
            goto done;
        }
        if (col[COL_GLOBAL] >= 0 && !parse_int(row->f[col[COL_GLOBAL]].data, &glob)) {
            st = cl_error_set(
                err, CL_ERR_PARSE,
                "%s:%ld: field Sentence_Num_Global: '%.40s' is not a non-negative integer", file,
                row->line, row->f[col[COL_GLOBAL]].data);
            goto done;
        }
        if (tok->len == 0) {
            st = cl_error_set(err, CL_ERR_PARSE, "%s:%ld: field Token: empty token", file,
                              row->line);
            goto done;
        }
        if (!cl_bio_tag_valid(tag->data, tag->len)) {
            st = cl_error_set(err, CL_ERR_PARSE,
                              "%s:%ld: field Tag: '%.40s' is not O or B-/I-TYPE", file,
                              row->line, tag->data);
            goto done;
        }
        if (*fname == '\0') {
            st = cl_error_set(err, CL_ERR_PARSE, "%s:%ld: field File: empty", file, row->line);
            goto done;
        }
        if (!cur_file || strcmp(cur_file, fname) != 0) {
            if (cur_file) {
                char *id = doc_id_from_file(cur_file);
                cl_doc *doc = id ? cl_tokbuild_finish(&b, id, err) : NULL;
                free(id);
                if (!doc || cl_corpus_add(c, doc, err) != CL_OK) {
                    st = cl_error_prefix(err, "%s:%ld: ", file, row->line);
                    goto done;
                }
            }
            /* A document must be contiguous: a File seen before is an error. */
            char *id = doc_id_from_file(fname);
            if (!id)
                goto nomem;
            for (int32_t k = 0; k < c->ndocs; k++) {
                if (strcmp(c->docs[k]->id, id) == 0) {
                    st = cl_error_set(err, CL_ERR_PARSE,
                                      "%s:%ld: field File: rows of '%s' resume after another "
                                      "document (documents must be contiguous)",
                                      file, row->line, fname);
                    free(id);
                    goto done;
                }
            }
            free(id);
            free(cur_file);
            cur_file = cl_strdup(fname);
            if (!cur_file)
                goto nomem;
            cur_sent = -1;
        }
        bool new_sent = sent != cur_sent;
        cur_sent = sent;
        if (cl_tokbuild_token(&b, tok->data, tok->len, tag->data, tag->len, new_sent) != 0)
            goto nomem;
    }
    if (r < 0) {
        st = err ? err->code : CL_ERR_PARSE;
        goto done;
    }
    if (cur_file) {
        char *id = doc_id_from_file(cur_file);
        cl_doc *doc = id ? cl_tokbuild_finish(&b, id, err) : NULL;
        free(id);
        if (!doc || cl_corpus_add(c, doc, err) != CL_OK) {
            st = cl_error_prefix(err, "%s: ", file);
            goto done;
        }
    }
    goto done;
nomem:
    st = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", file);
done:
    free(cur_file);
    cl_tokbuild_free(&b);
    for (int k = 0; k < MAX_FIELDS; k++)
        cl_buf_free(&row->f[k]);
    free(row);
    return st;
}

cl_status cl_papercsv_read(cl_corpus *c, const char *path, cl_error *err)
{
    return cl_read_parsed(c, path, cl_papercsv_parse, err);
}

/* ---- writer ---- */

/* One field as Python's csv module writes it under QUOTE_MINIMAL. */
static void put_field(FILE *fp, const char *s, size_t n)
{
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        fwrite(s, 1, n, fp);
        return;
    }
    fputc('"', fp);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fputc('"', fp);
        fputc(s[i], fp);
    }
    fputc('"', fp);
}

cl_status cl_papercsv_write_header(FILE *fp, cl_error *err)
{
    if (fputs("Token,Tag,Sentence_Num,Sentence_Num_Global,File\n", fp) == EOF)
        return cl_error_set(err, CL_ERR_IO, "write error: %s", strerror(errno));
    return CL_OK;
}

/* Whether token t is ".", "?" or "!", the tokens after which brat2iob
 * advances its global sentence counter. */
static bool ends_sentence(const cl_doc *doc, int32_t t)
{
    size_t nb;
    const char *tb = cl_doc_token_bytes(doc, t, &nb);
    return nb == 1 && (*tb == '.' || *tb == '?' || *tb == '!');
}

cl_status cl_papercsv_write_doc(const cl_doc *doc, FILE *fp, int64_t *sentence_global,
                                cl_error *err)
{
    int64_t local = 0;
    int64_t *glob = sentence_global ? sentence_global : &local;
    /* File column: the id plus ".txt", quoted if it needs to be. */
    size_t idn = strlen(doc->id);
    char *fname = malloc(idn + 5);
    if (!fname)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    memcpy(fname, doc->id, idn);
    memcpy(fname + idn, ".txt", 5);
    /* A document with tokens but no sentences is one sentence. */
    cl_sentence whole = {0, doc->ntokens};
    const cl_sentence *sents = doc->nsentences > 0 ? doc->sentences : &whole;
    int32_t nsents = doc->nsentences > 0 ? doc->nsentences : (doc->ntokens > 0 ? 1 : 0);
    int32_t last = nsents - 1; /* the last non-empty sentence */
    while (last >= 0 && sents[last].tok_end <= sents[last].tok_begin)
        last--;
    int64_t sent_num = 0;
    for (int32_t s = 0; s < nsents; s++) {
        if (sents[s].tok_end <= sents[s].tok_begin)
            continue; /* empty sentences have no rows and no number */
        sent_num++;
        int64_t g = *glob + 1;
        if (s != last || ends_sentence(doc, sents[s].tok_end - 1))
            *glob = g;
        for (int32_t t = sents[s].tok_begin; t < sents[s].tok_end; t++) {
            size_t nb;
            const char *tb = cl_doc_token_bytes(doc, t, &nb);
            const char *tag = doc->tags && doc->tags[t] ? doc->tags[t] : "O";
            put_field(fp, tb, nb);
            fputc(',', fp);
            put_field(fp, tag, strlen(tag));
            fprintf(fp, ",%lld,%lld,", (long long)sent_num, (long long)g);
            put_field(fp, fname, idn + 4);
            fputc('\n', fp);
        }
    }
    free(fname);
    if (ferror(fp))
        return cl_error_set(err, CL_ERR_IO, "write error: %s", strerror(errno));
    return CL_OK;
}
