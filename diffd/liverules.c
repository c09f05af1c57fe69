/* Rules in force: atomic pointer swap on reload, sources kept for display. */
#include "liverules.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules.h"

struct source {
    char *path;
    char *text;
};

struct generation {
    struct ruleset *rs;
    struct source *sources;
    size_t nsources;
    struct generation *older;
};

struct liverules {
    char **paths;
    size_t npaths;
    _Atomic(struct generation *) cur;
    pthread_mutex_t mu; /* serializes reloads and readers of `last` */
    char last_time[32];
    bool last_ok;
    char *last_error;
};

/* The text of a rules file for display ("" if it vanished since loading). */
static char *read_text(const char *path)
{
    struct buf b = {0};
    if (buf_read_file(&b, path, NULL, 0) == -1)
        buf_reset(&b);
    return buf_steal(&b);
}

static void generation_free(struct generation *g)
{
    while (g) {
        struct generation *older = g->older;
        rules_free(g->rs);
        for (size_t i = 0; i < g->nsources; i++) {
            free(g->sources[i].path);
            free(g->sources[i].text);
        }
        free(g->sources);
        free(g);
        g = older;
    }
}

/* Builds a generation; on error returns NULL, records every message in
 * *errors (one per line) and the first in err. */
static struct generation *load(char *const *paths, size_t n, struct buf *errors, char *err,
                               size_t errlen)
{
    struct ruleset *rs = rules_new();
    bool bad = false;
    for (size_t i = 0; i < n; i++)
        if (rules_add_path(rs, paths[i], err, errlen) != 0)
            bad = true;
    if (bad || rules_finish(rs, err, errlen) != 0) {
        for (size_t i = 0; i < rules_error_count(rs); i++)
            buf_printf(errors, "%s\n", rules_error(rs, i));
        if (rules_error_count(rs))
            snprintf(err, errlen, "%s", rules_error(rs, 0));
        rules_free(rs);
        return NULL;
    }
    struct generation *g = xcalloc(1, sizeof(*g));
    g->rs = rs;
    g->nsources = rules_file_count(rs);
    g->sources = xcalloc(g->nsources + 1, sizeof(*g->sources));
    for (size_t i = 0; i < g->nsources; i++) {
        g->sources[i].path = xstrdup(rules_file_name(rs, i));
        g->sources[i].text = read_text(g->sources[i].path);
    }
    return g;
}

static void stamp(struct liverules *lr, bool ok, const char *error)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(lr->last_time, sizeof(lr->last_time), "%Y-%m-%dT%H:%M:%SZ", &tm);
    lr->last_ok = ok;
    free(lr->last_error);
    lr->last_error = error ? xstrdup(error) : NULL;
}

struct liverules *liverules_new(char *const *paths, size_t n)
{
    struct buf errors = {0};
    char err[512] = "";
    struct generation *g = load(paths, n, &errors, err, sizeof(err));
    if (!g) {
        fputs(errors.len ? errors.data : err, stderr);
        if (!errors.len)
            fputc('\n', stderr);
        buf_free(&errors);
        return NULL;
    }
    buf_free(&errors);
    struct liverules *lr = xcalloc(1, sizeof(*lr));
    lr->paths = xcalloc(n + 1, sizeof(*lr->paths));
    for (size_t i = 0; i < n; i++)
        lr->paths[i] = xstrdup(paths[i]);
    lr->npaths = n;
    atomic_init(&lr->cur, g);
    pthread_mutex_init(&lr->mu, NULL);
    stamp(lr, true, NULL);
    return lr;
}

void liverules_free(struct liverules *lr)
{
    if (!lr)
        return;
    generation_free(atomic_load(&lr->cur));
    for (size_t i = 0; i < lr->npaths; i++)
        free(lr->paths[i]);
    free(lr->paths);
    free(lr->last_error);
    pthread_mutex_destroy(&lr->mu);
    free(lr);
}

const struct ruleset *liverules_current(const struct liverules *lr)
{
    struct generation *g =
        atomic_load_explicit(&((struct liverules *)lr)->cur, memory_order_acquire);
    return g->rs;
}

/* A reload keeps the match counts of rules that did not change (same file,
 * line and text), so the rules view does not show them all as unused. Counts
 * that arrive on the old ruleset after this are lost; they are few. */
static void carry_counts(const struct ruleset *from, const struct ruleset *to)
{
    for (size_t i = 0; i < rules_rule_count(from); i++) {
        struct rules_rule_info ri;
        rules_rule_info(from, i, &ri);
        if (ri.matched)
            rules_add_matched(to, ri.file, ri.line, ri.text, ri.matched);
    }
}

int liverules_reload(struct liverules *lr, char *err, size_t errlen)
{
    struct buf errors = {0};
    pthread_mutex_lock(&lr->mu);
    struct generation *g = load(lr->paths, lr->npaths, &errors, err, errlen);
    int rc = 0;
    if (!g) {
        stamp(lr, false, err);
        fprintf(stderr, "diffd: rules reload failed, keeping the rules in force:\n%s",
                errors.len ? errors.data : "");
        rc = -1;
    } else {
        carry_counts(atomic_load_explicit(&lr->cur, memory_order_relaxed)->rs, g->rs);
        g->older = atomic_load_explicit(&lr->cur, memory_order_relaxed);
        atomic_store_explicit(&lr->cur, g, memory_order_release);
        stamp(lr, true, NULL);
        fprintf(stderr, "diffd: rules reloaded: %zu rules from %zu files\n",
                rules_rule_count(g->rs), g->nsources);
    }
    pthread_mutex_unlock(&lr->mu);
    buf_free(&errors);
    return rc;
}

static void put_str(struct buf *b, const char *s)
{
    buf_json_string(b, s, strlen(s));
}

void liverules_write_json(struct liverules *lr, struct buf *b)
{
    pthread_mutex_lock(&lr->mu);
    struct generation *g = atomic_load_explicit(&lr->cur, memory_order_acquire);
    buf_puts(b, "{\"paths\":[");
    for (size_t i = 0; i < lr->npaths; i++) {
        if (i)
            buf_puts(b, ",");
        put_str(b, lr->paths[i]);
    }
    buf_puts(b, "],\"files\":[");
    for (size_t i = 0; i < g->nsources; i++) {
        buf_puts(b, i ? ",{\"path\":" : "{\"path\":");
        put_str(b, g->sources[i].path);
        buf_puts(b, ",\"text\":");
        put_str(b, g->sources[i].text);
        buf_puts(b, "}");
    }
    buf_puts(b, "],\"rules\":[");
    for (size_t i = 0; i < rules_rule_count(g->rs); i++) {
        struct rules_rule_info ri;
        rules_rule_info(g->rs, i, &ri);
        buf_puts(b, i ? ",{\"file\":" : "{\"file\":");
        put_str(b, ri.file);
        buf_printf(b, ",\"line\":%u,\"text\":", ri.line);
        put_str(b, ri.text);
        buf_printf(b, ",\"matched\":%llu}", (unsigned long long)ri.matched);
    }
    buf_printf(b, "],\"last_reload\":{\"time\":\"%s\",\"ok\":%s,\"error\":", lr->last_time,
               lr->last_ok ? "true" : "false");
    if (lr->last_error)
        put_str(b, lr->last_error);
    else
        buf_puts(b, "null");
    buf_puts(b, "}}\n");
    pthread_mutex_unlock(&lr->mu);
}
