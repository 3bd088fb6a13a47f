/*
 * answer.c - reading a model's free-form answer back into labels, with the
 * paper's parser and alignment (eval.h), so that free decoding is scored
 * exactly as the paper scored its models and every backend counts
 * misaligned answers the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/eval.h"
#include "clinner/prompt.h"

/* Copy of text with every invalid UTF-8 sequence replaced by U+FFFD. */
static char *sanitize(const char *text, size_t n, size_t *outn)
{
    cl_buf b;
    cl_buf_init(&b);
    size_t at = 0;
    while (at < n) {
        int32_t cp;
        int len = cl_utf8_decode(text + at, n - at, &cp);
        int bad = len < 0 ? cl_buf_puts(&b, "\xEF\xBF\xBD")
                          : cl_buf_append(&b, text + at, (size_t)len);
        if (bad) {
            cl_buf_free(&b);
            return NULL;
        }
        at += len < 0 ? 1 : (size_t)len;
    }
    *outn = b.len;
    return cl_buf_detach(&b);
}

cl_status cl_answer_parse(const cl_label_set *ls, const char *text, size_t n, int32_t ntokens,
                          int32_t *labels, cl_answer_info *info, cl_error *err)
{
    memset(info, 0, sizeof *info);
    size_t m = 0;
    char *clean = sanitize(text ? text : "", text ? n : 0, &m);
    if (!clean)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_paperlines pl;
    cl_status st = cl_paperlines_parse(clean, m, "answer", &pl, err);
    free(clean);
    if (st != CL_OK)
        return st;
    /* one sentence per answer: a model that writes the separator itself
     * gets only its first block read */
    const cl_pl_block *blk = pl.nblocks > 0 ? &pl.blocks[0] : NULL;
    int32_t npred = blk ? blk->n : 0;
    const char **al = malloc(((size_t)ntokens + 1) * sizeof *al);
    if (!al) {
        cl_paperlines_free(&pl);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    info->lines = npred;
    info->misaligned =
        cl_eval_align(blk ? (const char *const *)blk->labels : NULL, npred, ntokens, al);
    for (int32_t i = 0; i < ntokens; i++) {
        int32_t l = cl_label_set_find(ls, al[i]);
        if (l < 0) {
            l = 0;
            info->invalid_labels++;
        }
        labels[i] = l;
    }
    free(al);
    cl_paperlines_free(&pl);
    return CL_OK;
}

bool cl_answer_exact(const cl_label_set *ls, const char *text, size_t n, const cl_doc *doc,
                     int32_t sent, int32_t *labels)
{
    if (sent < 0 || sent >= doc->nsentences || !text)
        return false;
    const cl_sentence *se = &doc->sentences[sent];
    size_t at = 0, sep = strlen(CL_ANSWER_SEP);
    int32_t prev = -1;
    for (int32_t t = se->tok_begin; t < se->tok_end; t++) {
        size_t nb;
        const char *tok = cl_doc_token_bytes(doc, t, &nb);
        if (!tok || n - at < nb + sep || memcmp(text + at, tok, nb) != 0 ||
            memcmp(text + at + nb, CL_ANSWER_SEP, sep) != 0)
            return false;
        at += nb + sep;
        const char *nl = memchr(text + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (text + at)) : n - at;
        int32_t l = -1;
        for (int32_t k = 0; k < ls->nlabels && l < 0; k++)
            if (strlen(ls->labels[k]) == len && memcmp(ls->labels[k], text + at, len) == 0)
                l = k;
        if (l < 0 || !cl_label_valid_after(ls, prev, l))
            return false;
        labels[t - se->tok_begin] = l;
        prev = l;
        at += len;
        if (nl)
            at++;
        else if (t + 1 < se->tok_end)
            return false;
    }
    return at == n;
}
