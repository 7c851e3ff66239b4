
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
 * of tolerance.  docs/dimensions.md defines each indicator.
 */

enum {
    SQ_STATE_INSUFFICIENT = 0,
    SQ_STATE_BELOW,
    SQ_STATE_WITHIN,
    SQ_STATE_ABOVE,
    SQ_NSTATES
};

enum {
    SQ_SCOPE_SERIES = 0,
    SQ_SCOPE_ENDPOINT,
    SQ_SCOPE_REGION,
    SQ_SCOPE_JOURNEY,
    SQ_NSCOPES
};

#define SQ_ALL  "*"

/* z is clamped to this range in the index, so one dimension cannot
   drown the others */
#define SQ_INDEX_ZMIN  -2.0
#define SQ_INDEX_ZMAX   2.0


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
} sq_dim_score_t;


typedef struct {
    uint64_t         requests;
    uint64_t         c[SQ_WIRE_NCOUNTERS];
    double           p50;      /* request time, seconds; NAN if none */
    double           p75;
    double           p95;
    double           p99;
    double           index;    /* NAN when no dimension is scored */
    int              state;
    sq_dim_score_t   dim[SQ_NDIMS];
} sq_win_score_t;


typedef struct {
    int              scope;
    const char      *endpoint;  /* the journey's name for a journey */
    const char      *region;
    const char      *segment;
    const void      *labels;   /* sq_label_t of the matching override */
    size_t           nlabels;
    sq_win_score_t   w[2];
} sq_row_t;


typedef struct {
    int64_t          now;
    sq_row_t        *rows;
    size_t           n;
    char            *strings;  /* the names the rows point to */
} sq_view_t;


extern const char  *sq_state_names[SQ_NSTATES];
extern const char  *sq_scope_names[SQ_NSCOPES];


/* places a value: z, MSA, MSS and the state (not insufficient) */
void sq_place(sq_dim_score_t *d);

/*
 * Scores one dimension of a window.  ratio is the empathy indicator's
 * value, computed by the caller from the region and endpoint quantiles
 * (NAN if not available).
 */
void sq_score_dim(const sq_dim_conf_t *dc, const sq_win_t *w, double ratio,
    sq_dim_score_t *out);

/* the Apdex of a histogram with threshold t seconds; aborts frustrated */
double sq_apdex(const sq_hist_t *h, double t, uint64_t aborted);

/* the weighted index and overall state over the scored dimensions */
void sq_score_index(sq_win_score_t *ws);

/* journeys: reliability is the product of the steps' success ratios */
double sq_journey_reliability(const sq_win_t *steps, size_t n,
    uint64_t min_requests, uint64_t *requests);

/*
 * Scores a stored slot (the history API) as sq_view_build() scores a
 * window: w the selected traffic of endpoint e, region r and segment g
 * (NULL for all); ep the endpoint's traffic over all regions and
 * segments, regs[] its regions' (all segments), named by names[], for
 * the empathy indicator.
 */
void sq_score_slot(const sq_conf_t *conf, const char *e, const char *r,
    const char *g, const sq_win_t *w, const sq_win_t *ep,
    const sq_win_t *regs, const char *const *names, size_t nregs,
    sq_win_score_t *ws);

sq_view_t *sq_view_build(const sq_windows_t *a, const sq_conf_t *conf,
    int64_t now);
void sq_view_free(sq_view_t *v);


#endif /* _SQ_SCORE_H_INCLUDED_ */
