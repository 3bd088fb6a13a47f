/*
 * job.c - a tagging job (session.h): `clinner tag`'s run from an input
 * path to an output path with one session.  The job reads the input as a
 * corpus for the checkpointed runner (run.h, cl_run_tag), or as a document
 * reader when the output is streamed to stdout, when malformed records are
 * to be skipped, or when a shard's reader can skip the other shards' jsonl
 * lines unparsed.  The resume fingerprint is the session's with the input
 * and output formats, which shape the output too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/openai.h"
#include "clinner/session.h"
#include "clinner/util.h"

struct cl_tag_job {
    cl_tag_session *s;
    cl_tag_job_params p;
    cl_stream_params sp;     /* shard, on_error, rejects, prepare */
    FILE *fin, *frej;
    cl_doc_reader *reader;   /* NULL: the input is loaded whole */
    bool streamed;           /* reader -> stdout, document by document */
    cl_corpus *c;            /* not streamed: the input */
    cl_run_summary got;      /* what reading the corpus rejected and left to other shards */
    char *fingerprint;
};

cl_tag_job_params cl_tag_job_default_params(void)
{
    cl_tag_job_params p;
    memset(&p, 0, sizeof p);
    p.input = "-";
    p.from = CL_FORMAT_JSONL;
    p.to = CL_FORMAT_JSONL;
    p.out_path = "-";
    return p;
}

/* The shard, the error policy and the rejects file into j->sp; the input as
 * a document reader when a stream, a skip or a shard's skim needs one. */
static cl_status open_input(cl_tag_job *j, cl_error *err)
{
    const cl_tag_job_params *p = &j->p;
    cl_stream_params *sp = &j->sp;
    *sp = cl_stream_default_params();
    sp->prepare = cl_tag_session_prepare_fn;
    sp->prepare_ctx = j->s;
    if ((p->shard && cl_shard_parse(p->shard, &sp->shard_k, &sp->shard_n, err) != CL_OK) ||
        cl_on_error_from_name(p->on_error ? p->on_error : "fail", &sp->on_error, err) != CL_OK)
        return CL_ERR_ARG;
    if (p->rejects_path && !(sp->rejects = j->frej = fopen(p->rejects_path, "w")))
        return cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", p->rejects_path,
                            strerror(errno));
    bool to_stdout = !strcmp(p->out_path, "-");
    bool stream = to_stdout && p->from != CL_FORMAT_BRAT;
    /* with a reader, other shards' jsonl lines are skipped unparsed */
    bool shard_skim = sp->shard_n > 1 && p->from != CL_FORMAT_BRAT;
    if (!stream && sp->on_error != CL_ON_ERROR_SKIP && !shard_skim)
        return CL_OK;
    bool is_stdin = !strcmp(p->input, "-");
    if (!(j->fin = is_stdin ? stdin : fopen(p->input, "rb")))
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", p->input, strerror(errno));
    j->streamed = to_stdout;
    return cl_doc_reader_open(j->fin, p->from, is_stdin ? "stdin" : p->input, &j->reader, err);
}

/* Not streamed: the whole input, prepared the session's way. */
static cl_status load_input(cl_tag_job *j, cl_error *err)
{
    if (j->reader) {
        cl_status st = cl_corpus_new(&j->c, err);
        if (st != CL_OK)
            return st;
        return cl_run_read_all(j->reader, &j->sp, j->c, &j->got, err);
    }
    cl_prepare_params pp = cl_prepare_default_params();
    pp.tokenizer = cl_tag_session_tokenizer(j->s);
    pp.gold_tags = false;
    return cl_corpus_load(j->p.input, j->p.from, &pp, &j->c, err);
}

cl_status cl_tag_job_open(cl_tag_session *s, const cl_tag_job_params *p, cl_tag_job **out,
                          cl_error *err)
{
    *out = NULL;
    cl_tag_job *j = calloc(1, sizeof *j);
    if (!j)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    j->s = s;
    j->p = p ? *p : cl_tag_job_default_params();
    cl_status st = open_input(j, err);
    if (st == CL_OK && !j->streamed)
        st = load_input(j, err);
    if (st == CL_OK && !j->streamed) {
        cl_buf fp;
        cl_buf_init(&fp);
        cl_buf_printf(&fp, "%s from=%s to=%s", cl_tag_session_fingerprint(s),
                      cl_format_name(j->p.from), cl_format_name(j->p.to));
        if (!(j->fingerprint = fp.data)) /* the buffer's bytes become the job's */
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    if (st != CL_OK) {
        cl_tag_job_free(j);
        return st;
    }
    *out = j;
    return CL_OK;
}

int64_t cl_tag_job_sentences(const cl_tag_job *j)
{
    return j->c ? cl_corpus_nsentences(j->c) : 0;
}

cl_status cl_tag_job_run(cl_tag_job *j, cl_progress *progress, cl_run_summary *sum,
                         cl_error *err)
{
    if (j->streamed) { /* read, tag and write one document at a time */
        cl_stream_params sp = j->sp;
        sp.format = j->p.to;
        sp.entities_from_tags = true;
        sp.progress = progress;
        return cl_tag_session_stream(j->s, j->reader, &sp, sum, err);
    }
    cl_run_params rp = cl_run_default_params();
    rp.format = j->p.to;
    rp.out_path = j->p.out_path;
    rp.entities_from_tags = true;
    rp.resume = j->p.resume;
    rp.answers_path = j->p.answers_path;
    rp.fingerprint = j->fingerprint;
    rp.progress = progress;
    rp.shard_k = j->sp.shard_k;
    rp.shard_n = j->sp.shard_n;
    cl_status st = cl_tag_session_run(j->s, j->c, &rp, sum, err);
    if (st == CL_OK) {
        sum->rejected = j->got.rejected;
        sum->other_shards += j->got.other_shards;
    }
    return st;
}

cl_status cl_tag_job_format_summary(cl_tag_job *j, const cl_run_summary *sum, cl_buf *out)
{
    cl_status st = cl_run_format_summary(sum, out);
    cl_tagger *t = cl_tag_session_tagger(j->s);
    if (st != CL_OK || cl_openai_server_count(t) < 2)
        return st;
    return cl_buf_puts(out, "\n") ? CL_ERR_NOMEM : cl_openai_server_summary(t, out);
}

cl_status cl_tag_job_finish(cl_tag_job *j, cl_error *err)
{
    FILE *frej = j->frej;
    j->frej = NULL;
    if (frej && fclose(frej) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: write error", j->p.rejects_path);
    return CL_OK;
}

void cl_tag_job_free(cl_tag_job *j)
{
    if (!j)
        return;
    cl_corpus_free(j->c);
    cl_doc_reader_free(j->reader);
    if (j->fin && j->fin != stdin)
        fclose(j->fin);
    if (j->frej)
        fclose(j->frej);
    free(j->fingerprint);
    free(j);
}
