/*
 * finetune.c - the training loop of `clinner finetune` (finetune.h):
 * examples -> packed windows -> llama_opt_epoch, one window per optimizer
 * step, so that progress, the learning-rate schedule, label masking,
 * checkpoints and resuming are all ours while the forward and backward
 * passes are llama.cpp's.
 *
 * Checkpoints: after each epoch (and every save_every steps) the weights go
 * to "<out>.ckpt-<step>.gguf" and then "<out>.ckpt.json" (atomic) names it
 * with the run's fingerprint, epoch and step; the previous checkpoint file
 * is removed only after that (kept with keep_checkpoints, to choose one on
 * dev afterwards).  A kill at any moment leaves a consistent pair.  The
 * final model is a hard link to the last checkpoint (no second copy of the
 * weights); --resume with more --epochs continues from it.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "llm/finetune_internal.h"

/* ---- names ---- */

cl_status cl_ft_tensors_parse(const char *s, cl_ft_tensors *kind, int32_t *last_n, cl_error *err)
{
    *last_n = 0;
    if (!strcmp(s, "all")) {
        *kind = CL_FT_TENSORS_ALL;
        return CL_OK;
    }
    if (!strcmp(s, "norms-output")) {
        *kind = CL_FT_TENSORS_NORMS_OUTPUT;
        return CL_OK;
    }
    if (!strncmp(s, "last:", 5)) {
        char *end;
        long n = strtol(s + 5, &end, 10);
        if (*end == '\0' && end != s + 5 && n > 0 && n < 100000) {
            *kind = CL_FT_TENSORS_LAST;
            *last_n = (int32_t)n;
            return CL_OK;
        }
    }
    return cl_error_set(err, CL_ERR_ARG,
                        "tensors to train: '%s' is not all, last:N (N >= 1) or norms-output", s);
}

static const char *const loss_names[] = {"labels", "answer", "all"};
static const char *const schedule_names[] = {"constant", "linear", "cosine"};

cl_status cl_ft_loss_from_name(const char *name, cl_ft_loss *out, cl_error *err)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, loss_names[i])) {
            *out = (cl_ft_loss)i;
            return CL_OK;
        }
    return cl_error_set(err, CL_ERR_ARG, "loss: '%s' is not labels, answer or all", name);
}

const char *cl_ft_loss_name(cl_ft_loss l) { return (unsigned)l < 3 ? loss_names[l] : "?"; }

cl_status cl_ft_schedule_from_name(const char *name, cl_ft_schedule *out, cl_error *err)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, schedule_names[i])) {
            *out = (cl_ft_schedule)i;
            return CL_OK;
        }
    return cl_error_set(err, CL_ERR_ARG, "schedule: '%s' is not constant, linear or cosine",
                        name);
}

cl_status cl_ft_out_type_from_name(const char *name, cl_ft_out_type *out, cl_error *err)
{
    static const char *const names[] = {"f32", "f16", "q8_0"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            *out = (cl_ft_out_type)i;
            return CL_OK;
        }
    return cl_error_set(err, CL_ERR_ARG, "output type: '%s' is not f32, f16 or q8_0", name);
}

const char *cl_ft_schedule_name(cl_ft_schedule s)
{
    return (unsigned)s < 3 ? schedule_names[s] : "?";
}

double cl_ft_lr_at(cl_ft_schedule s, double lr, double lr_min, int64_t warmup, int64_t step,
                   int64_t nsteps)
{
    if (step < warmup)
        return lr * (double)(step + 1) / (double)(warmup + 1);
    if (s == CL_FT_SCHEDULE_CONSTANT || nsteps - warmup <= 1)
        return lr;
    double t = (double)(step - warmup) / (double)(nsteps - warmup - 1);
    if (t > 1)
        t = 1;
    if (s == CL_FT_SCHEDULE_LINEAR)
        return lr + (lr_min - lr) * t;
    return lr_min + 0.5 * (lr - lr_min) * (1 + cos(M_PI * t));
}

double cl_ft_lr_resumed(double lr, int64_t session_step, int64_t rewarm)
{
    if (session_step >= rewarm)
        return lr;
    return lr * (double)(session_step + 1) / (double)(rewarm + 1);
}

cl_finetune_params cl_finetune_default_params(void)
{
    cl_finetune_params p;
    memset(&p, 0, sizeof p);
    p.tensors = CL_FT_TENSORS_ALL;
    p.loss = CL_FT_LOSS_LABELS;
    p.schedule = CL_FT_SCHEDULE_COSINE;
    p.lr = 5e-5;
    p.lr_min = 5e-6;
    p.warmup = 0.03;
    p.epochs = 1;
    p.n_ctx = 512;
    p.pack = true;
    p.max_dev = 200;
    p.seed = 42;
    return p;
}

/* ---- small helpers ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void shuffle(int32_t *a, int32_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)(splitmix(&s) % (uint64_t)(i + 1));
        int32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* ---- the examples of a corpus ---- */

typedef struct ft_set {
    ft_seq *seqs;
    int32_t n;
    ft_windows win;
    int32_t skipped;
    int64_t counted;
    int64_t tok_sum; /* model tokens over all examples */
    int32_t tok_max;
} ft_set;

static void ft_set_free(ft_set *s)
{
    for (int32_t i = 0; i < s->n; i++)
        cl__ft_seq_free(&s->seqs[i]);
    free(s->seqs);
    cl__ft_windows_free(&s->win);
    memset(s, 0, sizeof *s);
}

/* Render, tokenize and pack up to max sentences of c (a seeded subset when
 * max > 0 is smaller than the corpus); *hash is updated with every text. */
