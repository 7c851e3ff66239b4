
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_HIST_H_INCLUDED_
#define _SQ_HIST_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "servqual_hist.h"


/*
 * Collector-side histogram operations on the shared bucket scheme of
 * servqual_hist.h.  A sq_hist_t is sparse: the non-empty buckets in
 * ascending order, so a series that saw a handful of latencies costs a
 * handful of bins.  Merging two histograms is exact.
 */

/* a bin: the bucket index in the top 11 bits, the count in the rest */

typedef uint64_t  sq_hbin_t;

#define SQ_HBIN_SHIFT      53
#define SQ_HBIN_COUNT_MAX  ((UINT64_C(1) << SQ_HBIN_SHIFT) - 1)
#define sq_hbin(idx, count)                                                  \
    (((uint64_t) (idx) << SQ_HBIN_SHIFT) | (count))
#define sq_hbin_idx(b)     ((uint32_t) ((b) >> SQ_HBIN_SHIFT))
#define sq_hbin_count(b)   ((b) & SQ_HBIN_COUNT_MAX)


typedef struct {
    sq_hbin_t  *bins;
    uint32_t    n;
    uint32_t    cap;              /* | SQ_HIST_BORROWED: bins not owned */
    uint64_t    total;
} sq_hist_t;


/*
 * Bins in memory the histogram does not own (sq_hist_lend(), e.g. room
 * in the allocation of the slot it is part of): never freed or
 * reallocated; a histogram that outgrows them moves to bins of its own.
 */
#define SQ_HIST_BORROWED  0x80000000u


void sq_hist_init(sq_hist_t *h);
void sq_hist_lend(sq_hist_t *h, sq_hbin_t *bins, uint32_t cap);
void sq_hist_free(sq_hist_t *h);
void sq_hist_reset(sq_hist_t *h);

/*
 * SQ_OK, SQ_ERR_INVALID (a bucket index out of the scheme) or
 * SQ_ERR_NOMEM (sq_status.h)
 */
int sq_hist_add(sq_hist_t *h, uint32_t idx, uint64_t count);
int sq_hist_merge(sq_hist_t *dst, const sq_hist_t *src);
int sq_hist_copy(sq_hist_t *dst, const sq_hist_t *src);

/* the q-quantile (0 < q <= 1) in microseconds, a bucket midpoint;
   -1 if empty */
double sq_hist_quantile(const sq_hist_t *h, double q);

/*
 * The q-quantile of h minus excl, where excl is part of h (a region of
 * an endpoint): the rest of the traffic, without building it.
 */
double sq_hist_quantile_excl(const sq_hist_t *h, const sq_hist_t *excl,
    double q);

/* requests at or below a value in microseconds (bucket midpoint rule) */
uint64_t sq_hist_count_le(const sq_hist_t *h, double us);

/* the sum of all values in microseconds, from bucket midpoints */
double sq_hist_sum(const sq_hist_t *h);

/* the bytes of the bins it owns */
size_t sq_hist_bytes(const sq_hist_t *h);


#endif /* _SQ_HIST_H_INCLUDED_ */
