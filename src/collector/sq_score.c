
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sq_score.h"


static void sq_score_browser_view(const sq_win_t *w,
    sq_browser_score_t *bs);


const char  *sq_state_names[SQ_NSTATES] = {
    "insufficient", "below", "within", "above"
};


void
sq_place(sq_dim_score_t *d)
{
    double  sign;

    sign = d->desired >= d->adequate ? 1 : -1;

    d->z = (d->value - d->adequate) / (d->desired - d->adequate);
    d->msa = sign * (d->value - d->adequate);
    d->mss = sign * (d->value - d->desired);

    if (d->z < 0) {
        d->state = SQ_STATE_BELOW;

    } else if (d->z <= 1) {
        d->state = SQ_STATE_WITHIN;

    } else {
        d->state = SQ_STATE_ABOVE;
    }
}


double
sq_apdex(const sq_hist_t *h, double t, uint64_t aborted)
{
    uint64_t  n, sat, tol, fr, extra;

    n = h->total;

    if (n == 0) {
        return NAN;
    }

    sat = sq_hist_count_le(h, t * 1e6);
    tol = sq_hist_count_le(h, 4 * t * 1e6) - sat;
    fr = n - sat - tol;

    /*
     * Client aborts are frustrated.  Which entries of the histogram were
     * aborts is not known: they are taken to be the slowest ones, so only
     * aborts beyond the frustrated count move tolerating, then satisfied
     * requests into frustrated.
     */

    if (aborted > n) {
        aborted = n;
    }

    if (aborted > fr) {
        extra = aborted - fr;

        if (extra <= tol) {
            tol -= extra;

        } else {
            sat -= extra - tol;
            tol = 0;
        }
    }

    return ((double) sat + (double) tol / 2) / (double) n;
}


void
sq_score_dim(const sq_dim_conf_t *dc, const sq_win_t *w, double ratio,
    sq_dim_score_t *out)
{
    int              b;
    double           n, v;
    uint64_t         fail, up, defects;
    const uint64_t  *c;

    c = w->c;
    n = (double) c[SQ_C_REQUESTS];

    out->indicator = dc->indicator;
    out->adequate = dc->adequate;
    out->desired = dc->desired;
    out->weight = dc->weight;
    out->min_requests = dc->min_requests;
    out->requests = c[SQ_C_REQUESTS];
    out->z = NAN;
    out->msa = NAN;
    out->mss = NAN;
    out->lat = NAN;
    out->base = NAN;
    v = NAN;

    switch (dc->indicator) {

    case SQ_IND_SUCCESS_RATIO:
        /* upstream failures are mostly 5xx too: the larger count */
        fail = c[SQ_C_5XX];
        up = c[SQ_C_UPSTREAM_ERROR] + c[SQ_C_UPSTREAM_TIMEOUT];

        if (up > fail) {
            fail = up;
        }

        if (n > 0) {
            v = 1 - (fail < c[SQ_C_REQUESTS] ? (double) fail : n) / n;
        }

        break;

    case SQ_IND_APDEX:
        out->requests = w->h[SQ_H_RT].total;
        v = sq_apdex(&w->h[SQ_H_RT], dc->apdex_t, c[SQ_C_ABORTED]);
        break;

    case SQ_IND_TTFB_QUANTILE:
        out->requests = w->h[SQ_H_TTFB].total;

        if (w->h[SQ_H_TTFB].total) {
            v = sq_hist_quantile(&w->h[SQ_H_TTFB], dc->quantile) / 1e6;
        }

        break;

    case SQ_IND_TLS_SHARE:
        if (n > 0) {
            v = (double) (c[SQ_C_TLS_12] + c[SQ_C_TLS_13]) / n;
        }

        break;

    case SQ_IND_HSTS_SHARE:
        if (n > 0) {
            v = (double) c[SQ_C_HSTS] / n;
        }

        break;

    case SQ_IND_LATENCY_RATIO:
        out->requests = w->h[SQ_H_RT].total;
        v = ratio;
        break;

    case SQ_IND_INTACT_SHARE:
        defects = c[SQ_C_INCOMPLETE] + c[SQ_C_5XX]
                  + (c[SQ_C_COMPRESSIBLE] - c[SQ_C_COMPRESSED]);

        if (n > 0) {
            v = 1 - (defects < c[SQ_C_REQUESTS] ? (double) defects : n) / n;
        }

        break;

    case SQ_IND_LCP_QUANTILE:
    case SQ_IND_INP_QUANTILE:
    case SQ_IND_CLS_QUANTILE:
        b = dc->indicator == SQ_IND_LCP_QUANTILE ? SQ_B_LCP
            : dc->indicator == SQ_IND_INP_QUANTILE ? SQ_B_INP : SQ_B_CLS;
        out->requests = w->b ? w->b->h[b].total : 0;
        v = sq_browser_quantile(w, b, dc->quantile);
        break;
    }

    out->value = v;

    if (out->requests < dc->min_requests || isnan(v)) {
        out->state = SQ_STATE_INSUFFICIENT;
        return;
    }

    sq_place(out);
}