static cl_status build_set(const cl_corpus *c, int32_t max, uint64_t seed, bool shuffle_pack,
                           const cl_llama_model *m, const cl_prompt_builder *b,
                           const cl_finetune_params *p, cl_ft_loss loss,
                           ft_set *set, uint64_t *hash, cl_error *err)
{
    memset(set, 0, sizeof *set);
    int64_t total = 0;
    for (int32_t d = 0; d < c->ndocs; d++)
        for (int32_t s = 0; s < c->docs[d]->nsentences; s++)
            total += c->docs[d]->sentences[s].tok_end > c->docs[d]->sentences[s].tok_begin;
    if (total > INT32_MAX / 2)
        return cl_error_set(err, CL_ERR_ARG, "too many sentences (%lld)", (long long)total);
    int32_t *pick = malloc(sizeof *pick * (size_t)(total ? total : 1));
    int32_t (*where)[2] = malloc(sizeof *where * (size_t)(total ? total : 1));
    if (!pick || !where) {
        free(pick);
        free(where);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    int32_t k = 0;
    for (int32_t d = 0; d < c->ndocs; d++)
        for (int32_t s = 0; s < c->docs[d]->nsentences; s++)
            if (c->docs[d]->sentences[s].tok_end > c->docs[d]->sentences[s].tok_begin) {
                where[k][0] = d;
                where[k][1] = s;
                pick[k] = k;
                k++;
            }
    int32_t n = k;
    if (max > 0 && max < n) {
        shuffle(pick, n, seed);
        n = max;
        qsort(pick, (size_t)n, sizeof *pick, cmp_i32); /* corpus order */
    }
    cl_status st = CL_OK;
    set->seqs = calloc((size_t)(n ? n : 1), sizeof *set->seqs);
    if (!set->seqs) {
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int32_t i = 0; i < n; i++) {
        const cl_doc *doc = c->docs[where[pick[i]][0]];
        cl_ft_example ex;
        st = cl__ft_render_example(m, b, doc, where[pick[i]][1], loss, &ex, err);
        if (st == CL_OK) {
            *hash = cl_fnv1a64(*hash, ex.text, strlen(ex.text) + 1);
            st = cl__ft_seq_from_example(m->vocab, &ex, &set->seqs[i], err);
            cl_ft_example_free(&ex);
        }
        if (st != CL_OK)
            goto done;
        set->tok_sum += set->seqs[i].n;
        if (set->seqs[i].n > set->tok_max)
            set->tok_max = set->seqs[i].n;
        set->n++;
    }
    int32_t *order = malloc(sizeof *order * (size_t)(n ? n : 1));
    if (!order) {
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int32_t i = 0; i < n; i++)
        order[i] = i;
    if (shuffle_pack)
        shuffle(order, n, seed ^ 0x5eedull);
    llama_token pad = llama_vocab_eos(m->vocab);
    if (pad < 0)
        pad = 0;
    st = cl__ft_windows_pack(&set->win, p->n_ctx, set->seqs, order, n, p->pack, pad, &set->skipped,
                         err);
    free(order);
    for (int32_t w = 0; w < set->win.n; w++)
        set->counted += set->win.counted[w];
done:
    free(pick);
    free(where);
    if (st != CL_OK)
        ft_set_free(set);
    return st;
}

/* ---- llama.cpp callbacks ---- */

typedef struct filter_ud {
    cl_ft_tensors kind;
    int32_t last_n, n_layer;
} filter_ud;

static bool param_filter(const struct ggml_tensor *t, void *ud)
{
    const filter_ud *f = ud;
    return cl__ft_tensor_trains(ggml_get_name(t), f->kind, f->last_n, f->n_layer);
}

typedef struct opt_ud {
    double lr, wd;
} opt_ud;

static struct ggml_opt_optimizer_params opt_pars(void *ud)
{
    const opt_ud *o = ud;
    struct ggml_opt_optimizer_params r = ggml_opt_get_default_optimizer_params(NULL);
    r.adamw.alpha = (float)o->lr;
    r.adamw.wd = (float)o->wd;
    r.sgd.alpha = (float)o->lr;
    r.sgd.wd = (float)o->wd;
    return r;
}

/* ---- checkpoints ---- */

typedef struct ckpt {
    char fingerprint[17];
    int32_t epoch;        /* epochs finished */
    int64_t step;         /* windows done in epoch + 1 (0 at an epoch's end) */
    int64_t global_step;
    char *file;           /* weights file (basename, beside the output) */
    double train_loss[64], dev_loss[64];
} ckpt;

/* A whole number in [0, max]: a hand-edited or damaged checkpoint must not
 * reach the integer conversions below (undefined for NaN or out of range). */
static bool count_item(const cJSON *v, double max)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max &&
           v->valuedouble == floor(v->valuedouble);
}

/* The first field of a checkpoint's JSON that is missing or wrong, or NULL
 * when every field the resume needs is sound. */
static const char *ckpt_bad_field(const cJSON *j)
{
    if (!j)
        return "not JSON";
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
    const cJSON *fi = cJSON_GetObjectItemCaseSensitive(j, "file");
    if (!cJSON_IsString(fp) || strlen(fp->valuestring) != 16)
        return "field fingerprint";
    if (!count_item(cJSON_GetObjectItemCaseSensitive(j, "epoch"), INT32_MAX))
        return "field epoch";
    if (!count_item(cJSON_GetObjectItemCaseSensitive(j, "step"), 1e15))
        return "field step";
    if (!count_item(cJSON_GetObjectItemCaseSensitive(j, "global_step"), 1e15))
        return "field global_step";
    /* a file name beside the output, nothing that leaves its folder */
    if (!cJSON_IsString(fi) || !fi->valuestring[0] || strchr(fi->valuestring, '/') ||
        strcmp(fi->valuestring, "..") == 0)
        return "field file";
    return NULL;
}

