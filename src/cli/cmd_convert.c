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
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "clinner/corpus.h"
#include "clinner/tokenize.h"

int cmd_convert(int argc, char **argv)
{
    const char *from_name = NULL, *to_name = NULL, *tok_name = NULL, *labels = NULL;
    const char *out = NULL, *input = NULL;
    const cli_opt opts[] = {
        CLI_REQUIRED("--from", &from_name),
        CLI_REQUIRED("--to", &to_name),
        CLI_STRING("--tokenizer", &tok_name),
        CLI_STRING("--labels", &labels),
        CLI_STRING2("--output", "-o", &out),
    };
    cli_args a = {.cmd = "convert", .page = "convert", .opts = opts, .nopts = CLI_NOPTS(opts),
                  .positional = &input, .max_positional = 1, .required_positional = "INPUT"};
    int done = cli_parse(&a, argc, argv, 1);
    if (done >= 0)
        return done;
    if (!out && !strcmp(to_name, "brat"))
        return cli_fail("convert", 2, "--to brat needs -o DIRECTORY");
    cl_error err = CL_ERROR_INIT;
    cl_convert_params p = {.tokenizer = CL_TOKENIZER_CLINICAL};
    if (cl_format_from_name(from_name, &p.from, &err) != CL_OK ||
        cl_format_from_name(to_name, &p.to, &err) != CL_OK ||
        (tok_name && cl_tokenizer_from_name(tok_name, &p.tokenizer, &err) != CL_OK) ||
        (labels && cl_label_set_from_name(labels, &p.types, &p.ntypes, &err) != CL_OK))
        return cli_fail("convert", 2, err.msg);
    if (cl_corpus_convert(input, out ? out : "-", &p, &err) != CL_OK)
        return cli_fail("convert", err.code == CL_ERR_ARG ? 2 : 1, err.msg);
    return 0;
}
