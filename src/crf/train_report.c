/*
 * train_report.c - CRF training in words (crf.h): one line of progress per
 * reported stage or iteration (cl_crf_progress_line) and the sentence that
 * reports the written model (cl_crf_model_summary), so that every front end
 * reports training as `clinner train crf` does.
 */
#include <stdio.h>
#include <string.h>

#include "clinner/crf.h"
#include "clinner/progress.h"

void cl_crf_progress_report(void *ud, const cl_crf_progress *p)
{
    char line[512];
    if (strcmp(p->stage, "features") != 0 && strcmp(p->stage, "done") != 0)
        cl_progress_update(ud, p->iteration);
    if (cl_crf_progress_line(p, line, sizeof line))
        cl_progress_message(ud, "%s", line);
}

bool cl_crf_progress_line(const cl_crf_progress *p, char *buf, size_t n)
{
    if (!strcmp(p->stage, "features"))
        snprintf(buf, n, "features ready: %lld weights (%.1f s)", (long long)p->active,
                 p->elapsed_s);
    else if (!strcmp(p->stage, "done") && p->best_dev_f1 >= 0)
        snprintf(buf, n,
                 "done: best dev F1 %.4f at iteration %d (O bias %.2f), %lld non-zero weights, "
                 "%.1f s",
                 p->best_dev_f1, p->best_iteration, p->o_bias, (long long)p->active,
                 p->elapsed_s);
    else if (!strcmp(p->stage, "done"))
        snprintf(buf, n, "done: %lld non-zero weights, %.1f s", (long long)p->active,
                 p->elapsed_s);
    else if (p->dev_f1 >= 0)
        snprintf(buf, n,
                 "iter %4d  loss %.2f  dev F1 %.4f (micro %.4f)  best %.4f @%d  active %lld  "
                 "%.1f s",
                 p->iteration, p->loss, p->dev_f1, p->dev_micro_f1, p->best_dev_f1,
                 p->best_iteration, (long long)p->active, p->elapsed_s);
    else if (p->eval_every <= 0 || p->iteration % 10 == 0 || p->iteration == 1)
        snprintf(buf, n, "iter %4d  loss %.2f  active %lld  %.1f s", p->iteration, p->loss,
                 (long long)p->active, p->elapsed_s);
    else
        return false;
    return true;
}

void cl_crf_model_summary(const cl_crf_model *m, const char *path, double seconds, char *buf,
                          size_t n)
{
    cl_crf_model_info info;
    cl_crf_model_get_info(m, &info);
    snprintf(buf, n,
             "wrote %s (%d labels, %d attributes, %lld non-zero weights, %d gazetteer entries, "
             "O bias %.2f) in %.1f s",
             path, info.nlabels, info.nattrs, (long long)info.nonzero, info.gazetteer,
             info.o_bias, seconds);
}