static cl_status ckpt_read(const char *out_path, ckpt *c, bool *found, cl_error *err)
{
    *found = false;
    memset(c, 0, sizeof *c);
    for (int i = 0; i < 64; i++)
        c->train_loss[i] = c->dev_loss[i] = NAN;
    cl_buf path;
    cl_buf_init(&path);
    cl_buf_printf(&path, "%s.ckpt.json", out_path);
    if (access(path.data, F_OK) != 0) {
        cl_buf_free(&path);
        return CL_OK;
    }
    char *text;
    size_t n;
    cl_status st = cl_read_file(path.data, &text, &n, err);
    if (st != CL_OK) {
        cl_buf_free(&path);
        return st;
    }
    cJSON *j = cJSON_ParseWithLength(text, n);
    free(text);
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(j, "epoch");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "step");
    const cJSON *gs = cJSON_GetObjectItemCaseSensitive(j, "global_step");
    const cJSON *fi = cJSON_GetObjectItemCaseSensitive(j, "file");
    const char *bad = ckpt_bad_field(j);
    if (bad) {
        cJSON_Delete(j);
        st = cl_error_set(err, CL_ERR_PARSE, "%s: not a clinner finetune checkpoint (%s)",
                          path.data, bad);
        cl_buf_free(&path);
        return st;
    }
    memcpy(c->fingerprint, fp->valuestring, 17);
    c->epoch = (int32_t)ep->valuedouble;
    c->step = (int64_t)sp->valuedouble;
    c->global_step = (int64_t)gs->valuedouble;
    c->file = cl_strdup(fi->valuestring);
    const char *names[2] = {"train_loss", "dev_loss"};
    double *dst[2] = {c->train_loss, c->dev_loss};
    for (int a = 0; a < 2; a++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, names[a]), *v;
        int i = 0;
        cJSON_ArrayForEach(v, arr)
        {
            if (i < 64)
                dst[a][i] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
            i++;
        }
    }
    cJSON_Delete(j);
    cl_buf_free(&path);
    *found = c->file != NULL;
    return c->file ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
}

/* Directory part of out_path joined with name. */
static char *beside(const char *out_path, const char *name)
{
    const char *slash = strrchr(out_path, '/');
    if (!slash)
        return cl_strdup(name);
    char *dir = cl_strndup(out_path, (size_t)(slash - out_path + 1));
    if (!dir)
        return NULL;
    char *r = cl_path_join(dir, name);
    free(dir);
    return r;
}

static cl_status ckpt_write(const char *out_path, const struct llama_model *model,
                            const char *meta_src, const char *chat_template, ckpt *c,
                            int32_t epochs_known, bool keep_old, cl_error *err)
{
    const char *base = strrchr(out_path, '/');
    base = base ? base + 1 : out_path;
    cl_buf name, jpath;
    cl_buf_init(&name);
    cl_buf_init(&jpath);
    cl_buf_printf(&name, "%s.ckpt-%lld.gguf", base, (long long)c->global_step);
    cl_buf_printf(&jpath, "%s.ckpt.json", out_path);
    char *wpath = beside(out_path, name.data);
    cl_status st = wpath ? cl__ft_save_model(model, meta_src, wpath, chat_template, err)
                         : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    free(wpath);
    if (st == CL_OK) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "fingerprint", c->fingerprint);
        cJSON_AddNumberToObject(j, "epoch", c->epoch);
        cJSON_AddNumberToObject(j, "step", (double)c->step);
        cJSON_AddNumberToObject(j, "global_step", (double)c->global_step);
        cJSON_AddStringToObject(j, "file", name.data);
        const char *names[2] = {"train_loss", "dev_loss"};
        double *src[2] = {c->train_loss, c->dev_loss};
        for (int a = 0; a < 2; a++) {
            cJSON *arr = cJSON_AddArrayToObject(j, names[a]);
            for (int32_t i = 0; i < epochs_known && i < 64; i++)
                cJSON_AddItemToArray(arr, isnan(src[a][i]) ? cJSON_CreateNull()
                                                           : cJSON_CreateNumber(src[a][i]));
        }
        char *text = cJSON_Print(j);
        cJSON_Delete(j);
        cl_atomic_file f;
        if (!text)
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        else if ((st = cl_atomic_open(&f, jpath.data, err)) == CL_OK) {
            fputs(text, f.fp);
            fputc('\n', f.fp);
            st = cl_atomic_commit(&f, err);
        }
        free(text);
    }
    if (st == CL_OK) {
        if (c->file && strcmp(c->file, name.data) != 0 && !keep_old) {
            char *old = beside(out_path, c->file);
            if (old)
                unlink(old);
            free(old);
        }
        free(c->file);
        c->file = cl_buf_detach(&name);
    }
    cl_buf_free(&name);
    cl_buf_free(&jpath);
    return st;
}

/* ---- training ---- */

typedef struct trainer {
    const cl_finetune_params *p;
    struct llama_context *ctx;
    ggml_opt_dataset_t ds;
    ggml_opt_result_t res;
    int32_t n_vocab;
    opt_ud opt;
} trainer;

/* One window through llama_opt_epoch (train: one optimizer step); returns
 * the mean loss per counted position. */
static double run_window(trainer *t, const ft_windows *w, int32_t win, bool train)
{
    struct ggml_tensor *data = ggml_opt_dataset_data(t->ds);
    struct ggml_tensor *labels = ggml_opt_dataset_labels(t->ds);
    const llama_token *toks = w->tokens + (size_t)win * (size_t)(w->n_ctx + 1);
    memcpy(data->data, toks, sizeof(int32_t) * (size_t)w->n_ctx);
    cl__ft_window_labels(w, win, t->n_vocab, (int32_t *)labels->data);
    ggml_opt_result_reset(t->res);
    llama_opt_epoch(t->ctx, t->ds, t->res, t->res, train ? 1 : 0, NULL, NULL);
    double loss, unc;
    ggml_opt_result_loss(t->res, &loss, &unc);
    int32_t counted = w->counted[win] + (w->mask[(size_t)win * (size_t)w->n_ctx] ? 0 : 1);
    return loss * (double)w->n_ctx / (double)counted;
}

/* Whether the run stops here: its time limit passed, or p->stop asks;
 * res says which. */
