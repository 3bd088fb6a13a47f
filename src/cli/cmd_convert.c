/*
 * cmd_convert.c - `clinner convert`: read a corpus in one format and write
 * it in another.
 *
 * Going from a format without tokens (brat, text) to one with tokens, every
 * document is tokenized (--tokenizer) and its entities are projected onto
 * BIO tags with the tokenizer's policy: the paper's brat2iob rules for
 * "paper", clinner's for "clinical".  Going from tags to entities (a token
 * format to brat or jsonl), entities are decoded from the tags.  With
 * `--from brat --to paper-csv --tokenizer paper` the output reproduces the
 * paper's released CSVs byte for byte; for that reason every entity type,
 * ANAPHOR included, is kept by default (the paper's CSVs keep ANAPHOR tags)
 * and --labels paper is the opt-in that keeps only the five reported types.
 *
 * Output is atomic: on any error nothing is left at -o.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/help.h"
#include "cli/commands.h"
#include "clinner/corpus.h"
#include "clinner/tokenize.h"
#include "clinner/util.h"

static void usage(FILE *fp)
{
    cli_help(fp, "convert", NULL);
}

int cmd_convert(int argc, char **argv)
{
    const char *from_name = NULL, *to_name = NULL, *tok_name = NULL, *labels = NULL;
    const char *out = NULL, *input = NULL;
    const cli_opt opts[] = {
        CLI_STRING("--from", &from_name),
        CLI_STRING("--to", &to_name),
        CLI_STRING("--tokenizer", &tok_name),
        CLI_STRING("--labels", &labels),
        CLI_STRING2("--output", "-o", &out),
    };
    int done = cli_parse_command("convert", usage, opts, CLI_NOPTS(opts), &input, argc, argv, 1);
    if (done >= 0)
        return done;
    if (!from_name || !to_name || !input) {
        fprintf(stderr, "clinner convert: %s\n\n",
                !from_name ? "--from is required"
                : !to_name ? "--to is required"
                           : "INPUT is required");
        usage(stderr);
        return 2;
    }

    cl_error err;
    cl_error_clear(&err);
    cl_format from, to;
    cl_tokenizer_kind tok = CL_TOKENIZER_CLINICAL;
    const char *const *types = NULL;
    int ntypes = 0;
    if (cl_format_from_name(from_name, &from, &err) != CL_OK ||
        cl_format_from_name(to_name, &to, &err) != CL_OK ||
        (tok_name && cl_tokenizer_from_name(tok_name, &tok, &err) != CL_OK)) {
        fprintf(stderr, "clinner convert: %s\n", err.msg);
        return 2;
    }
    if (from == CL_FORMAT_PAPER_LINES) {
        fprintf(stderr, "clinner convert: paper-lines cannot be read (use 'clinner eval' to "
                        "score it against gold)\n");
        return 2;
    }
    if (to == CL_FORMAT_TEXT) {
        fprintf(stderr, "clinner convert: text is an input format only\n");
        return 2;
    }
    if (labels && !strcmp(labels, "paper")) {
        types = cl_paper_types;
        ntypes = CL_NUM_PAPER_TYPES;
    } else if (labels && strcmp(labels, "all") != 0) {
        fprintf(stderr, "clinner convert: --labels must be 'paper' or 'all', not '%s'\n", labels);
        return 2;
    }
    if (to == CL_FORMAT_BRAT && (!out || !strcmp(out, "-"))) {
        fprintf(stderr, "clinner convert: --to brat needs -o DIRECTORY\n");
        return 2;
    }
    if (!out)
        out = "-";

    int rc = 1;
    cl_corpus *c = cl_corpus_new();
    if (!c) {
        fprintf(stderr, "clinner convert: out of memory\n");
        return 1;
    }
    if (cl_corpus_read(c, from, input, &err) != CL_OK) {
        fprintf(stderr, "clinner convert: %s\n", err.msg);
        goto done;
    }
    cl_prepare_params pp = cl_prepare_default_params();
    pp.tokenizer = tok;
    pp.types = types;
    pp.ntypes = ntypes;
    pp.tokenize = cl_format_has_tokens(to); /* brat to brat keeps the text as it is */
    pp.entities_from_tags = (to == CL_FORMAT_BRAT || to == CL_FORMAT_JSONL) &&
                            cl_format_has_tokens(from);
    for (int32_t i = 0; i < c->ndocs; i++) {
        if (cl_doc_prepare(c->docs[i], &pp, &err) != CL_OK) {
            fprintf(stderr, "clinner convert: %s\n", err.msg);
            goto done;
        }
    }
    if (cl_corpus_write(c, to, out, &err) != CL_OK) {
        fprintf(stderr, "clinner convert: %s\n", err.msg);
        goto done;
    }
    rc = 0;
done:
    cl_corpus_free(c);
    return rc;
}
