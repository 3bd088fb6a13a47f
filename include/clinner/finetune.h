/*
 * finetune.h - instruction fine-tuning of a local GGUF model on a CPU, with
 * llama.cpp's training API (llama_opt_init / llama_opt_epoch).
 *
 * The training set is the zero-shot prompt of `clinner tag --strategy
 * zero-shot` (prompt.h builds the messages, the model's chat template renders
 * them) followed by the gold answer, "token : label" lines, as the assistant
 * turn.  A fine-tuned model is therefore tagged with `--strategy zero-shot
 * --decode forced` and nothing else changes.
 *
 * What the API gives and what we add:
 *   - llama.cpp trains F32 weights only: a quantized model is converted to
 *     F32 first (llama_model_quantize, ftype ALL_F32), cached on disk.
 *   - llama_opt_epoch has no loss mask: every position's next token counts.
 *     Its label rows are one-hot vectors written at row*n_vocab + label, so a
 *     label value of label0 - row*n_vocab puts a row's 1 onto row 0's own
 *     label: that row is then all zeros and adds nothing to the cross-entropy
 *     loss or its gradient.  This is how CL_FT_LOSS_LABELS trains on the
 *     label positions only (row 0, the first prompt token after BOS, stays
 *     in).  It relies on how llama-context.cpp fills the label tensor; a test
 *     checks the loss it reports against log-probabilities from llama_decode.
 *   - llama_opt_epoch trains on one context window per optimizer step
 *     (n_batch = n_ubatch = n_ctx, so that K and V get gradients); examples
 *     are packed whole into windows, padding is masked.
 *   - Adam's moments live inside the llama context and cannot be saved:
 *     --resume restarts them from zero (weights, step and schedule resume).
 *     Fresh moments make AdamW's first steps sign-like (each weight moves
 *     by the full learning rate), so a resumed session warms the rate up
 *     again over its first CL_FT_REWARM_STEPS steps (or the run's warm-up,
 *     if longer).
 *   - llama_model_save_to_file drops the chat template and writes the
 *     training context as the model's context length; the saved file is
 *     rewritten with the original values (gguf.h), so `clinner tag` renders
 *     the same prompt with the fine-tuned model.
 *
 * Library code: never prints; progress and notes go through callbacks.
 */
#ifndef CLINNER_FINETUNE_H
#define CLINNER_FINETUNE_H

#include "clinner/doc.h"
#include "clinner/tagger.h"
#include "clinner/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which tensors train. */
typedef enum cl_ft_tensors {
    CL_FT_TENSORS_ALL = 0,      /* every weight llama.cpp can train (not the token embeddings) */
    CL_FT_TENSORS_LAST,         /* the last N blocks, the output norm and the output matrix */
    CL_FT_TENSORS_NORMS_OUTPUT, /* every norm weight and the output matrix */
} cl_ft_tensors;

/* "all", "last:N", "norms-output" -> kind (and N). */
cl_status cl_ft_tensors_parse(const char *s, cl_ft_tensors *kind, int32_t *last_n, cl_error *err);

/* Which positions count in the dev (validation) loss.  Training always
 * counts every token: llama_opt_epoch takes no mask, and a masked row (its
 * one-hot label moved out of the row, so the row is all zeros) is right for
 * the loss value but not for the gradient - ggml's cross-entropy backward
 * computes softmax - label, the gradient only when the label row sums to 1,
 * so a masked row would push its position towards a flat distribution. */
typedef enum cl_ft_loss {
    CL_FT_LOSS_LABELS = 0, /* the label of each answer line and its newline (default) */
    CL_FT_LOSS_ANSWER,     /* the whole assistant turn (token echo included) */
    CL_FT_LOSS_ALL,        /* every token, prompt included (llama.cpp's own way) */
} cl_ft_loss;

cl_status cl_ft_loss_from_name(const char *name, cl_ft_loss *out, cl_error *err);
const char *cl_ft_loss_name(cl_ft_loss l);

/* Learning-rate schedule from lr to lr_min over all steps (after warm-up). */
typedef enum cl_ft_schedule {
    CL_FT_SCHEDULE_CONSTANT = 0, /* lr throughout (lr_min unused) */
    CL_FT_SCHEDULE_LINEAR,
    CL_FT_SCHEDULE_COSINE,
} cl_ft_schedule;

