
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_CONFIG_H_INCLUDED_
#define _SQ_CONFIG_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


enum {
    SQ_DIM_RELIABILITY = 0,
    SQ_DIM_RESPONSIVENESS,
    SQ_DIM_ASSURANCE,
    SQ_DIM_EMPATHY,
    SQ_DIM_TANGIBLES,
    SQ_NDIMS
};


enum {
    SQ_IND_SUCCESS_RATIO = 0,     /* reliability */
    SQ_IND_APDEX,                 /* responsiveness */
    SQ_IND_TTFB_QUANTILE,         /* responsiveness */
    SQ_IND_TLS_SHARE,             /* assurance */
    SQ_IND_HSTS_SHARE,            /* assurance */
    SQ_IND_LATENCY_RATIO,         /* empathy */
    SQ_IND_INTACT_SHARE,          /* tangibles */
    SQ_NINDICATORS
};


/* what an indicator's levels are measured in */

enum {
    SQ_UNIT_SHARE = 0,            /* 0..1, higher is better */
    SQ_UNIT_SECONDS,              /* lower is better */
    SQ_UNIT_RATIO                 /* >= 1, lower is better */
};


/* bits of sq_dim_conf_t.set: which fields a layer sets */

#define SQ_SET_INDICATOR   0x01
#define SQ_SET_ADEQUATE    0x02
#define SQ_SET_DESIRED     0x04
#define SQ_SET_WEIGHT      0x08
#define SQ_SET_MIN         0x10
#define SQ_SET_APDEX_T     0x20
#define SQ_SET_QUANTILE    0x40


typedef struct {
    int        indicator;
    double     adequate;
    double     desired;
    double     weight;
    uint64_t   min_requests;
    double     apdex_t;           /* seconds */
    double     quantile;          /* ttfb_quantile, latency_ratio */
    unsigned   set;
    int        akind;             /* how adequate/desired were written */
    int        dkind;
    int        line;              /* where adequate/desired were set */
} sq_dim_conf_t;


typedef struct {
    char      *key;
    char      *value;
} sq_label_t;


typedef struct {
    char           *endpoint;     /* NULL matches any */
    char           *region;
    char           *segment;
    int             nmatch;
    int             index;        /* in the file */
    int             line;
    sq_dim_conf_t   dims[SQ_NDIMS];
    sq_label_t     *labels;
    size_t          nlabels;
} sq_override_t;


typedef struct {
    char           *name;
    char          **steps;
    size_t          nsteps;
    int             line;
    sq_dim_conf_t   dims[SQ_NDIMS];
    sq_label_t     *labels;
    size_t          nlabels;
} sq_journey_t;


/* alerts: evaluation and sinks (sq_alert.c) */

typedef struct {
    int64_t         interval;         /* seconds between evaluations */
    double          warning_share;    /* of the zone used up: a warning */
    unsigned        scopes;           /* bit per SQ_SCOPE_*: rows judged */
    char           *alertmanager;     /* base URL, NULL: no Alertmanager */
    int64_t         resend;           /* seconds, re-sent while firing */
    char           *webhook;          /* URL, NULL: no webhook */
    char           *generator_url;    /* NULL: the collector's own page */
    int64_t         timeout;          /* seconds, per send */
    uint64_t        attempts;         /* per notification */
    int64_t         backoff_max;      /* seconds */
    uint64_t        queue;            /* notifications waiting, per sink */
    uint64_t        history;          /* transitions in /api/v1/alerts */
} sq_alert_conf_t;


typedef struct {
    char           *file;

    char          **ingest;
    size_t          ningest;
    char           *http;

    char           *storage_path;
    int64_t         retention;    /* seconds */

    int64_t         slot;         /* seconds */
    int64_t         short_window;
    int64_t         long_window;

    uint64_t        max_series;
    int64_t         series_ttl;
    uint64_t        max_workers;

    int             log_level;

    int             metrics_series;   /* per-series counters, histograms */
    unsigned        metrics_scopes;   /* bit per SQ_SCOPE_*: scores */

    sq_dim_conf_t   dims[SQ_NDIMS];

    sq_override_t  *overrides;    /* sorted by specificity, least first */
    size_t          noverrides;

    sq_journey_t   *journeys;
    size_t          njourneys;

    sq_alert_conf_t alerts;
} sq_conf_t;


extern const char  *sq_dim_names[SQ_NDIMS];
extern const char  *sq_indicator_names[SQ_NINDICATORS];


/*
 * Loads and validates a config file.  Returns NULL on error after writing
 * every error found, one a line "FILE:LINE: KEY: message", to err.
 */
sq_conf_t *sq_conf_load(const char *file, FILE *err);

/* the built-in defaults, as with an empty file */
sq_conf_t *sq_conf_default(void);

void sq_conf_free(sq_conf_t *conf);

int sq_indicator_unit(int indicator);
int sq_indicator_dim(int indicator);

/*
 * The effective settings of a dimension for a row: defaults, then the
 * global dimensions section, then each matching override, least specific
 * first.  NULL endpoint/region/segment means the row is a rollup over all.
 */
void sq_conf_effective(const sq_conf_t *conf, int dim, const char *endpoint,
    const char *region, const char *segment, const sq_journey_t *journey,
    sq_dim_conf_t *out);

/* parses "90s", "5m", "1h", "2d", "250ms"; seconds, -1 on error */
double sq_parse_duration(const char *s);


#endif /* _SQ_CONFIG_H_INCLUDED_ */
