/*
 * cmd_stats.c - `clinner stats`: read one or more corpora, print what they
 * hold (documents, characters, sentences, tokens, entities per type,
 * discontinuous and overlapping entities, relations) as a table or as one
 * JSON object.  With --tokenizer, BRAT input is also tokenized and projected
 * onto BIO tags, and the command reports what that projection cannot keep:
 * entity boundaries inside a token, entities that cross a sentence end, and
 * entities lost outright.
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
    cli_help(fp, "stats", NULL);
}

int cmd_stats(int argc, char **argv)
{
    const char *format_name = NULL, *tokenizer_name = NULL;
    bool json = false;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    if (!paths) {
        fprintf(stderr, "clinner stats: out of memory\n");
        return 1;
    }
    int rc = 2;
    const cli_opt opts[] = {
        CLI_FLAG("--json", &json),
        CLI_STRING("--format", &format_name),
        CLI_STRING("--tokenizer", &tokenizer_name),
    };
    cli_args args = {.cmd = "stats", .usage = usage, .opts = opts,
                     .nopts = CLI_NOPTS(opts), .positional = paths,
                     .max_positional = argc};
    cli_parse_result pr = cli_opts_parse(&args, argc, argv, 1);
    if (pr != CLI_PARSED) {
        rc = pr == CLI_HELP ? 0 : 2;
        goto out;
    }
    int npaths = args.npositional;
    if (npaths == 0) {
        usage(stderr);
        goto out;
    }

    cl_error err;
    cl_error_clear(&err);
    cl_format fmt = CL_FORMAT_BRAT;
    cl_tokenizer_kind tok = CL_TOKENIZER_CLINICAL;
    if (format_name && cl_format_from_name(format_name, &fmt, &err) != CL_OK) {
        fprintf(stderr, "clinner stats: %s\n", err.msg);
        goto out;
    }
    if (tokenizer_name && cl_tokenizer_from_name(tokenizer_name, &tok, &err) != CL_OK) {
        fprintf(stderr, "clinner stats: %s\n", err.msg);
        goto out;
    }

    rc = 1;
    if (cl_corpus_report_files(stdout, json, paths, npaths, format_name ? &fmt : NULL,
                               tokenizer_name ? &tok : NULL, &err) != CL_OK)
        fprintf(stderr, "clinner stats: %s\n", err.msg);
    else if (fflush(stdout) != 0 || ferror(stdout))
        fprintf(stderr, "clinner stats: write error on stdout\n");
    else
        rc = 0;
out:
    free(paths);
    return rc;
}
