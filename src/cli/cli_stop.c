/*
 * cli_stop.c - SIGINT/SIGTERM as "stop after this step" (cli_stop.h).  A
 * signal handler can reach only static storage, hence the file-level
 * variables; the library itself keeps no such state.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_stop.h"

static volatile sig_atomic_t stop_signal;
static const char *stop_notice;
static size_t stop_notice_len; /* strlen is not async-signal-safe: measured beforehand */
static struct sigaction old_int, old_term;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
    if (stop_notice) {
        ssize_t w = write(STDERR_FILENO, stop_notice, stop_notice_len);
        (void)w;
    }
}

void cli_stop_catch(const char *notice)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    stop_notice = notice;
    stop_notice_len = notice ? strlen(notice) : 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (old_int.sa_handler == SIG_IGN)
        sigaction(SIGINT, &old_int, NULL);
    if (old_term.sa_handler == SIG_IGN)
        sigaction(SIGTERM, &old_term, NULL);
}

void cli_stop_release(void)
{
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
}

bool cli_stop_requested(void *ctx)
{
    (void)ctx;
    return stop_signal != 0;
}

int cli_stop_signal(void)
{
    return (int)stop_signal;
}
