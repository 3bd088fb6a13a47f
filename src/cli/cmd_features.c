/* cmd_features.c - placeholder until the command lands (see issues). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_features(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clinner features: not implemented yet\n");
    return 2;
}