static bool cut_short(const cl_finetune_params *p, double trained_s, cl_finetune_result *res)
{
    res->stopped_by_time = p->time_limit_s > 0 && trained_s >= p->time_limit_s;
    res->stopped_by_request = !res->stopped_by_time && p->stop && p->stop(p->stop_ctx);
    return res->stopped_by_time || res->stopped_by_request;
}

static void note_choices(const cl_finetune_params *p, const cl_ft_choices *c)
{
    if (c->n[0] + c->n[1] + c->n[2] == 0)
        return;
    double pct[3], whole[3];
    for (int k = 0; k < 3; k++) {
        pct[k] = c->n[k] ? 100.0 * (double)c->right[k] / (double)c->n[k] : 0;
        whole[k] = c->n[k] ? 100.0 * (double)c->whole[k] / (double)c->n[k] : 0;
    }
    cl_logf(p->log, p->log_ctx, "dev label choices right (greedy first label token after the gold lines): "
            "O %lld/%lld (%.1f%%), B- %lld/%lld (%.1f%%), I- %lld/%lld (%.1f%%); "
            "whole label, type too: O %.1f%%, B- %.1f%%, I- %.1f%%",
         (long long)c->right[0], (long long)c->n[0], pct[0], (long long)c->right[1],
         (long long)c->n[1], pct[1], (long long)c->right[2], (long long)c->n[2], pct[2], whole[0],
         whole[1], whole[2]);
}

/* Mean loss per counted position over the dev windows (no update), and
 * the label choices (*ch) from the greedy predictions ggml keeps. */
static double eval_dev(trainer *t, const ft_windows *dw, int32_t ep, int64_t gstep,
                       double t_start, cl_ft_choices *ch)
{
    const cl_finetune_params *p = t->p;
    double dsum = 0;
    int64_t dpos = 0;
    double t_dev = cl_now();
    memset(ch, 0, sizeof *ch);
    int32_t *pred = malloc(sizeof *pred * (size_t)dw->n_ctx);
    for (int32_t w = 0; w < dw->n; w++) {
        double loss = run_window(t, dw, w, false);
        dsum += loss * dw->counted[w];
        dpos += dw->counted[w];
        int64_t ndata = 0;
        ggml_opt_result_ndata(t->res, &ndata);
        if (pred && ndata == dw->n_ctx) {
            ggml_opt_result_pred(t->res, pred);
            cl__ft_window_choices(dw, w, pred, ch);
        }
        if (p->progress) {
            double now = cl_now();
            cl_ft_progress pr = {
                .train = false,
                .epoch = ep + 1,
                .epochs = p->epochs,
                .step = w + 1,
                .nsteps = dw->n,
                .global_step = gstep,
                .loss = dpos ? dsum / (double)dpos : loss,
                .last_loss = loss,
                .lr = t->opt.lr,
                .tokens_per_s = (double)(w + 1) * p->n_ctx / (now - t_dev),
                .eta_s = -1,
                .elapsed_s = now - t_start,
            };
            p->progress(p->progress_ctx, &pr);
        }
    }
    free(pred);
    return dpos ? dsum / (double)dpos : NAN;
}

/* ---- one fine-tuning run, phase by phase ---- */

/* Everything a run holds, freed by ft_run_free. */
typedef struct ft_run {
    const cl_finetune_params *p;
    cl_finetune_result *res;
    int32_t threads;
    char *f32, *cache_default, *load_path;
    uint64_t fingerprint; /* weights and options; the examples are added to it */
    bool found;           /* resuming from checkpoint ck */
    ckpt ck;
    cl_llama_model *rm;   /* the tagging backend's handle: renders the examples */
    cl_prompt_builder *b;
    ft_set tr, dv;
    struct llama_model *model;
    trainer t;
    filter_ud fu; /* which tensors train (the optimizer's filter reads it) */
    int32_t *order;
    double t_start;
    /* the schedule */
    int64_t nsteps, warm, rewarm, gstep, steps_this_session;
    double t_train;
    bool cut; /* stopped before the last epoch's end: time limit or p->stop */
} ft_run;

static void ft_run_free(ft_run *r)
{
    free(r->order);
    if (r->t.res)
        ggml_opt_result_free(r->t.res);
    if (r->t.ds)
        ggml_opt_dataset_free(r->t.ds);
    if (r->t.ctx)
        llama_free(r->t.ctx);
    if (r->model)
        llama_model_free(r->model);
    cl_llama_model_free(r->rm);
    cl_prompt_builder_free(r->b);
    ft_set_free(&r->tr);
    ft_set_free(&r->dv);
    free(r->ck.file);
    free(r->load_path);
    free(r->f32);
    free(r->cache_default);
}

static cl_status check_finetune_params(const cl_finetune_params *p, const cl_corpus *dev,
                                       cl_error *err)
{
    if (!p->model_path || !p->out_path)
        return cl_error_set(err, CL_ERR_ARG, "finetune: a model and an output path are needed");
    if (p->epochs < 0 || p->epochs > 1000)
        return cl_error_set(err, CL_ERR_ARG, "epochs must be in 0..1000 (got %d)", p->epochs);
    if (p->epochs == 0 && !dev)
        return cl_error_set(err, CL_ERR_ARG, "epochs 0 (validation only) needs dev examples");
    /* llama.cpp rounds a context up to a multiple of 256 and llama_opt_epoch
     * reads whole contexts from the dataset: the window must be exactly one. */
    if (p->n_ctx < 256 || p->n_ctx > 32768 || p->n_ctx % 256 != 0)
        return cl_error_set(err, CL_ERR_ARG,
                            "n_ctx must be a multiple of 256 in 256..32768 (got %d)", p->n_ctx);
    if (!(p->lr > 0) || p->lr_min < 0 || p->lr_min > p->lr)
        return cl_error_set(err, CL_ERR_ARG, "lr must be > 0 and 0 <= lr_min <= lr");
    if (p->warmup < 0 || p->warmup >= 1 || p->weight_decay < 0 || p->weight_decay > 1)
        return cl_error_set(err, CL_ERR_ARG, "warmup must be in [0,1), weight_decay in [0,1]");
    if (p->tensors == CL_FT_TENSORS_LAST && p->last_n < 1)
        return cl_error_set(err, CL_ERR_ARG, "tensors last:N needs N >= 1");
    return CL_OK;
}

