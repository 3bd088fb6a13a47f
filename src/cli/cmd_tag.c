/*
 * cmd_tag.c - `clinner tag`: options -> cl_tag_config -> a tagging session
 * (session.h) -> the batch runner (run.h).
 *
 * Everything a backend needs (models, examples, retrievers, default files,
 * the resume fingerprint) is the library's; this file parses options,
 * refuses those that mean nothing to the chosen backend, reads the input
 * and prints the summary.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/cli_session.h"
#include "cli/commands.h"
#include "clinner/openai.h"
#include "clinner/progress.h"
#include "clinner/session.h"
#include "clinner/util.h"

/* Notes from the backends go above the progress bar. */
static void log_line(void *arg, const char *msg)
{
    cl_progress **bar = arg;
    if (*bar)
        cl_progress_message(*bar, "clinner tag: %s", msg);
    else
        fprintf(stderr, "clinner tag: %s\n", msg);
}

static void usage(FILE *fp)
{
    cli_session_help(fp, "tag", "--api-key-env");
}

/* The command's options: the session's (cli_session.h) and the run's. */
typedef struct tag_args {
    cli_session_opts so;
    const char *from, *to, *out, *input, *answers;
    const char *shard, *on_error, *rejects;
    bool resume;
    cl_progress_mode pmode;
} tag_args;

#define TAG_OWN_NOPTS 10
#define TAG_NOPTS (CLI_SESSION_NOPTS + TAG_OWN_NOPTS)
static size_t tag_options(tag_args *a, cli_opt *out)
{
    const cli_opt t[] = {
        CLI_STRING("--from", &a->from), CLI_STRING("--to", &a->to),
        CLI_PARSER("--progress", &a->pmode, cli_opt_progress),
        CLI_STRING2("--output", "-o", &a->out), CLI_FLAG("--resume", &a->resume),
        CLI_STRING("--answers", &a->answers),
        CLI_INTEGER("--threads", CLI_OPT_LONG, &a->so.threads, 1, 64),
        CLI_STRING("--shard", &a->shard), CLI_STRING("--on-error", &a->on_error),
        CLI_STRING("--rejects", &a->rejects),
    };
    _Static_assert(CLI_NOPTS(t) == TAG_OWN_NOPTS, "TAG_OWN_NOPTS");
    memcpy(out, t, sizeof t);
    return CLI_NOPTS(t) + cli_session_options(&a->so, "--api-key-env", out + CLI_NOPTS(t));
}

/* --shard, --on-error and --rejects into sp; the input as a document
 * reader when they or a streamed run (OUT '-') need one. */
static cl_status stream_setup(tag_args *a, cl_format from_fmt, cl_tag_session *s,
                              cl_stream_params *sp, FILE **fin, FILE **frej,
                              cl_doc_reader **reader, cl_error *err)
{
    *sp = cl_stream_default_params();
    sp->prepare = cl_tag_session_prepare_fn;
    sp->prepare_ctx = s;
    if ((a->shard && cl_shard_parse(a->shard, &sp->shard_k, &sp->shard_n, err) != CL_OK) ||
        cl_on_error_from_name(a->on_error ? a->on_error : "fail", &sp->on_error, err) != CL_OK)
        return CL_ERR_ARG;
    if (a->rejects && !(sp->rejects = *frej = fopen(a->rejects, "w")))
        return cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", a->rejects, strerror(errno));
    bool stream = !strcmp(a->out, "-") && from_fmt != CL_FORMAT_BRAT;
    /* with a reader, other shards' jsonl lines are skipped unparsed */
    bool shard_skim = sp->shard_n > 1 && from_fmt != CL_FORMAT_BRAT;
    if (!stream && sp->on_error != CL_ON_ERROR_SKIP && !shard_skim)
        return CL_OK;
    const char *name = strcmp(a->input, "-") ? a->input : "stdin";
    if (!(*fin = strcmp(a->input, "-") ? fopen(a->input, "rb") : stdin))
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", a->input, strerror(errno));
    return cl_doc_reader_open(*fin, from_fmt, name, reader, err);
}

