/* `diffd diff` (compare two response or body files with rules, offline) and
 * `diffd rules lint` (check rule files): the command-line entry points of the
 * rules and diff engine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "jsondiff.h"
#include "normalize.h"
#include "route.h"
#include "rules.h"
#include "util.h"

static void diff_usage(FILE *out)
{
    fprintf(out, "usage: diffd diff [--rules PATH]... [--endpoint NAME] [--format lines|patch]\n"
                 "                  [--max-body BYTES] LEFT RIGHT\n"
                 "\n"
                 "Normalizes two responses with rule files and prints their differences, as the\n"
                 "proxy would for primary (LEFT) and candidate (RIGHT). Each file is a body, or a\n"
                 "whole HTTP response (\"HTTP/1.1 200 OK\", headers, blank line, body) whose\n"
                 "status and headers are then compared too. \"-\" reads standard input.\n"
                 "\n"
                 "  --rules PATH      a .rules file or a directory of *.rules (lexical order);\n"
                 "                    may repeat [none]\n"
                 "  --endpoint NAME   endpoint whose sections apply, e.g. \"GET /users/:id\"\n"
                 "                    [none: only [*] sections]\n"
                 "  --format F        lines: one JSON object per difference; patch: an RFC 6902\n"
                 "                    JSON Patch turning LEFT's body into RIGHT's [lines]\n"
                 "  --max-body BYTES  bodies larger than this (after decoding) are compared by\n"
                 "                    length and hash [8388608]\n"
                 "  -h, --help        this text\n"
                 "\n"
                 "Exit: 0 same, 1 different, 2 error.\n");
}

static void rules_usage(FILE *out)
{
    fprintf(out, "usage: diffd rules lint PATH...\n"
                 "\n"
                 "Checks rule files (or directories of *.rules) and prints each error as\n"
                 "file:line:column: message on standard error.\n"
                 "\n"
                 "  -h, --help   this text\n"
                 "\n"
                 "Exit: 0 clean, 1 errors found, 2 a path could not be read or bad usage.\n");
}

/* Fills resp from a file: a raw HTTP/1.x response, or a body alone (status
 * 200, no headers). */
static int load_response(const char *path, struct http_response *resp, char *err, size_t errlen)
{
    struct buf raw = {0};
    memset(resp, 0, sizeof(*resp));
    if (buf_read_file(&raw, path, err, errlen) == -1) {
        buf_free(&raw);
        return -1;
    }
    resp->status = 200;
    if (raw.len < 9 || memcmp(raw.data, "HTTP/", 5) != 0) {
        resp->body = raw;
        return 0;
    }
    const char *p = raw.data, *end = raw.data + raw.len;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (!eol || !sp || sp > eol || sp + 4 > end) {
        buf_free(&raw);
        return errf(err, errlen, "%s:1: bad HTTP status line", path);
    }
    int status = 0;
    for (int i = 1; i <= 3; i++) {
        char c = sp[i];
        if (c < '0' || c > '9') {
            buf_free(&raw);
            return errf(err, errlen, "%s:1: bad HTTP status code", path);
        }
        status = status * 10 + (c - '0');
    }
    resp->status = status;
    p = eol + 1;
    int line = 1;
    for (;;) {
        line++;
        eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        size_t n = (size_t)(le - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n == 0) {
            p = eol ? eol + 1 : end;
            break;
        }
        const char *colon = memchr(p, ':', n);
        if (!colon || colon == p) {
            buf_free(&raw);
            headers_free(&resp->headers);
            return errf(err, errlen, "%s:%d: bad header line", path, line);
        }
        const char *v = colon + 1;
        while (v < p + n && (*v == ' ' || *v == '\t'))
            v++;
        size_t vlen = (size_t)(p + n - v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        headers_add(&resp->headers, p, (size_t)(colon - p), v, vlen);
        if (!eol) {
            p = end;
            break;
        }
        p = eol + 1;
    }
    buf_append(&resp->body, p, (size_t)(end - p));
    buf_free(&raw);
    return 0;
}

static int parse_size(const char *s, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v == 0)
        return -1;
    *out = (size_t)v;
    return 0;
}

