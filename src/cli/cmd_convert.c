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

    if (!out && !strcmp(to_name, "brat")) {
        fprintf(stderr, "clinner convert: --to brat needs -o DIRECTORY\n");
        return 2;
    }
    cl_error err;
    cl_error_clear(&err);
    cl_convert_params p = {.tokenizer = CL_TOKENIZER_CLINICAL};
    if (cl_format_from_name(from_name, &p.from, &err) != CL_OK ||
        cl_format_from_name(to_name, &p.to, &err) != CL_OK ||
        (tok_name && cl_tokenizer_from_name(tok_name, &p.tokenizer, &err) != CL_OK) ||
        (labels && cl_label_set_from_name(labels, &p.types, &p.ntypes, &err) != CL_OK)) {
        fprintf(stderr, "clinner convert: %s\n", err.msg);
        return 2;
    }
    if (cl_corpus_convert(input, out ? out : "-", &p, &err) != CL_OK) {
        fprintf(stderr, "clinner convert: %s\n", err.msg);
        return err.code == CL_ERR_ARG ? 2 : 1;
    }
    return 0;
}
