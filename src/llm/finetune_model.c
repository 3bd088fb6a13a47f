/*
 * finetune_model.c - the model files around training: the F32 copy that
 * llama.cpp's optimizer needs (converted once with llama_model_quantize and
 * cached under a name that carries the source file's hash), saving trained
 * weights atomically with the metadata llama_model_save_to_file leaves out,
 * which tensors a --train-tensors choice trains, and the memory estimate
 * printed (and enforced) before training starts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gguf.h>

#include "llm/finetune_internal.h"

static struct gguf_context *open_meta(const char *path, cl_error *err)
{
    struct gguf_init_params gp = {.no_alloc = true, .ctx = NULL};
    struct gguf_context *g = gguf_init_from_file(path, gp);
    if (!g)
        cl_error_set(err, CL_ERR_MODEL, "%s: not a readable GGUF model file", path);
    return g;
}

cl_status cl__ft_gguf_is_f32(const char *path, bool *is_f32, cl_error *err)
{
    struct gguf_context *g = open_meta(path, err);
    if (!g)
        return CL_ERR_MODEL;
    *is_f32 = true;
    for (int64_t i = 0; i < gguf_get_n_tensors(g); i++)
        if (gguf_get_tensor_type(g, i) != GGML_TYPE_F32)
            *is_f32 = false;
    gguf_free(g);
    return CL_OK;
}

cl_status cl__ft_file_hash(const char *path, char out[17], cl_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(errno));
    uint64_t h = 1469598103934665603ull;
    static const size_t CHUNK = 1 << 20;
    unsigned char *buf = malloc(CHUNK);
    if (!buf) {
        fclose(fp);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    size_t n;
    /* FNV-1a over 8-byte words (and the tail byte by byte): fast enough to
     * hash a model file each run. */
    while ((n = fread(buf, 1, CHUNK, fp)) > 0) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            memcpy(&w, buf + i, 8);
            h = (h ^ w) * 1099511628211ull;
        }
        for (; i < n; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
    }
    bool bad = ferror(fp);
    free(buf);
    fclose(fp);
    if (bad)
        return cl_error_set(err, CL_ERR_IO, "%s: read error", path);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return CL_OK;
}