int diff_main(int argc, char **argv)
{
    const char *files[2] = {NULL, NULL};
    size_t nfiles = 0;
    const char *endpoint = NULL;
    bool patch = false;
    struct normalize_opts opts = {.max_body = NORMALIZE_DEFAULT_MAX_BODY};
    struct ruleset *rs = rules_new();
    struct http_response resp[2];
    struct norm_response norm[2];
    struct jsondiff *d = NULL;
    struct buf out = {0};
    char err[512];
    int rc = 2;
    bool loaded[2] = {false, false};
    memset(norm, 0, sizeof(norm));

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            diff_usage(stdout);
            rc = 0;
            goto out;
        } else if (cli_is_flag(a, "--rules")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--rules", "diff")))
                goto out;
            int lrc = rules_add_path(rs, v, err, sizeof(err));
            if (lrc == -2) {
                fprintf(stderr, "diffd diff: --rules %s\n", err);
                goto out;
            }
            if (lrc != 0) {
                for (size_t k = 0; k < rules_error_count(rs); k++)
                    fprintf(stderr, "%s\n", rules_error(rs, k));
                goto out;
            }
        } else if (cli_is_flag(a, "--endpoint")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--endpoint", "diff")))
                goto out;
            endpoint = v;
        } else if (cli_is_flag(a, "--format")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--format", "diff")))
                goto out;
            if (strcmp(v, "lines") == 0) {
                patch = false;
            } else if (strcmp(v, "patch") == 0) {
                patch = true;
            } else {
                fprintf(stderr, "diffd diff: --format must be lines or patch, not \"%s\"\n", v);
                goto out;
            }
        } else if (cli_is_flag(a, "--max-body")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--max-body", "diff")))
                goto out;
            if (parse_size(v, &opts.max_body) == -1) {
                fprintf(stderr, "diffd diff: --max-body needs a positive byte count, not \"%s\"\n",
                        v);
                goto out;
            }
        } else if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (nfiles == 2) {
                    fprintf(stderr, "diffd diff: unexpected argument \"%s\"\n", argv[i]);
                    goto out;
                }
                files[nfiles++] = argv[i];
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "diffd diff: unknown flag \"%s\" (see diffd diff --help)\n", a);
            goto out;
        } else {
            if (nfiles == 2) {
                fprintf(stderr, "diffd diff: unexpected argument \"%s\" (LEFT and RIGHT given)\n",
                        a);
                goto out;
            }
            files[nfiles++] = a;
        }
    }
    if (nfiles != 2) {
        fprintf(stderr, "diffd diff: needs two files, LEFT and RIGHT (see diffd diff --help)\n");
        goto out;
    }
    if (rules_finish(rs, err, sizeof(err)) == -1) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    struct rules_view view;
    rules_view_for_endpoint(rs, endpoint ? endpoint : "", &view);
    for (int k = 0; k < 2; k++) {
        if (load_response(files[k], &resp[k], err, sizeof(err)) == -1) {
            fprintf(stderr, "diffd diff: %s\n", err);
            goto out;
        }
        loaded[k] = true;
        normalize_response(&view, &resp[k], &opts, &norm[k]);
    }
    d = jsondiff_new();
    size_t n = jsondiff_responses(d, &view, &norm[0], &norm[1]);
    if (patch)
        jsondiff_write_patch(d, &out);
    else
        jsondiff_write_lines(d, &out);
    if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len) {
        fprintf(stderr, "diffd diff: writing output: %s\n", strerror(errno));
        goto out;
    }
    rc = n ? 1 : 0;
out:
    for (int k = 0; k < 2; k++) {
        normalize_free(&norm[k]);
        if (loaded[k])
            http_response_free(&resp[k]);
    }
    jsondiff_free(d);
    buf_free(&out);
    rules_free(rs);
    if (fflush(stdout) == EOF && rc != 2)
        rc = 2;
    return rc;
}

int rules_main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        rules_usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "lint") != 0) {
        if (argc >= 2)
            fprintf(stderr, "diffd rules: unknown subcommand \"%s\" (only lint)\n", argv[1]);
        else
            rules_usage(stderr);
        return 2;
    }
    int npaths = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            rules_usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "diffd rules lint: unknown flag \"%s\"\n", argv[i]);
            return 2;
        }
        npaths++;
    }
    if (npaths == 0) {
        fprintf(stderr, "diffd rules lint: needs at least one PATH\n");
        return 2;
    }
    struct ruleset *rs = rules_new();
    bool unreadable = false;
    for (int i = 2; i < argc; i++)
        if (rules_add_path(rs, argv[i], NULL, 0) == -2)
            unreadable = true;
    rules_finish(rs, NULL, 0);
    size_t nerr = rules_error_count(rs);
    for (size_t i = 0; i < nerr; i++)
        fprintf(stderr, "%s\n", rules_error(rs, i));
    if (nerr == 0)
        printf("rules: %zu file%s, %zu section%s, %zu rule%s: ok\n", rules_file_count(rs),
               rules_file_count(rs) == 1 ? "" : "s", rules_section_count(rs),
               rules_section_count(rs) == 1 ? "" : "s", rules_rule_count(rs),
               rules_rule_count(rs) == 1 ? "" : "s");
    rules_free(rs);
    return unreadable ? 2 : nerr ? 1 : 0;
}
