/*
 * paperlines.c - the layout of the paper's LLM result files
 * (gpt4-1106-preview-chat_all_5shot_result_test.txt): every sentence is a
 * block that opens with a line "######" followed by one "token : label"
 * line per token, "\n" line ends, nothing after the last block:
 *
 *     ######
 *     AEC : B-SKINRAREDISEASE
 *     syndrome : I-SKINRAREDISEASE
 *     ######
 *     The : O
 *
 * Blocks are the paper's sentences, i.e. its Sentence_Num_Global groups
 * (see papercsv.c): when a document's text ends without ".", "?" or "!",
 * its last sentence and the next document's first share one block, as in
 * their file (1,735 test blocks for 1,743 per-document sentences).  The
 * cl_doc_write counter argument carries that across documents: nonzero
 * means the previous document left its block open.
 *
 * Writing our own tagger output the same way lets the scorer read ours and
 * theirs with one parser (eval.h).  Write only: reading these files means
 * aligning free LLM text to gold sentences, which is the scorer's job.
 */
#include <errno.h>
#include <string.h>

#include "corpus/formats.h"

/* Whether token t is ".", "?" or "!" (see papercsv.c). */
static bool closes(const cl_doc *doc, int32_t t)
{
    size_t nb;
    const char *tb = cl_doc_token_bytes(doc, t, &nb);
    return nb == 1 && (*tb == '.' || *tb == '?' || *tb == '!');
}

cl_status cl_paperlines_write_doc(const cl_doc *doc, FILE *fp, int64_t *open_block,
                                  cl_error *err)
{
    int64_t local = 0;
    int64_t *open = open_block ? open_block : &local;
    cl_sentence whole = {0, doc->ntokens};
    const cl_sentence *sents = doc->nsentences > 0 ? doc->sentences : &whole;
    int32_t nsents = doc->nsentences > 0 ? doc->nsentences : (doc->ntokens > 0 ? 1 : 0);
    int32_t last = nsents - 1;
    while (last >= 0 && sents[last].tok_end <= sents[last].tok_begin)
        last--;
    for (int32_t s = 0; s <= last; s++) {
        if (sents[s].tok_end <= sents[s].tok_begin)
            continue; /* the paper's files have no empty blocks */
        if (!*open)
            fputs("######\n", fp);
        for (int32_t t = sents[s].tok_begin; t < sents[s].tok_end; t++) {
            size_t nb;
            const char *tb = cl_doc_token_bytes(doc, t, &nb);
            fwrite(tb, 1, nb, fp);
            fputs(" : ", fp);
            fputs(doc->tags && doc->tags[t] ? doc->tags[t] : "O", fp);
            fputc('\n', fp);
        }
        *open = s == last && !closes(doc, sents[s].tok_end - 1);
    }
    if (ferror(fp))
        return cl_error_set(err, CL_ERR_IO, "write error: %s", strerror(errno));
    return CL_OK;
}
