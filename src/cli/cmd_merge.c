/*
 * cmd_merge.c - `clinner merge`: join the outputs of `clinner tag --shard
 * K/N` (K = 0..N-1) into one file in the input's order, checking that every
 * input document is there exactly once (cl_run_merge_files, run.h).  The
 * output is written atomically: nothing is left at -o on error.
 */
#include <stdio.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "clinner/run.h"

#define MAX_SHARDS 4096

int cmd_merge(int argc, char **argv)
{
    const char *input = NULL, *from = NULL, *to = "jsonl", *out = "-";
    const char *shards[MAX_SHARDS];
    const cli_opt opts[] = {
        CLI_REQUIRED("--input", &input),
        CLI_STRING("--from", &from),
        CLI_STRING("--to", &to),
        CLI_STRING2("--output", "-o", &out),
    };
    cli_args a = {.cmd = "merge", .page = "merge", .opts = opts, .nopts = CLI_NOPTS(opts),
                  .positional = shards, .max_positional = MAX_SHARDS,
                  .required_positional = "SHARD0"};
    int done = cli_parse(&a, argc, argv, 1);
    if (done >= 0)
        return done;
    cl_error err = CL_ERROR_INIT;
    cl_format in_fmt = cl_format_guess(input), fmt;
    if ((from && cl_format_from_name(from, &in_fmt, &err) != CL_OK) ||
        cl_format_from_name(to, &fmt, &err) != CL_OK)
        return cli_fail("merge", 2, err.msg);
    int64_t merged = 0;
    if (cl_run_merge_files(input, in_fmt, shards, a.npositional, fmt, out, &merged, &err) !=
        CL_OK)
        return cli_fail("merge", 1, err.msg);
    fprintf(stderr, "clinner merge: %lld documents from %d shards\n", (long long)merged,
            a.npositional);
    return 0;
}
