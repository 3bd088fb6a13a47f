/*
 * train.c - turn a gold training corpus into prompt examples' raw material:
 * tokenized with the run's tokenizer, tags from the gold entities.  Apart
 * from builder.c so that building prompts from ready-made data does not
 * pull in the tokenizers.
 */
#include "clinner/prompt.h"
#include "clinner/tokenize.h"

cl_status cl_prompt_prepare_train(cl_corpus *train, cl_tokenizer_kind kind,
                                  const char *const *types, int32_t ntypes, cl_error *err)
{
    if (!types) {
        types = (const char *const *)cl_paper_types;
        ntypes = CL_NUM_PAPER_TYPES;
    }
    cl_bio_policy policy = kind == CL_TOKENIZER_PAPER ? CL_BIO_PAPER : CL_BIO_CLINICAL;
    for (int32_t d = 0; d < train->ndocs; d++) {
        cl_doc *doc = train->docs[d];
        cl_status st = cl_tokenize_doc(doc, kind, err);
        if (st == CL_OK)
            st = cl_bio_from_entities(doc, policy, types, ntypes, NULL, err);
        if (st != CL_OK)
            return cl_error_prefix(err, "training document %s: ", doc->id ? doc->id : "?");
    }
    return CL_OK;
}
