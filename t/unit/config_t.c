
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* Config: every error reported at once with file, line and key;
   overrides resolved by specificity; the defaults are an empty file;
   a key repeated in a mapping is an error naming both lines. */

#include <stdio.h>
#include <unistd.h>

#include "tap.h"
#include "sq_config.h"


static char  path[64];


static sq_conf_t *
load(const char *yaml, char **errors)
{
    int         fd;
    FILE       *f, *err;
    size_t      len;
    sq_conf_t  *conf;

    strcpy(path, "/tmp/sq-config-XXXXXX");
    fd = mkstemp(path);
    f = fdopen(fd, "w");
    fputs(yaml, f);
    fclose(f);

    err = open_memstream(errors, &len);
    conf = sq_conf_load(path, err);
    fclose(err);
    unlink(path);

    return conf;
}


static int
has(const char *errors, int line, const char *what)
{
    char  want[512];

    snprintf(want, sizeof(want), "%s:%d: %s", path, line, what);

    return strstr(errors, want) != NULL;
}


static void test_repeated(void);
static void test_defaults(void);
static void test_matcher(void);


static int
count_lines(const char *s)
{
    int  n;

    for (n = 0; *s; s++) {
        n += *s == '\n';
    }

    return n;
}


int
main(void)
{
    char                 *errors;
    sq_conf_t            *conf;
    sq_dim_conf_t         dc;
    sq_override_iter_t    it;
    const sq_override_t  *o;

    conf = load(
        "listen:\n"                                  /* 1 */
        "  http: 127.0.0.1:9170\n"                   /* 2 */
        "  bogus: 1\n"                               /* 3 */
        "windows:\n"                                 /* 4 */
        "  short: 5 minutes\n"                       /* 5 */
        "dimensions:\n"                              /* 6 */
        "  reliability:\n"                           /* 7 */
        "    adequate: 99.9%\n"                      /* 8 */
        "    desired: 99.5%\n"                       /* 9 */
        "  responsiveness:\n"                        /* 10 */
        "    weight: -3\n"                           /* 11 */
        "  empathy:\n"                               /* 12 */
        "    adequate: 2s\n"                         /* 13 */
        "    desired: 1.25\n"                        /* 14 */
        "  bogusdim: {}\n"                           /* 15 */
        "  assurance:\n"                             /* 16 */
        "    indicator: apdex\n"                     /* 17 */
        "overrides:\n"                               /* 18 */
        "  - endpoint: checkout\n"                   /* 19 */
        "    dimensions:\n"                          /* 20 */
        "      tangibles:\n"                         /* 21 */
        "        min_requests: lots\n"               /* 22 */
        "  - dimensions: {}\n"                       /* 23 */
        "journeys:\n"                                /* 24 */
        "  - name: buy\n"                            /* 25 */
        "    steps: []\n"                            /* 26 */
        "top: 1\n",                                  /* 27 */
        &errors);

    ok(conf == NULL, "a config with errors is refused");
    printf("# %s", errors);

    ok(has(errors, 3, "listen: unknown key \"bogus\""), "unknown key, line 3");
    ok(has(errors, 5, "windows.short: invalid duration \"5 minutes\""),
       "wrong duration, line 5");
    ok(has(errors, 9, "dimensions.reliability: desired 0.995 is not better "
           "than adequate 0.999"), "desired worse than adequate, line 9");
    ok(has(errors, 11, "dimensions.responsiveness.weight: weight must be a "
           "positive number"), "negative weight, line 11");
    ok(has(errors, 14, "dimensions.empathy: latency_ratio is a ratio"),
       "wrong units for a ratio, at its levels");
    ok(has(errors, 15, "dimensions: unknown dimension \"bogusdim\""),
       "unknown dimension, line 15");
    ok(has(errors, 17, "dimensions.assurance.indicator: indicator \"apdex\" "
           "does not measure assurance"), "indicator of another dimension");
    ok(has(errors, 22, "overrides[0].dimensions.tangibles.min_requests: "
           "invalid number \"lots\""), "bad number in an override, line 22");
    ok(has(errors, 23, "overrides[1]: needs at least one of endpoint"),
       "override without a match, line 23");
    ok(has(errors, 26, "journeys[0].steps: a journey needs steps"),
       "journey without steps, line 26");
    ok(has(errors, 27, "top level: unknown key \"top\""),
       "unknown top-level key, line 27");
    is_int(count_lines(errors), 11, "every error reported, each once");

    /* an override checked over the ones that always apply below it */
    free(errors);

    /* YAML syntax */

    conf = load("dimensions:\n  reliability: [\n", &errors);
    ok(conf == NULL, "broken YAML refused");
    ok(strstr(errors, ": yaml: ") != NULL, "YAML error named: %s", errors);
    free(errors);

    /* share written as a time */

    conf = load("dimensions:\n  tangibles:\n    adequate: 500ms\n"
                "    desired: 99.9%\n", &errors);
    ok(conf == NULL && has(errors, 4, "dimensions.tangibles: intact_share "
                           "is a share"), "a share written as a time");
    free(errors);

    /* a good config and its overrides */

    conf = load(
        "windows: { slot: 10s, short: 1m, long: 10m }\n"
        "metrics: { series: false, scores: [endpoint, journey] }\n"
        "dimensions:\n"
        "  reliability: { adequate: 99%, desired: 99.7%, min_requests: 5 }\n"
        "  responsiveness: { indicator: ttfb_quantile }\n"
        "overrides:\n"
        "  - segment: premium\n"
        "    dimensions:\n"
        "      reliability: { desired: 99.9% }\n"
        "  - endpoint: checkout\n"
        "    region: BR\n"
        "    segment: premium\n"
        "    dimensions:\n"
        "      reliability: { adequate: 99.8%, weight: 50 }\n"
        "    labels: { team: payments }\n"
        "  - endpoint: checkout\n"
        "    dimensions:\n"
        "      reliability: { adequate: 99.5% }\n"
        "      responsiveness: { indicator: apdex, apdex_t: 300ms }\n"
        "journeys:\n"
        "  - name: purchase\n"
        "    steps: [cart, checkout, pay]\n"
        "    dimensions:\n"
        "      reliability: { adequate: 98% }\n",
        &errors);

    ok(conf != NULL, "a good config loads");
    is_str(errors, "", "without errors");
    free(errors);

    if (conf == NULL) {
        return done_testing();
    }

    is_int(conf->slot, 10, "slot 10 s");
    is_int(conf->metrics_series, 0, "per-series metrics off");
    is_int(conf->metrics_scopes, 0x2 | 0x8, "scores of endpoints, journeys");
    is_int(conf->long_window, 600, "long 10 m");
    is_str(conf->ingest[0], "udp://127.0.0.1:5170", "default ingest");

    sq_conf_effective(conf, SQ_DIM_RELIABILITY, "home", "US", "", NULL, &dc);
    is_num(dc.adequate, 0.99, 1e-12, "global adequate");
    is_num(dc.desired, 0.997, 1e-12, "global desired");
    is_int(dc.min_requests, 5, "global minimum");
    is_num(dc.weight, 32, 0, "default weight");

    sq_conf_effective(conf, SQ_DIM_RELIABILITY, "checkout", "BR", "premium",
                      NULL, &dc);
    is_num(dc.adequate, 0.998, 1e-12, "the most specific override wins");
    is_num(dc.desired, 0.999, 1e-12, "segment override still applies");
    is_num(dc.weight, 50, 0, "weight overridden");

    sq_conf_effective(conf, SQ_DIM_RELIABILITY, "checkout", NULL, NULL,
                      NULL, &dc);
    is_num(dc.adequate, 0.995, 1e-12, "endpoint rollup: endpoint override");
    is_num(dc.desired, 0.997, 1e-12, "desired from global");

    sq_conf_effective(conf, SQ_DIM_RESPONSIVENESS, "home", NULL, NULL, NULL,
                      &dc);
    is_int(dc.indicator, SQ_IND_TTFB_QUANTILE, "TTFB selected globally");
    is_num(dc.adequate, 1.8, 1e-12, "with the TTFB defaults: 1.8 s");
    is_num(dc.desired, 0.8, 1e-12, "and 0.8 s");

    sq_conf_effective(conf, SQ_DIM_RESPONSIVENESS, "checkout", "BR", NULL,
                      NULL, &dc);
    is_int(dc.indicator, SQ_IND_APDEX, "Apdex again for checkout");
    is_num(dc.adequate, 0.85, 1e-12, "with the Apdex defaults");
    is_num(dc.apdex_t, 0.3, 1e-12, "T 300 ms");

    is_int(conf->njourneys, 1, "one journey");
    is_int(conf->journeys[0].nsteps, 3, "three steps");
    sq_conf_effective(conf, SQ_DIM_RELIABILITY, NULL, NULL, NULL,
                      &conf->journeys[0], &dc);
    is_num(dc.adequate, 0.98, 1e-12, "journey level");

    is_int(conf->overrides[conf->noverrides - 1].nmatch, 3,
           "overrides sorted by specificity");

    /* the overrides of a row, least specific first */

    sq_conf_overrides(conf, &it, "checkout", "BR", "premium");
    o = sq_override_next(&it);
    ok(o && o->segment && strcmp(o->segment, "premium") == 0
       && o->endpoint == NULL, "first the segment override (earlier)");
    o = sq_override_next(&it);
    ok(o && o->endpoint && o->region == NULL,
       "then the endpoint override (later in the file)");
    o = sq_override_next(&it);
    ok(o && o->nmatch == 3, "then the one that names all three");
    is_int(o ? (long long) o->nlabels : -1, 1, "with its label");
    is_str(o && o->nlabels ? o->labels[0].key : "", "team", "label key");
    is_str(o && o->nlabels ? o->labels[0].value : "", "payments",
           "label value");
    ok(sq_override_next(&it) == NULL, "and no more");

    sq_conf_overrides(conf, &it, "checkout", NULL, NULL);
    o = sq_override_next(&it);
    ok(o && o->endpoint && o->region == NULL && o->segment == NULL,
       "endpoint rollup: only the endpoint override");
    ok(sq_override_next(&it) == NULL, "the segment one is not for a rollup");

    sq_conf_overrides(conf, &it, NULL, NULL, NULL);
    ok(sq_override_next(&it) == NULL, "none apply to the total");

    sq_conf_free(conf);

    /* an empty file is the defaults */

    conf = load("", &errors);
    ok(conf != NULL, "empty file loads");
    is_int(conf ? conf->short_window : 0, 300, "short window 5 m");
    is_int(conf ? conf->long_window : 0, 3600, "long window 1 h");
    free(errors);
    sq_conf_free(conf);

    test_repeated();
    test_defaults();
    test_matcher();

    return done_testing();
}