/* The F32 weights (converted once, cached), the fingerprint of weights and
 * options, and the checkpoint to resume from: r->load_path is what to load. */
static cl_status find_start(ft_run *r, cl_error *err)
{
    const cl_finetune_params *p = r->p;
    const char *cache = p->cache_dir;
    if (!cache && (r->cache_default = cl_default_cache_dir("f32")))
        cache = r->cache_default;
    if (!cache) { /* no cache folder can be named: beside the output */
        const char *slash = strrchr(p->out_path, '/');
        r->cache_default = slash ? cl_strndup(p->out_path, (size_t)(slash - p->out_path) + 1)
                                 : cl_strdup(".");
        cache = r->cache_default ? r->cache_default : ".";
    }
    cl_status st = cl_ft_f32_model(p->model_path, cache, r->threads, &r->f32, p->log, p->log_ctx,
                                   err);
    if (st != CL_OK)
        return st;
    /* Fingerprint: the F32 weights, the options that shape training, and
     * (build_examples) every example text. */
    char mhash[17];
    if ((st = cl__ft_file_hash(r->f32, mhash, err)) != CL_OK)
        return st;
    uint64_t fph = cl_fnv1a64(CL_FNV64_INIT, mhash, 16);
    char opts[512];
    snprintf(opts, sizeof opts, "t%d/%d l%d s%d lr%.9g/%.9g w%.6g wd%.6g c%d p%d m%d d%d r%u",
             p->tensors, p->last_n, p->loss, p->schedule, p->lr, p->lr_min, p->warmup,
             p->weight_decay, p->n_ctx, p->pack, p->max_examples, p->max_dev, p->seed);
    fph = cl_fnv1a64(fph, opts, strlen(opts));
    /* only when given, so runs without it keep their fingerprints */
    if (p->chat_template)
        fph = cl_fnv1a64(fph, p->chat_template, strlen(p->chat_template));
    r->fingerprint = fph;

    if (p->resume && (st = ckpt_read(p->out_path, &r->ck, &r->found, err)) != CL_OK)
        return st;
    if (p->resume && !r->found)
        cl_logf(p->log, p->log_ctx, "no checkpoint for %s: starting from the beginning",
                p->out_path);
    if (!p->resume) {
        /* A fresh run replaces an earlier run's checkpoint: remember its
         * weights file so the first checkpoint of this run removes it. */
        ckpt old;
        bool had = false;
        cl_error e2;
        if (ckpt_read(p->out_path, &old, &had, &e2) == CL_OK && had)
            r->ck.file = old.file;
    }
    r->load_path = r->found ? beside(p->out_path, r->ck.file) : cl_strdup(r->f32);
    if (!r->load_path)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (r->found && access(r->load_path, R_OK) != 0)
        return cl_error_set(err, CL_ERR_IO, "checkpoint weights %s: %s", r->load_path,
                            strerror(errno));
    return CL_OK;
}

/* The training and dev examples, rendered and tokenized by the llama
 * backend's own model handle exactly as `clinner tag` will; the checkpoint
 * must be of the same examples. */
static cl_status build_examples(ft_run *r, const cl_corpus *train, const cl_corpus *dev,
                                cl_error *err)
{
    const cl_finetune_params *p = r->p;
    cl_prompt_params pp = cl_prompt_default_params();
    pp.strategy = CL_STRATEGY_ZERO_SHOT;
    pp.types = p->types;
    pp.ntypes = p->ntypes;
    cl_status st = cl_prompt_builder_new(&pp, &r->b, err);
    if (st == CL_OK)
        st = cl_llama_model_load(p->model_path, p->verbose, &r->rm, err);
    if (st != CL_OK)
        return st;
    if (p->chat_template &&
        (st = cl_llama_model_set_template(r->rm, p->chat_template, err)) != CL_OK)
        return st;
    if (!p->chat_template && !cl_llama_model_has_template(r->rm))
        cl_logf(p->log, p->log_ctx,
                "%s has no chat template llama.cpp can apply: the examples use the plain "
                "'### System: / ### User: / ### Assistant:' layout, as `clinner tag` will",
                p->model_path);
    uint64_t h = r->fingerprint;
    /* Training counts every token, whatever p->loss says: ggml's cross-entropy
     * backward computes softmax - label per row, which is the gradient only
     * when the row's label sums to 1.  A masked row (all zeros, see
     * finetune.h) gets softmax as its gradient - a push towards a flat
     * distribution at every masked position, about 9 positions in 10 here -
     * so masking is right for the loss value (validation) and wrong for
     * training.  p->loss chooses what the dev loss counts. */
    if ((st = build_set(train, p->max_examples, p->seed, true, r->rm, r->b, p, CL_FT_LOSS_ALL,
                        &r->tr, &h, err)) != CL_OK)
        return st;
    char fp_now[17];
    snprintf(fp_now, sizeof fp_now, "%016llx", (unsigned long long)h);
    if (r->found && strcmp(fp_now, r->ck.fingerprint) != 0)
        return cl_error_set(err, CL_ERR_ARG,
                            "%s.ckpt.json: the checkpoint is of another run (model, data or "
                            "options differ; only the epochs may change): remove it or do not "
                            "resume",
                            p->out_path);
    memcpy(r->ck.fingerprint, fp_now, 17);
    if (r->tr.win.n == 0 && p->epochs > 0)
        return cl_error_set(err, CL_ERR_ARG,
                            "no training example fits a window of %d tokens (%d sentences, %d "
                            "longer): raise n_ctx",
                            p->n_ctx, r->tr.n, r->tr.skipped);
    uint64_t hd = 0;
    if (dev && (st = build_set(dev, p->max_dev, p->seed, false, r->rm, r->b, p, p->loss, &r->dv,
                               &hd, err)) != CL_OK)
        return st;
    cl_llama_model_free(r->rm);
    r->rm = NULL;
    cl_finetune_result *res = r->res;
    res->examples = r->tr.n - r->tr.skipped;
    res->skipped = r->tr.skipped;
    res->windows = r->tr.win.n;
    res->label_positions = r->tr.counted;
    res->dev_examples = r->dv.n - r->dv.skipped;
    cl_logf(p->log, p->log_ctx,
            "training set: %d examples of %.0f model tokens on average (longest %d; %d longer "
            "than the context of %d left out) in %d windows, %lld positions (training loss: "
            "every token); dev: %d examples in %d windows, %lld positions (dev loss: %s)",
            res->examples, r->tr.n ? (double)r->tr.tok_sum / r->tr.n : 0.0, r->tr.tok_max,
            r->tr.skipped, p->n_ctx, r->tr.win.n, (long long)r->tr.counted, res->dev_examples,
            r->dv.win.n, (long long)r->dv.counted, cl_ft_loss_name(p->loss));
    return CL_OK;
}

