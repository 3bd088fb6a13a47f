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

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "clinner/corpus.h"
#include "clinner/tokenize.h"

#define MAX_PATHS 4096

int cmd_stats(int argc, char **argv)
{
    const char *format_name = NULL, *tokenizer_name = NULL, *paths[MAX_PATHS];
    bool json = false;
    const cli_opt opts[] = {
        CLI_FLAG("--json", &json),
        CLI_STRING("--format", &format_name),
        CLI_STRING("--tokenizer", &tokenizer_name),
    };
    cli_args a = {.cmd = "stats", .page = "stats", .opts = opts, .nopts = CLI_NOPTS(opts),
                  .positional = paths, .max_positional = MAX_PATHS, .required_positional = "PATH"};
    int done = cli_parse(&a, argc, argv, 1);
    if (done >= 0)
        return done;
    cl_error err = CL_ERROR_INIT;
    cl_format fmt = CL_FORMAT_BRAT;
    cl_tokenizer_kind tok = CL_TOKENIZER_CLINICAL;
    if ((format_name && cl_format_from_name(format_name, &fmt, &err) != CL_OK) ||
        (tokenizer_name && cl_tokenizer_from_name(tokenizer_name, &tok, &err) != CL_OK))
        return cli_fail("stats", 2, err.msg);
    if (cl_corpus_report_files(stdout, json, paths, a.npositional, format_name ? &fmt : NULL,
                               tokenizer_name ? &tok : NULL, &err) != CL_OK)
        return cli_fail("stats", 1, err.msg);
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_fail("stats", 1, "write error on stdout");
    return 0;
}
