/*
 * conll.c - CoNLL-style token files, the lingua franca of sequence
 * labellers:
 *
 *     # doc: ACTH-Deficiency
 *     ACTH<TAB>B-RAREDISEASE
 *     deficiency<TAB>I-RAREDISEASE
 *     ...
 *     .<TAB>O
 *     <blank line between sentences>
 *
 * The writer emits exactly that.  The reader is lenient in what other tools
 * write: columns may be separated by tabs or, when a line has no tab, by
 * spaces; with more than two columns (CoNLL-2003's token POS chunk label)
 * the first is the token and the last the label; "-DOCSTART-" lines start a
 * new document as "# doc:" lines do; CRLF line ends are accepted.  A file
 * without any document line is one document named "conll".  Since the
 * format drops the original text, each document's text is rebuilt as its
 * tokens joined by single spaces, as paper-csv does.
 * A CR inside a line is refused (a line end to some tools, a character to
 * others); the writer refuses tokens that would read back as something else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/text.h"
#include "clinner/util.h"
#include "corpus/formats.h"

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

/* Close the document being built (if one was started) and add it to c. */
static cl_status flush_doc(cl_corpus *c, cl_conll_state *cs, cl_error *err)
{
    if (!cs->open)
        return CL_OK;
    cl_doc *doc = cl_tokbuild_finish(&cs->b, cs->id ? cs->id : "conll", err);
    free(cs->id);
    cs->id = NULL;
    cs->open = false;
    if (!doc || cl_corpus_add(c, doc, err) != CL_OK)
        return cl_error_prefix(err, "%s:%ld: ", cs->file, cs->line);
    return CL_OK;
}

void cl_conll_state_init(cl_conll_state *cs, const char *file)
{
    memset(cs, 0, sizeof *cs);
    cl_tokbuild_init(&cs->b);
    cs->file = file;
    cs->new_sent = true;
}

void cl_conll_state_free(cl_conll_state *cs)
{
    free(cs->id);
    cs->id = NULL;
    cl_tokbuild_free(&cs->b);
}

void cl_conll_state_drop_doc(cl_conll_state *cs)
{
    cl_tokbuild_free(&cs->b);
    cl_tokbuild_init(&cs->b);
    free(cs->id);
    cs->id = NULL;
    cs->open = false;
    cs->new_sent = true;
}

bool cl_conll_starts_doc(const char *s, size_t len)
{
    if (len >= 6 && memcmp(s, "# doc:", 6) == 0)
        return true;
    while (len > 0 && *s == ' ') {
        s++;
        len--;
    }
    return len >= 10 && memcmp(s, "-DOCSTART-", 10) == 0 &&
           (len == 10 || s[10] == ' ' || s[10] == '\t' || s[10] == '\r');
}

/* "# doc: ID" or -DOCSTART-: the next document begins. */
static cl_status start_doc(cl_corpus *c, cl_conll_state *cs, const char *id, size_t idn,
                           cl_error *err)
{
    cl_status st = flush_doc(c, cs, err);
    if (st != CL_OK)
        return st;
    char buf[32];
    if (!id) {
        snprintf(buf, sizeof buf, "doc%d", ++cs->ndocstart);
        id = buf;
        idn = strlen(buf);
    }
    if (!(cs->id = cl_strndup(id, idn)))
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", cs->file);
    cs->open = true;
    cs->new_sent = true;
    return CL_OK;
}

/* The token is the first column, the label the last. */
static void split_columns(const char *s, size_t len, const char **tok, size_t *tokn,
                          const char **label, size_t *labeln)
{
    *label = NULL;
    *tokn = *labeln = 0;
    if (memchr(s, '\t', len)) {
        *tok = s;
        *tokn = (size_t)((const char *)memchr(s, '\t', len) - s);
        size_t z = len, k = len;
        while (s[k - 1] != '\t')
            k--;
        while (k < z && s[k] == ' ')
            k++;
        while (z > k && s[z - 1] == ' ')
            z--;
        *label = s + k;
        *labeln = z - k;
        return;
    }
    size_t a = 0, z = len;
    while (a < z && s[a] == ' ')
        a++;
    while (z > a && s[z - 1] == ' ')
        z--;
    *tok = s + a;
    while (a + *tokn < z && s[a + *tokn] != ' ')
        (*tokn)++;
    size_t k = z;
    while (k > a + *tokn && s[k - 1] != ' ')
        k--;
    if (k > a + *tokn) {
        *label = s + k;
        *labeln = z - k;
    }
}

