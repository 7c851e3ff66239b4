
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_SCORE_H_INCLUDED_
#define _SQ_SCORE_H_INCLUDED_


#include <stdint.h>

#include "sq_windows.h"
#include "sq_config.h"


/*
 * Scoring: one indicator per SERVQUAL dimension, placed against its zone
 * of tolerance.  docs/dimensions.md defines each indicator.  The maths
 * only: which windows are scored, and against which baseline, is the
 * view's business (sq_view.c) and the history's.
 */

enum {
    SQ_STATE_INSUFFICIENT = 0,
    SQ_STATE_BELOW,
    SQ_STATE_WITHIN,
    SQ_STATE_ABOVE,
    SQ_NSTATES
};

/* a row's key part that is a rollup over all values */
#define SQ_ALL  "*"

/* z is clamped to this range in the index, so one dimension cannot
   drown the others */
#define SQ_INDEX_ZMIN  -2.0
#define SQ_INDEX_ZMAX   2.0

/* what is shown of a latency ratio at most (the value itself is kept) */
#define SQ_RATIO_SHOWN_MAX  10.0


typedef struct {
    int        indicator;
    int        state;
    double     value;          /* NAN when there is nothing to measure */
    double     adequate;
    double     desired;
    double     weight;
    double     z;
    double     msa;            /* better than adequate by, >= 0 is good */
    double     mss;            /* better than desired by */
    uint64_t   requests;       /* what the value was judged on */
    uint64_t   min_requests;
    double     lat;            /* latency_ratio: the row's request time */
    double     base;           /* and the rest's, seconds; else NAN */
} sq_dim_score_t;


/* the browser's measurements of a window: p75 of each, NAN when none */

#define SQ_BROWSER_QUANTILE  0.75

typedef struct {
    uint64_t         beacons;
    uint64_t         n[SQ_WIRE_NBHISTS];     /* samples, by SQ_B_* */
    double           p75[SQ_WIRE_NBHISTS];   /* seconds; CLS a score */
} sq_browser_score_t;


typedef struct {
    uint64_t         requests;
    double           p50;      /* request time, seconds; NAN if none */
    double           p75;
    double           p95;
    double           p99;
    double           index;    /* NAN when no dimension is scored */
    int              state;
    sq_dim_score_t   dim[SQ_NDIMS];
    sq_browser_score_t  browser;
} sq_win_score_t;


/* what a window is the traffic of: NULL for all (a rollup) */

typedef struct {
    const char          *endpoint;
    const char          *region;
    const char          *segment;
    const sq_journey_t  *journey;
} sq_where_t;


/*
 * The empathy baseline: the request time of h against the rest of the
 * traffic, all minus self (self holds h), at the empathy quantile of
 * the window's endpoint and journey in this region.  A window judged
 * against several (an endpoint against each of its regions) takes the
 * worst served one.
 */

typedef struct {
    const sq_hist_t     *h;
    const sq_hist_t     *all;
    const sq_hist_t     *self;
    const char          *region;
} sq_baseline_t;


extern const char  *sq_state_names[SQ_NSTATES];


/*
 * The one scoring entry point: every dimension of window w of where,
 * the empathy indicator against base[0..nbase - 1], the latency
 * quantiles and the index.  The view scores each row through it, the
 * history each stored slot.
 */
void sq_score_window(const sq_conf_t *conf, const sq_where_t *where,
    const sq_win_t *w, const sq_baseline_t *base, size_t nbase,
    sq_win_score_t *ws);

/*
 * The same with each dimension's effective configuration given
 * (dcs[SQ_NDIMS], as sq_conf_effective() makes it for where): the view
 * works it out once for all the rows the same overrides apply to.
 */
void sq_score_window_dc(const sq_conf_t *conf, const sq_dim_conf_t *dcs,
    const sq_where_t *where, const sq_win_t *w, const sq_baseline_t *base,
    size_t nbase, sq_win_score_t *ws);

/*
 * A journey's reliability, the product of its steps' success ratios
 * (steps[0..n - 1], in where's region), in place of ws's own; the index
 * is computed again.
 */
void sq_score_journey(const sq_conf_t *conf, const sq_where_t *where,
    const sq_win_t *steps, size_t n, sq_win_score_t *ws);

/* places a value: z, MSA, MSS and the state (not insufficient) */
void sq_place(sq_dim_score_t *d);

/*
 * Scores one dimension of a window.  ratio is the empathy indicator's
 * value (NAN if not available).
 */
void sq_score_dim(const sq_dim_conf_t *dc, const sq_win_t *w, double ratio,
    sq_dim_score_t *out);

/*
 * The empathy ratio of one baseline at quantile q, NAN below min; both
 * request times are taken as at least floor seconds, and are stored in
 * *lat and *base (seconds, before the floor).
 */
double sq_score_ratio(const sq_hist_t *h, const sq_hist_t *all,
    const sq_hist_t *self, double q, uint64_t min, double floor,
    double *lat, double *base);

/*
 * The browser's part of a dimension (dc->browser, SQ_IND_NONE: none)
 * judged beside the server's in *out: the worse placed of the two that
 * have enough data decides (docs/dimensions.md).
 */
void sq_score_browser(const sq_dim_conf_t *dc, const sq_win_t *w,
    sq_dim_score_t *out);

/* a browser histogram's q-quantile in its indicator's unit, NAN if none */
double sq_browser_quantile(const sq_win_t *w, int which, double q);

/* the Apdex of a histogram with threshold t seconds; aborts frustrated */
double sq_apdex(const sq_hist_t *h, double t, uint64_t aborted);

/* the weighted index and overall state over the scored dimensions */
void sq_score_index(sq_win_score_t *ws);

/* journeys: reliability is the product of the steps' success ratios */
double sq_journey_reliability(const sq_win_t *steps, size_t n,
    uint64_t min_requests, uint64_t *requests);


#endif /* _SQ_SCORE_H_INCLUDED_ */
