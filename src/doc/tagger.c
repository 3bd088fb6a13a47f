/*
 * tagger.c - the generic half of the backend interface (tagger.h).
 */
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
