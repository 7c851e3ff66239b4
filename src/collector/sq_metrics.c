
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sq_collector.h"
#include "sq_metrics.h"


const double  sq_prom_le[SQ_PROM_NLE] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10
};

double  sq_metrics_le[SQ_METRICS_MAXLE] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10
};

int     sq_metrics_nle = SQ_PROM_NLE;


/* each bucket of the scheme: its le bound (SQ_PROM_NLE: +Inf only) and
   its midpoint in seconds, computed on first use (constant after) */

typedef struct {
    double      mid;
    uint32_t    le;
} sq_metrics_map_t;


static sq_metrics_map_t  sq_metrics_map[SQ_HIST_BUCKETS];
static int               sq_metrics_ready;
static int               sq_metrics_used;     /* buckets handed out */


static void sq_metrics_map_init(void);
static int sq_metrics_cmp(const void *a, const void *b);
static int sq_metrics_put(double *le, int *n, double v);
static int sq_metrics_dims(const sq_conf_t *conf, const sq_dim_conf_t *dims,
    const char *key, int line, double *le, int *n, FILE *err);


static void
sq_metrics_map_init(void)
{
    uint32_t  i, k;

    for (i = 0; i < SQ_HIST_BUCKETS; i++) {
        for (k = 0; k < (uint32_t) sq_metrics_nle; k++) {
            if (sq_hist_mid(i) <= sq_metrics_le[k] * 1e6) {
                break;
            }
        }

        sq_metrics_map[i].le = k;
        sq_metrics_map[i].mid = sq_hist_mid(i) * 1e-6;
    }
}


size_t
sq_metrics_le_bytes(void)
{
    return SQ_WIRE_NHISTS * (size_t) sq_metrics_nle * sizeof(uint64_t);
}


void
sq_metrics_init(sq_metrics_t *m, uint64_t *le)
{
    int  k;

    memset(le, 0, sq_metrics_le_bytes());

    for (k = 0; k < SQ_WIRE_NHISTS; k++) {
        m->h[k].le = le + k * sq_metrics_nle;
        m->h[k].sum = 0;
        m->h[k].count = 0;
    }

    sq_metrics_used = 1;
}


void
sq_metrics_add(sq_metrics_t *m, int which, const sq_hist_t *h)
{
    uint32_t                 i, n, nle;
    uint64_t                 v, cnt, *mle;
    double                   sum;
    const sq_hbin_t         *b;
    const sq_metrics_map_t  *e;

    if (!sq_metrics_ready) {
        sq_metrics_map_init();
        sq_metrics_ready = 1;
    }

    mle = m->h[which].le;
    nle = (uint32_t) sq_metrics_nle;
    b = h->bins;
    n = h->n;
    sum = 0;

    /* a count is below 2^53: converted as a signed integer, exactly */

    for (i = 0; i < n; i++) {
        v = b[i];
        e = &sq_metrics_map[sq_hbin_idx(v)];
        cnt = sq_hbin_count(v);

        if (e->le < nle) {
            mle[e->le] += cnt;
        }

        sum += e->mid * (double) (int64_t) cnt;
    }

    m->h[which].count += h->total;
    m->h[which].sum += sum;
}


int
sq_metrics_add_slot(sq_metrics_t *m, int which, const sq_hist_t *h,
    sq_hist_t *slot)
{
    int                      same;
    uint32_t                 i, n, nle, done;
    uint64_t                 v, w, cnt, added, *mle;
    double                   sum;
    sq_hist_t                rest;
    sq_hbin_t               *a;
    const sq_hbin_t         *b;
    const sq_metrics_map_t  *e;

    if (!sq_metrics_ready) {
        sq_metrics_map_init();
        sq_metrics_ready = 1;
    }

    mle = m->h[which].le;
    nle = (uint32_t) sq_metrics_nle;
    b = h->bins;
    n = h->n;
    sum = 0;

    /*
     * The slot's bins while they are h's buckets, in place: a bin's
     * index is its top bits, so two bins are of one bucket when their
     * xor is at most SQ_HBIN_COUNT_MAX, and a count that would overflow
     * shows there too.  done: the bins of h merged so.
     */

    same = (slot != NULL && slot->n == n);
    a = same ? slot->bins : NULL;
    done = 0;
    added = 0;

    for (i = 0; i < n; i++) {
        v = b[i];
        e = &sq_metrics_map[sq_hbin_idx(v)];
        cnt = sq_hbin_count(v);

        if (e->le < nle) {
            mle[e->le] += cnt;
        }

        sum += e->mid * (double) (int64_t) cnt;

        if (same) {
            w = a[i] + cnt;

            if (((a[i] ^ v) | (w ^ v)) > SQ_HBIN_COUNT_MAX) {
                same = 0;
                continue;
            }

            a[i] = w;
            added += cnt;
            done = i + 1;
        }
    }

    m->h[which].count += h->total;
    m->h[which].sum += sum;

    if (slot == NULL) {
        return SQ_OK;
    }

    slot->total += added;

    if (done == n) {
        return SQ_OK;
    }

    rest.bins = (sq_hbin_t *) b + done;
    rest.n = n - done;
    rest.cap = rest.n;
    rest.total = h->total - added;

    return sq_hist_merge(slot, &rest);
}


