/* `diffd serve` configuration: every option of DESIGN §2 with its default, the
 * parser that turns argv into it, and the --help text. */
#ifndef DIFFD_CONFIG_H
#define DIFFD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum role { ROLE_PRIMARY = 0, ROLE_SECONDARY, ROLE_CANDIDATE, ROLE_COUNT };

/* Value of --respond: one of the roles, or RESPOND_NONE (answer 202 at once). */
#define RESPOND_NONE ROLE_COUNT

const char *role_name(int role);

struct backend {
    char *url;       /* as given, e.g. "https://api:8443/v2" */
    char *scheme;    /* "http" or "https" */
    char *hostport;  /* "api:8443", the Host header a backend expects */
    char *base;      /* scheme://hostport + prefix without trailing '/' */
    bool configured; /* false for an omitted --secondary */
};

enum sample_key_kind { SAMPLE_KEY_NONE = 0, SAMPLE_KEY_HEADER, SAMPLE_KEY_QUERY };

struct config {
    struct backend backends[ROLE_COUNT];
    char *listen_addr; /* numeric host */
    int listen_port;
    char *admin_addr;
    int admin_port;
    char **rules_paths; /* --rules, in order given */
    size_t n_rules_paths;
    double sample_percent;
    enum sample_key_kind sample_key_kind;
    char *sample_key_name;
    int respond; /* enum role or RESPOND_NONE */
    bool wait_all;
    bool allow_side_effects;
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_body;
    long max_inflight;
    int threads;
    int analysis_threads;        /* comparison threads */
    size_t analysis_queue_bytes; /* bytes of finished trials waiting for them */
    long analysis_queue_trials;  /* trials waiting for them */
    bool preserve_host;
    char *access_log;
    char *ca_file; /* CA bundle for https backends; NULL: the system's */
    /* Analysis options (used by the statistics layer). */
    double threshold_relative;
    double threshold_absolute;
    double latency_factor;
    double latency_min_ms;
    long min_compared;
    char *state_file;
    long snapshot_interval_s;
    bool reset_state;
    char *admin_token;
    long max_endpoints;
    long samples_per_field;
    long max_samples;
};

/* Parses the arguments of `diffd serve` (argv[0] is "serve"). Returns 0 and
 * fills cfg; 1 when --help was printed; -1 with a message naming the flag or
 * value in err. cfg is always left freeable with config_free(). */
int config_parse_serve(struct config *cfg, int argc, char **argv, char *err, size_t errlen);
void config_free(struct config *cfg);
/* The --help text of `diffd serve`. */
const char *config_serve_help(void);

/* Parses "[ADDR:]PORT" ("8080", "127.0.0.1:0", "[::1]:80"). Caller frees *addr. */
int config_parse_hostport(const char *s, const char *default_addr, char **addr, int *port);
/* Parses a backend base URL into b. Returns -1 with a message on error. */
int config_parse_backend(struct backend *b, const char *url, char *err, size_t errlen);

#endif
