/*
 * merge.c - joining shard outputs (run.h, cl_run_merge): `clinner tag
 * --shard K/N` writes the documents of shard K in input order, so the
 * whole output is a merge of N sorted streams whose order the input gives:
 * for each input document, take the next record of the shard its id hashes
 * to (cl_shard_of) and check that it is that document.  Memory holds one
 * record per stream, and records are copied byte for byte, so the result
 * is the unsharded run's output exactly.
 *
 * A record is a jsonl line, or a conll document from its "# doc: ID" line
 * up to the next one.  Formats without document ids (paper-csv,
 * paper-lines) cannot be merged this way: merge jsonl, then convert.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "clinner/run.h"
#include "clinner/util.h"

typedef struct shard_in {
    FILE *fp;
    const char *name;
    cl_format fmt;
    char *line;     /* getline buffer */
    size_t cap;
    ssize_t pending; /* conll: a "# doc:" line read ahead (-1: none) */
    long lineno;
    cl_buf rec;     /* the current record's bytes */
    char *id;       /* its document id */
    long rec_line;
} shard_in;

static cl_status read_line(shard_in *s, ssize_t *len, cl_error *err)
{
    if (s->pending >= 0) {
        *len = s->pending;
        s->pending = -1;
        return CL_OK;
    }
    *len = getline(&s->line, &s->cap, s->fp);
    if (*len < 0 && ferror(s->fp))
        return cl_error_set(err, CL_ERR_IO, "%s: read error", s->name);
    if (*len >= 0)
        s->lineno++;
    return CL_OK;
}

/* The id of a jsonl record. */
static char *jsonl_id(const char *line, size_t n)
{
    cJSON *root = cJSON_ParseWithLength(line, n);
    const cJSON *id = root ? cJSON_GetObjectItemCaseSensitive(root, "id") : NULL;
    char *out = cJSON_IsString(id) && id->valuestring ? cl_strdup(id->valuestring) : NULL;
    cJSON_Delete(root);
    return out;
}

static bool conll_header(const char *s, size_t n) { return n >= 6 && !memcmp(s, "# doc:", 6); }