static int
sq_metrics_cmp(const void *a, const void *b)
{
    double  x, y;

    x = *(const double *) a;
    y = *(const double *) b;

    return (x > y) - (x < y);
}


/* adds v (seconds, to the microsecond) unless there: SQ_OK or _LIMIT */

static int
sq_metrics_put(double *le, int *n, double v)
{
    int  i;

    v = round(v * 1e6) / 1e6;

    if (v <= 0) {
        return SQ_OK;
    }

    for (i = 0; i < *n; i++) {
        if (le[i] == v) {
            return SQ_OK;
        }
    }

    if (*n == SQ_METRICS_MAXLE) {
        return SQ_ERR_LIMIT;
    }

    le[(*n)++] = v;

    return SQ_OK;
}


/* the bounds of one layer's dimensions as conf leaves them */

static int
sq_metrics_dims(const sq_conf_t *conf, const sq_dim_conf_t *dims,
    const char *key, int line, double *le, int *n, FILE *err)
{
    int                   d, rc;
    const char           *what;
    const sq_dim_conf_t  *dc;

    for (d = 0; d < SQ_NDIMS; d++) {
        dc = &dims[d];

        switch (dc->indicator) {

        case SQ_IND_APDEX:
            what = "apdex_t";
            rc = sq_metrics_put(le, n, dc->apdex_t);

            if (rc == SQ_OK) {
                rc = sq_metrics_put(le, n, 4 * dc->apdex_t);
            }

            break;

        case SQ_IND_TTFB_QUANTILE:
            what = "adequate";
            rc = sq_metrics_put(le, n, dc->adequate);

            if (rc == SQ_OK) {
                what = "desired";
                rc = sq_metrics_put(le, n, dc->desired);
            }

            break;

        default:
            continue;
        }

        if (rc != SQ_OK) {
            if (err) {
                fprintf(err, "%s:%d: %s.%s.%s: more than %d histogram "
                        "bounds (le) in /metrics: the fixed %d and each "
                        "Apdex T, 4T and TTFB level of the zones; this one "
                        "does not fit\n",
                        conf->file ? conf->file : "(defaults)",
                        dc->line ? dc->line : line, key, sq_dim_names[d],
                        what, SQ_METRICS_MAXLE, SQ_PROM_NLE);
            }

            return rc;
        }
    }

    return SQ_OK;
}


int
sq_metrics_bounds(const sq_conf_t *conf, double *le, int *n, FILE *err)
{
    int                   d, rc;
    char                  key[256];
    size_t                i;
    sq_dim_conf_t         dims[SQ_NDIMS];
    const sq_override_t  *ov;
    const sq_journey_t   *j;

    *n = 0;

    for (i = 0; i < SQ_PROM_NLE; i++) {
        (void) sq_metrics_put(le, n, sq_prom_le[i]);
    }

    for (d = 0; d < SQ_NDIMS; d++) {
        sq_conf_effective(conf, d, NULL, NULL, NULL, NULL, &dims[d]);
    }

    rc = sq_metrics_dims(conf, dims, "dimensions", 0, le, n, err);

    for (i = 0; rc == SQ_OK && i < conf->noverrides; i++) {
        ov = &conf->overrides[i];

        for (d = 0; d < SQ_NDIMS; d++) {
            sq_conf_effective(conf, d, ov->endpoint, ov->region,
                              ov->segment, NULL, &dims[d]);
        }

        snprintf(key, sizeof(key), "overrides[%d]", ov->index);
        rc = sq_metrics_dims(conf, dims, key, ov->line, le, n, err);
    }

    for (i = 0; rc == SQ_OK && i < conf->njourneys; i++) {
        j = &conf->journeys[i];

        for (d = 0; d < SQ_NDIMS; d++) {
            sq_conf_effective(conf, d, NULL, NULL, NULL, j, &dims[d]);
        }

        snprintf(key, sizeof(key), "journeys.%s", j->name);
        rc = sq_metrics_dims(conf, dims, key, j->line, le, n, err);
    }

    qsort(le, (size_t) *n, sizeof(double), sq_metrics_cmp);

    return rc;
}


int
sq_metrics_configure(const sq_conf_t *conf, FILE *err)
{
    int          rc, n;
    double       le[SQ_METRICS_MAXLE];
    static int   configured;

    rc = sq_metrics_bounds(conf, le, &n, err);
    if (rc != SQ_OK) {
        return rc;
    }

    if (!configured && !sq_metrics_used) {
        memcpy(sq_metrics_le, le, sizeof(le));
        sq_metrics_nle = n;
        sq_metrics_map_init();
        sq_metrics_ready = 1;
        configured = 1;
        return SQ_OK;
    }

    if (n != sq_metrics_nle
        || memcmp(le, sq_metrics_le, (size_t) n * sizeof(double)) != 0)
    {
        sq_log(SQ_LOG_WARN, "the new configuration asks for other "
               "histogram bounds (le) in /metrics; the bounds of the start "
               "stay until a restart");
    }

    return SQ_OK;
}
