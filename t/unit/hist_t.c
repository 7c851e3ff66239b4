
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* Histogram merge and quantiles against exact values on random data. */

#include <math.h>
#include <stdint.h>

#include "tap.h"
#include "sq_status.h"
#include "sq_hist.h"


#define N  20000


static int
cmp_u64(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}


static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}


int
main(void)
{
    int        i, k, bad;
    double     q, exact, got, qs[] = { 0.01, 0.25, 0.5, 0.75, 0.9, 0.99,
                                       0.999, 1 };
    uint64_t   seed, v, *vals, cnt;
    sq_hist_t  parts[4], all, merged, once;

    vals = malloc(N * sizeof(uint64_t));
    seed = 88172645463325252ULL;

    for (i = 0; i < 4; i++) {
        sq_hist_init(&parts[i]);
    }

    sq_hist_init(&all);
    sq_hist_init(&merged);
    sq_hist_init(&once);

    /* log-uniform from 1 us to about 60 s */

    for (i = 0; i < N; i++) {
        v = (uint64_t) exp((double) (rnd(&seed) % 1000000) / 1e6 * 17.9);
        vals[i] = v;
        sq_hist_add(&parts[rnd(&seed) % 4], sq_hist_index(v), 1);
        sq_hist_add(&all, sq_hist_index(v), 1);
    }

    /* merging in a different order gives the same histogram */

    for (i = 3; i >= 0; i--) {
        ok(sq_hist_merge(&merged, &parts[i]) == 0, "merge part %d", i);
    }

    is_int(merged.total, N, "merged total is the number of values");
    is_int(merged.n, all.n, "merged has the same buckets as one pass");

    bad = 0;

    for (i = 0; i < (int) all.n; i++) {
        if (merged.bins[i] != all.bins[i])
        {
            bad++;
        }
    }

    is_int(bad, 0, "merged buckets and counts equal the single pass");

    qsort(vals, N, sizeof(uint64_t), cmp_u64);

    for (k = 0; k < (int) (sizeof(qs) / sizeof(qs[0])); k++) {
        q = qs[k];
        exact = (double) vals[(size_t) ceil(q * N) - 1];
        got = sq_hist_quantile(&merged, q);

        ok(fabs(got - exact) <= exact / 64 + 0.5,
           "p%g %.1f us within the bucket error of exact %.0f us",
           q * 100, got, exact);
    }

    /* the rest of the traffic: merged minus part 0 equals parts 1..3 */

    sq_hist_reset(&once);

    for (i = 1; i < 4; i++) {
        sq_hist_merge(&once, &parts[i]);
    }

    for (k = 0; k < (int) (sizeof(qs) / sizeof(qs[0])); k++) {
        is_num(sq_hist_quantile_excl(&merged, &parts[0], qs[k]),
               sq_hist_quantile(&once, qs[k]), 0,
               "p%g without part 0, computed in place", qs[k] * 100);
    }

    /* counts at or below a threshold: exact up to the bucket holding it */

    for (v = 10; v < 60000000; v *= 7) {
        cnt = sq_hist_count_le(&merged, (double) v);

        for (i = 0, bad = 0; i < N; i++) {
            if (vals[i] <= v) {
                bad++;
            }
        }

        ok(llabs((long long) cnt - bad)
           <= (long long) (N / 64 + 5),
           "count <= %llu us: %llu vs exact %d", (unsigned long long) v,
           (unsigned long long) cnt, bad);
    }

    /* buckets: every value lies in its bucket, and the bucket is narrow */

    bad = 0;

    for (v = 0; v < 5000000; v += 1 + v / 50) {
        uint32_t  b = sq_hist_index(v);

        if (v < sq_hist_lower(b) || v >= sq_hist_upper(b)
            || fabs(sq_hist_mid(b) - (double) v) > (double) v / 64 + 0.5)
        {
            bad++;
        }
    }

    is_int(bad, 0, "values fall in their bucket, midpoint within 1/64");

    /* adding the same bucket twice accumulates; copy is exact */

    sq_hist_reset(&once);
    sq_hist_add(&once, 100, 3);
    sq_hist_add(&once, 50, 1);
    sq_hist_add(&once, 100, 2);
    is_int(once.n, 2, "two distinct buckets");
    is_int(sq_hbin_count(once.bins[1]), 5, "bucket 100 holds 5");
    is_int(sq_hbin_idx(once.bins[0]), 50, "kept in order");
    is_int(sq_hist_add(&once, SQ_HIST_BUCKETS, 1), SQ_ERR_INVALID,
           "unknown bucket refused");
    is_int(sq_hist_add(&once, 7, 0), SQ_OK, "a count of 0: nothing to do");

    sq_hist_copy(&once, &merged);
    is_int(once.total, N, "copy has every value");

    sq_hist_reset(&once);
    ok(sq_hist_quantile(&once, 0.5) < 0, "empty histogram has no quantile");

    for (i = 0; i < 4; i++) {
        sq_hist_free(&parts[i]);
    }

    sq_hist_free(&all);
    sq_hist_free(&merged);
    sq_hist_free(&once);
    free(vals);

    return done_testing();
}
