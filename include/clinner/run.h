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
} cl_run_summary;

/* Tag every sentence of c with t and write the output.  Documents' tags are
 * replaced.  On error the checkpoint stays for --resume. */
cl_status cl_run_tag(cl_tagger *t, cl_corpus *c, const cl_run_params *p, cl_run_summary *sum,
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
