
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sq_score.h"


/*
 * A view is the scored table at one moment: every series, every endpoint
 * over all regions and segments, every region over all endpoints, and
 * every journey (over all regions and per region), each for the short
 * and the long window.  Rollups are exact merges of the series' windows.
 */

typedef struct sq_group_s  sq_group_t;

struct sq_group_s {
    sq_group_t   *next;           /* hash chain */
    sq_group_t   *sibling;        /* the next region of an endpoint */
    sq_group_t   *regions;        /* an endpoint's (endpoint, region)s */
    const char   *k1;
    const char   *k2;
    uint32_t      hash;
    sq_win_t      w[2];
};


typedef struct {
    sq_group_t  **b;
    uint32_t      nb;
    sq_group_t   *list;           /* every group, through sibling-free
                                     chain "all" */
} sq_gmap_t;


const char  *sq_state_names[SQ_NSTATES] = {
    "insufficient", "below", "within", "above"
};

const char  *sq_scope_names[SQ_NSCOPES] = {
    "series", "endpoint", "region", "journey"
};


static uint32_t sq_ghash(const char *k1, const char *k2);
static int sq_gmap_init(sq_gmap_t *m, uint32_t n);
static sq_group_t *sq_gmap_get(sq_gmap_t *m, const char *k1,
    const char *k2, int *created);
static void sq_gmap_free(sq_gmap_t *m);
static double sq_ratio(const sq_hist_t *h, const sq_hist_t *all,
    const sq_hist_t *self, double q, uint64_t min);
static sq_row_t *sq_view_row(sq_view_t *v, size_t *cap, int scope,
    const char *e, const char *r, const char *g);
static void sq_score_win(const sq_conf_t *conf, const char *e,
    const char *r, const char *g, const sq_journey_t *jn, const sq_win_t *w,
    const double *ratio, sq_win_score_t *ws);
static void sq_score_journey(const sq_conf_t *conf, sq_view_t *v,
    size_t *cap, const sq_journey_t *jn, sq_gmap_t *ep, sq_gmap_t *er);
static void sq_row_labels(const sq_conf_t *conf, sq_row_t *row);


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
        out->requests = w->h[SQ_HIST_RT].total;
        v = sq_apdex(&w->h[SQ_HIST_RT], dc->apdex_t, c[SQ_C_ABORTED]);
        break;

    case SQ_IND_TTFB_QUANTILE:
        out->requests = w->h[SQ_HIST_TTFB].total;

        if (w->h[SQ_HIST_TTFB].total) {
            v = sq_hist_quantile(&w->h[SQ_HIST_TTFB], dc->quantile) / 1e6;
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
        out->requests = w->h[SQ_HIST_RT].total;
        v = ratio;
        break;

    case SQ_IND_INTACT_SHARE:
        defects = c[SQ_C_INCOMPLETE] + c[SQ_C_5XX]
                  + (c[SQ_C_COMPRESSIBLE] - c[SQ_C_COMPRESSED]);

        if (n > 0) {
            v = 1 - (defects < c[SQ_C_REQUESTS] ? (double) defects : n) / n;
        }

        break;
    }

    out->value = v;

    if (out->requests < dc->min_requests || isnan(v)) {
        out->state = SQ_STATE_INSUFFICIENT;
        return;
    }

    sq_place(out);
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
 * requests.
 */

static double
sq_ratio(const sq_hist_t *h, const sq_hist_t *all, const sq_hist_t *self,
    double q, uint64_t min)
{
    double  a, b;

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

    return (a < 1 ? 1 : a) / (b < 1 ? 1 : b);
}


static uint32_t
sq_ghash(const char *k1, const char *k2)
{
    uint32_t  h;

    h = 2166136261u;

    for ( /* void */ ; *k1; k1++) {
        h = (h ^ (unsigned char) *k1) * 16777619u;
    }

    h = (h ^ 0xff) * 16777619u;

    for ( /* void */ ; k2 && *k2; k2++) {
        h = (h ^ (unsigned char) *k2) * 16777619u;
    }

    return h;
}


