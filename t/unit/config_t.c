
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* Config: every error reported at once with file, line and key;
   overrides resolved by specificity. */

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
    char           *errors;
    sq_conf_t      *conf;
    sq_dim_conf_t   dc;

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

    sq_conf_free(conf);

    /* an empty file is the defaults */

    conf = load("", &errors);
    ok(conf != NULL, "empty file loads");
    is_int(conf ? conf->short_window : 0, 300, "short window 5 m");
    is_int(conf ? conf->long_window : 0, 3600, "long window 1 h");
    free(errors);
    sq_conf_free(conf);

    return done_testing();
}
