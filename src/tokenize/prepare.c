/*
 * prepare.c - the one step that brings a document into token form for
 * every command and the tagging session (tokenize.h: cl_doc_prepare).
 *
 * Readers give documents in whatever shape their format has: text only
 * (brat, text), tokens with tags (paper-csv, conll), or anything in
 * between (jsonl).  Commands need them tokenized, with one BIO tag per
 * token: the gold entities projected (training, evaluation, conversion) or
 * all O (tagging, where projecting gold only to throw it away cost time).
 * The projection policy follows the tokenizer: the paper's brat2iob rules
 * for the paper tokenizer, so its rows match the paper's CSV; clinner's
 * otherwise.
 */
#include <string.h>

#include "clinner/tokenize.h"

cl_prepare_params cl_prepare_default_params(void)
{
    cl_prepare_params p;
    memset(&p, 0, sizeof p);
    p.tokenizer = CL_TOKENIZER_CLINICAL;
    p.tokenize = true;
    p.gold_tags = true;
    return p;
}

cl_status cl_doc_prepare(cl_doc *doc, const cl_prepare_params *p, cl_error *err)
{
    cl_status st = cl_doc_keep_types(doc, p->types, p->ntypes, err);
    if (st != CL_OK)
        return st;
    if (p->tokenize && doc->ntokens == 0 && (st = cl_tokenize_doc(doc, p->tokenizer, err)) != CL_OK)
        return cl_error_prefix(err, "%s: ", doc->id);
    if (doc->ntokens > 0 && doc->nsentences == 0 &&
        (st = cl_doc_push_sentence(doc, 0, doc->ntokens, err)) != CL_OK)
        return st; /* tokens without sentence breaks: one sentence */
    if ((p->tokenize || doc->ntokens > 0) && (!doc->tags || !p->gold_tags)) {
        cl_bio_policy policy =
            p->tokenizer == CL_TOKENIZER_PAPER ? CL_BIO_PAPER : CL_BIO_CLINICAL;
        st = p->gold_tags && doc->nentities > 0
                 ? cl_bio_from_entities(doc, policy, p->types, p->ntypes, p->bio_stats, err)
                 : cl_doc_reset_tags(doc, err);
        if (st != CL_OK)
            return cl_error_prefix(err, "%s: ", doc->id);
    }
    if (p->entities_from_tags && doc->nentities == 0 && doc->tags &&
        (st = cl_bio_to_entities(doc, err)) != CL_OK)
        return cl_error_prefix(err, "%s: ", doc->id);
    return CL_OK;
}

cl_status cl_corpus_load(const char *path, cl_format fmt, const cl_prepare_params *p,
                         cl_corpus **out, cl_error *err)
{
    *out = NULL;
    cl_corpus *c;
    cl_status st = cl_corpus_new(&c, err);
    if (st != CL_OK)
        return st;
    st = cl_corpus_read(c, fmt, path, err);
    for (int32_t i = 0; i < c->ndocs && st == CL_OK; i++)
        st = cl_doc_prepare(c->docs[i], p, err);
    if (st != CL_OK) {
        cl_corpus_free(c);
        return st;
    }
    *out = c;
    return CL_OK;
}

cl_status cl_label_set_from_name(const char *name, const char *const **types, int *ntypes,
                                 cl_error *err)
{
    if (name && !strcmp(name, "paper")) {
        *types = cl_paper_types;
        *ntypes = CL_NUM_PAPER_TYPES;
    } else if (name && !strcmp(name, "all")) {
        *types = NULL;
        *ntypes = 0;
    } else {
        return cl_error_set(err, CL_ERR_ARG, "labels: must be 'paper' or 'all', not '%s'",
                            name ? name : "(none)");
    }
    return CL_OK;
}

cl_status cl_corpus_convert(const char *in, const char *out, const cl_convert_params *p,
                            cl_error *err)
{
    if (p->from == CL_FORMAT_PAPER_LINES)
        return cl_error_set(err, CL_ERR_ARG, "from: paper-lines (LLM answers) cannot be read as "
                                             "a corpus; it is scored against gold (clinner eval)");
    if (p->to == CL_FORMAT_TEXT)
        return cl_error_set(err, CL_ERR_ARG, "to: text is an input format only");
    if (p->to == CL_FORMAT_BRAT && !strcmp(out, "-"))
        return cl_error_set(err, CL_ERR_ARG, "to: brat is written to a directory, not stdout");
    cl_prepare_params pp = cl_prepare_default_params();
    pp.tokenizer = p->tokenizer;
    pp.types = p->types;
    pp.ntypes = p->ntypes;
    pp.tokenize = cl_format_has_tokens(p->to); /* brat to brat keeps the text as it is */
    pp.entities_from_tags = (p->to == CL_FORMAT_BRAT || p->to == CL_FORMAT_JSONL) &&
                            cl_format_has_tokens(p->from);
    cl_corpus *c = NULL;
    cl_status st = cl_corpus_load(in, p->from, &pp, &c, err);
    if (st == CL_OK)
        st = cl_corpus_write(c, p->to, out, err);
    cl_corpus_free(c);
    return st;
}

cl_status cl_train_data_init(cl_train_data *d, const char *format, const char *tokenizer,
                             const char *const *types, int ntypes, cl_error *err)
{
    memset(d, 0, sizeof *d);
    d->prepare = cl_prepare_default_params();
    d->prepare.types = types;
    d->prepare.ntypes = ntypes;
    d->format_given = format != NULL;
    cl_status st = cl_tokenizer_from_name(tokenizer, &d->prepare.tokenizer, err);
    if (st == CL_OK && format)
        st = cl_format_from_name(format, &d->format, err);
    return st;
}

cl_status cl_train_data_load(cl_train_data *d, const char *train_path, const char *dev_path,
                             cl_error *err)
{
    cl_status st = CL_OK;
    if (train_path) {
        if (!d->format_given)
            d->format = cl_format_guess(train_path);
        st = cl_corpus_load(train_path, d->format, &d->prepare, &d->train, err);
    }
    if (st == CL_OK && dev_path)
        st = cl_corpus_load(dev_path, d->format_given ? d->format : cl_format_guess(dev_path),
                            &d->prepare, &d->dev, err);
    if (st != CL_OK)
        cl_train_data_free(d);
    return st;
}

void cl_train_data_free(cl_train_data *d)
{
    cl_corpus_free(d->train);
    cl_corpus_free(d->dev);
    d->train = d->dev = NULL;
}
