
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SERVQUAL_HIST_H_INCLUDED_
#define _SERVQUAL_HIST_H_INCLUDED_


#include <stdint.h>


/*
 * Fixed-scheme log-linear latency histogram, shared by the nginx module and
 * the collector so that the wire format has one definition.
 *
 * Values are microseconds.  Values 0..63 have a bucket each; above that
 * every power of two [2^e, 2^(e+1)) is split into 64 equal buckets, so a
 * bucket is at most 1/64 (1.56 %) of its lower bound wide and its midpoint
 * is within 0.8 % of any value in it.  The last octave ends at 2^32 us
 * (71 minutes); larger values are clamped into the last bucket.
 *
 * Bucket index i covers [sq_hist_lower(i), sq_hist_upper(i)).
 */

#define SQ_HIST_SUB_BITS     6
#define SQ_HIST_SUB          (1u << SQ_HIST_SUB_BITS)        /* 64 */
#define SQ_HIST_MAX_EXP      31
#define SQ_HIST_BUCKETS                                                      \
    ((SQ_HIST_MAX_EXP - SQ_HIST_SUB_BITS + 2) * SQ_HIST_SUB)  /* 1728 */
#define SQ_HIST_MAX_VALUE    UINT64_C(0xffffffff)


static inline uint32_t
sq_hist_index(uint64_t v)
{
    uint32_t  e;

    if (v < 2 * SQ_HIST_SUB) {
        return (uint32_t) v;
    }

    if (v > SQ_HIST_MAX_VALUE) {
        v = SQ_HIST_MAX_VALUE;
    }

    e = 63 - (uint32_t) __builtin_clzll(v);

    return ((e - SQ_HIST_SUB_BITS) << SQ_HIST_SUB_BITS)
           + (uint32_t) (v >> (e - SQ_HIST_SUB_BITS));
}


static inline uint64_t
sq_hist_lower(uint32_t i)
{
    uint32_t  e;

    if (i < 2 * SQ_HIST_SUB) {
        return i;
    }

    e = (i >> SQ_HIST_SUB_BITS) + SQ_HIST_SUB_BITS - 1;

    return (uint64_t) ((i & (SQ_HIST_SUB - 1)) | SQ_HIST_SUB)
           << (e - SQ_HIST_SUB_BITS);
}


static inline uint64_t
sq_hist_upper(uint32_t i)
{
    uint32_t  e;

    if (i < 2 * SQ_HIST_SUB) {
        return (uint64_t) i + 1;
    }

    e = (i >> SQ_HIST_SUB_BITS) + SQ_HIST_SUB_BITS - 1;

    return sq_hist_lower(i) + (UINT64_C(1) << (e - SQ_HIST_SUB_BITS));
}


/* the value that stands for the whole bucket: its midpoint */

static inline double
sq_hist_mid(uint32_t i)
{
    return ((double) sq_hist_lower(i) + (double) sq_hist_upper(i) - 1) / 2;
}


#endif /* _SERVQUAL_HIST_H_INCLUDED_ */
