/*
 * train_report.c - encoder training in words (encoder.h): one line of
 * progress per reported step or epoch (cl_enc_progress_line) and the
 * sentence that sums a finished run up (cl_encoder_train_summary), so that
 * every front end reports training as `clinner train encoder` does.
 */
#include <stdio.h>

#include "clinner/encoder.h"
#include "clinner/progress.h"

void cl_enc_progress_report(void *ctx, const cl_enc_progress *p)
{
    char line[512];
    if (p->train)
        cl_progress_update(ctx, p->step);
    if (cl_enc_progress_line(p, line, sizeof line))
        cl_progress_message(ctx, "%s", line);
}

bool cl_enc_progress_line(const cl_enc_progress *p, char *buf, size_t n)
{
    if (!p->train && p->dev_f1 < 0) /* an epoch's end, no dev split */
        snprintf(buf, n, "epoch %d/%d done: loss %.4f", p->epoch, p->epochs, p->loss);
    else if (!p->train)
        snprintf(buf, n, "epoch %d/%d done: loss %.4f, dev F1 %.4f (best %.4f at epoch %d)",
                 p->epoch, p->epochs, p->loss, p->dev_f1, p->best_dev_f1, p->best_epoch);
    else if (p->step % 50 == 0 || p->step == 1)
        snprintf(buf, n,
                 "step %lld/%lld  epoch %d  loss %.4f  lr %.2e  %.0f pieces/s  ETA %.0f min",
                 (long long)p->step, (long long)p->nsteps, p->epoch, p->loss, p->lr,
                 p->tokens_per_s, p->eta_s / 60.0);
    else
        return false;
    return true;
}

void cl_encoder_train_summary(const cl_encoder_train_result *r, const char *out_path, char *buf,
                              size_t n)
{
    if (r->stopped)
        snprintf(buf, n, "stopped at step %lld; checkpoint %s.ckpt", (long long)r->steps,
                 out_path);
    else if (r->best_dev_f1 < 0)
        snprintf(buf, n, "wrote %s (%d epoch%s, no dev split), %lld steps, %.1f s", out_path,
                 r->epochs_done, r->epochs_done == 1 ? "" : "s", (long long)r->steps,
                 r->seconds);
    else
        snprintf(buf, n,
                 "wrote %s (epoch %d of %d, best dev F1 %.4f; O offset %.2f: %.4f), %lld "
                 "steps, %lld pieces an epoch, %.1f s, memory estimate %.0f MB",
                 out_path, r->best_epoch, r->epochs_done, r->best_dev_f1, r->o_bias,
                 r->tuned_dev_f1, (long long)r->steps, (long long)r->train_pieces, r->seconds,
                 r->mem_estimate / 1048576.0);
}
