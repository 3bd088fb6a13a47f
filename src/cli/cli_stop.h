/*
 * cli_stop.h - SIGINT and SIGTERM as "stop after this step", for the
 * commands that train (finetune, train encoder): the library asks its stop
 * callback after every step and, on a yes, writes a checkpoint and stops
 * cleanly.  The handler is the default again after the first signal, so a
 * second Ctrl-C quits at once (files are written atomically: nothing is
 * left half-written); a signal the parent ignores stays ignored (a shell's
 * background jobs ignore SIGINT so that Ctrl-C does not reach them).
 */
#ifndef CLINNER_CLI_STOP_H
#define CLINNER_CLI_STOP_H

#include <stdbool.h>

/* Catch SIGINT and SIGTERM until cli_stop_release; notice (NULL: none) is
 * written to stderr when the first one arrives. */
void cli_stop_catch(const char *notice);
/* Put back the handlers cli_stop_catch found. */
void cli_stop_release(void);
/* Whether a signal asked to stop: the library's stop callback (ctx unused). */
bool cli_stop_requested(void *ctx);
/* The signal that asked to stop (0: none), for the exit status 128 + signal. */
int cli_stop_signal(void);

#endif