/* "# doc: ID\n" -> ID */
static char *conll_id(const char *s, size_t n)
{
    size_t a = 6;
    while (n > a && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    while (a < n && (s[a] == ' ' || s[a] == '\t'))
        a++;
    return cl_strndup(s + a, n - a);
}

/* The shard's next record into s->rec and s->id; *got false at its end. */
static cl_status next_record(shard_in *s, bool *got, cl_error *err)
{
    *got = false;
    cl_buf_reset(&s->rec);
    free(s->id);
    s->id = NULL;
    ssize_t n;
    cl_status st;
    while ((st = read_line(s, &n, err)) == CL_OK && n >= 0) {
        if (s->fmt == CL_FORMAT_JSONL) {
            size_t k = 0;
            while (k < (size_t)n && strchr(" \t\r\n", s->line[k]))
                k++;
            if (k == (size_t)n)
                continue; /* blank line */
            s->rec_line = s->lineno;
            if (!(s->id = jsonl_id(s->line, (size_t)n)))
                return cl_error_set(err, CL_ERR_PARSE, "%s:%ld: not a jsonl document with an id",
                                    s->name, s->lineno);
            *got = true;
            return cl_buf_append(&s->rec, s->line, (size_t)n) == 0
                       ? CL_OK
                       : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        if (conll_header(s->line, (size_t)n) && s->id) {
            s->pending = n; /* the next record's first line */
            break;
        }
        if (!s->id) {
            if (!conll_header(s->line, (size_t)n))
                return cl_error_set(err, CL_ERR_PARSE,
                                    "%s:%ld: expected a '# doc: ID' line (conll shards of "
                                    "`clinner tag` start every document with one)",
                                    s->name, s->lineno);
            s->rec_line = s->lineno;
            if (!(s->id = conll_id(s->line, (size_t)n)))
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        if (cl_buf_append(&s->rec, s->line, (size_t)n) != 0)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    if (st == CL_OK && n >= 0) { /* found the next header */
        *got = true;
        return CL_OK;
    }
    *got = st == CL_OK && s->id != NULL;
    return st;
}

/* Take the next input document's record from its shard and copy it out. */
static cl_status merge_one(shard_in *sh, int32_t n, const char *id, long in_line,
                           FILE *out, cl_error *err)
{
    shard_in *s = &sh[cl_shard_of(id, n)];
    bool got;
    cl_status st = next_record(s, &got, err);
    if (st != CL_OK)
        return st;
    if (!got)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "document '%s' (input line %ld) is missing: %s ends before it",
                            id, in_line, s->name);
    if (strcmp(s->id, id) != 0)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s:%ld: found document '%s' where the input (line %ld) has '%s': "
                            "a document is missing, repeated, or the shards are not given in "
                            "order 0..%d of the same input",
                            s->name, s->rec_line, s->id, in_line, id, n - 1);
    if (fwrite(s->rec.data, 1, s->rec.len, out) != s->rec.len)
        return cl_error_set(err, CL_ERR_IO, "output: write error");
    return CL_OK;
}

cl_status cl_run_merge(cl_doc_reader *order, FILE *const *shards, const char *const *names,
                       int32_t n, cl_format fmt, FILE *out, int64_t *merged, cl_error *err)
{
    if (merged)
        *merged = 0;
    if (fmt != CL_FORMAT_JSONL && fmt != CL_FORMAT_CONLL)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "fmt: %s records carry no document id; merge jsonl (or conll) "
                            "shards, then convert",
                            cl_format_name(fmt));
    if (n < 1 || n > 65536 || !shards || !order || !out)
        return cl_error_set(err, CL_ERR_ARG, "n: 1..65536 shards are needed (got %d)", n);
    shard_in *sh = calloc((size_t)n, sizeof *sh);
    if (!sh)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < n; i++) {
        sh[i].fp = shards[i];
        sh[i].name = names && names[i] ? names[i] : "shard";
        sh[i].fmt = fmt;
        sh[i].pending = -1;
        cl_buf_init(&sh[i].rec);
    }
    cl_status st = CL_OK;
    for (;;) {
        cl_doc *doc = NULL;
        st = cl_doc_reader_next(order, &doc, err);
        if (st != CL_OK && cl_doc_reader_rejected(order, NULL))
            continue; /* rejected when tagged too: in no shard */
        if (st != CL_OK || !doc)
            break;
        st = merge_one(sh, n, doc->id ? doc->id : "", cl_doc_reader_line(order), out, err);
        cl_doc_free(doc);
        if (st != CL_OK)
            break;
        if (merged)
            (*merged)++;
    }
    for (int32_t i = 0; i < n && st == CL_OK; i++) {
        bool got;
        st = next_record(&sh[i], &got, err);
        if (st == CL_OK && got)
            st = cl_error_set(err, CL_ERR_FORMAT,
                              "%s:%ld: document '%s' is not in the input (or not once): every "
                              "input document is already merged",
                              sh[i].name, sh[i].rec_line, sh[i].id);
    }
    for (int32_t i = 0; i < n; i++) {
        free(sh[i].line);
        free(sh[i].id);
        cl_buf_free(&sh[i].rec);
    }
    free(sh);
    return st;
}

/* The shard files, opened in order: returns how many were opened. */
static int32_t open_shards(const char *const *paths, int32_t n, FILE **fps, cl_error *err)
{
    int32_t opened = 0;
    for (; opened < n; opened++)
        if (!(fps[opened] = fopen(paths[opened], "rb"))) {
            cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", paths[opened], strerror(errno));
            break;
        }
    return opened;
}

cl_status cl_run_merge_files(const char *input, cl_format in_fmt, const char *const *shards,
                             int32_t n, cl_format fmt, const char *out_path, int64_t *merged,
                             cl_error *err)
{
    bool is_stdin = !strcmp(input, "-");
    FILE *fin = is_stdin ? stdin : fopen(input, "rb");
    FILE **fps = n > 0 ? calloc((size_t)n, sizeof *fps) : NULL;
    int32_t opened = 0;
    cl_doc_reader *order = NULL;
    cl_atomic_file af; /* "-": stdout */
    memset(&af, 0, sizeof af);
    cl_status st = CL_ERR_IO;
    if (!fin || !fps) {
        cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", input, strerror(errno));
        goto done;
    }
    if ((opened = open_shards(shards, n, fps, err)) < n ||
        (st = cl_doc_reader_open(fin, in_fmt, is_stdin ? "stdin" : input, &order, err)) != CL_OK ||
        (st = cl_atomic_open(&af, out_path, err)) != CL_OK)
        goto done;
    st = cl_run_merge(order, fps, shards, n, fmt, af.fp, merged, err);
    if (st == CL_OK)
        st = cl_atomic_commit(&af, err); /* removes the temporary file on error */
    else
        cl_atomic_abort(&af);
done:
    cl_doc_reader_free(order);
    for (int32_t i = 0; i < opened; i++)
        fclose(fps[i]);
    free(fps);
    if (fin && fin != stdin)
        fclose(fin);
    return st;
}