cl_status cl_ft_f32_model(const char *model_path, const char *cache_dir, int32_t threads,
                          char **out, cl_log_fn log, void *log_ctx, cl_error *err)
{
    *out = NULL;
    bool f32;
    cl_status st = cl__ft_gguf_is_f32(model_path, &f32, err);
    if (st != CL_OK)
        return st;
    if (f32) {
        *out = cl_strdup(model_path);
        return *out ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    char hash[17];
    if ((st = cl__ft_file_hash(model_path, hash, err)) != CL_OK)
        return st;
    if ((st = cl_mkdir_p(cache_dir, err)) != CL_OK)
        return st;
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    size_t bl = strlen(base);
    if (bl > 5 && !strcmp(base + bl - 5, ".gguf"))
        bl -= 5;
    cl_buf name;
    cl_buf_init(&name);
    if (cl_buf_printf(&name, "%.*s-%s-f32.gguf", (int)bl, base, hash) != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    char *path = cl_path_join(cache_dir, name.data);
    cl_buf_free(&name);
    if (!path)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (access(path, R_OK) == 0) {
        *out = path;
        return CL_OK;
    }
    cl_buf tmp;
    cl_buf_init(&tmp);
    cl_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    if (log) {
        char msg[1200];
        snprintf(msg, sizeof msg, "converting %s to F32 (llama.cpp trains F32 weights): %s",
                 model_path, path);
        log(log_ctx, msg);
    }
    llama_model_quantize_params qp = llama_model_quantize_default_params();
    qp.nthread = threads;
    qp.ftype = LLAMA_FTYPE_ALL_F32;
    qp.allow_requantize = true;
    qp.output_tensor_type = GGML_TYPE_F32;
    qp.token_embedding_type = GGML_TYPE_F32;
    qp.pure = true;
    uint32_t r = llama_model_quantize(model_path, tmp.data, &qp);
    if (r != 0 || rename(tmp.data, path) != 0) {
        unlink(tmp.data);
        st = cl_error_set(err, CL_ERR_MODEL, "%s: conversion to F32 failed (%s)", model_path,
                          r ? "llama_model_quantize" : strerror(errno));
        free(path);
        cl_buf_free(&tmp);
        return st;
    }
    cl_buf_free(&tmp);
    *out = path;
    return CL_OK;
}

/* Copy key k of src into dst (scalar, string or array of either). */
static void copy_kv(struct gguf_context *dst, const struct gguf_context *src, int64_t k)
{
    const char *key = gguf_get_key(src, k);
    enum gguf_type t = gguf_get_kv_type(src, k);
    switch (t) {
    case GGUF_TYPE_UINT8: gguf_set_val_u8(dst, key, gguf_get_val_u8(src, k)); break;
    case GGUF_TYPE_INT8: gguf_set_val_i8(dst, key, gguf_get_val_i8(src, k)); break;
    case GGUF_TYPE_UINT16: gguf_set_val_u16(dst, key, gguf_get_val_u16(src, k)); break;
    case GGUF_TYPE_INT16: gguf_set_val_i16(dst, key, gguf_get_val_i16(src, k)); break;
    case GGUF_TYPE_UINT32: gguf_set_val_u32(dst, key, gguf_get_val_u32(src, k)); break;
    case GGUF_TYPE_INT32: gguf_set_val_i32(dst, key, gguf_get_val_i32(src, k)); break;
    case GGUF_TYPE_FLOAT32: gguf_set_val_f32(dst, key, gguf_get_val_f32(src, k)); break;
    case GGUF_TYPE_UINT64: gguf_set_val_u64(dst, key, gguf_get_val_u64(src, k)); break;
    case GGUF_TYPE_INT64: gguf_set_val_i64(dst, key, gguf_get_val_i64(src, k)); break;
    case GGUF_TYPE_FLOAT64: gguf_set_val_f64(dst, key, gguf_get_val_f64(src, k)); break;
    case GGUF_TYPE_BOOL: gguf_set_val_bool(dst, key, gguf_get_val_bool(src, k)); break;
    case GGUF_TYPE_STRING: gguf_set_val_str(dst, key, gguf_get_val_str(src, k)); break;
    case GGUF_TYPE_ARRAY: {
        enum gguf_type at = gguf_get_arr_type(src, k);
        size_t n = gguf_get_arr_n(src, k);
        if (at == GGUF_TYPE_STRING) {
            const char **v = malloc(sizeof *v * (n ? n : 1));
            if (!v)
                return;
            for (size_t i = 0; i < n; i++)
                v[i] = gguf_get_arr_str(src, k, i);
            gguf_set_arr_str(dst, key, v, n);
            free(v);
        } else if (at != GGUF_TYPE_ARRAY) {
            gguf_set_arr_data(dst, key, at, gguf_get_arr_data(src, k), n);
        }
        break;
    }
    default:
        break;
    }
}

/* Rewrite saved's metadata with what orig has and saved lacks (chat
 * template, names, ...) and orig's context length, into out_path; tensor
 * data is copied as is (offsets are relative to the data section). */
static cl_status fix_metadata(const char *saved, const char *orig, const char *out_path,
                              const char *chat_template, cl_error *err)
{
    cl_status st = CL_OK;
    struct gguf_context *gs = open_meta(saved, err);
    if (!gs)
        return CL_ERR_MODEL;
    struct gguf_context *go = open_meta(orig, err);
    if (!go) {
        gguf_free(gs);
        return CL_ERR_MODEL;
    }
    for (int64_t k = 0; k < gguf_get_n_kv(go); k++) {
        const char *key = gguf_get_key(go, k);
        size_t kl = strlen(key);
        bool ctxlen = kl > 15 && !strcmp(key + kl - 15, ".context_length");
        if (ctxlen || gguf_find_key(gs, key) < 0)
            copy_kv(gs, go, k);
    }
    if (chat_template && !strcmp(chat_template, CL_LLAMA_PLAIN_TEMPLATE_NAME))
        gguf_remove_key(gs, "tokenizer.chat_template");
    else if (chat_template)
        gguf_set_val_str(gs, "tokenizer.chat_template", chat_template);
    size_t meta = gguf_get_meta_size(gs);
    char *buf = malloc(meta ? meta : 1);
    FILE *in = fopen(saved, "rb"), *out = NULL;
    if (!buf || !in) {
        st = cl_error_set(err, !buf ? CL_ERR_NOMEM : CL_ERR_IO, "%s: %s", saved,
                          !buf ? "out of memory" : strerror(errno));
        goto done;
    }
    gguf_get_meta_data(gs, buf);
    out = fopen(out_path, "wb");
    if (!out || fwrite(buf, 1, meta, out) != meta) {
        st = cl_error_set(err, CL_ERR_IO, "%s: %s", out_path, strerror(errno));
        goto done;
    }
    if (fseek(in, (long)gguf_get_data_offset(gs), SEEK_SET) != 0) {
        st = cl_error_set(err, CL_ERR_IO, "%s: seek failed", saved);
        goto done;
    }
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
        if (fwrite(chunk, 1, n, out) != n) {
            st = cl_error_set(err, CL_ERR_IO, "%s: write error: %s", out_path, strerror(errno));
            goto done;
        }
    if (ferror(in))
        st = cl_error_set(err, CL_ERR_IO, "%s: read error", saved);
    if (st == CL_OK && (fflush(out) != 0 || fsync(fileno(out)) != 0))
        st = cl_error_set(err, CL_ERR_IO, "%s: %s", out_path, strerror(errno));
done:
    if (out && fclose(out) != 0 && st == CL_OK)
        st = cl_error_set(err, CL_ERR_IO, "%s: %s", out_path, strerror(errno));
    if (in)
        fclose(in);
    free(buf);
    gguf_free(gs);
    gguf_free(go);
    return st;
}

cl_status cl__ft_save_model(const struct llama_model *model, const char *orig_path, const char *path,
                        const char *chat_template, cl_error *err)
{
    cl_buf raw, fixed;
    cl_buf_init(&raw);
    cl_buf_init(&fixed);
    if (cl_buf_printf(&raw, "%s.raw.%ld", path, (long)getpid()) != 0 ||
        cl_buf_printf(&fixed, "%s.tmp.%ld", path, (long)getpid()) != 0) {
        cl_buf_free(&raw);
        cl_buf_free(&fixed);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    llama_model_save_to_file(model, raw.data);
    cl_status st = fix_metadata(raw.data, orig_path, fixed.data, chat_template, err);
    unlink(raw.data);
    if (st == CL_OK && rename(fixed.data, path) != 0)
        st = cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(errno));
    if (st != CL_OK)
        unlink(fixed.data);
    cl_buf_free(&raw);
    cl_buf_free(&fixed);
    return st;
}

bool cl__ft_tensor_trains(const char *name, cl_ft_tensors kind, int32_t last_n, int32_t n_layer)
{
    /* llama.cpp never trains these (see llama_set_param). */
    if (!strcmp(name, "token_embd.weight") || !strcmp(name, "rope_freqs.weight"))
        return false;
    switch (kind) {
    case CL_FT_TENSORS_ALL:
        return true;
    case CL_FT_TENSORS_LAST:
        if (!strncmp(name, "blk.", 4))
            return atoi(name + 4) >= n_layer - last_n;
        return !strncmp(name, "output", 6); /* output_norm.*, output.* */
    case CL_FT_TENSORS_NORMS_OUTPUT:
        return strstr(name, "_norm") != NULL || !strncmp(name, "output.", 7);
    }
    return false;
}

static int64_t meta_u32(const struct gguf_context *g, const char *arch, const char *suffix,
                        int64_t dflt)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t k = gguf_find_key(g, key);
    if (k < 0)
        return dflt;
    switch (gguf_get_kv_type(g, k)) {
    case GGUF_TYPE_UINT32: return gguf_get_val_u32(g, k);
    case GGUF_TYPE_INT32: return gguf_get_val_i32(g, k);
    case GGUF_TYPE_UINT64: return (int64_t)gguf_get_val_u64(g, k);
    case GGUF_TYPE_ARRAY: /* per-layer values: take the first */
        if (gguf_get_arr_type(g, k) == GGUF_TYPE_UINT32 && gguf_get_arr_n(g, k) > 0)
            return ((const uint32_t *)gguf_get_arr_data(g, k))[0];
        return dflt;
    default: return dflt;
    }
}

cl_status cl__ft_estimate_memory(const char *path, cl_ft_tensors kind, int32_t last_n, int32_t n_ctx,
                             ft_mem *m, cl_error *err)
{
    memset(m, 0, sizeof *m);
    struct gguf_context *g = open_meta(path, err);
    if (!g)
        return CL_ERR_MODEL;
    int64_t ka = gguf_find_key(g, "general.architecture");
    const char *arch = ka >= 0 ? gguf_get_val_str(g, ka) : "llama";
    int64_t n_layer = meta_u32(g, arch, "block_count", 1);
    int64_t n_embd = meta_u32(g, arch, "embedding_length", 1);
    int64_t n_ff = meta_u32(g, arch, "feed_forward_length", 4 * n_embd);
    int64_t n_head = meta_u32(g, arch, "attention.head_count", 1);
    int64_t n_head_kv = meta_u32(g, arch, "attention.head_count_kv", n_head);
    int64_t n_vocab = 0;
    int64_t kt = gguf_find_key(g, "tokenizer.ggml.tokens");
    if (kt >= 0)
        n_vocab = (int64_t)gguf_get_arr_n(g, kt);
    for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
        const int64_t *ne = gguf_get_tensor_ne(g, i);
        int64_t n = ne[0] * ne[1] * ne[2] * ne[3];
        m->n_params += n;
        m->weights += (int64_t)gguf_get_tensor_size(g, i);
        if (cl__ft_tensor_trains(gguf_get_tensor_name(g, i), kind, last_n, (int32_t)n_layer))
            m->n_trained += n;
    }
    gguf_free(g);
    int64_t T = n_ctx;
    /* Gradient accumulator and AdamW's two moments per trained weight. */
    m->optimizer = 12 * m->n_trained;
    /* Activations and their gradients as ggml's graph allocator lays them
     * out, per token and block: about n_head T floats of attention scores
     * plus 12 n_embd + 3 n_ff.  Fitted on the peak RSS of stories260K
     * (T 2048: 0.89 GB measured) and SmolLM2-135M (T 1024: 5.05 GB).
     * With only the last N blocks training, nothing flows back into the
     * frozen ones, so their activations are freed as the pass goes on:
     * about N + 2 blocks' worth stay (SmolLM2, T 1024: last:4 1.93 GiB
     * and last:2 1.70 GiB peak RSS, where counting every block said 4.08
     * and 4.00). */
    int64_t blocks = n_layer;
    if (kind == CL_FT_TENSORS_LAST && (int64_t)last_n + 2 < n_layer)
        blocks = (int64_t)last_n + 2;
    m->activations = 4 * T * blocks * (n_head * T + 12 * n_embd + 3 * n_ff);
    /* Logits, log-softmax, labels and the logits' gradient. */
    m->logits = 4 * 4 * T * n_vocab;
    m->kv = 2 * 4 * T * n_layer * n_embd * n_head_kv / (n_head ? n_head : 1);
    /* Runtime, graph metadata, the training data. */
    m->total = m->weights + m->optimizer + m->activations + m->logits + m->kv + (256ll << 20);
    return CL_OK;
}

int64_t cl__ft_mem_available(void)
{
    FILE *fp = fopen("/proc/meminfo", "r");
    if (!fp)
        return -1;
    char line[256];
    int64_t kb = -1;
    while (fgets(line, sizeof line, fp))
        if (!strncmp(line, "MemAvailable:", 13)) {
            kb = atoll(line + 13);
            break;
        }
    fclose(fp);
    return kb < 0 ? -1 : kb * 1024;
}