/* Memory: estimate, print, refuse when it will not fit. */
static cl_status check_memory(ft_run *r, cl_error *err)
{
    const cl_finetune_params *p = r->p;
    ft_mem m;
    cl_status st = cl__ft_estimate_memory(r->f32, p->tensors, p->last_n, p->n_ctx, &m, err);
    if (st != CL_OK)
        return st;
    r->res->mem_estimate = m.total;
    r->res->n_params = m.n_params;
    r->res->n_trained = m.n_trained;
    int64_t avail = p->mem_limit > 0 ? p->mem_limit : cl__ft_mem_available();
    const double G = 1024.0 * 1024.0 * 1024.0;
    cl_logf(p->log, p->log_ctx,
            "memory estimate: %.2f GiB (weights %.2f, gradients+AdamW %.2f for %lld of %lld "
            "parameters, activations %.2f, logits %.2f, KV %.2f); available %.2f GiB",
            m.total / G, m.weights / G, m.optimizer / G, (long long)m.n_trained,
            (long long)m.n_params, m.activations / G, m.logits / G, m.kv / G,
            avail > 0 ? avail / G : -1.0);
    if (m.n_trained == 0)
        return cl_error_set(err, CL_ERR_ARG, "the tensors to train select none of this model");
    if (avail > 0 && m.total > avail)
        return cl_error_set(err, CL_ERR_NOMEM,
                            "training needs about %.2f GiB but only %.2f GiB are available: use "
                            "a smaller context, fewer tensors to train, or a smaller model",
                            m.total / G, avail / G);
    return CL_OK;
}

/* The model to train, its training context, optimizer and dataset. */
static cl_status open_training(ft_run *r, cl_error *err)
{
    const cl_finetune_params *p = r->p;
    struct llama_model_params mp = llama_model_default_params();
    mp.load_mode = LLAMA_LOAD_MODE_NONE; /* the optimizer writes the weights */
    mp.n_gpu_layers = p->gpu_layers < 0 ? 999 : p->gpu_layers;
    r->model = llama_model_load_from_file(r->load_path, mp);
    if (!r->model)
        return cl_error_set(err, CL_ERR_MODEL, "%s: cannot load the model", r->load_path);
    const struct llama_vocab *vocab = llama_model_get_vocab(r->model);
    trainer *t = &r->t;
    t->n_vocab = llama_vocab_n_tokens(vocab);
    if ((int64_t)p->n_ctx * t->n_vocab >= INT32_MAX)
        return cl_error_set(err, CL_ERR_ARG,
                            "a context of %d tokens is too large for a vocabulary of %d tokens",
                            p->n_ctx, t->n_vocab);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)p->n_ctx;
    cp.n_seq_max = 1;
    cp.n_threads = cp.n_threads_batch = r->threads;
    cp.type_k = cp.type_v = GGML_TYPE_F32; /* OUT_PROD has no F16 backward */
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.no_perf = true;
    t->ctx = llama_init_from_model(r->model, cp);
    if (!t->ctx)
        return cl_error_set(err, CL_ERR_MODEL, "cannot create a training context of %d tokens",
                            p->n_ctx);
    r->fu = (filter_ud){p->tensors, p->last_n, llama_model_n_layer(r->model)};
    struct llama_opt_params op = {
        .n_ctx_train = 0,
        .param_filter = param_filter,
        .param_filter_ud = &r->fu,
        .get_opt_pars = opt_pars,
        .get_opt_pars_ud = &t->opt,
        .optimizer_type = GGML_OPT_OPTIMIZER_TYPE_ADAMW,
    };
    t->opt.lr = p->lr;
    t->opt.wd = p->weight_decay;
    llama_opt_init(t->ctx, r->model, op);
    t->ds = ggml_opt_dataset_init(GGML_TYPE_I32, GGML_TYPE_I32, p->n_ctx, p->n_ctx, 1, 1);
    t->res = ggml_opt_result_init();
    r->order = malloc(sizeof *r->order * (size_t)(r->tr.win.n ? r->tr.win.n : 1));
    if (!t->ds || !t->res || !r->order)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return CL_OK;
}

static void report_step(const ft_run *r, int32_t ep, int64_t s, int64_t first, double sum,
                        int64_t npos, double loss, double now, double t_ep)
{
    const cl_finetune_params *p = r->p;
    if (!p->progress)
        return;
    double step_s = (now - r->t_train) / (double)r->steps_this_session;
    cl_ft_progress pr = {
        .train = true,
        .epoch = ep + 1,
        .epochs = p->epochs,
        .step = s + 1,
        .nsteps = r->tr.win.n,
        .global_step = r->gstep,
        .loss = npos ? sum / (double)npos : loss,
        .last_loss = loss,
        .lr = r->t.opt.lr,
        .tokens_per_s = (double)(s + 1 - first) * p->n_ctx / (now - t_ep),
        .eta_s = step_s * ((double)(r->nsteps - r->gstep) + 0.35 * r->dv.win.n * (p->epochs - ep)),
        .elapsed_s = now - r->t_start,
    };
    p->progress(p->progress_ctx, &pr);
}