static int tag_run(tag_args *a, cl_error *err)
{
    cl_progress *bar = NULL;
    cli_session_finish(&a->so);
    a->so.cfg.log = log_line;
    a->so.cfg.log_ctx = &bar;
    cl_format from_fmt = cl_format_guess(a->input), to_fmt;
    if ((a->from && cl_format_from_name(a->from, &from_fmt, err) != CL_OK) ||
        cl_format_from_name(a->to, &to_fmt, err) != CL_OK)
        return 2;
    cl_tag_session *s = NULL;
    cl_corpus *c = NULL;
    cl_buf fp;
    cl_buf_init(&fp);
    int rc = 1;
    FILE *fin = NULL, *frej = NULL;
    cl_doc_reader *reader = NULL;
    cl_stream_params sp;
    cl_run_summary sum, got;
    memset(&got, 0, sizeof got);
    if (cl_tag_session_open(&a->so.cfg, &s, err) != CL_OK ||
        stream_setup(a, from_fmt, s, &sp, &fin, &frej, &reader, err) != CL_OK)
        goto done;
    if (reader && !strcmp(a->out, "-")) { /* read, tag and write one document at a time */
        bar = cl_progress_new(stderr, "tagging", "sentences", 0, a->pmode);
        sp.format = to_fmt;
        sp.entities_from_tags = true;
        sp.progress = bar;
        if (cl_tag_session_stream(s, reader, &sp, &sum, err) != CL_OK)
            goto done;
        goto summary;
    }
    cl_prepare_params pp = cl_prepare_default_params();
    pp.tokenizer = cl_tag_session_tokenizer(s);
    pp.gold_tags = false;
    if (reader ? !(c = cl_corpus_new()) || cl_run_read_all(reader, &sp, c, &got, err) != CL_OK
               : cl_corpus_load(a->input, from_fmt, &pp, &c, err) != CL_OK)
        goto done;
    bar = cl_progress_new(stderr, "tagging", "sentences", cl_corpus_nsentences(c), a->pmode);
    /* the input and output formats shape the output too */
    cl_buf_printf(&fp, "%s from=%s to=%s", cl_tag_session_fingerprint(s),
                  cl_format_name(from_fmt), cl_format_name(to_fmt));
    cl_run_params rp = cl_run_default_params();
    rp.format = to_fmt;
    rp.out_path = a->out;
    rp.entities_from_tags = true;
    rp.resume = a->resume;
    rp.answers_path = a->answers;
    rp.fingerprint = fp.data;
    rp.progress = bar;
    rp.shard_k = sp.shard_k;
    rp.shard_n = sp.shard_n;
    if (cl_tag_session_run(s, c, &rp, &sum, err) != CL_OK)
        goto done;
    sum.rejected = got.rejected;
    sum.other_shards += got.other_shards;
summary:;
    cl_buf line;
    cl_buf_init(&line);
    if (a->pmode != CL_PROGRESS_OFF && cl_run_format_summary(&sum, &line) == CL_OK)
        fprintf(stderr, "clinner tag: %s\n", line.data);
    cl_buf_reset(&line); /* a fleet: how many requests each server took */
    if (a->pmode != CL_PROGRESS_OFF && a->so.cfg.api_base && strchr(a->so.cfg.api_base, ',') &&
        cl_openai_server_summary(cl_tag_session_tagger(s), &line) == CL_OK && line.len)
        fprintf(stderr, "clinner tag: %s\n", line.data);
    cl_buf_free(&line);
    rc = 0;
    if (frej && fclose(frej) != 0) {
        cl_error_set(err, CL_ERR_IO, "%s: write error", a->rejects);
        rc = 1;
    }
    frej = NULL;
done:
    cl_buf_free(&fp);
    cl_progress *b = bar;
    bar = NULL; /* the log callback must not see a freed bar */
    cl_progress_free(b);
    cl_corpus_free(c);
    cl_tag_session_free(s);
    cl_doc_reader_free(reader);
    if (fin && fin != stdin)
        fclose(fin);
    if (frej)
        fclose(frej);
    return rc;
}

int cmd_tag(int argc, char **argv)
{
    tag_args a;
    memset(&a, 0, sizeof a);
    cli_session_init(&a.so);
    a.to = "jsonl";
    a.out = "-";
    a.pmode = CL_PROGRESS_AUTO;
    cli_opt opts[TAG_NOPTS];
    bool given[TAG_NOPTS];
    size_t nopts = tag_options(&a, opts);
    int done = cli_parse_command_given("tag", usage, opts, nopts, &a.input, argc, argv, 1, given);
    if (done >= 0)
        return done;
    if (!a.input)
        a.input = "-";
    if (cli_session_refuse_foreign("tag", &a.so, opts, given, nopts))
        return 2;
    cl_error err;
    cl_error_clear(&err);
    int rc = tag_run(&a, &err);
    if (rc)
        cli_session_error("tag", err.msg);
    return rc;
}
