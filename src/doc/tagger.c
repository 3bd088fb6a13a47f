/*
 * tagger.c - the generic half of the backend interface (tagger.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/tagger.h"

cl_status cl_tagger_tag_doc(cl_tagger *t, cl_doc *doc, cl_error *err)
{
    if (!doc->tags && cl_doc_reset_tags(doc, err) != CL_OK)
        return err ? err->code : CL_ERR_NOMEM;
    if (doc->nsentences == 0)
        return CL_OK;
    return t->ops->tag(t->self, doc, 0, doc->nsentences, err);
}

void cl_tagger_get_stats(const cl_tagger *t, cl_tagger_stats *out)
{
    memset(out, 0, sizeof *out);
    if (t && t->ops && t->ops->stats)
        t->ops->stats(t->self, out);
}

void cl_tagger_free(cl_tagger *t)
{
    if (t && t->ops && t->ops->free)
        t->ops->free(t->self);
    if (t) {
        t->ops = NULL;
        t->self = NULL;
    }
}

bool cl_tagger_keeps_answers(const cl_tagger *t)
{
    return t && t->ops && t->ops->answer;
}

const cl_tagger_answer *cl_tagger_answer_of(const cl_tagger *t, int32_t sent)
{
    return cl_tagger_keeps_answers(t) ? t->ops->answer(t->self, sent) : NULL;
}

void cl_tagger_answers_init(cl_tagger_answers *as)
{
    memset(as, 0, sizeof *as);
}

void cl_tagger_answers_free(cl_tagger_answers *as)
{
    for (int32_t i = 0; as->a && i < as->n; i++)
        free(as->a[i].text);
    free(as->a);
    cl_tagger_answers_init(as);
}

cl_status cl_tagger_answers_reset(cl_tagger_answers *as, int32_t sb, int32_t se, cl_error *err)
{
    cl_tagger_answers_free(as);
    if (se < sb)
        return cl_error_set(err, CL_ERR_RANGE, "answers: bad sentence range [%d, %d)", sb, se);
    as->a = calloc((size_t)(se - sb) + 1, sizeof *as->a);
    if (!as->a)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    as->sent_begin = sb;
    as->n = se - sb;
    return CL_OK;
}

cl_status cl_tagger_answers_set(cl_tagger_answers *as, int32_t sent, const char *text, size_t len,
                                int32_t lines, bool misaligned, int32_t invalid_labels,
                                cl_error *err)
{
    int32_t i = sent - as->sent_begin;
    if (!as->a || i < 0 || i >= as->n)
        return cl_error_set(err, CL_ERR_RANGE, "answers: sentence %d outside the call", sent);
    cl_tagger_answer *a = &as->a[i];
    free(a->text);
    a->text = malloc(len + 1);
    if (!a->text)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (len)
        memcpy(a->text, text, len);
    a->text[len] = '\0';
    a->len = len;
    a->lines = lines;
    a->misaligned = misaligned;
    a->invalid_labels = invalid_labels;
    return CL_OK;
}

const cl_tagger_answer *cl_tagger_answers_get(const cl_tagger_answers *as, int32_t sent)
{
    int32_t i = sent - as->sent_begin;
    if (!as->a || i < 0 || i >= as->n || !as->a[i].text)
        return NULL;
    return &as->a[i];
}
