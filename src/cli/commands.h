/*
 * commands.h - the CLI's sub-commands.  Each lives in its own cmd_<name>.c,
 * parses its options, calls the library and prints; nothing else.
 */
#ifndef CLINNER_CLI_COMMANDS_H
#define CLINNER_CLI_COMMANDS_H

int cmd_stats(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* The commands built on llama.cpp/ggml; a build without it has one stand-in
 * for them that says so (main.c). */
#if CL_HAVE_LLAMA
int cmd_train_encoder(int argc, char **argv); /* cmd_train_encoder.c */
int cmd_finetune(int argc, char **argv);
int cmd_features(int argc, char **argv);
#else
int cmd_without_llama(int argc, char **argv);
#define cmd_train_encoder cmd_without_llama
#define cmd_finetune cmd_without_llama
#define cmd_features cmd_without_llama
#endif

#endif