double
sq_browser_quantile(const sq_win_t *w, int which, double q)
{
    double  v;

    if (w->b == NULL || w->b->h[which].total == 0) {
        return NAN;
    }

    v = sq_hist_quantile(&w->b->h[which], q);

    return which == SQ_B_CLS ? v / SQ_WIRE_CLS_SCALE : v / 1e6;
}


/*
 * A dimension seen from both sides: the server's indicator in *out, the
 * browser's judged against its own levels on beacons.  The worse placed
 * of the parts with enough data decides, and *out becomes that part (its
 * indicator, value, levels): a page that jumps for its visitors is
 * shabby however intact the server's responses, and a fast server does
 * not make a slow page fast.  A row without enough beacons keeps the
 * server's score unchanged.
 */

void
sq_score_browser(const sq_dim_conf_t *dc, const sq_win_t *w,
    sq_dim_score_t *out)
{
    sq_dim_conf_t   bc;
    sq_dim_score_t  bs;

    if (dc->browser == SQ_IND_NONE || w->b == NULL) {
        return;
    }

    bc = *dc;
    bc.indicator = dc->browser;
    bc.adequate = dc->badequate;
    bc.desired = dc->bdesired;
    bc.min_requests = dc->min_beacons;
    bc.quantile = SQ_BROWSER_QUANTILE;

    sq_score_dim(&bc, w, NAN, &bs);

    if (bs.state == SQ_STATE_INSUFFICIENT) {
        return;
    }

    if (out->state == SQ_STATE_INSUFFICIENT || bs.z < out->z) {
        bs.min_requests = dc->min_beacons;
        *out = bs;
    }
}


void
sq_score_index(sq_win_score_t *ws)
{
    int     i;
    double  sum, wsum, z;

    sum = 0;
    wsum = 0;

    for (i = 0; i < SQ_NDIMS; i++) {
        if (ws->dim[i].state == SQ_STATE_INSUFFICIENT) {
            continue;
        }

        z = ws->dim[i].z;
        z = z < SQ_INDEX_ZMIN ? SQ_INDEX_ZMIN : z;
        z = z > SQ_INDEX_ZMAX ? SQ_INDEX_ZMAX : z;

        sum += ws->dim[i].weight * z;
        wsum += ws->dim[i].weight;
    }

    if (wsum == 0) {
        ws->index = NAN;
        ws->state = SQ_STATE_INSUFFICIENT;
        return;
    }

    ws->index = sum / wsum;

    ws->state = ws->index < 0 ? SQ_STATE_BELOW
                : ws->index <= 1 ? SQ_STATE_WITHIN : SQ_STATE_ABOVE;
}


double
sq_journey_reliability(const sq_win_t *steps, size_t n,
    uint64_t min_requests, uint64_t *requests)
{
    size_t          i;
    double          p;
    sq_dim_conf_t   dc;
    sq_dim_score_t  s;

    memset(&dc, 0, sizeof(dc));
    dc.indicator = SQ_IND_SUCCESS_RATIO;
    dc.adequate = 0;
    dc.desired = 1;
    dc.min_requests = min_requests;

    p = 1;
    *requests = UINT64_MAX;

    for (i = 0; i < n; i++) {
        sq_score_dim(&dc, &steps[i], NAN, &s);

        if (s.requests < *requests) {
            *requests = s.requests;
        }

        if (isnan(s.value)) {
            return NAN;
        }

        p *= s.value;
    }

    if (n == 0) {
        *requests = 0;
        return NAN;
    }

    return p;
}


/*
 * Empathy: the q-quantile of h over that of the rest of the traffic (all
 * minus self, where self holds h), so that a region carrying a large
 * share of the traffic cannot hide in the baseline.  Both sides need min
 * requests.  Both times are taken as at least floor: 3 ms against 150 us
 * is a ratio of 20, and no customer can tell the two apart.
 */

