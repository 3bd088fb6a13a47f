/*
 * dict.c - the string -> dense id dictionary behind the CRF's attributes and
 * gazetteer.  Open addressing with linear probing over FNV-1a hashes; ids
 * are assigned in insertion order, so a dictionary built from the same data
 * in the same order is identical (training is deterministic) and ids can be
 * written to the model file as a plain list of strings.
 */
#include <stdlib.h>
#include <string.h>

#include "crf/crf_internal.h"
#include "clinner/util.h"

void cl__crf_dict_init(crf_dict *d) { memset(d, 0, sizeof *d); }

void cl__crf_dict_free(crf_dict *d)
{
    for (int32_t i = 0; i < d->n; i++)
        free(d->keys[i]);
    free(d->keys);
    free(d->klen);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

int32_t cl__crf_dict_find(const crf_dict *d, const char *key, size_t n)
{
    if (!d->nslots)
        return -1;
    uint32_t mask = d->nslots - 1;
    uint32_t i = (uint32_t)cl_fnv1a64(CL_FNV64_INIT, key, n) & mask;
    for (;;) {
        int32_t id = d->slots[i];
        if (id < 0)
            return -1;
        if (d->klen[id] == n && memcmp(d->keys[id], key, n) == 0)
            return id;
        i = (i + 1) & mask;
    }
}

static int rehash(crf_dict *d, uint32_t nslots)
{
    int32_t *slots = malloc((size_t)nslots * sizeof *slots);
    if (!slots)
        return -1;
    memset(slots, 0xff, (size_t)nslots * sizeof *slots);
    uint32_t mask = nslots - 1;
    for (int32_t id = 0; id < d->n; id++) {
        uint32_t i = (uint32_t)cl_fnv1a64(CL_FNV64_INIT, d->keys[id], d->klen[id]) & mask;
        while (slots[i] >= 0)
            i = (i + 1) & mask;
        slots[i] = id;
    }
    free(d->slots);
    d->slots = slots;
    d->nslots = nslots;
    return 0;
}

int32_t cl__crf_dict_intern(crf_dict *d, const char *key, size_t n, bool *added)
{
    if (added)
        *added = false;
    int32_t id = cl__crf_dict_find(d, key, n);
    if (id >= 0)
        return id;
    if ((uint64_t)(d->n + 1) * 2 > d->nslots) { /* load factor <= 1/2 */
        if (d->nslots >= (1u << 30) || rehash(d, d->nslots ? d->nslots * 2 : 1024) != 0)
            return -1;
    }
    if (d->n == d->cap) {
        int32_t cap = d->cap ? d->cap * 2 : 1024;
        char **k = realloc(d->keys, (size_t)cap * sizeof *k);
        if (!k)
            return -1;
        d->keys = k;
        uint32_t *l = realloc(d->klen, (size_t)cap * sizeof *l);
        if (!l)
            return -1;
        d->klen = l;
        d->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, key, n);
    copy[n] = '\0';
    id = d->n++;
    d->keys[id] = copy;
    d->klen[id] = (uint32_t)n;
    uint32_t mask = d->nslots - 1;
    uint32_t i = (uint32_t)cl_fnv1a64(CL_FNV64_INIT, key, n) & mask;
    while (d->slots[i] >= 0)
        i = (i + 1) & mask;
    d->slots[i] = id;
    if (added)
        *added = true;
    return id;
}
