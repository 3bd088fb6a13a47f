/*
 * cmd_tag.c - `clinner tag`: options -> cl_tag_config -> a tagging session
 * and a tagging job (session.h) -> the batch or streaming runner (run.h).
 *
 * Everything a backend needs (models, examples, retrievers, default files,
 * the resume fingerprint, reading the input, shards and rejects) is the
 * library's; this file parses options, refuses those that mean nothing to
 * the chosen backend and prints the progress bar and the summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/cli_session.h"
#include "cli/commands.h"
#include "clinner/progress.h"
#include "clinner/session.h"
#include "clinner/util.h"

/* The command's options: the session's (cli_session.h) and the job's. */
typedef struct tag_args {
    cli_session_opts so;
    cl_tag_job_params jp;
    const char *from, *to;
    cl_progress_mode pmode;
} tag_args;

static int tag_run(tag_args *a, cl_error *err)
{
    cli_logger log = {"tag", NULL}; /* notes from the backends go above the bar */
    a->so.cfg.log = cli_log;
    a->so.cfg.log_ctx = &log;
    a->jp.from = cl_format_guess(a->jp.input);
    if ((a->from && cl_format_from_name(a->from, &a->jp.from, err) != CL_OK) ||
        cl_format_from_name(a->to, &a->jp.to, err) != CL_OK)
        return 2;
    cl_tag_session *s = NULL;
    cl_tag_job *job = NULL;
    cl_run_summary sum;
    int rc = 1;
    if (cl_tag_session_open(&a->so.cfg, &s, err) != CL_OK ||
        cl_tag_job_open(s, &a->jp, &job, err) != CL_OK)
        goto done;
    /* no memory for the bar: run without one (log.bar stays NULL) */
    cl_progress_new(stderr, "tagging", "sentences", cl_tag_job_sentences(job), a->pmode, &log.bar,
                    NULL);
    if (cl_tag_job_run(job, log.bar, &sum, err) != CL_OK)
        goto done;
    cl_buf text; /* the run's line, and a fleet's requests per server */
    cl_buf_init(&text);
    if (a->pmode != CL_PROGRESS_OFF && cl_tag_job_format_summary(job, &sum, &text) == CL_OK)
        for (char *l = strtok(text.data, "\n"); l; l = strtok(NULL, "\n"))
            fprintf(stderr, "clinner tag: %s\n", l);
    cl_buf_free(&text);
    rc = cl_tag_job_finish(job, err) == CL_OK ? 0 : 1;
done:;
    cl_progress *b = log.bar;
    log.bar = NULL; /* the log callback must not see a freed bar */
    cl_progress_free(b);
    cl_tag_job_free(job);
    cl_tag_session_free(s);
    return rc;
}

int cmd_tag(int argc, char **argv)
{
    tag_args a;
    memset(&a, 0, sizeof a);
    a.jp = cl_tag_job_default_params(); /* input and output "-" */
    a.to = "jsonl";
    a.pmode = CL_PROGRESS_AUTO;
    const cli_opt own[] = {
        CLI_STRING("--from", &a.from), CLI_STRING("--to", &a.to),
        CLI_PARSER("--progress", &a.pmode, cli_opt_progress),
        CLI_STRING2("--output", "-o", &a.jp.out_path), CLI_FLAG("--resume", &a.jp.resume),
        CLI_FIELD("--answers", CLI_OPT_STR, &a.jp, answers_path),
        CLI_INTEGER("--threads", CLI_OPT_LONG, &a.so.threads, 1, 64),
        CLI_STRING("--shard", &a.jp.shard), CLI_STRING("--on-error", &a.jp.on_error),
        CLI_STRING("--rejects", &a.jp.rejects_path),
    };
    int done = cli_session_parse(&a.so, "tag", "tag", "--api-key-env", own, CLI_NOPTS(own),
                                 &a.jp.input, argc, argv);
    if (done >= 0)
        return done;
    cl_error err = CL_ERROR_INIT;
    int rc = tag_run(&a, &err);
    if (rc)
        cli_session_error(&a.so, "tag", err.msg);
    return rc;
}
