/*
 * run.h - the batch runner behind `clinner tag`, for every backend: tag a
 * corpus sentence by sentence and write the output document by document,
 * with a checkpoint so that a run killed at any point (kill -9 included)
 * continues with --resume and ends with output byte-identical to an
 * uninterrupted run.
 *
 * The checkpoint is a work folder next to the output, "<out>.clinner-run":
 *   output.part  the output of the finished documents (file formats)
 *   journal      append-only lines, each with its own checksum:
 *                  header   the run's fingerprint (options), input hash
 *                  S ...    one tagged sentence: its labels (and confidences)
 *                  T ...    after each batch of S lines: the backend's
 *                           counters and seconds summed over all sessions
 *                  A ...    with --answers: a sentence's raw answer (JSON), after its S
 *                  D ...    a finished document: output.part's size after it (and
 *                           that of "<answers>.part", beside the answers file)
 * Output bytes are fsync'd before the D line that covers them.  Resuming
 * reads the journal up to its first damaged line, cuts output.part back to
 * the last D, restores the tags of sentences tagged since (those a T or D
 * line follows; the others are tagged again, so the counters stay exact),
 * and goes on.  At the end output.part is renamed over the output and the
 * folder removed.
 * BRAT output (a folder) is written document by document in place.
 */
#ifndef CLINNER_RUN_H
#define CLINNER_RUN_H

#include "clinner/corpus.h"
#include "clinner/progress.h"
#include "clinner/tagger.h"
#include "clinner/util.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_run_params {
    cl_format format;        /* output format */
    const char *out_path;    /* file, "-" (stdout: no checkpoint), folder for brat */
    bool entities_from_tags; /* replace entities by those the tags spell (brat, jsonl) */
    bool resume;             /* continue the checkpointed run of the same options */
    /* Identifies the options that shape the output (backend, model, strategy,
     * format, ...): --resume refuses a checkpoint made with another one. */
    const char *fingerprint;
    int32_t batch;           /* sentences per tag() call (default 8) */
    int32_t threads;         /* documents tagged at once; only for backends whose
                              * tag() is reentrant (default 1) */
    /* JSONL file of every tagged sentence's raw answer (backends that keep
     * them, one thread), written and resumed like the output (NULL: none). */
    const char *answers_path;
    cl_progress *progress;   /* sentences done, rate, ETA (may be NULL) */
    cl_log_fn log;           /* notes such as "resuming at ..." (may be NULL) */
    void *log_ctx;
    /* Tag only the documents of shard shard_k of shard_n (cl_shard_of);
     * shard_n 0: all of them. */
    int32_t shard_k, shard_n;
} cl_run_params;

cl_run_params cl_run_default_params(void);

typedef struct cl_run_summary {
    int64_t documents, sentences, tokens; /* in the corpus */
    int64_t resumed_sentences;            /* taken from the checkpoint */
    double seconds;                       /* this session */
    double total_seconds;                 /* all sessions of a resumed run */
    /* The backend's counters over the whole run, earlier sessions included
     * (the checkpoint keeps them), unless counters_partial: then the
     * checkpoint did not hold them all (older or threaded runs' journals)
     * and they cover this session only. */
    cl_tagger_stats stats;
    bool counters_partial;
    int64_t rejected;     /* streaming, on_error skip: records skipped */
    int64_t other_shards; /* documents left to the other shards */
} cl_run_summary;

/* Tag every sentence of c with t and write the output.  Documents' tags are
 * replaced.  On error the checkpoint stays for --resume. */
cl_status cl_run_tag(cl_tagger *t, cl_corpus *c, const cl_run_params *p, cl_run_summary *sum,
                     cl_error *err);

/* ---- streaming ----
 * cl_run_stream tags documents as a reader (corpus.h) hands them out and
 * writes each one as soon as it is tagged, in input order, flushing the
 * output after it: memory holds one document (threads > 1: a window of
 * 4 x threads documents), whatever the input's size.  No checkpoint: a
 * stream has no --resume (cut the input and run again instead). */

typedef enum cl_on_error {
    CL_ON_ERROR_FAIL = 0, /* a malformed record ends the run with its error */
    CL_ON_ERROR_SKIP,     /* it is reported through log, written to rejects, and skipped */
} cl_on_error;

