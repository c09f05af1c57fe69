#!/bin/sh
# Runs diffd under valgrind's memcheck for `make valgrind`: any memory error or
# definite/indirect leak makes diffd exit 99, which the e2e harness reports (it
# expects exit 0 after SIGTERM). VALGRIND_DIFFD is the binary (a JEMALLOC=0 build,
# so memcheck sees every allocation).
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect "${VALGRIND_DIFFD:?}" "$@"