/* What may follow training step s of epoch ep: a dev validation, a
 * checkpoint (p->dev_every, p->save_every). */
static cl_status after_step(ft_run *r, int32_t ep, int64_t s, cl_error *err)
{
    const cl_finetune_params *p = r->p;
    if (s + 1 >= r->tr.win.n)
        return CL_OK; /* the epoch's end does both */
    if (p->dev_every > 0 && r->gstep % p->dev_every == 0 && r->dv.win.n > 0) {
        cl_ft_choices ch;
        double d = eval_dev(&r->t, &r->dv.win, ep, r->gstep, r->t_start, &ch);
        cl_logf(p->log, p->log_ctx, "dev validation after step %lld: loss %.4f",
                (long long)r->gstep, d);
        note_choices(p, &ch);
    }
    if (p->save_every > 0 && r->gstep % p->save_every == 0) {
        r->ck.epoch = ep;
        r->ck.step = s + 1;
        r->ck.global_step = r->gstep;
        cl_status st = ckpt_write(p->out_path, r->model, r->f32, p->chat_template, &r->ck, ep,
                                  p->keep_checkpoints, err);
        if (st != CL_OK)
            return st;
        cl_logf(p->log, p->log_ctx, "checkpoint: epoch %d step %lld -> %s", ep + 1,
                (long long)(s + 1), r->ck.file);
    }
    return CL_OK;
}

/* The end of epoch ep (cut short after last_step windows, or whole): dev
 * loss, the checkpoint, a note. */
static cl_status end_epoch(ft_run *r, int32_t ep, int64_t first, int64_t last_step, double tl,
                           double t_ep, cl_error *err)
{
    const cl_finetune_params *p = r->p;
    cl_finetune_result *res = r->res;
    double dl = NAN;
    if (r->dv.win.n > 0) {
        dl = eval_dev(&r->t, &r->dv.win, ep, r->gstep, r->t_start, &res->dev_choices);
        note_choices(p, &res->dev_choices);
    }
    if (ep < 64) {
        /* a resumed or cut epoch's mean covers only the windows run this time */
        r->ck.train_loss[ep] = first == 0 && last_step == r->tr.win.n ? tl : NAN;
        r->ck.dev_loss[ep] = dl;
    }
    r->ck.epoch = r->cut ? ep : ep + 1;
    r->ck.step = r->cut ? last_step : 0;
    r->ck.global_step = r->gstep;
    cl_status st = ckpt_write(p->out_path, r->model, r->f32, p->chat_template, &r->ck, ep + 1,
                              p->keep_checkpoints, err);
    if (st != CL_OK)
        return st;
    const char *why = res->stopped_by_time ? "time limit" : "stop requested";
    if (r->cut) {
        res->train_loss[ep < 64 ? ep : 63] = tl;
        cl_logf(p->log, p->log_ctx,
                "%s: stopped in epoch %d/%d after step %lld of %d (%lld of %lld steps in all): "
                "train loss %.4f, dev loss %.4f; checkpoint %s (resuming continues)",
                why, ep + 1, p->epochs, (long long)last_step, r->tr.win.n, (long long)r->gstep,
                (long long)r->nsteps, tl, dl, r->ck.file);
        return CL_OK;
    }
    cl_logf(p->log, p->log_ctx, "epoch %d/%d: train loss %.4f, dev loss %.4f, %.0f s; checkpoint %s",
            ep + 1, p->epochs, tl, dl, cl_now() - t_ep, r->ck.file);
    if (ep + 1 < p->epochs && (r->cut = cut_short(p, cl_now() - r->t_train, res)))
        cl_logf(p->log, p->log_ctx, "%s: stopped after epoch %d/%d (resuming continues)",
                res->stopped_by_time ? "time limit" : "stop requested", ep + 1, p->epochs);
    return CL_OK;
}

/* One epoch from window first on (a resumed epoch starts inside). */
static cl_status run_epoch(ft_run *r, int32_t ep, int64_t first, cl_error *err)
{
    const cl_finetune_params *p = r->p;
    int32_t n = r->tr.win.n;
    for (int32_t i = 0; i < n; i++)
        r->order[i] = i;
    shuffle(r->order, n, (uint64_t)p->seed * 1000003ull + (uint64_t)ep);
    double sum = 0;
    int64_t npos = 0;
    double t_ep = cl_now();
    int64_t last_step = n; /* < n when the time limit cut the epoch */
    for (int64_t s = first; s < n; s++) {
        r->t.opt.lr = cl_ft_lr_at(p->schedule, p->lr, p->lr_min, r->warm, r->gstep, r->nsteps);
        if (r->found)
            r->t.opt.lr = cl_ft_lr_resumed(r->t.opt.lr, r->steps_this_session, r->rewarm);
        double loss = run_window(&r->t, &r->tr.win, r->order[s], true);
        if (isnan(r->res->first_loss))
            r->res->first_loss = loss;
        int32_t c = r->tr.win.counted[r->order[s]];
        sum += loss * c;
        npos += c;
        r->gstep++;
        r->steps_this_session++;
        double now = cl_now();
        report_step(r, ep, s, first, sum, npos, loss, now, t_ep);
        if (s + 1 < n && (r->cut = cut_short(p, now - r->t_train, r->res))) {
            last_step = s + 1;
            break;
        }
        cl_status st = after_step(r, ep, s, err);
        if (st != CL_OK)
            return st;
    }
    return end_epoch(r, ep, first, last_step, npos ? sum / (double)npos : NAN, t_ep, err);
}

