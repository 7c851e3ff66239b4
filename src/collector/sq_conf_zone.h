
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_CONF_ZONE_H_INCLUDED_
#define _SQ_CONF_ZONE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * The zones of tolerance as the config states them: per dimension an
 * indicator and its adequate and desired levels, set in layers (the
 * built-in defaults, the global dimensions section, the overrides that
 * match a row, least specific first, then a journey's own levels).
 */

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
    SQ_IND_LCP_QUANTILE,          /* responsiveness, the browser's */
    SQ_IND_INP_QUANTILE,          /* responsiveness, the browser's */
    SQ_IND_CLS_QUANTILE,          /* tangibles, the browser's */
    SQ_NINDICATORS
};

/* a dimension without a browser indicator */
#define SQ_IND_NONE  (-1)


/* what an indicator's levels are measured in */

enum {
    SQ_UNIT_SHARE = 0,            /* 0..1, higher is better */
    SQ_UNIT_SECONDS,              /* lower is better */
    SQ_UNIT_RATIO,                /* >= 1, lower is better */
    SQ_UNIT_SCORE                 /* >= 0, lower is better (CLS) */
};


/* how a level was written: 0.995, 99.5%, 800ms, 2x */

enum {
    SQ_LIT_NUMBER = 0,
    SQ_LIT_PERCENT,
    SQ_LIT_DURATION,
    SQ_LIT_RATIO
};


/* bits of sq_dim_conf_t.set: which fields a layer sets */

#define SQ_SET_INDICATOR   0x01
#define SQ_SET_ADEQUATE    0x02
#define SQ_SET_DESIRED     0x04
#define SQ_SET_WEIGHT      0x08
#define SQ_SET_MIN         0x10
#define SQ_SET_APDEX_T     0x20
#define SQ_SET_QUANTILE    0x40
#define SQ_SET_MIN_LATENCY 0x80
#define SQ_SET_BROWSER     0x100
#define SQ_SET_BADEQUATE   0x200
#define SQ_SET_BDESIRED    0x400
#define SQ_SET_MIN_BEACONS 0x800


typedef struct {
    int        indicator;
    double     adequate;
    double     desired;
    double     weight;
    uint64_t   min_requests;
    double     apdex_t;           /* seconds */
    double     quantile;          /* ttfb_quantile, latency_ratio */
    double     min_latency;       /* latency_ratio: seconds, the floor */

    /*
     * The browser's view of the dimension (docs/dimensions.md): an
     * indicator of beacons judged beside the server's, the worse of the
     * two with enough data deciding; SQ_IND_NONE: the server's alone.
     */
    int        browser;
    double     badequate;
    double     bdesired;
    uint64_t   min_beacons;

    unsigned   set;
    int        akind;             /* how adequate/desired were written */
    int        dkind;
    int        bakind;
    int        bdkind;
    int        line;              /* where adequate/desired were set */
    int        bline;
} sq_dim_conf_t;


typedef struct {
    char      *key;
    char      *value;
} sq_label_t;


typedef struct {
    char           *endpoint;     /* NULL matches any */
    char           *region;
    char           *segment;
    int             nmatch;       /* how many of the three are set */
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


/* the overrides that apply to one row, least specific first */

typedef struct {
    const sq_override_t  *overrides;
    size_t                noverrides;
    size_t                next;
    const char           *endpoint;
    const char           *region;
    const char           *segment;
} sq_override_iter_t;


extern const char  *sq_dim_names[SQ_NDIMS];
extern const char  *sq_indicator_names[SQ_NINDICATORS];


int sq_indicator_unit(int indicator);
int sq_indicator_dim(int indicator);

/* whether an indicator is measured by the browser (beacons) */
int sq_indicator_browser(int indicator);

/* an indicator's built-in levels, for a browser part */
void sq_indicator_levels(int indicator, double *adequate, double *desired);

/* the built-in settings of a dimension, before any layer */
void sq_dim_defaults(int dim, sq_dim_conf_t *out);

/* merges the fields a layer sets over eff */
void sq_dim_apply(sq_dim_conf_t *eff, const sq_dim_conf_t *layer);

/*
 * Whether override o applies to the row endpoint/region/segment; NULL
 * means the row is a rollup over all of that label, which only an
 * override that leaves the label open applies to.
 */
int sq_override_matches(const sq_override_t *o, const char *endpoint,
    const char *region, const char *segment);

/*
 * Specificity order, least specific first: fewer labels matched, then
 * earlier in the file.  < 0, 0 or > 0 as strcmp().
 */
int sq_override_cmp(const sq_override_t *a, const sq_override_t *b);

/* whether b applies to every row a applies to and is less specific */
int sq_override_within(const sq_override_t *a, const sq_override_t *b);

/*
 * Iterates over the overrides that apply to a row, in the order of the
 * array (sq_conf_load() sorts it by sq_override_cmp()).
 */
void sq_override_iter_init(sq_override_iter_t *it,
    const sq_override_t *overrides, size_t noverrides,
    const char *endpoint, const char *region, const char *segment);
const sq_override_t *sq_override_next(sq_override_iter_t *it);


#endif /* _SQ_CONF_ZONE_H_INCLUDED_ */
