/*
 * safetensors.c - reading and writing the safetensors format of Hugging
 * Face weights: an 8-byte little-endian header length, a JSON header (name ->
 * dtype, shape, data_offsets; "__metadata__" -> string map), then the raw
 * tensors.  The file is mapped read-only; every byte range is checked against
 * the file size and against dtype x shape, so a truncated or hostile file is
 * an error, never an out-of-bounds read.  Writing goes through a temporary
 * file renamed into place.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clinner/encoder.h"
#include "clinner/util.h"

#define ST_MAX_HEADER (100u << 20)

struct cl_st_file {
    char *path;
    unsigned char *map;
    size_t size;
    const unsigned char *data; /* start of the data section */
    size_t data_size;
    cl_st_tensor *tensors;
    int32_t ntensors;
    char **meta_keys, **meta_vals;
    int32_t nmeta;
};

static size_t dtype_size(const char *dt)
{
    static const struct {
        const char *name;
        size_t size;
    } sizes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
                 {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (!strcmp(dt, sizes[i].name))
            return sizes[i].size;
    return 0;
}

static cl_status parse_tensor(cl_st_file *f, const cJSON *item, cl_st_tensor *t, cl_error *err)
{
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) ||
        cJSON_GetArraySize(offs) != 2)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: tensor '%s': needs dtype, shape and data_offsets[2]", f->path,
                            item->string);
    size_t esize = dtype_size(dt->valuestring);
    if (!esize || strlen(dt->valuestring) >= sizeof t->dtype)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", f->path,
                            item->string, dt->valuestring);
    strcpy(t->dtype, dt->valuestring);
    int nd = cJSON_GetArraySize(shape);
    if (nd > 4)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: tensor '%s': %d dimensions (at most 4)",
                            f->path, item->string, nd);
    t->ndim = nd;
    size_t count = 1;
    for (int i = 0; i < nd; i++) {
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e12)
            return cl_error_set(err, CL_ERR_FORMAT, "%s: tensor '%s': bad shape[%d]", f->path,
                                item->string, i);
        t->shape[i] = (int64_t)d->valuedouble;
        if (t->shape[i] && count > SIZE_MAX / 16 / (size_t)t->shape[i])
            return cl_error_set(err, CL_ERR_FORMAT, "%s: tensor '%s': shape too large", f->path,
                                item->string);
        count *= (size_t)t->shape[i];
    }
    const cJSON *b = cJSON_GetArrayItem(offs, 0), *e = cJSON_GetArrayItem(offs, 1);
    if (!cJSON_IsNumber(b) || !cJSON_IsNumber(e) || b->valuedouble < 0 ||
        e->valuedouble < b->valuedouble || e->valuedouble > (double)f->data_size)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets outside the file's %zu data bytes",
                            f->path, item->string, f->data_size);
    t->offset = (size_t)b->valuedouble;
    t->nbytes = (size_t)e->valuedouble - t->offset;
    if (t->nbytes != count * esize)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: tensor '%s': %zu bytes for %zu %s values", f->path,
                            item->string, t->nbytes, count, t->dtype);
    t->name = strdup(item->string);
    return t->name ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
}

static cl_status parse_meta(cl_st_file *f, const cJSON *meta, cl_error *err)
{
    int n = cJSON_GetArraySize(meta);
    f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
    f->meta_vals = calloc((size_t)n + 1, sizeof *f->meta_vals);
    if (!f->meta_keys || !f->meta_vals)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (const cJSON *m = meta->child; m; m = m->next) {
        if (!cJSON_IsString(m))
            return cl_error_set(err, CL_ERR_FORMAT, "%s: __metadata__ '%s' is not a string",
                                f->path, m->string);
        f->meta_keys[f->nmeta] = strdup(m->string);
        f->meta_vals[f->nmeta] = strdup(m->valuestring);
        if (!f->meta_keys[f->nmeta] || !f->meta_vals[f->nmeta])
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        f->nmeta++;
    }
    return CL_OK;
}

static cl_status parse_header(cl_st_file *f, cl_error *err)
{
    if (f->size < 8)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: too short for a safetensors file", f->path);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | f->map[i];
    if (hlen > ST_MAX_HEADER || hlen > f->size - 8)
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: header length %llu does not fit in the file (%zu bytes)",
                            f->path, (unsigned long long)hlen, f->size);
    f->data = f->map + 8 + hlen;
    f->data_size = f->size - 8 - (size_t)hlen;
    cJSON *root = cJSON_ParseWithLength((const char *)f->map + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    }
    cl_status st = CL_OK;
    int n = cJSON_GetArraySize(root);
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    if (!f->tensors)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (const cJSON *it = root->child; it && st == CL_OK; it = it->next) {
        if (!strcmp(it->string, "__metadata__"))
            st = cJSON_IsObject(it) ? parse_meta(f, it, err)
                                    : cl_error_set(err, CL_ERR_FORMAT,
                                                   "%s: __metadata__ is not an object", f->path);
        else if (!cJSON_IsObject(it))
            st = cl_error_set(err, CL_ERR_FORMAT, "%s: entry '%s' is not an object", f->path,
                              it->string);
        else if ((st = parse_tensor(f, it, &f->tensors[f->ntensors], err)) == CL_OK)
            f->ntensors++;
    }
    cJSON_Delete(root);
    return st;
}