static int
sq_gmap_init(sq_gmap_t *m, uint32_t n)
{
    m->nb = 64;

    while (m->nb < n) {
        m->nb *= 2;
    }

    m->b = calloc(m->nb, sizeof(sq_group_t *));
    m->list = NULL;

    return m->b ? 0 : -1;
}


static sq_group_t *
sq_gmap_get(sq_gmap_t *m, const char *k1, const char *k2, int *created)
{
    uint32_t     h;
    sq_group_t  *g;

    h = sq_ghash(k1, k2);

    for (g = m->b[h & (m->nb - 1)]; g; g = g->next) {
        if (g->hash == h && strcmp(g->k1, k1) == 0
            && (k2 == NULL || strcmp(g->k2, k2) == 0))
        {
            *created = 0;
            return g;
        }
    }

    g = calloc(1, sizeof(sq_group_t));
    if (g == NULL) {
        return NULL;
    }

    g->hash = h;
    g->k1 = k1;
    g->k2 = k2;
    sq_win_init(&g->w[0]);
    sq_win_init(&g->w[1]);

    g->next = m->b[h & (m->nb - 1)];
    m->b[h & (m->nb - 1)] = g;

    *created = 1;

    return g;
}


static void
sq_gmap_free(sq_gmap_t *m)
{
    uint32_t     i;
    sq_group_t  *g, *next;

    for (i = 0; i < m->nb && m->b; i++) {
        for (g = m->b[i]; g; g = next) {
            next = g->next;
            sq_win_free(&g->w[0]);
            sq_win_free(&g->w[1]);
            free(g);
        }
    }

    free(m->b);
}


static sq_row_t *
sq_view_row(sq_view_t *v, size_t *cap, int scope, const char *e,
    const char *r, const char *g)
{
    char      *p;
    size_t     n;
    sq_row_t  *rows, *row;

    if (v->n == *cap) {
        n = *cap ? *cap * 2 : 256;
        rows = realloc(v->rows, n * sizeof(sq_row_t));

        if (rows == NULL) {
            return NULL;
        }

        v->rows = rows;
        *cap = n;
    }

    n = strlen(e) + strlen(r) + strlen(g) + 3;
    p = malloc(n);
    if (p == NULL) {
        return NULL;
    }

    row = &v->rows[v->n++];
    memset(row, 0, sizeof(sq_row_t));
    row->scope = scope;

    row->endpoint = p;
    p = stpcpy(p, e) + 1;
    row->region = p;
    p = stpcpy(p, r) + 1;
    row->segment = p;
    strcpy(p, g);

    return row;
}


static void
sq_score_win(const sq_conf_t *conf, const char *e, const char *r,
    const char *g, const sq_journey_t *jn, const sq_win_t *w,
    const double *ratio, sq_win_score_t *ws)
{
    int            i;
    sq_dim_conf_t  dc;

    ws->requests = w->c[SQ_C_REQUESTS];
    memcpy(ws->c, w->c, sizeof(ws->c));

    if (w->h[SQ_HIST_RT].total) {
        ws->p50 = sq_hist_quantile(&w->h[SQ_HIST_RT], 0.5) / 1e6;
        ws->p75 = sq_hist_quantile(&w->h[SQ_HIST_RT], 0.75) / 1e6;
        ws->p95 = sq_hist_quantile(&w->h[SQ_HIST_RT], 0.95) / 1e6;
        ws->p99 = sq_hist_quantile(&w->h[SQ_HIST_RT], 0.99) / 1e6;

    } else {
        ws->p50 = NAN;
        ws->p75 = NAN;
        ws->p95 = NAN;
        ws->p99 = NAN;
    }

    for (i = 0; i < SQ_NDIMS; i++) {
        sq_conf_effective(conf, i, e, r, g, jn, &dc);
        sq_score_dim(&dc, w, ratio ? ratio[i] : NAN, &ws->dim[i]);
    }

    sq_score_index(ws);
}


