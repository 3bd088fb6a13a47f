/*
 * cmd_merge.c - `clinner merge`: join the outputs of `clinner tag --shard
 * K/N` (K = 0..N-1) into one file in the input's order, checking that every
 * input document is there exactly once (cl_run_merge_files, run.h).  The
 * output is written atomically: nothing is left at -o on error.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/help.h"
#include "cli/commands.h"
#include "clinner/run.h"
#include "clinner/util.h"

#define MAX_SHARDS 4096

static void usage(FILE *fp)
{
    cli_help(fp, "merge", NULL);
}

int cmd_merge(int argc, char **argv)
{
    const char *input = NULL, *from = NULL, *to = "jsonl", *out = "-";
    const char *shards[MAX_SHARDS];
    const cli_opt opts[] = {
        CLI_STRING("--input", &input),
        CLI_STRING("--from", &from),
        CLI_STRING("--to", &to),
        CLI_STRING2("--output", "-o", &out),
    };
    cli_args a = {.cmd = "merge", .usage = usage, .opts = opts, .nopts = CLI_NOPTS(opts),
                  .positional = shards, .max_positional = MAX_SHARDS};
    cli_parse_result pr = cli_opts_parse(&a, argc, argv, 1);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 0 : 2;
    cl_error err;
    cl_error_clear(&err);
    cl_format in_fmt = cl_format_guess(input), fmt;
    if (!input || a.npositional < 1) {
        fprintf(stderr, "clinner merge: needs --input INPUT and the shard outputs (try --help)\n");
        return 2;
    }
    if ((from && cl_format_from_name(from, &in_fmt, &err) != CL_OK) ||
        cl_format_from_name(to, &fmt, &err) != CL_OK) {
        fprintf(stderr, "clinner merge: %s\n", err.msg);
        return 2;
    }
    int64_t merged = 0;
    if (cl_run_merge_files(input, in_fmt, shards, a.npositional, fmt, out, &merged, &err) !=
        CL_OK) {
        fprintf(stderr, "clinner merge: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "clinner merge: %lld documents from %d shards\n", (long long)merged,
            a.npositional);
    return 0;
}
