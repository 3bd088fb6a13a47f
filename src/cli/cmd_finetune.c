/*
 * cmd_finetune.c - `clinner finetune`: instruction fine-tune a local GGUF
 * model on a training split with llama.cpp's training API (finetune.h), in
 * the zero-shot prompt format of `clinner tag`, so the result is tagged with
 * `clinner tag --model OUT.gguf --strategy zero-shot --decode forced`.
 *
 * Documents are read and tokenized as `clinner train crf` does (tokenize.h:
 * cl_train_data) with the paper's five types; progress (step, loss,
 * tokens/s, ETA) and notes go to stderr; SIGINT and SIGTERM stop the run
 * after its current step (cli_stop.h).  Without llama.cpp at build time the
 * command says so.
 */
#include <stdio.h>
#include <stdlib.h>

#include "clinner/tokenize.h"
#include "cli/cli_opts.h"
#include "cli/cli_stop.h"
#include "cli/commands.h"
#include "clinner/util.h"

#if CL_HAVE_LLAMA
#include "clinner/finetune.h"

typedef struct ui {
    double interval, last;
} ui;

static void on_progress(void *ctx, const cl_ft_progress *p)
{
    ui *u = ctx;
    double now = cl_now();
    if (p->step != p->nsteps && u->interval > 0 && now - u->last < u->interval)
        return;
    u->last = now;
    char line[512];
    if (cl_ft_progress_line(p, line, sizeof line))
        fprintf(stderr, "%s\n", line);
}

/* option parsers over the library's own name tables */
static cl_status parse_tensors(const char *name, const char *value, void *dst, cl_error *err)
{
    cl_finetune_params *p = dst;
    (void)name;
    return cl_ft_tensors_parse(value, &p->tensors, &p->last_n, err);
}

CLI_NAME_PARSER(parse_out_type, cl_ft_out_type_from_name, cl_ft_out_type)
CLI_NAME_PARSER(parse_loss, cl_ft_loss_from_name, cl_ft_loss)
CLI_NAME_PARSER(parse_schedule, cl_ft_schedule_from_name, cl_ft_schedule)

int cmd_finetune(int argc, char **argv)
{
    cl_finetune_params p = cl_finetune_default_params();
    char vars[256];
    snprintf(vars, sizeof vars, "lr=%g\nlr_min=%g\nwarmup=%g\nepochs=%d\nctx=%d\nmax_dev=%d\nseed=%u",
             p.lr, p.lr_min, p.warmup, p.epochs, p.n_ctx, p.max_dev, p.seed);
    const char *train_path = NULL, *dev_path = NULL, *format = NULL, *tok_name = "clinical";
    ui u = {10.0, 0};
    double mem_gib = -1.0;
    const cli_opt opts[] = {
        CLI_FLAG("--resume", &p.resume),
        CLI_FLAG("--keep-checkpoints", &p.keep_checkpoints),
        CLI_NOFLAG("--no-pack", &p.pack),
        CLI_FLAG("--verbose", &p.verbose),
        CLI_REQUIRED("--model", &p.model_path),
        CLI_REQUIRED("--train", &train_path),
        CLI_STRING("--dev", &dev_path),
        CLI_STRING2("--format", "--from", &format),
        CLI_STRING("--tokenizer", &tok_name),
        CLI_OUTPUT_REQUIRED(&p.out_path),
        CLI_STRING("--cache-dir", &p.cache_dir),
        CLI_STRING("--chat-template", &p.chat_template),
        CLI_PARSER("--train-tensors", &p, parse_tensors),
        CLI_PARSER("--out-type", &p.out_type, parse_out_type),
        CLI_PARSER("--loss", &p.loss, parse_loss),
        CLI_PARSER("--schedule", &p.schedule, parse_schedule),
        CLI_NUMBER("--lr", &p.lr, 0.0),
        CLI_NUMBER("--lr-min", &p.lr_min, 0.0),
        CLI_NUMBER("--warmup", &p.warmup, 0.0),
        CLI_NUMBER("--wd", &p.weight_decay, 0.0),
        CLI_NUMBER("--mem-limit", &mem_gib, 0.0),
        CLI_NUMBER("--log-interval", &u.interval, 0.0),
        CLI_INTEGER("--epochs", CLI_OPT_INT32, &p.epochs, 0, 1000),
        CLI_INTEGER("--ctx", CLI_OPT_INT32, &p.n_ctx, 256, 32768),
        CLI_INTEGER("--max-examples", CLI_OPT_INT32, &p.max_examples, 0, 100000000),
        CLI_INTEGER("--max-dev", CLI_OPT_INT32, &p.max_dev, 0, 100000000),
        CLI_INTEGER("--seed", CLI_OPT_UINT32, &p.seed, 0, 4294967295L),
        CLI_INTEGER("--threads", CLI_OPT_INT32, &p.threads, 1, 256),
        CLI_NUMBER("--time-limit", &p.time_limit_s, 0.0),
        CLI_INTEGER("--gpu-layers", CLI_OPT_INT32, &p.gpu_layers, -1, 100000),
        CLI_INTEGER("--save-every", CLI_OPT_INT32, &p.save_every, 0, 100000000),
        CLI_INTEGER("--dev-every", CLI_OPT_INT32, &p.dev_every, 0, 100000000),
    };
    cli_args a = {.cmd = "finetune", .page = "finetune", .vars = vars, .opts = opts,
                  .nopts = CLI_NOPTS(opts)};
    int done = cli_parse(&a, argc, argv, 1);
    if (done >= 0)
        return done;
    if (mem_gib >= 0)
        p.mem_limit = (int64_t)(mem_gib * 1024.0 * 1024.0 * 1024.0);
    cl_error err = CL_ERROR_INIT;
    cl_train_data data;
    if (cl_train_data_init(&data, format, tok_name, cl_paper_types, CL_NUM_PAPER_TYPES, &err) !=
        CL_OK)
        return cli_fail("finetune", 2, err.msg);
    cli_logger log = {"finetune", NULL};
    p.progress = on_progress;
    p.progress_ctx = &u;
    p.log = cli_log;
    p.log_ctx = &log;

    int rc = 1;
    if (cl_train_data_load(&data, train_path, dev_path, &err) != CL_OK)
        goto out;
    cl_finetune_result r;
    cli_stop_catch("\nclinner finetune: stopping after this step (checkpoint, dev validation, "
                   "model); Ctrl-C again quits at once\n");
    p.stop = cli_stop_requested;
    cl_status fst = cl_finetune(&p, data.train, data.dev, &r, &err);
    cli_stop_release();
    if (fst != CL_OK)
        goto out;
    rc = 0;
    if (p.epochs == 0)
        goto out;
    if (r.stopped_by_time || r.stopped_by_request)
        fprintf(stderr,
                "clinner finetune: %s after %lld of %lld steps; the model below is that "
                "checkpoint's (--resume continues)\n",
                r.stopped_by_time ? "--time-limit reached" : "stopped by a signal",
                (long long)r.steps_done, (long long)r.steps_total);
    char summary[8192];
    cl_finetune_result_summary(&r, p.out_path, summary, sizeof summary);
    fprintf(stderr, "clinner finetune: %s\n", summary);
    /* interrupted: the usual 128 + signal, though the model is written */
    rc = r.stopped_by_request ? 128 + cli_stop_signal() : 0;
out:
    if (rc == 1)
        cli_fail("finetune", 1, err.msg);
    cl_train_data_free(&data);
    return rc;
}

#endif
