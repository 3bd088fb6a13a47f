/*
 * cmd_merge.c - `clinner merge`: join the outputs of `clinner tag --shard
 * K/N` (K = 0..N-1) into one file in the input's order, checking that every
 * input document is there exactly once (cl_run_merge, run.h).  The output
 * is written atomically: nothing is left at -o on error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
    int rc = 1, n = a.npositional, opened = 0;
    FILE *fin = strcmp(input, "-") ? fopen(input, "rb") : stdin;
    FILE **fps = calloc((size_t)n, sizeof *fps);
    cl_doc_reader *order = NULL;
    cl_atomic_file af;
    memset(&af, 0, sizeof af);
    bool to_stdout = !strcmp(out, "-"), atomic_open = false;
    int64_t merged = 0;
    if (!fin || !fps) {
        cl_error_set(&err, CL_ERR_IO, "%s: cannot open: %s", input, strerror(errno));
        goto done;
    }
    for (; opened < n; opened++)
        if (!(fps[opened] = fopen(shards[opened], "rb"))) {
            cl_error_set(&err, CL_ERR_IO, "%s: cannot open: %s", shards[opened], strerror(errno));
            goto done;
        }
    if (cl_doc_reader_open(fin, in_fmt, strcmp(input, "-") ? input : "stdin", &order, &err) !=
        CL_OK)
        goto done;
    if (!to_stdout) {
        if (cl_atomic_open(&af, out, &err) != CL_OK)
            goto done;
        atomic_open = true;
    }
    if (cl_run_merge(order, fps, shards, n, fmt, to_stdout ? stdout : af.fp, &merged, &err) !=
        CL_OK)
        goto done;
    if (to_stdout ? fflush(stdout) != 0 : cl_atomic_commit(&af, &err) != CL_OK) {
        if (to_stdout)
            cl_error_set(&err, CL_ERR_IO, "stdout: write error");
        atomic_open = false;
        goto done;
    }
    atomic_open = false;
    fprintf(stderr, "clinner merge: %lld documents from %d shards\n", (long long)merged, n);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "clinner merge: %s\n", err.msg);
    if (atomic_open)
        cl_atomic_abort(&af);
    cl_doc_reader_free(order);
    for (int i = 0; i < opened; i++)
        fclose(fps[i]);
    free(fps);
    if (fin && fin != stdin)
        fclose(fin);
    return rc;
}