static void
sq_row_labels(const sq_conf_t *conf, sq_row_t *row)
{
    size_t                i;
    const char           *e, *r, *g;
    const sq_override_t  *o;

    e = strcmp(row->endpoint, SQ_ALL) ? row->endpoint : NULL;
    r = strcmp(row->region, SQ_ALL) ? row->region : NULL;
    g = strcmp(row->segment, SQ_ALL) ? row->segment : NULL;

    /* the most specific override with labels */

    for (i = 0; i < conf->noverrides; i++) {
        o = &conf->overrides[i];

        if ((o->endpoint && (e == NULL || strcmp(o->endpoint, e)))
            || (o->region && (r == NULL || strcmp(o->region, r)))
            || (o->segment && (g == NULL || strcmp(o->segment, g)))
            || o->nlabels == 0)
        {
            continue;
        }

        row->labels = o->labels;
        row->nlabels = o->nlabels;
    }
}


/* the per-dimension empathy input: ratio[] for quantile q of each dim */

#define sq_fill_ratio(ratio, value)                                          \
    do {                                                                     \
        int  d_;                                                             \
        for (d_ = 0; d_ < SQ_NDIMS; d_++) {                                  \
            (ratio)[d_] = (value);                                           \
        }                                                                    \
    } while (0)


static double
sq_empathy_q(const sq_conf_t *conf, const char *e, const char *r,
    const sq_journey_t *jn, uint64_t *min)
{
    sq_dim_conf_t  dc;

    sq_conf_effective(conf, SQ_DIM_EMPATHY, e, r, NULL, jn, &dc);
    *min = dc.min_requests;

    return dc.quantile;
}


