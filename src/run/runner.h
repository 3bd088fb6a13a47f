/*
 * runner.h - private seam of the batch runner (run.h): the state of one run,
 * shared by the tagging loop (run.c) and the checkpoint (journal.c: the
 * work folder, the journal's records, resuming from them).
 */
#ifndef CLINNER_RUN_RUNNER_H
#define CLINNER_RUN_RUNNER_H

#include <pthread.h>
#include <stdio.h>

#include "clinner/run.h"

/* output and journal are fsync'd at most this often (seconds) */
#define CL_RUN_SYNC_EVERY_S 1.0

typedef struct run {
    cl_tagger *t;
    cl_corpus *c;
    cl_run_params p;
    bool checkpoint, brat;
    char *dir, *part_path, *journal_path;
    FILE *out; /* output.part or stdout (not brat) */
    /* --answers: "<answers>.part", beside the answers file rather than in
     * the work folder so that the final rename never crosses filesystems */
    FILE *ans_file;
    char *ans_part_path;
    char ***ans; /* per document, per sentence: its answers line (JSON) or NULL */
    int jfd;   /* journal, -1 when not checkpointing */
    double last_sync;
    int64_t sentence_global;
    uint8_t **done;   /* per document, per sentence: tagged */
    bool *restored;   /* document has sentences restored from the journal */
    int32_t first;    /* first document not yet written */
    int64_t resumed, tagged, tokens_tagged;
    bool gen_units;   /* the backend has counters: progress counts generated tokens if any */
    double t0;        /* this session's start */

    /* counters of earlier sessions (the last T line) */
    cl_tagger_stats base;
    double base_seconds;
    int64_t journaled;      /* S lines committed, all sessions */
    int64_t base_journaled; /* of these, those the last T line covers */
    /* S lines read but not yet committed by a T or D line */
    char **pending;
    int32_t npending, cap_pending;
    int64_t pending_line;   /* journal line number of the first */

    /* threads */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t next_doc;  /* next document for a worker */
    bool *ready;       /* document tagged by a worker */
    cl_status wst;
    cl_error werr;
    bool stop;
} run;

/* journal.c: records (no-ops when the run keeps no checkpoint) */
cl_status cl_run_journal_append(run *r, const char *payload, cl_error *err);
cl_status cl_run_journal_sync(run *r, bool force, cl_error *err);
/* "S doc sent n labels... [C conf...]" (and "A doc sent json" with answers) */
cl_status cl_run_journal_sentence(run *r, int32_t d, int32_t s, cl_error *err);
/* "T journaled seconds counters..." after a batch's S lines */
cl_status cl_run_journal_stats(run *r, cl_error *err);
/* the backend's counters plus those of earlier sessions */
void cl_run_stats_total(run *r, cl_tagger_stats *out);
/* Open (or create) the work folder; on resume restore what it holds. */
cl_status cl_run_checkpoint_open(run *r, cl_error *err);
/* Remove the work folder of a finished run. */
void cl_run_checkpoint_remove(run *r);
/* Sentences restored for documents before `first` count as resumed. */
void cl_run_recount_resumed(run *r);
void cl_run_pending_drop(run *r);

/* run.c: a note for the user through p.log */
void cl_run_note(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