static void
test_repeated(void)
{
    char       *errors;
    sq_conf_t  *conf;

    conf = load(
        "listen:\n"                                  /* 1 */
        "  http: 127.0.0.1:9170\n"                   /* 2 */
        "storage:\n"                                 /* 3 */
        "  path: a.db\n"                             /* 4 */
        "listen:\n"                                  /* 5 */
        "  http: 127.0.0.1:9171\n",                  /* 6 */
        &errors);

    ok(conf == NULL, "a repeated top-level key is refused");
    ok(has(errors, 5, "listen: repeated key, first set at line 1"),
       "naming both lines: %s", errors);
    is_int(count_lines(errors), 1, "one error");
    free(errors);
    sq_conf_free(conf);

    /* steps: twice, the second list longer than the first */

    conf = load(
        "journeys:\n"                                /* 1 */
        "  - name: buy\n"                            /* 2 */
        "    steps: [cart, pay]\n"                   /* 3 */
        "    steps: [home, search, item, cart, pay, done]\n"   /* 4 */
        "  - name: buy\n"                            /* 5 */
        "    steps: [cart]\n"                        /* 6 */
        "overrides:\n"                               /* 7 */
        "  - endpoint: a\n"                          /* 8 */
        "    endpoint: b\n"                          /* 9 */
        "    labels: { team: x, team2: y }\n"        /* 10 */
        "overrides: []\n",                           /* 11 */
        &errors);

    ok(conf == NULL, "a journey with steps: twice is refused");
    ok(has(errors, 4, "journeys[0].steps: repeated key, first set at "
           "line 3"), "the second steps: named, with the first");
    ok(has(errors, 5, "journeys[1]: duplicate journey \"buy\""),
       "a journey name used twice");
    ok(has(errors, 9, "overrides[0].endpoint: repeated key, first set at "
           "line 8"), "a repeated key in an override");
    ok(has(errors, 11, "overrides: repeated key, first set at line 7"),
       "overrides: twice");
    is_int(count_lines(errors), 4, "every error reported, each once");
    free(errors);
    sq_conf_free(conf);

    /* steps that are not a list: said once */

    conf = load(
        "journeys:\n"                                /* 1 */
        "  - name: buy\n"                            /* 2 */
        "    steps: cart\n",                         /* 3 */
        &errors);

    ok(conf == NULL && has(errors, 3, "journeys[0].steps: must be a list"),
       "steps must be a list");
    is_int(count_lines(errors), 1, "and nothing more: %s", errors);
    free(errors);
    sq_conf_free(conf);

    /* mistakes in the stock setters, all reported at once */

    conf = load(
        "log: { level: loud }\n"                     /* 1 */
        "metrics: { series: maybe, scores: [planet] }\n"       /* 2 */
        "limits: { max_series: 0, max_workers: -1 }\n"         /* 3 */
        "listen: { ingest: [tcp://x, udp://127.0.0.1:1] }\n"   /* 4 */
        "dimensions:\n"                              /* 5 */
        "  empathy: { quantile: 1.5, apdex_t: 1s }\n"          /* 6 */
        "  responsiveness: { apdex_t: 0ms, quantile: 0.5.1 }\n" /* 7 */
        "  tangibles: { indicator: speed, adequate: fast }\n", /* 8 */
        &errors);

    ok(conf == NULL, "bad values are refused");
    ok(has(errors, 1, "log.level: invalid level \"loud\" (error, warn, "
           "info or debug)"), "an enum");
    ok(has(errors, 2, "metrics.series: must be true or false"), "a flag");
    ok(has(errors, 2, "metrics.scores: unknown scope \"planet\" (series, "
           "endpoint, region, journey)"), "a scope list");
    ok(has(errors, 3, "limits.max_series: must be between 1 and 10000000"),
       "a count below its bounds");
    ok(has(errors, 3, "limits.max_workers: invalid number \"-1\""),
       "a negative count");
    ok(has(errors, 4, "listen.ingest: invalid address \"tcp://x\""),
       "an address");
    ok(has(errors, 6, "dimensions.empathy.quantile: quantile must be "
           "between 0 and 1"), "a number out of bounds");
    ok(has(errors, 6, "dimensions.empathy: unknown key \"apdex_t\""),
       "a key of another dimension");
    ok(has(errors, 7, "dimensions.responsiveness.apdex_t: invalid duration "
           "\"0ms\" (e.g. 500ms)"), "a time of zero");
    ok(has(errors, 7, "dimensions.responsiveness.quantile: quantile must "
           "be between 0 and 1"), "a number with two points");
    ok(has(errors, 8, "dimensions.tangibles.indicator: unknown indicator "
           "\"speed\""), "an indicator");
    ok(has(errors, 8, "dimensions.tangibles.adequate: invalid level "
           "\"fast\""), "a level");
    is_int(count_lines(errors), 12, "every error reported, each once");
    free(errors);
    sq_conf_free(conf);
}