cl_status cl_ft_schedule_from_name(const char *name, cl_ft_schedule *out, cl_error *err);
const char *cl_ft_schedule_name(cl_ft_schedule s);
/* Learning rate at step (0-based) of nsteps. */
double cl_ft_lr_at(cl_ft_schedule s, double lr, double lr_min, int64_t warmup, int64_t step,
                   int64_t nsteps);
#define CL_FT_REWARM_STEPS 20
/* The rate of step `session_step` (0-based) of a resumed session: lr,
 * ramped up linearly over its first `rewarm` steps. */
double cl_ft_lr_resumed(double lr, int64_t session_step, int64_t rewarm);

/* Weight type of the final model (checkpoints are always F32). */
typedef enum cl_ft_out_type {
    CL_FT_OUT_F32 = 0,
    CL_FT_OUT_F16,
    CL_FT_OUT_Q8_0, /* about 4x smaller and faster to tag with than F32 */
} cl_ft_out_type;

cl_status cl_ft_out_type_from_name(const char *name, cl_ft_out_type *out, cl_error *err);

/* What the progress callback sees. */
typedef struct cl_ft_progress {
    bool train;            /* false: validation on dev */
    int32_t epoch;         /* 1-based */
    int32_t epochs;
    int64_t step;          /* windows done in this phase of this epoch */
    int64_t nsteps;
    int64_t global_step;   /* optimizer steps since the start (resumes included) */
    double loss;           /* mean loss per counted position over this phase so far */
    double last_loss;      /* the same for the last window alone */
    double lr;             /* learning rate of the last step */
    double tokens_per_s;   /* context tokens processed per second (this phase) */
    double eta_s;          /* seconds left in the whole run (estimate; -1 unknown) */
    double elapsed_s;      /* since training started (this session) */
} cl_ft_progress;

typedef void (*cl_ft_progress_fn)(void *ctx, const cl_ft_progress *p);

/* The progress as one line of text into buf (training: epoch, step, loss,
 * rate, tokens/s, elapsed, ETA; validation: the dev loss, at its end only);
 * false when p has nothing worth a line (a validation still running). */
bool cl_ft_progress_line(const cl_ft_progress *p, char *buf, size_t n);

typedef struct cl_finetune_params {
    const char *model_path;  /* GGUF, any weight type */
    const char *out_path;    /* final GGUF; checkpoints "<out>.ckpt-<step>.gguf" + ".ckpt.json" */
    cl_ft_out_type out_type; /* default F32 */
    const char *cache_dir;   /* where F32 conversions are kept (NULL: the cache's f32/,
                              * $CLINNER_CACHE or ~/.cache/clinner; else beside out_path) */

    cl_ft_tensors tensors;
    int32_t last_n;          /* for CL_FT_TENSORS_LAST */
    cl_ft_loss loss;
    cl_ft_schedule schedule;
    double lr, lr_min;       /* default 5e-5 -> 5e-6, cosine */
    double warmup;           /* fraction of all steps with a linear warm-up (default 0.03) */
    double weight_decay;     /* AdamW (default 0) */
    int32_t epochs;          /* default 1 */
    int32_t n_ctx;           /* training window in model tokens (default 512) */
    bool pack;               /* several examples per window (default true) */
    int32_t max_examples;    /* 0: all training sentences; else a seeded random subset */
    int32_t max_dev;         /* dev sentences for validation (default 200; 0: all) */
    uint32_t seed;           /* subset and order of examples (default 42) */
    int32_t threads;         /* 0: all cores */
    int32_t save_every;      /* also checkpoint every N steps (0: only after each epoch) */
    bool keep_checkpoints;   /* keep every checkpoint's weights, not only the last */
    int32_t dev_every;       /* also validate on dev every N steps (0: after each epoch);
                              * a run's dev loss and label choices can swing between
                              * checkpoints, so choose one on dev */
    bool resume;             /* continue from the checkpoint of the same run */
    int64_t mem_limit;       /* bytes training may use (0: MemAvailable of /proc/meminfo) */
    int32_t gpu_layers;      /* layers offloaded to a GPU backend (default 0: CPU; -1: all);
                              * needs llama.cpp built with one (setup-llama.sh --cuda) */
    double time_limit_s;     /* stop after the step that passes this many seconds of
                              * training (0: none): checkpoint, dev loss, output as after an
                              * epoch; --resume continues from there */
    /* Asked after every training step (NULL: never): true stops the run
     * there as the time limit does.  `clinner finetune` answers it from
     * SIGINT and SIGTERM, so that Ctrl-C loses no step. */
    bool (*stop)(void *ctx);
    void *stop_ctx;
    /* Fixed examples and a zero-shot instruction come from prompt.h with
     * these types (NULL: the paper's five). */
    /* Chat format of the examples (NULL: the model's own; see
     * cl_llama_model_set_template); written into the output model as its
     * template, so `clinner tag` renders the same. */
    const char *chat_template;
    const char *const *types;
    int32_t ntypes;

    bool verbose;               /* llama.cpp's own log on stderr */
    cl_ft_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    cl_log_fn log;              /* notes (conversion, memory estimate, checkpoints) */
    void *log_ctx;
} cl_finetune_params;

