
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include "sq_metrics.h"


const double  sq_prom_le[SQ_PROM_NLE] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10
};


/* each bucket of the scheme: its le bound (SQ_PROM_NLE: +Inf only) and
   its midpoint in seconds, computed on first use (constant after) */

typedef struct {
    uint8_t     le[SQ_HIST_BUCKETS];
    double      mid[SQ_HIST_BUCKETS];
} sq_metrics_map_t;


static sq_metrics_map_t  sq_metrics_map;
static int               sq_metrics_ready;


static void sq_metrics_map_init(void);


static void
sq_metrics_map_init(void)
{
    uint32_t  i, k;

    for (i = 0; i < SQ_HIST_BUCKETS; i++) {
        for (k = 0; k < SQ_PROM_NLE; k++) {
            if (sq_hist_mid(i) <= sq_prom_le[k] * 1e6) {
                break;
            }
        }

        sq_metrics_map.le[i] = (uint8_t) k;
        sq_metrics_map.mid[i] = sq_hist_mid(i) * 1e-6;
    }
}


void
sq_metrics_add(sq_metrics_t *m, int which, const sq_hist_t *h)
{
    uint32_t            i, idx;
    uint64_t            cnt;
    double              sum;
    sq_metrics_hist_t  *mh;

    if (!sq_metrics_ready) {
        sq_metrics_map_init();
        sq_metrics_ready = 1;
    }

    mh = &m->h[which];
    sum = 0;

    for (i = 0; i < h->n; i++) {
        idx = sq_hbin_idx(h->bins[i]);
        cnt = sq_hbin_count(h->bins[i]);

        if (sq_metrics_map.le[idx] < SQ_PROM_NLE) {
            mh->le[sq_metrics_map.le[idx]] += cnt;
        }

        sum += sq_metrics_map.mid[idx] * (double) cnt;
    }

    mh->count += h->total;
    mh->sum += sum;
}
