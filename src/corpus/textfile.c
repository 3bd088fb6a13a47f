/*
 * textfile.c - the plain-text reader: one UTF-8 file (or stdin) becomes one
 * document with no tokens and no entities, ready for a tokenizer and a
 * tagger.  Also home of cl_read_input, the "path or - for stdin" file read
 * that every stream reader (paper-csv, conll, jsonl) shares.
 *
 * The text is kept byte for byte (a BOM, CRLF line ends and a missing final
 * newline all stay), so that offsets written later point into exactly the
 * file the user gave.
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/text.h"
#include "clinner/util.h"
#include "corpus/formats.h"

cl_status cl_read_input(const char *path, char **out, size_t *len, cl_error *err)
{
    if (strcmp(path, "-") != 0)
        return cl_read_file(path, out, len, err);
    *out = NULL;
    if (len)
        *len = 0;
    cl_buf b;
    cl_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (cl_buf_append(&b, chunk, n) != 0) {
            cl_buf_free(&b);
            return cl_error_set(err, CL_ERR_NOMEM, "stdin: out of memory");
        }
    }
    if (ferror(stdin)) {
        cl_buf_free(&b);
        return cl_error_set(err, CL_ERR_IO, "stdin: read error");
    }
    if (cl_buf_append(&b, "", 0) != 0) { /* make sure data is allocated */
        cl_buf_free(&b);
        return cl_error_set(err, CL_ERR_NOMEM, "stdin: out of memory");
    }
    if (len)
        *len = b.len;
    *out = cl_buf_detach(&b);
    return CL_OK;
}

/* The file stem: base name without its last extension ("a/b/X.txt" -> "X"). */
static char *file_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return cl_strndup(base, n);
}

cl_status cl_text_parse(cl_corpus *c, const char *data, size_t n, const char *name,
                        const char *id, cl_error *err)
{
    size_t bad = 0;
    if (!cl_utf8_valid(data, n, &bad))
        return cl_error_set(err, CL_ERR_UTF8, "%s: invalid UTF-8 at byte %zu", name, bad);
    const char *nul = memchr(data, '\0', n);
    if (nul)
        return cl_error_set(err, CL_ERR_PARSE, "%s: NUL byte at byte %zu (not a text file?)",
                            name, (size_t)(nul - data));
    cl_doc *doc;
    if (cl_doc_new(id, data, n, &doc, err) != CL_OK)
        return cl_error_prefix(err, "%s: ", name);
    return cl_corpus_add(c, doc, err);
}

cl_status cl_read_parsed(cl_corpus *c, const char *path, cl_corpus_parse_fn parse, cl_error *err)
{
    char *data = NULL;
    size_t n = 0;
    cl_status st = cl_read_input(path, &data, &n, err);
    if (st != CL_OK)
        return st;
    size_t bom = n >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    st = parse(c, data + bom, n - bom, strcmp(path, "-") == 0 ? "stdin" : path, err);
    free(data);
    return st;
}

cl_status cl_text_read(cl_corpus *c, const char *path, cl_error *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "stdin" : path;
    char *data = NULL;
    size_t n = 0;
    cl_status st = cl_read_input(path, &data, &n, err);
    if (st != CL_OK)
        return st;
    char *id = is_stdin ? cl_strdup("stdin") : file_stem(path);
    if (!id)
        st = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", name);
    else
        st = cl_text_parse(c, data, n, name, id, err);
    free(id);
    free(data);
    return st;
}