static void
sq_score_journey(const sq_conf_t *conf, sq_view_t *v, size_t *cap,
    const sq_journey_t *jn, sq_gmap_t *ep, sq_gmap_t *er)
{
    int          created, k;
    double       q, ratio[SQ_NDIMS], worst[2], rr;
    size_t       i, j, nregions, rcap, all_row;
    uint64_t     min, req;
    sq_win_t     all[2], reg[2], *steps[2];
    sq_row_t    *row;
    sq_group_t  *g, *s;
    const char **regions, **tmp;
    sq_dim_conf_t  dc;

    regions = NULL;
    nregions = 0;
    rcap = 0;

    /* the regions any step was seen in */

    for (i = 0; i < jn->nsteps; i++) {
        g = sq_gmap_get(ep, jn->steps[i], NULL, &created);
        if (g == NULL) {
            return;
        }

        for (s = g->regions; s; s = s->sibling) {
            for (j = 0; j < nregions; j++) {
                if (strcmp(regions[j], s->k2) == 0) {
                    break;
                }
            }

            if (j < nregions) {
                continue;
            }

            if (nregions == rcap) {
                rcap = rcap ? rcap * 2 : 16;
                tmp = realloc(regions, rcap * sizeof(char *));
                if (tmp == NULL) {
                    free(regions);
                    return;
                }

                regions = tmp;
            }

            regions[nregions++] = s->k2;
        }
    }

    steps[0] = calloc(jn->nsteps, sizeof(sq_win_t));
    steps[1] = calloc(jn->nsteps, sizeof(sq_win_t));

    if (steps[0] == NULL || steps[1] == NULL) {
        goto cleanup;
    }

    for (k = 0; k < 2; k++) {
        sq_win_init(&all[k]);
        sq_win_init(&reg[k]);
    }

    /* over all regions */

    for (i = 0; i < jn->nsteps; i++) {
        g = sq_gmap_get(ep, jn->steps[i], NULL, &created);

        for (k = 0; k < 2; k++) {
            sq_win_init(&steps[k][i]);

            if (g) {
                (void) sq_win_merge(&steps[k][i], &g->w[k]);
                (void) sq_win_merge(&all[k], &g->w[k]);
            }
        }
    }

    row = sq_view_row(v, cap, SQ_SCOPE_JOURNEY, jn->name, SQ_ALL, SQ_ALL);
    if (row == NULL) {
        goto done;
    }

    all_row = v->n - 1;
    row->labels = jn->labels;
    row->nlabels = jn->nlabels;

    for (k = 0; k < 2; k++) {
        sq_score_win(conf, NULL, NULL, NULL, jn, &all[k], NULL,
                     &row->w[k]);
        sq_conf_effective(conf, SQ_DIM_RELIABILITY, NULL, NULL, NULL, jn,
                          &dc);
        row->w[k].dim[SQ_DIM_RELIABILITY].value =
            sq_journey_reliability(steps[k], jn->nsteps, dc.min_requests,
                                   &req);
        row->w[k].dim[SQ_DIM_RELIABILITY].requests = req;
        row->w[k].dim[SQ_DIM_RELIABILITY].state =
            (req < dc.min_requests
             || isnan(row->w[k].dim[SQ_DIM_RELIABILITY].value))
            ? SQ_STATE_INSUFFICIENT : SQ_STATE_WITHIN;

        if (row->w[k].dim[SQ_DIM_RELIABILITY].state
            != SQ_STATE_INSUFFICIENT)
        {
            sq_place(&row->w[k].dim[SQ_DIM_RELIABILITY]);
        }

        worst[k] = NAN;
    }

    /* per region */

    for (j = 0; j < nregions; j++) {
        q = sq_empathy_q(conf, NULL, regions[j], jn, &min);

        for (k = 0; k < 2; k++) {
            sq_win_reset(&reg[k]);

            for (i = 0; i < jn->nsteps; i++) {
                sq_win_reset(&steps[k][i]);
                g = sq_gmap_get(er, jn->steps[i], regions[j], &created);

                if (g) {
                    (void) sq_win_merge(&steps[k][i], &g->w[k]);
                    (void) sq_win_merge(&reg[k], &g->w[k]);
                }
            }
        }

        row = sq_view_row(v, cap, SQ_SCOPE_JOURNEY, jn->name, regions[j],
                          SQ_ALL);
        if (row == NULL) {
            goto done;
        }

        row->labels = jn->labels;
        row->nlabels = jn->nlabels;

        for (k = 0; k < 2; k++) {
            rr = sq_ratio(&reg[k].h[SQ_HIST_RT], &all[k].h[SQ_HIST_RT],
                          &reg[k].h[SQ_HIST_RT], q, min);
            sq_fill_ratio(ratio, rr);
            sq_score_win(conf, NULL, regions[j], NULL, jn, &reg[k], ratio,
                         &row->w[k]);

            sq_conf_effective(conf, SQ_DIM_RELIABILITY, NULL, regions[j],
                              NULL, jn, &dc);
            row->w[k].dim[SQ_DIM_RELIABILITY].value =
                sq_journey_reliability(steps[k], jn->nsteps,
                                       dc.min_requests, &req);
            row->w[k].dim[SQ_DIM_RELIABILITY].requests = req;

            if (req < dc.min_requests
                || isnan(row->w[k].dim[SQ_DIM_RELIABILITY].value))
            {
                row->w[k].dim[SQ_DIM_RELIABILITY].state =
                    SQ_STATE_INSUFFICIENT;

            } else {
                sq_place(&row->w[k].dim[SQ_DIM_RELIABILITY]);
            }

            sq_score_index(&row->w[k]);

            if (!isnan(rr) && (isnan(worst[k]) || rr > worst[k]))
            {
                worst[k] = rr;
            }
        }
    }

    /* the journey over all regions: its worst served region */

    row = &v->rows[all_row];

    for (k = 0; k < 2; k++) {
        sq_conf_effective(conf, SQ_DIM_EMPATHY, NULL, NULL, NULL, jn, &dc);
        sq_score_dim(&dc, &all[k], worst[k], &row->w[k].dim[SQ_DIM_EMPATHY]);
        sq_score_index(&row->w[k]);
    }

done:

    for (k = 0; k < 2; k++) {
        for (i = 0; i < jn->nsteps; i++) {
            sq_win_free(&steps[k][i]);
        }

        sq_win_free(&all[k]);
        sq_win_free(&reg[k]);
    }

cleanup:

    free(steps[0]);
    free(steps[1]);
    free(regions);
}