/* sq_conf_default() and an empty file: the same, field by field */

static void
test_defaults(void)
{
    char       *errors;
    sq_conf_t  *d, *e;

    d = sq_conf_default();
    e = load("", &errors);
    free(errors);

    ok(d != NULL && e != NULL, "defaults and an empty file load");

    if (d == NULL || e == NULL) {
        sq_conf_free(d);
        sq_conf_free(e);
        return;
    }

    is_int(d->ningest, 1, "one ingest address");
    is_str(d->ingest[0], "udp://127.0.0.1:5170", "ingest");
    is_str(d->http, "127.0.0.1:9170", "http");
    is_str(d->storage_path, "servqual.db", "storage path");
    is_int(d->retention, 30 * 86400, "retention 30 d");
    is_int(d->slot, 60, "slot 1 m");
    is_int(d->short_window, 300, "short 5 m");
    is_int(d->long_window, 3600, "long 1 h");
    is_int(d->max_series, 100000, "max_series");
    is_int(d->series_ttl, 7200, "series_ttl 2 h");
    is_int(d->max_workers, 65536, "max_workers");
    is_int(d->log_level, 2, "log level info");
    is_int(d->metrics_series, 1, "per-series metrics on");
    is_int(d->metrics_scopes, 0xe, "scores of endpoints, regions, journeys: "
           "per-series scores opt in");
    is_int(d->metrics_row_levels, 0, "levels once, not per row");
    is_int(d->alerts.interval, 10, "alerts every 10 s");
    is_num(d->alerts.warning_share, 0.89, 0, "warning at 89 %%");
    is_int(d->alerts.scopes, 0xf, "alerts on every scope");
    ok(d->alerts.alertmanager == NULL && d->alerts.webhook == NULL
       && d->alerts.generator_url == NULL, "no sinks, no generator URL");
    is_int(d->alerts.resend, 60, "resend 1 m");
    is_int(d->alerts.timeout, 5, "timeout 5 s");
    is_int(d->alerts.attempts, 5, "5 attempts");
    is_int(d->alerts.backoff_max, 60, "backoff_max 1 m");
    is_int(d->alerts.queue, 1000, "queue 1000");
    is_int(d->alerts.history, 100, "history 100");
    ok(d->noverrides == 0 && d->njourneys == 0, "no overrides, journeys");

    is_int(e->ningest, d->ningest, "empty file: ingest count");
    is_str(e->ingest[0], d->ingest[0], "empty file: ingest");
    is_str(e->http, d->http, "empty file: http");
    is_str(e->storage_path, d->storage_path, "empty file: storage path");
    ok(e->retention == d->retention && e->slot == d->slot
       && e->short_window == d->short_window
       && e->long_window == d->long_window
       && e->max_series == d->max_series
       && e->series_ttl == d->series_ttl
       && e->max_workers == d->max_workers
       && e->log_level == d->log_level
       && e->metrics_series == d->metrics_series
       && e->metrics_scopes == d->metrics_scopes,
       "empty file: the same storage, windows, limits, log, metrics");
    ok(memcmp(e->dims, d->dims, sizeof(d->dims)) == 0,
       "empty file: no dimension set");
    ok(e->alerts.interval == d->alerts.interval
       && e->alerts.warning_share == d->alerts.warning_share
       && e->alerts.scopes == d->alerts.scopes
       && e->alerts.resend == d->alerts.resend
       && e->alerts.timeout == d->alerts.timeout
       && e->alerts.attempts == d->alerts.attempts
       && e->alerts.backoff_max == d->alerts.backoff_max
       && e->alerts.queue == d->alerts.queue
       && e->alerts.history == d->alerts.history,
       "empty file: the same alerts");

    sq_conf_free(d);
    sq_conf_free(e);
}