cl_status cl_st_open(const char *path, cl_st_file **out, cl_error *err)
{
    *out = NULL;
    cl_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        cl_st_free(f);
        return cl_error_set(err, CL_ERR_IO, "%s: %s", path, strerror(e));
    }
    f->size = (size_t)sb.st_size;
    if (f->size > 0) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        f->map = m == MAP_FAILED ? NULL : m;
    }
    close(fd);
    if (!f->map && f->size > 0) {
        cl_st_free(f);
        return cl_error_set(err, CL_ERR_IO, "%s: cannot map the file", path);
    }
    cl_status st = parse_header(f, err);
    if (st != CL_OK) {
        cl_st_free(f);
        return st;
    }
    *out = f;
    return CL_OK;
}

void cl_st_free(cl_st_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->size);
    for (int32_t i = 0; i < f->ntensors; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    for (int32_t i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->path);
    free(f);
}

int32_t cl_st_count(const cl_st_file *f) { return f->ntensors; }

const cl_st_tensor *cl_st_at(const cl_st_file *f, int32_t i)
{
    return i >= 0 && i < f->ntensors ? &f->tensors[i] : NULL;
}

const cl_st_tensor *cl_st_find(const cl_st_file *f, const char *name)
{
    for (int32_t i = 0; i < f->ntensors; i++)
        if (!strcmp(f->tensors[i].name, name))
            return &f->tensors[i];
    return NULL;
}

const void *cl_st_data(const cl_st_file *f, const cl_st_tensor *t) { return f->data + t->offset; }

const char *cl_st_meta(const cl_st_file *f, const char *key)
{
    for (int32_t i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key))
            return f->meta_vals[i];
    return NULL;
}

/* ---- writer ---- */

typedef struct st_entry {
    char *name;
    char dtype[8];
    int32_t ndim;
    int64_t shape[4];
    const void *data;
    size_t nbytes;
} st_entry;

struct cl_st_writer {
    st_entry *e;
    int32_t n, cap;
    cJSON *meta;
};

cl_status cl_st_writer_new(cl_st_writer **out, cl_error *err)
{
    cl_st_writer *w = *out = calloc(1, sizeof *w);
    if (w && !(w->meta = cJSON_CreateObject())) {
        free(w);
        *out = NULL;
    }
    return *out ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
}

void cl_st_writer_free(cl_st_writer *w)
{
    if (!w)
        return;
    for (int32_t i = 0; i < w->n; i++)
        free(w->e[i].name);
    free(w->e);
    cJSON_Delete(w->meta);
    free(w);
}

cl_status cl_st_writer_add(cl_st_writer *w, const char *name, const char *dtype, int32_t ndim,
                           const int64_t *shape, const void *data, size_t nbytes, cl_error *err)
{
    if (ndim < 0 || ndim > 4 || !dtype_size(dtype) || strlen(dtype) >= 8)
        return cl_error_set(err, CL_ERR_ARG, "tensor '%s': bad dtype or ndim", name);
    if (w->n == w->cap) {
        int32_t nc = w->cap ? w->cap * 2 : 64;
        st_entry *ne = realloc(w->e, (size_t)nc * sizeof *ne);
        if (!ne)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        w->e = ne;
        w->cap = nc;
    }
    st_entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name)))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    strcpy(e->dtype, dtype);
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        e->shape[i] = shape[i];
    e->data = data;
    e->nbytes = nbytes;
    w->n++;
    return CL_OK;
}

cl_status cl_st_writer_meta(cl_st_writer *w, const char *key, const char *value, cl_error *err)
{
    cJSON_DeleteItemFromObjectCaseSensitive(w->meta, key);
    if (!cJSON_AddStringToObject(w->meta, key, value))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return CL_OK;
}

static char *writer_header(cl_st_writer *w)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddItemReferenceToObject(root, "__metadata__", w->meta);
    size_t off = 0;
    for (int32_t i = 0; i < w->n; i++) {
        cJSON *t = cJSON_AddObjectToObject(root, w->e[i].name);
        cJSON *shape = t ? cJSON_AddArrayToObject(t, "shape") : NULL;
        cJSON *offs = t ? cJSON_AddArrayToObject(t, "data_offsets") : NULL;
        if (!offs || !cJSON_AddStringToObject(t, "dtype", w->e[i].dtype)) {
            cJSON_Delete(root);
            return NULL;
        }
        for (int d = 0; d < w->e[i].ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)w->e[i].shape[d]));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        off += w->e[i].nbytes;
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

cl_status cl_st_write(cl_st_writer *w, const char *path, cl_error *err)
{
    char *hdr = writer_header(w);
    if (!hdr)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    size_t hlen = strlen(hdr), padded = (hlen + 7) / 8 * 8;
    cl_atomic_file af;
    cl_status st = cl_atomic_open(&af, path, err);
    if (st != CL_OK) {
        free(hdr);
        return st;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)(((uint64_t)padded >> (8 * i)) & 0xff);
    bool ok = fwrite(len8, 1, 8, af.fp) == 8 && fwrite(hdr, 1, hlen, af.fp) == hlen;
    for (size_t i = hlen; ok && i < padded; i++)
        ok = fputc(' ', af.fp) != EOF;
    for (int32_t i = 0; ok && i < w->n; i++)
        ok = fwrite(w->e[i].data, 1, w->e[i].nbytes, af.fp) == w->e[i].nbytes;
    free(hdr);
    if (!ok) {
        cl_atomic_abort(&af);
        return cl_error_set(err, CL_ERR_IO, "%s: write failed", path);
    }
    return cl_atomic_commit(&af, err);
}
