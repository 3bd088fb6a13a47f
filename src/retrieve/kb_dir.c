/*
 * kb_dir.c - a knowledge base from a folder of plain-text articles (--kb
 * DIR; by default the RareDis training texts, standing in for the NORD
 * articles the paper retrieved from).  Kept apart from kb.c so that code
 * which only ranks passages does not pull in the tokenizers.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/retrieve.h"
#include "clinner/util.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

cl_status cl_kb_read_dir(cl_kb *kb, const char *dir, cl_tokenizer_kind kind,
                         int32_t chunk_tokens, cl_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open knowledge-base folder", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".txt") != 0 || e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                closedir(d);
                free_names(names, n);
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            }
            names = nn;
        }
        if (!(names[n] = cl_strdup(e->d_name))) {
            closedir(d);
            free_names(names, n);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        n++;
    }
    closedir(d);
    if (n == 0) {
        free(names);
        return cl_error_set(err, CL_ERR_IO, "%s: no .txt files in the knowledge-base folder", dir);
    }
    qsort(names, n, sizeof *names, cmp_str);
    cl_status st = CL_OK;
    for (size_t i = 0; i < n && st == CL_OK; i++) {
        char *path = cl_path_join(dir, names[i]);
        char *text = NULL;
        size_t len = 0;
        if (!path) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        st = cl_read_file(path, &text, &len, err);
        if (st == CL_OK) {
            names[i][strlen(names[i]) - 4] = '\0'; /* id: the file stem */
            cl_doc *doc;
            if (cl_doc_new(names[i], text, len, &doc, err) != CL_OK)
                st = cl_error_prefix(err, "%s: ", path);
            else {
                st = cl_tokenize_doc(doc, kind, err);
                if (st == CL_OK)
                    st = cl_kb_add_doc(kb, doc, chunk_tokens, err);
                if (st != CL_OK)
                    cl_error_prefix(err, "%s: ", path);
                cl_doc_free(doc);
            }
        }
        free(text);
        free(path);
    }
    free_names(names, n);
    return st;
}