cl_status cl_conll_line(cl_conll_state *cs, cl_corpus *c, const char *s, size_t len,
                        cl_error *err)
{
    const char *file = cs->file;
    long line = ++cs->line;
    if (len > 0 && s[len - 1] == '\r')
        len--;
    if (memchr(s, '\r', len)) /* a bare CR is a line end to some tools and a character to
                               * others: refuse rather than guess */
        return cl_error_set(err, CL_ERR_PARSE, "%s:%ld: carriage return inside a line", file,
                            line);
    if (is_blank(s, len)) {
        cs->new_sent = true;
        return CL_OK;
    }
    if (len >= 6 && memcmp(s, "# doc:", 6) == 0) {
        size_t a = 6, z = len;
        while (a < z && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (z > a && (s[z - 1] == ' ' || s[z - 1] == '\t'))
            z--;
        if (a == z) {
            cl_status st = flush_doc(c, cs, err);
            return st != CL_OK ? st
                               : cl_error_set(err, CL_ERR_PARSE,
                                              "%s:%ld: '# doc:' line without an id", file, line);
        }
        return start_doc(c, cs, s + a, z - a, err);
    }
    const char *tok, *label;
    size_t tokn, labeln;
    split_columns(s, len, &tok, &tokn, &label, &labeln);
    if (tokn == 0 || labeln == 0)
        return cl_error_set(err, CL_ERR_PARSE, "%s:%ld: expected 'token<TAB>label', found '%.*s'",
                            file, line, (int)(len < 60 ? len : 60), s);
    if (tokn == 10 && memcmp(tok, "-DOCSTART-", 10) == 0)
        return start_doc(c, cs, NULL, 0, err);
    if (!cl_bio_tag_valid(label, labeln))
        return cl_error_set(err, CL_ERR_PARSE, "%s:%ld: label '%.*s' is not O or B-/I-TYPE",
                            file, line, (int)(labeln < 60 ? labeln : 60), label);
    cs->open = true;
    if (cl_tokbuild_token(&cs->b, tok, tokn, label, labeln, cs->new_sent) != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", file);
    cs->new_sent = false;
    return CL_OK;
}

cl_status cl_conll_end(cl_conll_state *cs, cl_corpus *c, cl_error *err)
{
    return flush_doc(c, cs, err);
}

cl_status cl_conll_parse(cl_corpus *c, const char *d, size_t n, const char *file, cl_error *err)
{
    size_t bad = 0;
    if (!cl_utf8_valid(d, n, &bad)) {
        long line = 1;
        for (size_t i = 0; i < bad; i++)
            line += d[i] == '\n';
        return cl_error_set(err, CL_ERR_UTF8, "%s:%ld: invalid UTF-8 at byte %zu", file, line,
                            bad);
    }
    const char *nul = memchr(d, '\0', n);
    if (nul) {
        long line = 1;
        for (const char *q = d; q < nul; q++)
            line += *q == '\n';
        return cl_error_set(err, CL_ERR_PARSE, "%s:%ld: NUL byte at byte %zu", file, line,
                            (size_t)(nul - d));
    }
    cl_conll_state cs;
    cl_conll_state_init(&cs, file);
    cl_status st = CL_OK;
    size_t pos = 0;
    while (pos < n && st == CL_OK) {
        const char *s = d + pos;
        const char *nl = memchr(s, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - s) : n - pos;
        pos += len + (nl ? 1 : 0);
        st = cl_conll_line(&cs, c, s, len, err);
    }
    if (st == CL_OK)
        st = cl_conll_end(&cs, c, err);
    cl_conll_state_free(&cs);
    return st;
}

cl_status cl_conll_read(cl_corpus *c, const char *path, cl_error *err)
{
    return cl_read_parsed(c, path, cl_conll_parse, err);
}

cl_status cl_conll_write_doc(const cl_doc *doc, FILE *fp, cl_error *err)
{
    if (strpbrk(doc->id, "\n\r"))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: document id holds a line break", doc->id);
    /* Check first so that nothing is written for a document we refuse. */
    for (int32_t t = 0; t < doc->ntokens; t++) {
        size_t nb;
        const char *tb = cl_doc_token_bytes(doc, t, &nb);
        for (size_t i = 0; i < nb; i++)
            if (tb[i] == '\t' || tb[i] == '\n' || tb[i] == '\r')
                return cl_error_set(err, CL_ERR_FORMAT,
                                    "%s: token %d holds a tab or line break and cannot be "
                                    "written as CoNLL",
                                    doc->id, t);
        if ((nb == 10 && memcmp(tb, "-DOCSTART-", 10) == 0) ||
            (nb >= 6 && memcmp(tb, "# doc:", 6) == 0))
            return cl_error_set(err, CL_ERR_FORMAT,
                                "%s: token %d would read back as a document line and cannot be "
                                "written as CoNLL",
                                doc->id, t);
    }
    fprintf(fp, "# doc: %s\n", doc->id);
    cl_sentence whole = {0, doc->ntokens};
    const cl_sentence *sents = doc->nsentences > 0 ? doc->sentences : &whole;
    int32_t nsents = doc->nsentences > 0 ? doc->nsentences : (doc->ntokens > 0 ? 1 : 0);
    for (int32_t s = 0; s < nsents; s++) {
        if (sents[s].tok_end <= sents[s].tok_begin)
            continue;
        for (int32_t t = sents[s].tok_begin; t < sents[s].tok_end; t++) {
            size_t nb;
            const char *tb = cl_doc_token_bytes(doc, t, &nb);
            fwrite(tb, 1, nb, fp);
            fputc('\t', fp);
            fputs(doc->tags && doc->tags[t] ? doc->tags[t] : "O", fp);
            fputc('\n', fp);
        }
        fputc('\n', fp);
    }
    if (ferror(fp))
        return cl_error_set(err, CL_ERR_IO, "write error: %s", strerror(errno));
    return CL_OK;
}