/* the one override matcher, its order and its iterator */

static void
test_matcher(void)
{
    sq_override_t         ov[3];
    sq_override_iter_t    it;
    const sq_override_t  *o;

    memset(ov, 0, sizeof(ov));

    ov[0].region = "BR";
    ov[0].nmatch = 1;
    ov[0].line = 10;
    ov[1].endpoint = "checkout";
    ov[1].nmatch = 1;
    ov[1].line = 20;
    ov[2].endpoint = "checkout";
    ov[2].region = "BR";
    ov[2].nmatch = 2;
    ov[2].line = 5;

    ok(sq_override_matches(&ov[1], "checkout", "US", "premium"),
       "an endpoint override matches its endpoint in any region");
    ok(!sq_override_matches(&ov[1], "home", "US", NULL),
       "not another endpoint");
    ok(!sq_override_matches(&ov[1], NULL, "US", NULL),
       "nor the rollup over all endpoints");
    ok(sq_override_matches(&ov[2], "checkout", "BR", NULL),
       "two labels: matches a segment rollup");
    ok(!sq_override_matches(&ov[2], "checkout", NULL, NULL),
       "not the endpoint's rollup over regions");

    ok(sq_override_cmp(&ov[0], &ov[1]) < 0, "equal specificity: file order");
    ok(sq_override_cmp(&ov[2], &ov[1]) > 0, "more labels: more specific");

    ok(sq_override_within(&ov[2], &ov[0]) && sq_override_within(&ov[2],
       &ov[1]), "both one-label overrides always apply below the two");
    ok(!sq_override_within(&ov[0], &ov[2]), "not the other way");
    ok(!sq_override_within(&ov[0], &ov[1]), "nor across labels");

    sq_override_iter_init(&it, ov, 3, "checkout", "BR", "x");
    o = sq_override_next(&it);
    ok(o == &ov[0], "iterator: first");
    o = sq_override_next(&it);
    ok(o == &ov[1], "iterator: second");
    o = sq_override_next(&it);
    ok(o == &ov[2], "iterator: third");
    ok(sq_override_next(&it) == NULL, "iterator: done");

    sq_override_iter_init(&it, ov, 3, "home", "BR", NULL);
    ok(sq_override_next(&it) == &ov[0], "another endpoint: the region's");
    ok(sq_override_next(&it) == NULL, "only");
}
