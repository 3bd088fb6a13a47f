/*
 * main.c - clinner's entry point: dispatches to a sub-command, and says with
 * --version what this binary was built with (the Makefile passes
 * CL_BUILD_INFO: the llama.cpp build and CPU or CUDA, or without llama.cpp;
 * the other libraries report their own versions at run time; and where the
 * default tagger's model was found).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <utf8proc.h>

#include "cli/commands.h"
#include "clinner/common.h"
#include "clinner/session.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"stats", cmd_stats, "corpus statistics (documents, sentences, entities per type)"},
    {"convert", cmd_convert, "convert between brat, paper-csv, conll and jsonl"},
    {"eval", cmd_eval, "score predictions against gold (seqeval-compatible, span level)"},
    {"tag", cmd_tag, "tag text (the CRF + encoder ensemble; or crf, encoder, llama, openai)"},
    {"train", cmd_train, "train a supervised tagger (crf, encoder)"},
    {"finetune", cmd_finetune, "instruction fine-tune a local GGUF model"},
    {"features", cmd_features, "export LLM hidden states as per-token features"},
    {"merge", cmd_merge, "join the outputs of `tag --shard K/N` in input order"},
    {"serve", cmd_serve, "serve a tagger over HTTP (JSON API, web page, metrics)"},
};

#ifndef CL_BUILD_INFO
#define CL_BUILD_INFO "unknown (not built by the Makefile)"
#endif

static void print_version(void)
{
    printf("clinner %s\n", cl_version());
    printf("built with: %s\n", CL_BUILD_INFO);
    printf("libraries: libcurl %s, utf8proc %s, cJSON %s, libmicrohttpd %s\n",
           curl_version_info(CURLVERSION_NOW)->version, utf8proc_version(), cJSON_Version(),
           MHD_get_version());
    cl_tag_config cfg = cl_tag_config_default();
    const char *backend = cl_tag_default_backend(&cfg);
    char *model = cl_tag_default_model(backend);
    printf("default tagger: %s\n", backend);
    printf("default model: %s\n", model ? model : "not found (models/; make models)");
    free(model);
}

#if !CL_HAVE_LLAMA
int cmd_without_llama(int argc, char **argv)
{
    bool encoder = argc > 1 && !strcmp(argv[0], "train") && !strcmp(argv[1], "encoder");
    fprintf(stderr, "clinner %s: this build has no llama.cpp/ggml (run `make setup`, then "
                    "rebuild)\n", encoder ? "train encoder" : argv[0]);
    return 2;
}
#endif

static void usage(FILE *fp)
{
    fprintf(fp, "clinner %s - token-level clinical named-entity recognition\n\n"
                "usage: clinner COMMAND [OPTIONS]\n\ncommands:\n",
            cl_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n'clinner COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        print_version();
        return 0;
    }
    /* ggml's OpenMP threads (encoder, ensemble, llama backends) busy-wait
     * between graphs by default: on a busy machine that slows tagging and
     * training several times over (the ensemble tagged the dev split in 143 s
     * with 2 spinning threads, 36 s with passive ones, at a load of 6).
     * libgomp reads the policy when it loads, so set it and start again. */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv); /* returns only on failure: go on as we are */
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "clinner: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