cl_finetune_params cl_finetune_default_params(void);

/* How often the model's greedy next token at the first token of an answer
 * line's label is the gold one, with the gold answer before it (teacher
 * forced), per kind of label: [0] O, [1] B-*, [2] I-*.  The loss hides
 * what this shows: a model can lower its dev loss on the many O lines while
 * hardly ever choosing I-, and forced decoding then splits every entity. */
typedef struct cl_ft_choices {
    int64_t n[3];     /* answer lines with a label of that kind */
    int64_t right[3]; /* of these, where the greedy token was the gold one */
    int64_t whole[3]; /* where every token of the label was: the type too
                       * ("B-SIGN", not only " B"); a model can choose B- and
                       * I- well and the types badly (2026-11-28: 72% of B-
                       * first tokens right, test F1 .10) */
} cl_ft_choices;

typedef struct cl_finetune_result {
    int32_t examples;        /* training examples used */
    int32_t skipped;         /* examples longer than the window (left out) */
    int32_t windows;         /* training windows per epoch */
    int64_t label_positions; /* counted positions per epoch */
    int32_t dev_examples;
    int32_t epochs_done;     /* in all, resumed ones included */
    int32_t start_epoch;     /* 1-based first epoch run by this call (resume) */
    bool stopped_by_time;    /* time_limit_s ended the run mid-way */
    bool stopped_by_request; /* stop() did */
    int64_t steps_done;      /* optimizer steps in all (resumes included) */
    int64_t steps_total;     /* steps the whole run would take */
    double first_loss;       /* first training window's loss of this call */
    double train_loss[64];   /* mean training loss per epoch (first 64), NAN when resumed */
    double dev_loss[64];     /* mean dev loss per epoch (NAN: no dev) */
    cl_ft_choices dev_choices; /* of the last dev validation (all 0: none) */
    double seconds;
    int64_t mem_estimate;    /* bytes */
    int64_t n_params, n_trained;
} cl_finetune_result;

/* The sentence that reports a run that trained (epochs > 0) into buf:
 * "wrote OUT: N examples, E epochs, first loss ..., last epoch train loss
 * ..., dev loss ..., S s". */
void cl_finetune_result_summary(const cl_finetune_result *r, const char *out_path, char *buf,
                                size_t n);

/* Fine-tune on train (tokenized, doc->tags holding gold labels; see
 * cl_prompt_prepare_train) and validate on dev (same, may be NULL). */
cl_status cl_finetune(const cl_finetune_params *p, const cl_corpus *train, const cl_corpus *dev,
                      cl_finetune_result *res, cl_error *err);

/* Path of the F32 version of model_path in cache_dir (converted when absent
 * or stale, written atomically); returns model_path itself when the model is
 * F32 already.  *out: caller frees. */
cl_status cl_ft_f32_model(const char *model_path, const char *cache_dir, int32_t threads,
                          char **out, cl_log_fn log, void *log_ctx, cl_error *err);

/* ---- the training text, for tests and inspection ---- */

/* One training example: the rendered chat (prompt + answer) and the byte
 * ranges of text whose tokens count in the loss. */
typedef struct cl_ft_example {
    char *text;
    size_t prompt_len;   /* bytes of the prompt (through the assistant header) */
    int32_t nspans;
    size_t (*spans)[2];  /* [begin, end) byte ranges counted in the loss */
    int32_t nlines;
    size_t *label_at;    /* byte where each answer line's label starts */
} cl_ft_example;

void cl_ft_example_free(cl_ft_example *ex);

#ifdef __cplusplus
}
#endif
#endif
