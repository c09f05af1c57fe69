/* Entry points of diffd's subcommands. Each takes the arguments after the
 * command name (argv[0] is the command) and returns the process exit code:
 * 0 success, 1 differences/regressions/lint errors, 2 usage or runtime error. */
#ifndef DIFFD_CLI_H
#define DIFFD_CLI_H

#define DIFFD_VERSION "0.1.0"

int serve_main(int argc, char **argv);
int diff_main(int argc, char **argv);
int rules_main(int argc, char **argv);
int check_main(int argc, char **argv);
int replay_main(int argc, char **argv);

#endif