double
sq_score_ratio(const sq_hist_t *h, const sq_hist_t *all, const sq_hist_t *self,
    double q, uint64_t min, double floor, double *lat, double *base)
{
    double  a, b, f;

    *lat = NAN;
    *base = NAN;

    if (h->total < min || all->total < self->total
        || all->total - self->total < min)
    {
        return NAN;
    }

    a = sq_hist_quantile(h, q);
    b = sq_hist_quantile_excl(all, self, q);

    if (a < 0 || b < 0) {
        return NAN;
    }

    *lat = a / 1e6;
    *base = b / 1e6;

    f = floor * 1e6;
    f = f < 1 ? 1 : f;

    return (a < f ? f : a) / (b < f ? f : b);
}


void
sq_score_window(const sq_conf_t *conf, const sq_where_t *where,
    const sq_win_t *w, const sq_baseline_t *base, size_t nbase,
    sq_win_score_t *ws)
{
    int            i;
    sq_dim_conf_t  dcs[SQ_NDIMS];

    for (i = 0; i < SQ_NDIMS; i++) {
        sq_conf_effective(conf, i, where->endpoint, where->region,
                          where->segment, where->journey, &dcs[i]);
    }

    sq_score_window_dc(conf, dcs, where, w, base, nbase, ws);
}


void
sq_score_window_dc(const sq_conf_t *conf, const sq_dim_conf_t *dcs,
    const sq_where_t *where, const sq_win_t *w, const sq_baseline_t *base,
    size_t nbase, sq_win_score_t *ws)
{
    int                   i;
    double                rr, worst, lat, bl, wlat, wbl;
    size_t                b;
    sq_dim_conf_t         dc;
    const sq_dim_conf_t  *dp;

    /* empathy: the worst served of the baselines */

    worst = NAN;
    wlat = NAN;
    wbl = NAN;

    for (b = 0; b < nbase; b++) {
        sq_conf_effective(conf, SQ_DIM_EMPATHY, where->endpoint,
                          base[b].region, NULL, where->journey, &dc);
        rr = sq_score_ratio(base[b].h, base[b].all, base[b].self,
                            dc.quantile, dc.min_requests, dc.min_latency,
                            &lat, &bl);

        if (!isnan(rr) && (isnan(worst) || rr > worst)) {
            worst = rr;
            wlat = lat;
            wbl = bl;
        }
    }

    ws->requests = w->c[SQ_C_REQUESTS];

    if (w->h[SQ_H_RT].total) {
        ws->p50 = sq_hist_quantile(&w->h[SQ_H_RT], 0.5) / 1e6;
        ws->p75 = sq_hist_quantile(&w->h[SQ_H_RT], 0.75) / 1e6;
        ws->p95 = sq_hist_quantile(&w->h[SQ_H_RT], 0.95) / 1e6;
        ws->p99 = sq_hist_quantile(&w->h[SQ_H_RT], 0.99) / 1e6;

    } else {
        ws->p50 = NAN;
        ws->p75 = NAN;
        ws->p95 = NAN;
        ws->p99 = NAN;
    }

    for (i = 0; i < SQ_NDIMS; i++) {
        dp = &dcs[i];
        sq_score_dim(dp, w, worst, &ws->dim[i]);

        if (dp->indicator == SQ_IND_LATENCY_RATIO && !isnan(worst)) {
            ws->dim[i].lat = wlat;
            ws->dim[i].base = wbl;
        }

        sq_score_browser(dp, w, &ws->dim[i]);
    }

    sq_score_browser_view(w, &ws->browser);
    sq_score_index(ws);
}


/* the browser's own measurements of a window, shown beside the scores */

static void
sq_score_browser_view(const sq_win_t *w, sq_browser_score_t *bs)
{
    int  k;

    bs->beacons = w->b ? w->b->c[SQ_BC_BEACONS] : 0;

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        bs->n[k] = w->b ? w->b->h[k].total : 0;
        bs->p75[k] = sq_browser_quantile(w, k, SQ_BROWSER_QUANTILE);
    }
}


void
sq_score_journey(const sq_conf_t *conf, const sq_where_t *where,
    const sq_win_t *steps, size_t n, sq_win_score_t *ws)
{
    uint64_t         req;
    sq_dim_conf_t    dc;
    sq_dim_score_t  *d;

    d = &ws->dim[SQ_DIM_RELIABILITY];

    sq_conf_effective(conf, SQ_DIM_RELIABILITY, NULL, where->region, NULL,
                      where->journey, &dc);

    d->value = sq_journey_reliability(steps, n, dc.min_requests, &req);
    d->requests = req;

    if (req < dc.min_requests || isnan(d->value)) {
        /* as any dimension without enough data: placed nowhere */
        d->state = SQ_STATE_INSUFFICIENT;
        d->z = NAN;
        d->msa = NAN;
        d->mss = NAN;

    } else {
        sq_place(d);
    }

    sq_score_index(ws);
}
