/*
 * paths.c - where clinner's default files live (session.h): the shipped
 * model and the RareDis splits (the cache folder: util.h).
 *
 * One resolver for every command and for library users, so that `clinner
 * tag` in a build tree, an installed clinner and a C program linked against
 * libclinner find the same files.  The running program's location is read
 * from /proc/self/exe (Linux); CL_DATADIR is the install prefix's
 * share/clinner, compiled in by `make install`.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinner/session.h"
#include "clinner/util.h"

/* dir/rel when it exists (a file, or a folder when want_dir); else NULL. */
static char *existing(const char *dir, const char *rel, bool want_dir)
{
    char *p = cl_path_join(dir, rel);
    if (p && (want_dir ? cl_is_dir(p) : cl_is_file(p)))
        return p;
    free(p);
    return NULL;
}

/* The folder above the one holding the running program ("<repo>" for
 * <repo>/build/clinner, "<prefix>" for <prefix>/bin/clinner), or "". */
static void program_root(char *buf, size_t n)
{
    buf[0] = '\0';
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0) {
        buf[0] = '\0';
        return;
    }
    buf[len] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(buf, '/');
        if (!slash) {
            buf[0] = '\0';
            return;
        }
        *slash = '\0';
    }
}

char *cl_default_model_path(const char *name)
{
    const char *env = getenv("CLINNER_MODELS");
    if (env && *env)
        return existing(env, name, false);
    char root[PATH_MAX], *p = NULL;
    program_root(root, sizeof root);
    if (root[0]) {
        char rel[PATH_MAX];
        snprintf(rel, sizeof rel, "models/%s", name);
        if (!(p = existing(root, rel, false))) {
            snprintf(rel, sizeof rel, "share/clinner/%s", name);
            p = existing(root, rel, false);
        }
    }
#ifdef CL_DATADIR
    if (!p)
        p = existing(CL_DATADIR, name, false);
#endif
    return p;
}

char *cl_default_raredis_split(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "data/raredis/%s", name);
    const char *shared = getenv("CLINNER_SHARED");
    if (shared && *shared)
        return existing(shared, rel, true);
    char root[PATH_MAX], rel2[300];
    snprintf(rel2, sizeof rel2, "../shared/%s", rel);
    program_root(root, sizeof root);
    char *p = root[0] ? existing(root, rel2, true) : NULL;
    return p ? p : existing(".", rel2, true);
}
