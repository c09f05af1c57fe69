/* diffd's command-line entry: dispatches to the subcommands of DESIGN §2. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", serve_main, "proxy mirrored traffic to primary/secondary/candidate and compare"},
    {"diff", diff_main, "compare two responses or bodies offline with rule files"},
    {"rules", rules_main, "check rule files (diffd rules lint PATH...)"},
    {"check", check_main, "gate a release on reports: exit 1 on regressions (CI)"},
    {"replay", replay_main, "send recorded traffic (HAR, JSON lines, GoReplay) to a target"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "diffd %s — find regressions in a new version of an HTTP service\n\n"
            "usage: diffd COMMAND [options]\n\ncommands:\n",
            DIFFD_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'diffd COMMAND --help' describes a command's options.\n"
                 "Exit codes: 0 success/pass, 1 differences or regressions found, 2 error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("diffd %s\n", DIFFD_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "diffd: unknown command \"%s\" (try 'diffd --help')\n", argv[1]);
    return 2;
}