/* Bring a document just read into token form (tokens, sentences, tags all
 * O), e.g. cl_tag_session_prepare_doc; an error rejects the document. */
typedef cl_status (*cl_prepare_fn)(void *ctx, cl_doc *doc, cl_error *err);

typedef struct cl_stream_params {
    cl_format format;        /* output format: jsonl, conll, paper-csv, paper-lines */
    FILE *out;               /* written and flushed document by document */
    bool entities_from_tags; /* as cl_run_params */
    int32_t batch;           /* sentences per tag() call (default 8) */
    int32_t threads;         /* documents tagged at once; reentrant backends (default 1) */
    int32_t shard_k, shard_n; /* only shard k of n (n 0: every document) */
    cl_on_error on_error;
    FILE *rejects;           /* skip: the raw text of each rejected record (may be NULL) */
    cl_prepare_fn prepare;   /* required */
    void *prepare_ctx;
    cl_progress *progress;   /* documents and sentences done (may be NULL) */
    cl_log_fn log;           /* rejected records (may be NULL: then stderr is not used) */
    void *log_ctx;
} cl_stream_params;

cl_stream_params cl_stream_default_params(void);
/* "fail" or "skip". */
cl_status cl_on_error_from_name(const char *name, cl_on_error *out, cl_error *err);

/* Tag every document in (of the shard) and write it to p->out. */
cl_status cl_run_stream(cl_tagger *t, cl_doc_reader *in, const cl_stream_params *p,
                        cl_run_summary *sum, cl_error *err);

/* Read every document of in (of the shard) into c, prepared, with p's
 * shard, on_error, rejects, prepare and log (the rest is not used): the
 * input of a checkpointed cl_run_tag that skips malformed records.  sum
 * gets rejected and other_shards. */
cl_status cl_run_read_all(cl_doc_reader *in, const cl_stream_params *p, cl_corpus *c,
                          cl_run_summary *sum, cl_error *err);

/* ---- shards ----
 * A document belongs to shard FNV-1a-64(id) mod n: the 64-bit FNV-1a hash
 * (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of the id's UTF-8
 * bytes, without a terminator, taken modulo n.  It depends on nothing but
 * the id, so every machine and every version agrees: a job array splits
 * any input without a coordinator.  Documents with the same id share a
 * shard. */
int32_t cl_shard_of(const char *id, int32_t n);
/* "K/N" with 0 <= K < N <= 65536. */
cl_status cl_shard_parse(const char *spec, int32_t *k, int32_t *n, cl_error *err);

/* Join the outputs of shards 0..n-1 of one input (shards[i]: shard i's
 * output, jsonl or conll as fmt, names for messages) into out, in the order
 * of the documents that `order` (a reader over the input) hands out: each
 * input document must be the next one of its shard's output, and every
 * shard must be used up, so every document appears exactly once.  Records
 * are copied byte for byte: the result is the unsharded run's output.
 * Records the order reader rejects are skipped (no shard has them). */
cl_status cl_run_merge(cl_doc_reader *order, FILE *const *shards, const char *const *names,
                       int32_t n, cl_format fmt, FILE *out, int64_t *merged, cl_error *err);

/* cl_run_merge over files: input (format in_fmt; "-": stdin) gives the
 * order, shards[0..n) are the paths of the shard outputs, and the result
 * goes to out_path ("-": stdout) atomically: nothing is left there on
 * error.  *merged: the documents written. */
cl_status cl_run_merge_files(const char *input, cl_format in_fmt, const char *const *shards,
                             int32_t n, cl_format fmt, const char *out_path, int64_t *merged,
                             cl_error *err);

/* The work folder of an output path ("<out>.clinner-run"); caller frees. */
char *cl_run_work_dir(const char *out_path);

/* One line: "tagged 1735 sentences (41 resumed) in 12.3 s: prompt tokens ...,
 * generated tokens ..., misaligned N, skipped N, retries N". */
cl_status cl_run_format_summary(const cl_run_summary *s, cl_buf *out);

#ifdef __cplusplus
}
#endif
#endif