/* The epochs (or, with none, the dev loss of the model as it is). */
static cl_status train_epochs(ft_run *r, bool *validated_only, cl_error *err)
{
    const cl_finetune_params *p = r->p;
    cl_finetune_result *res = r->res;
    ckpt *ck = &r->ck;
    r->nsteps = (int64_t)p->epochs * r->tr.win.n;
    r->warm = (int64_t)(p->warmup * (double)r->nsteps);
    int32_t start_epoch = r->found ? ck->epoch : 0;
    int64_t start_step = r->found ? ck->step : 0;
    r->gstep = r->found ? ck->global_step : 0;
    if (!r->found)
        for (int i = 0; i < 64; i++)
            ck->train_loss[i] = ck->dev_loss[i] = NAN;
    r->rewarm = r->warm > CL_FT_REWARM_STEPS ? r->warm : CL_FT_REWARM_STEPS;
    if (r->found)
        cl_logf(p->log, p->log_ctx,
                "resuming after epoch %d step %lld (global step %lld) from %s; AdamW moments "
                "restart from zero, so the learning rate warms up again over %lld steps",
                ck->epoch, (long long)ck->step, (long long)ck->global_step, ck->file,
                (long long)r->rewarm);
    if (p->epochs > 0 && start_epoch >= p->epochs)
        cl_logf(p->log, p->log_ctx, "the checkpoint has done all %d epochs already", p->epochs);
    res->start_epoch = start_epoch + 1;
    *validated_only = p->epochs == 0;
    if (p->epochs == 0) {
        /* Validation only: the model's dev loss as it is; nothing written. */
        res->dev_loss[0] = eval_dev(&r->t, &r->dv.win, 0, 0, r->t_start, &res->dev_choices);
        cl_logf(p->log, p->log_ctx, "dev loss of %s: %.4f (%d windows, validation only)",
                r->found ? ck->file : p->model_path, res->dev_loss[0], r->dv.win.n);
        note_choices(p, &res->dev_choices);
        return CL_OK;
    }
    r->t_train = cl_now();
    res->steps_total = r->nsteps;
    for (int32_t ep = start_epoch; ep < p->epochs && !r->cut; ep++) {
        cl_status st = run_epoch(r, ep, ep == start_epoch ? start_step : 0, err);
        if (st != CL_OK)
            return st;
    }
    res->steps_done = r->gstep;
    for (int i = 0; i < 64; i++) {
        if (!(r->cut && isnan(ck->train_loss[i]) && !isnan(res->train_loss[i])))
            res->train_loss[i] = ck->train_loss[i];
        res->dev_loss[i] = ck->dev_loss[i];
    }
    res->epochs_done = r->cut ? ck->epoch + 1 : ck->epoch > p->epochs ? ck->epoch : p->epochs;
    return CL_OK;
}

/* The final model: the last checkpoint's weights, linked (or saved) to the
 * output path atomically, or converted to the asked type. */
static cl_status write_result(ft_run *r, cl_error *err)
{
    const cl_finetune_params *p = r->p;
    cl_status st = CL_OK;
    char *cpath = r->ck.file ? beside(p->out_path, r->ck.file) : NULL;
    cl_buf tmp;
    cl_buf_init(&tmp);
    cl_buf_printf(&tmp, "%s.tmp.%ld", p->out_path, (long)getpid());
    unlink(tmp.data);
    if (cpath && p->out_type != CL_FT_OUT_F32) {
        llama_model_quantize_params qp = llama_model_quantize_default_params();
        qp.nthread = r->threads;
        qp.ftype = p->out_type == CL_FT_OUT_F16 ? LLAMA_FTYPE_MOSTLY_F16 : LLAMA_FTYPE_MOSTLY_Q8_0;
        if (llama_model_quantize(cpath, tmp.data, &qp) != 0)
            st = cl_error_set(err, CL_ERR_MODEL, "%s: conversion of the result failed", cpath);
        else if (rename(tmp.data, p->out_path) != 0)
            st = cl_error_set(err, CL_ERR_IO, "%s: %s", p->out_path, strerror(errno));
        if (st != CL_OK)
            unlink(tmp.data);
    } else if (cpath && link(cpath, tmp.data) == 0) {
        if (rename(tmp.data, p->out_path) != 0) {
            st = cl_error_set(err, CL_ERR_IO, "%s: %s", p->out_path, strerror(errno));
            unlink(tmp.data);
        }
    } else {
        st = cl__ft_save_model(r->model, r->f32, p->out_path, p->chat_template, err);
    }
    free(cpath);
    cl_buf_free(&tmp);
    return st;
}

cl_status cl_finetune(const cl_finetune_params *p, const cl_corpus *train, const cl_corpus *dev,
                      cl_finetune_result *res, cl_error *err)
{
    memset(res, 0, sizeof *res);
    for (int i = 0; i < 64; i++)
        res->train_loss[i] = res->dev_loss[i] = NAN;
    res->first_loss = NAN;
    cl_status st = check_finetune_params(p, dev, err);
    if (st != CL_OK)
        return st;
    ft_run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.res = res;
    r.t.p = p;
    r.t_start = cl_now();
    cl_llm_init_backend(p->verbose);
    r.threads = p->threads > 0 ? p->threads : (int32_t)sysconf(_SC_NPROCESSORS_ONLN);
    if (r.threads < 1)
        r.threads = 1;
    bool validated_only = false;
    if ((st = find_start(&r, err)) == CL_OK && (st = build_examples(&r, train, dev, err)) == CL_OK &&
        (st = check_memory(&r, err)) == CL_OK && (st = open_training(&r, err)) == CL_OK &&
        (st = train_epochs(&r, &validated_only, err)) == CL_OK && !validated_only)
        st = write_result(&r, err);
    res->seconds = cl_now() - r.t_start;
    ft_run_free(&r);
    return st;
}
