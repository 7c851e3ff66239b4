
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_VIEW_H_INCLUDED_
#define _SQ_VIEW_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "sq_arena.h"
#include "sq_windows.h"
#include "sq_config.h"
#include "sq_score.h"


/*
 * The scored view: the whole scored table at one moment, built once per
 * tick and read by alerts, /metrics, the API and the dashboard.  A view
 * is immutable once built and owns everything it points to (names,
 * labels, the window store's counters at that moment), so a reader that
 * holds it (a /metrics answer streamed over several loop iterations)
 * keeps it valid while newer views replace it and the configuration is
 * reloaded: sq_view_retain() and sq_view_release() count its holders.
 */

enum {
    SQ_SCOPE_SERIES = 0,
    SQ_SCOPE_ENDPOINT,
    SQ_SCOPE_REGION,
    SQ_SCOPE_JOURNEY,
    SQ_NSCOPES
};


/*
 * A level set: what a row is judged against, the same for every row that
 * the same overrides (and journey) apply to: each dimension's effective
 * configuration and the labels shown with the row, copied from the
 * configuration at build, so a view outlives a reload.
 */

typedef struct {
    sq_dim_conf_t        dc[SQ_NDIMS];
    const sq_label_t    *labels;
    size_t               nlabels;
} sq_levels_t;


/* one dimension of a row's window as measured */

#define SQ_ROW_STATE     0x03      /* the SQ_STATE_* judged */
#define SQ_ROW_BROWSER   0x04      /* the browser's part decided */

typedef struct {
    double               value;
    uint64_t             requests;
} sq_row_dim_t;


/*
 * A row's window, measured: what the level set does not give.  Levels,
 * z, MSA, MSS, the index and the state follow from these and the row's
 * level set (sq_view_score()).
 */

typedef struct {
    uint64_t             requests;
    double               p50;       /* request time, seconds; NAN if none */
    double               p75;
    double               p95;
    double               p99;
    double               lat;       /* the empathy ratio's two times */
    double               base;
    sq_row_dim_t         dim[SQ_NDIMS];
    uint8_t              flags[SQ_NDIMS];
} sq_row_win_t;


typedef struct {
    const char          *endpoint;  /* the journey's name for a journey */
    const char          *region;
    const char          *segment;
    const sq_levels_t   *levels;    /* and the labels shown with the row */
    sq_browser_score_t  *browser;   /* [2], NULL: no beacons in either */
    int                  scope;
    sq_row_win_t         m[2];
} sq_row_t;


/* the window store at the moment the view was built */

typedef struct {
    sq_windows_stats_t   stats;
    uint64_t             lost;      /* the workers' sequence gaps */
    uint64_t             reordered;
    uint64_t             restarts;
    uint32_t             series;    /* live series, _other not included */
    uint32_t             other;     /* 1 when _other is live */
    uint32_t             workers;
    uint64_t             max_series;
    size_t               memory;
} sq_view_store_t;


typedef struct {
    int64_t              now;
    uint64_t             gen;       /* the build's number, from 1 */
    double               seconds;   /* how long the build took, the
                                       merges it let run not counted */
    double               wall;      /* and with them */
    sq_row_t            *rows;
    size_t               n;
    size_t               bytes;     /* what the view holds, all told */
    sq_arena_t           arena;     /* names, labels, level sets, the
                                       browser's blocks */
    size_t               nlevels;
    sq_view_store_t      store;
    unsigned             refs;
} sq_view_t;


/*
 * What the loop owes while a view is built, called every few hundred
 * series read: it may merge queued datagrams into the store being read
 * (sq_ingest_catch_up()).
 */

typedef void (*sq_view_yield_pt)(void *data);


/*
 * Where the latest view is handed over: one tick builds it (when the
 * windows or the configuration changed), every reader takes the latest.
 */

typedef struct {
    sq_view_t           *latest;
    sq_view_yield_pt     yield;     /* NULL: none */
    void                *yield_data;
    uint64_t             builds;
    double               seconds;   /* the last build's duration */
    int64_t              next_ms;   /* no build before (the cost guard) */
    int64_t              slot;      /* the slot of the last build */
    uint32_t             series;    /* and the store then */
    sq_windows_stats_t   stats;
    int64_t              held_ms;   /* since when a build waits for a
                                       reader to let go of the latest */
    uint64_t             waits;     /* ticks that waited so */
    unsigned             stale:1;   /* a reload: rebuild whatever else */
} sq_view_pub_t;


extern const char  *sq_scope_names[SQ_NSCOPES];


/* a new view of the windows at now, one holder; NULL: out of memory */
sq_view_t *sq_view_build(const sq_windows_t *a, const sq_conf_t *conf,
    int64_t now);
sq_view_t *sq_view_retain(sq_view_t *v);

/*
 * The same, yield called while it reads the series: the store may take
 * merges meanwhile (series read as they are when the build comes to
 * them; series added after the build began are left to the next one).
 */
sq_view_t *sq_view_build_yielding(const sq_windows_t *a,
    const sq_conf_t *conf, int64_t now, sq_view_yield_pt yield,
    void *data);

/*
 * A row's window (SQ_WIN_SHORT, SQ_WIN_LONG) scored in full: the same
 * numbers sq_score_window() gave when the view was built.
 */
void sq_view_score(const sq_row_t *r, int which, sq_win_score_t *out);

/* one dimension of it, without the index */
void sq_view_dim(const sq_row_t *r, int which, int dim,
    sq_dim_score_t *out);

void sq_view_release(sq_view_t *v);

/*
 * The tick: builds and publishes a new view when the windows changed (a
 * datagram counted, a series expired, a slot rolled over) or the view
 * was made stale, and the cost guard allows (a build takes at most a
 * fifth of the loop; force: the guard does not apply), and no scrape
 * holds the latest view (for 2 s at most; force or not, a reload
 * aside).  Returns SQ_OK
 * (*built tells whether a view was built) or SQ_ERR_NOMEM.
 */
int sq_view_tick(sq_view_pub_t *p, const sq_windows_t *a,
    const sq_conf_t *conf, int64_t now, int force, int *built);

/* the next tick builds a new view (a reload) */
void sq_view_stale(sq_view_pub_t *p);

/* the latest view, NULL before the first build; not retained */
sq_view_t *sq_view_latest(sq_view_pub_t *p);

void sq_view_pub_free(sq_view_pub_t *p);


#endif /* _SQ_VIEW_H_INCLUDED_ */