void
sq_score_slot(const sq_conf_t *conf, const char *e, const char *r,
    const char *g, const sq_win_t *w, const sq_win_t *ep,
    const sq_win_t *regs, const char *const *names, size_t nregs,
    sq_win_score_t *ws)
{
    double    q, rr, worst, ratio[SQ_NDIMS];
    size_t    i;
    uint64_t  min;

    worst = NAN;

    for (i = 0; i < nregs; i++) {
        if (r && strcmp(r, names[i]) != 0) {
            continue;
        }

        q = sq_empathy_q(conf, e, names[i], NULL, &min);
        rr = sq_ratio(r ? &w->h[SQ_HIST_RT] : &regs[i].h[SQ_HIST_RT],
                      &ep->h[SQ_HIST_RT], &regs[i].h[SQ_HIST_RT], q, min);

        if (!isnan(rr) && (isnan(worst) || rr > worst)) {
            worst = rr;
        }
    }

    sq_fill_ratio(ratio, worst);
    sq_score_win(conf, e, r, g, NULL, w, ratio, ws);
}


sq_view_t *
sq_view_build(const sq_windows_t *a, const sq_conf_t *conf, int64_t now)
{
    int            k, created;
    double         q, ratio[SQ_NDIMS], rr, worst;
    size_t         cap;
    uint32_t       i, n;
    uint64_t       min;
    sq_win_t      *wins, glob[2];
    sq_row_t      *row;
    sq_view_t     *v;
    sq_gmap_t      ep, er, rg;
    sq_group_t    *ge, *gr, *gg, *s;
    sq_series_t   *se;

    v = calloc(1, sizeof(sq_view_t));
    if (v == NULL) {
        return NULL;
    }

    v->now = now;
    cap = 0;

    /* the series, and the one past the series limit */

    n = a->n + (a->other ? 1 : 0);

    wins = calloc(n ? 2 * (size_t) n : 1, sizeof(sq_win_t));

    if (wins == NULL
        || sq_gmap_init(&ep, a->n / 4) != 0
        || sq_gmap_init(&er, a->n / 2) != 0
        || sq_gmap_init(&rg, 256) != 0)
    {
        free(wins);
        free(v);
        return NULL;
    }

    sq_win_init(&glob[0]);
    sq_win_init(&glob[1]);

    /* the windows of every series, and their rollups */

    for (i = 0; i < n; i++) {
        se = i < a->n ? a->all[i] : a->other;

        ge = sq_gmap_get(&ep, se->endpoint, NULL, &created);
        gr = sq_gmap_get(&rg, se->region, NULL, &created);
        gg = sq_gmap_get(&er, se->endpoint, se->region, &created);

        if (gg && created && ge) {
            gg->sibling = ge->regions;
            ge->regions = gg;
        }

        for (k = 0; k < 2; k++) {
            sq_win_init(&wins[2 * i + k]);
            (void) sq_windows_window(a, se, k, now, &wins[2 * i + k]);

            if (ge) {
                (void) sq_win_merge(&ge->w[k], &wins[2 * i + k]);
            }

            if (gr) {
                (void) sq_win_merge(&gr->w[k], &wins[2 * i + k]);
            }

            if (gg) {
                (void) sq_win_merge(&gg->w[k], &wins[2 * i + k]);
            }

            (void) sq_win_merge(&glob[k], &wins[2 * i + k]);
        }
    }

    /* series: empathy is the series' quantile over its endpoint's */

    for (i = 0; i < n; i++) {
        se = i < a->n ? a->all[i] : a->other;

        row = sq_view_row(v, &cap, SQ_SCOPE_SERIES, se->endpoint,
                          se->region, se->segment);
        if (row == NULL) {
            break;
        }

        sq_row_labels(conf, row);

        q = sq_empathy_q(conf, se->endpoint, se->region, NULL, &min);
        ge = sq_gmap_get(&ep, se->endpoint, NULL, &created);
        gg = sq_gmap_get(&er, se->endpoint, se->region, &created);

        for (k = 0; k < 2; k++) {
            rr = (ge && gg)
                 ? sq_ratio(&wins[2 * i + k].h[SQ_HIST_RT],
                            &ge->w[k].h[SQ_HIST_RT],
                            &gg->w[k].h[SQ_HIST_RT], q, min)
                 : NAN;
            sq_fill_ratio(ratio, rr);
            sq_score_win(conf, se->endpoint, se->region, se->segment, NULL,
                         &wins[2 * i + k], ratio, &row->w[k]);
        }
    }

    /* endpoints: empathy is the worst region against all regions */

    for (i = 0; i < ep.nb; i++) {
        for (ge = ep.b[i]; ge; ge = ge->next) {
            row = sq_view_row(v, &cap, SQ_SCOPE_ENDPOINT, ge->k1, SQ_ALL,
                              SQ_ALL);
            if (row == NULL) {
                goto done;
            }

            sq_row_labels(conf, row);

            for (k = 0; k < 2; k++) {
                worst = NAN;

                for (s = ge->regions; s; s = s->sibling) {
                    q = sq_empathy_q(conf, ge->k1, s->k2, NULL, &min);
                    rr = sq_ratio(&s->w[k].h[SQ_HIST_RT],
                                  &ge->w[k].h[SQ_HIST_RT],
                                  &s->w[k].h[SQ_HIST_RT], q, min);

                    if (!isnan(rr) && (isnan(worst) || rr > worst)) {
                        worst = rr;
                    }
                }

                sq_fill_ratio(ratio, worst);
                sq_score_win(conf, ge->k1, NULL, NULL, NULL, &ge->w[k],
                             ratio, &row->w[k]);
            }
        }
    }

    /* regions over all endpoints: against all regions */

    for (i = 0; i < rg.nb; i++) {
        for (gr = rg.b[i]; gr; gr = gr->next) {
            row = sq_view_row(v, &cap, SQ_SCOPE_REGION, SQ_ALL, gr->k1,
                              SQ_ALL);
            if (row == NULL) {
                goto done;
            }

            sq_row_labels(conf, row);
            q = sq_empathy_q(conf, NULL, gr->k1, NULL, &min);

            for (k = 0; k < 2; k++) {
                rr = sq_ratio(&gr->w[k].h[SQ_HIST_RT],
                              &glob[k].h[SQ_HIST_RT],
                              &gr->w[k].h[SQ_HIST_RT], q, min);
                sq_fill_ratio(ratio, rr);
                sq_score_win(conf, NULL, gr->k1, NULL, NULL, &gr->w[k],
                             ratio, &row->w[k]);
            }
        }
    }

    for (i = 0; i < conf->njourneys; i++) {
        sq_score_journey(conf, v, &cap, &conf->journeys[i], &ep, &er);
    }

done:

    for (i = 0; i < 2 * n; i++) {
        sq_win_free(&wins[i]);
    }

    free(wins);
    sq_win_free(&glob[0]);
    sq_win_free(&glob[1]);
    sq_gmap_free(&ep);
    sq_gmap_free(&er);
    sq_gmap_free(&rg);

    return v;
}


void
sq_view_free(sq_view_t *v)
{
    size_t  i;

    if (v == NULL) {
        return;
    }

    for (i = 0; i < v->n; i++) {
        free((char *) v->rows[i].endpoint);
    }

    free(v->rows);
    free(v);
}
