
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_METRICS_H_INCLUDED_
#define _SQ_METRICS_H_INCLUDED_


#include <stdint.h>
#include <stdio.h>

#include "servqual_wire.h"

#include "sq_config.h"
#include "sq_hist.h"


/*
 * A series' lifetime Prometheus histograms: request duration and time to
 * first byte as cumulative-ready buckets on the le bounds of sq_metrics_le
 * (seconds), a sum (bucket midpoints, seconds) and a count.  The window
 * store updates them once per series update with sq_metrics_add_slot(),
 * in the same pass as the series' slot; /metrics reads them.
 *
 * The bounds are the fixed set sq_prom_le (SQ_PROM_NLE) and every bound
 * the configuration judges by: each zone's, override's and journey's
 * Apdex T and 4T and TTFB adequate and desired levels; sorted, without
 * duplicates, at most SQ_METRICS_MAXLE.  They are chosen once, at the
 * start (sq_metrics_configure()); a reload keeps them (a bound that
 * changed would break the buckets' counters for Prometheus).
 */

#define SQ_PROM_NLE       12
#define SQ_METRICS_MAXLE  20


/*
 * The buckets are sq_metrics_nle counters (not cumulative) in memory the
 * owner gives (sq_metrics_init()): a series keeps them in its own
 * allocation, so that it pays for the bounds in use (12 by default),
 * not for SQ_METRICS_MAXLE.
 */

typedef struct {
    uint64_t   *le;               /* per bucket, not cumulative */
    double      sum;              /* seconds */
    uint64_t    count;
} sq_metrics_hist_t;


typedef struct {
    sq_metrics_hist_t  h[SQ_WIRE_NHISTS];   /* SQ_H_RT, SQ_H_TTFB */
} sq_metrics_t;


extern const double  sq_prom_le[SQ_PROM_NLE];

/* the bounds in use: the fixed set until sq_metrics_configure() */
extern double        sq_metrics_le[SQ_METRICS_MAXLE];
extern int           sq_metrics_nle;


/*
 * The bounds conf asks for, sorted, into le (SQ_METRICS_MAXLE) and *n.
 * SQ_OK, or SQ_ERR_LIMIT past the cap after writing which key's bound
 * did not fit, "FILE:LINE: KEY: message", to err (NULL: silent); le
 * then holds the bounds that fit.
 */
int sq_metrics_bounds(const sq_conf_t *conf, double *le, int *n, FILE *err);

/*
 * At the start: the bounds of conf put in use.  On a reload: the bounds
 * in use stay; logs once if conf asks for others (a restart changes
 * them).  SQ_OK or SQ_ERR_LIMIT (conf asks for too many: refuse it).
 */
int sq_metrics_configure(const sq_conf_t *conf, FILE *err);


/*
 * The bytes of the buckets of one sq_metrics_t, both histograms; and m
 * made empty on le, that many bytes.  The bounds in use must not change
 * once a series has them: sq_metrics_configure() sets them before the
 * first (a later start keeps the bounds of the start).
 */
size_t sq_metrics_le_bytes(void);
void sq_metrics_init(sq_metrics_t *m, uint64_t *le);

/* adds a histogram (a datagram's) to which (SQ_H_RT or _TTFB); the plain
   form, which t/unit/ingest_t checks sq_metrics_add_slot() against */
void sq_metrics_add(sq_metrics_t *m, int which, const sq_hist_t *h);

/*
 * The same, and h merged into slot (the series' slot being written; NULL:
 * none) in the same pass over h's bins while slot holds h's buckets (a
 * series' latencies fall in the same few buckets datagram after
 * datagram); sq_hist_merge() merges the rest.  SQ_OK or SQ_ERR_NOMEM
 * (the slot's histogram then lacks some of h).
 */
int sq_metrics_add_slot(sq_metrics_t *m, int which, const sq_hist_t *h,
    sq_hist_t *slot);


/* which's count, sum (seconds) and bucket k (not cumulative) */

static inline uint64_t
sq_metrics_count(const sq_metrics_t *m, int which)
{
    return m->h[which].count;
}


static inline double
sq_metrics_sum(const sq_metrics_t *m, int which)
{
    return m->h[which].sum;
}


static inline uint64_t
sq_metrics_bucket(const sq_metrics_t *m, int which, int k)
{
    return m->h[which].le[k];
}


#endif /* _SQ_METRICS_H_INCLUDED_ */
