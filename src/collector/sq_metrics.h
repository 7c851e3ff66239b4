
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_METRICS_H_INCLUDED_
#define _SQ_METRICS_H_INCLUDED_


#include <stdint.h>

#include "servqual_wire.h"

#include "sq_hist.h"


/*
 * A series' lifetime Prometheus histograms: request duration and time to
 * first byte as cumulative-ready buckets on the le bounds of sq_prom_le
 * (seconds), a sum (bucket midpoints, seconds) and a count.  The window
 * store updates them once per series update with sq_metrics_add();
 * /metrics reads them.
 */

#define SQ_PROM_NLE  12


typedef struct {
    uint64_t    le[SQ_PROM_NLE];  /* per bucket, not cumulative */
    double      sum;              /* seconds */
    uint64_t    count;
} sq_metrics_hist_t;


typedef struct {
    sq_metrics_hist_t  h[SQ_WIRE_NHISTS];   /* SQ_H_RT, SQ_H_TTFB */
} sq_metrics_t;


extern const double  sq_prom_le[SQ_PROM_NLE];


/* adds a histogram (a datagram's) to which (SQ_H_RT or _TTFB) */
void sq_metrics_add(sq_metrics_t *m, int which, const sq_hist_t *h);


#endif /* _SQ_METRICS_H_INCLUDED_ */
