/* cmd_train.c - placeholder until the command lands (see issues). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_train(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clinner train: not implemented yet\n");
    return 2;
}
