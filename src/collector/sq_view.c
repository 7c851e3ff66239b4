
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sq_arena.h"
#include "sq_smap.h"
#include "sq_status.h"
#include "sq_view.h"


/*
 * A view is the scored table at one moment: every series, every endpoint
 * over all regions and segments, every region over all endpoints, and
 * every journey (over all regions and per region), each for the short
 * and the long window.  Rollups are exact merges of the series' windows.
 */

/* a build takes at most 1 / SQ_VIEW_GUARD of the loop's time */
#define SQ_VIEW_GUARD  5

/* how long a build waits for a scrape to let go of the latest view */
#define SQ_VIEW_HELD_MS  2000

/* series read between two calls of the build's yield (about 1 ms) */
#define SQ_VIEW_YIELD_SERIES  256

/* a number of a level set's key: ten digits and a comma */
#define SQ_VIEW_KEY_NUM  11


typedef struct sq_group_s  sq_group_t;

/*
 * A rollup group: its two windows in own[], or, in a map that shares
 * (sq_gmap_t.shared: endpoint by region, where most groups are one
 * series), the windows of its first series until a second one is merged
 * (sq_group_merge()): at 100k series that saves a copy of every series'
 * windows while the view is built.
 */

struct sq_group_s {
    sq_group_t   *next;           /* hash chain */
    sq_group_t   *sibling;        /* the next region of an endpoint */
    sq_group_t   *regions;        /* an endpoint's (endpoint, region)s */
    const char   *k1;
    const char   *k2;
    uint32_t      hash;
    sq_win_t     *w;              /* own, or a series' windows */
    uint32_t      first;          /* an endpoint's series: 1 + index */
    uint32_t      count;
    uint32_t      pos;            /* its row in the view */
    unsigned      sole:1;         /* w: its one series' windows */
    unsigned      alloc:1;        /* w: allocated (shared map) */
    unsigned      done:1;         /* its row is scored */
    sq_win_t      own[];          /* 2, or none in a shared map */
};


typedef struct {
    sq_group_t      **b;
    uint32_t          nb;
    uint32_t          n;          /* groups */
    unsigned          shared:1;
} sq_gmap_t;


/* the windows of a group in a shared map that has none yet: empty */
static sq_win_t  sq_group_none[2];


/* a view being built */

typedef struct {
    sq_view_t        *v;
    size_t            cap;        /* rows allocated */
    const sq_conf_t  *conf;
    sq_smap_t         names;      /* a name to its copy in the view */
    sq_smap_t         levels;     /* a level set's key to the set */
    char             *key;        /* the overrides that apply to a row */
    sq_baseline_t    *base;       /* an endpoint's regions */
    size_t            nbase;
    sq_view_yield_pt  yield;      /* NULL: the build holds the loop */
    void             *yield_data;
    uint32_t          since;      /* series read since the last yield */
    double            yielded;    /* seconds spent in yield */
} sq_builder_t;


const char  *sq_scope_names[SQ_NSCOPES] = {
    "series", "endpoint", "region", "journey"
};


static uint32_t sq_ghash(const char *k1, const char *k2);
static int sq_gmap_init(sq_gmap_t *m, uint32_t n);
static sq_group_t *sq_gmap_get(sq_gmap_t *m, const char *k1,
    const char *k2, int *created);
static void sq_gmap_free(sq_gmap_t *m);
static int sq_group_merge(sq_group_t *g, sq_win_t *w);
static int sq_group_own(sq_group_t *g);
static const char *sq_view_name(sq_builder_t *bd, const char *name);
static const sq_levels_t *sq_view_levels(sq_builder_t *bd, const char *e,
    const char *r, const char *g, const sq_journey_t *jn);
static char *sq_view_key_num(char *p, uint32_t n);
static sq_row_t *sq_view_row(sq_builder_t *bd, int scope, const char *e,
    const char *r, const char *g, const sq_journey_t *jn);
static int sq_view_pack(sq_builder_t *bd, sq_row_t *row, int k,
    const sq_win_score_t *ws);
static void sq_view_no_browser(sq_browser_score_t *bs);
static void sq_view_builder_free(sq_builder_t *bd);
static int sq_view_journey(sq_builder_t *bd, const sq_journey_t *jn,
    sq_gmap_t *ep, sq_gmap_t *er);
static int sq_view_row_at(sq_builder_t *bd, sq_row_t *row, int scope,
    const char *e, const char *r, const char *g, const sq_journey_t *jn);
static int sq_view_series(sq_builder_t *bd, sq_row_t *row, sq_group_t *ge,
    sq_group_t *gg, sq_where_t *where, sq_win_t *w);
static int sq_view_endpoint(sq_builder_t *bd, sq_row_t *row,
    sq_group_t *ge);
static int sq_view_region(sq_builder_t *bd, sq_row_t *row, sq_group_t *gr,
    sq_win_t *glob);
static int sq_view_step(const sq_conf_t *conf, const char *e);
static sq_series_t *sq_view_nth(const sq_windows_t *a, uint32_t ns,
    uint32_t i);
static void sq_view_yield(sq_builder_t *bd);
static int sq_view_fold(const sq_windows_t *a, uint32_t ns,
    const sq_conf_t *conf,
    sq_win_t *wins, uint32_t n, const char **regs);
static void sq_view_free(sq_view_t *v);
static int64_t sq_view_ms(void);


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
    m->n = 0;
    m->shared = 0;

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

    g = calloc(1, sizeof(sq_group_t)
                  + (m->shared ? 0 : 2 * sizeof(sq_win_t)));
    if (g == NULL) {
        return NULL;
    }

    g->hash = h;
    g->k1 = k1;
    g->k2 = k2;

    if (m->shared) {
        g->w = sq_group_none;

    } else {
        g->w = g->own;
        sq_win_init(&g->w[0]);
        sq_win_init(&g->w[1]);
    }

    g->next = m->b[h & (m->nb - 1)];
    m->b[h & (m->nb - 1)] = g;
    m->n++;

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

            if (!m->shared || g->alloc) {
                sq_win_free(&g->w[0]);
                sq_win_free(&g->w[1]);
            }

            if (g->alloc) {
                free(g->w);
            }

            free(g);
        }
    }

    free(m->b);
}


/*
 * Merges a series' two windows w into a group: in a shared map the first
 * series' are taken as they are (they outlive the map), the second makes
 * the group a copy of its own.  SQ_OK or SQ_ERR_NOMEM.
 */

static int
sq_group_merge(sq_group_t *g, sq_win_t *w)
{
    int  k;

    if (g->w == sq_group_none) {
        g->w = w;
        g->sole = 1;
        return SQ_OK;
    }

    if (g->sole && sq_group_own(g) != SQ_OK) {
        return SQ_ERR_NOMEM;
    }

    for (k = 0; k < 2; k++) {
        if (sq_win_merge(&g->w[k], &w[k]) != SQ_OK) {
            return SQ_ERR_NOMEM;
        }
    }

    return SQ_OK;
}


/* a group of a shared map that has its one series' windows: a copy */

static int
sq_group_own(sq_group_t *g)
{
    int        k;
    sq_win_t  *own;

    own = malloc(2 * sizeof(sq_win_t));
    if (own == NULL) {
        return SQ_ERR_NOMEM;
    }

    for (k = 0; k < 2; k++) {
        sq_win_init(&own[k]);

        if (sq_win_merge(&own[k], &g->w[k]) != SQ_OK) {
            sq_win_free(&own[0]);
            sq_win_free(&own[1]);
            free(own);
            return SQ_ERR_NOMEM;
        }
    }

    g->w = own;
    g->sole = 0;
    g->alloc = 1;

    return SQ_OK;
}


/* a name in the view's arena, once however many rows show it */

static const char *
sq_view_name(sq_builder_t *bd, const char *name)
{
    int     added;
    char   *p;
    size_t  v, len;

    v = sq_smap_get(&bd->names, name);

    if (v != SQ_SMAP_NONE) {
        return (const char *) (uintptr_t) v;
    }

    len = strlen(name);

    p = sq_arena_alloc(&bd->v->arena, len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, name, len + 1);

    if (sq_smap_put(&bd->names, p, (size_t) (uintptr_t) p, &added) == NULL) {
        return NULL;
    }

    return p;
}


/*
 * The level set of a row: the effective configuration of each dimension
 * (sq_conf_effective() for where e, r, g and journey jn: NULL matches
 * all) and the labels of the most specific matching override that has
 * labels (a journey: its own).  Rows that the same overrides apply to
 * share one, in the view's arena.
 */

static const sq_levels_t *
sq_view_levels(sq_builder_t *bd, const char *e, const char *r,
    const char *g, const sq_journey_t *jn)
{
    int                   d, added;
    char                 *p, *key;
    size_t                i, v, len;
    sq_levels_t          *lv;
    sq_label_t           *lab;
    sq_override_iter_t    it;
    const sq_label_t     *labels;
    const sq_override_t  *o;

    /* the key: the journey, then the matching overrides, in order, as
       numbers each ended by a comma */

    p = sq_view_key_num(bd->key,
                        jn ? (uint32_t) (jn - bd->conf->journeys) + 1 : 0);
    labels = jn ? jn->labels : NULL;
    len = jn ? jn->nlabels : 0;

    sq_conf_overrides(bd->conf, &it, e, r, g);

    while ((o = sq_override_next(&it)) != NULL) {
        p = sq_view_key_num(p, (uint32_t) (o - bd->conf->overrides));

        if (jn == NULL && o->nlabels) {
            labels = o->labels;
            len = o->nlabels;
        }
    }

    *p = '\0';

    v = sq_smap_get(&bd->levels, bd->key);

    if (v != SQ_SMAP_NONE) {
        return (const sq_levels_t *) (uintptr_t) v;
    }

    /* a new one: the key, the configuration and the labels copied */

    key = sq_arena_alloc(&bd->v->arena, (size_t) (p - bd->key) + 1);
    lv = sq_arena_alloc(&bd->v->arena, sizeof(sq_levels_t)
                               + len * sizeof(sq_label_t));
    if (key == NULL || lv == NULL) {
        return NULL;
    }

    memcpy(key, bd->key, (size_t) (p - bd->key) + 1);

    for (d = 0; d < SQ_NDIMS; d++) {
        sq_conf_effective(bd->conf, d, e, r, g, jn, &lv->dc[d]);
    }

    lab = (sq_label_t *) (lv + 1);
    lv->labels = len ? lab : NULL;
    lv->nlabels = len;

    for (i = 0; i < len; i++) {
        lab[i].key = NULL;
        lab[i].value = NULL;

        if (labels[i].key) {
            lab[i].key = (char *) sq_view_name(bd, labels[i].key);
            if (lab[i].key == NULL) {
                return NULL;
            }
        }

        if (labels[i].value) {
            lab[i].value = (char *) sq_view_name(bd, labels[i].value);
            if (lab[i].value == NULL) {
                return NULL;
            }
        }
    }

    if (sq_smap_put(&bd->levels, key, (size_t) (uintptr_t) lv, &added)
        == NULL)
    {
        return NULL;
    }

    bd->v->nlevels++;

    return lv;
}


/* n in decimal and a comma at p; returns the end */

static char *
sq_view_key_num(char *p, uint32_t n)
{
    char   digits[10];
    int    k;

    k = 0;

    do {
        digits[k++] = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    while (k) {
        *p++ = digits[--k];
    }

    *p++ = ',';

    return p;
}


/*
 * A row: its names interned in the view (they outlive the series), its
 * level set shared.  e, r, g: "*" for all (SQ_ALL).  SQ_OK or
 * SQ_ERR_NOMEM.
 */

static int
sq_view_row_at(sq_builder_t *bd, sq_row_t *row, int scope, const char *e,
    const char *r, const char *g, const sq_journey_t *jn)
{
    memset(row, 0, sizeof(sq_row_t));
    row->scope = scope;

    if (jn) {
        row->levels = sq_view_levels(bd, NULL,
                                     strcmp(r, SQ_ALL) ? r : NULL, NULL, jn);

    } else {
        row->levels = sq_view_levels(bd, strcmp(e, SQ_ALL) ? e : NULL,
                                     strcmp(r, SQ_ALL) ? r : NULL,
                                     strcmp(g, SQ_ALL) ? g : NULL, NULL);
    }

    row->endpoint = sq_view_name(bd, e);
    row->region = sq_view_name(bd, r);
    row->segment = sq_view_name(bd, g);

    if (row->levels == NULL || row->endpoint == NULL || row->region == NULL
        || row->segment == NULL)
    {
        return SQ_ERR_NOMEM;
    }

    return SQ_OK;
}


/* a row after those there are */

static sq_row_t *
sq_view_row(sq_builder_t *bd, int scope, const char *e, const char *r,
    const char *g, const sq_journey_t *jn)
{
    size_t      n;
    sq_row_t   *rows, *row;
    sq_view_t  *v;

    v = bd->v;

    if (v->n == bd->cap) {
        n = bd->cap ? bd->cap + bd->cap / 2 : 256;
        rows = realloc(v->rows, n * sizeof(sq_row_t));

        if (rows == NULL) {
            return NULL;
        }

        v->rows = rows;
        bd->cap = n;
    }

    row = &v->rows[v->n];

    if (sq_view_row_at(bd, row, scope, e, r, g, jn) != SQ_OK) {
        return NULL;
    }

    v->n++;

    return row;
}


/*
 * Keeps of a scored window what the row's level set does not give: the
 * measured values, the requests they were judged on, the states, the
 * latency quantiles and the empathy ratio's two times; the browser's
 * block only when there were beacons.
 */

static int
sq_view_pack(sq_builder_t *bd, sq_row_t *row, int k, const sq_win_score_t *ws)
{
    int                    d, j;
    sq_row_win_t              *m;
    const sq_dim_conf_t       *dc;
    const sq_dim_score_t      *ds;
    const sq_browser_score_t  *bs;

    m = &row->m[k];
    m->requests = ws->requests;
    m->p50 = ws->p50;
    m->p75 = ws->p75;
    m->p95 = ws->p95;
    m->p99 = ws->p99;
    m->lat = NAN;
    m->base = NAN;

    for (d = 0; d < SQ_NDIMS; d++) {
        ds = &ws->dim[d];
        dc = &row->levels->dc[d];

        m->dim[d].value = ds->value;
        m->dim[d].requests = ds->requests;
        m->flags[d] = (uint8_t) ds->state;

        /* the browser's part decided: its indicator (sq_score_browser) */

        if (dc->browser != SQ_IND_NONE && ds->indicator == dc->browser
            && ds->adequate == dc->badequate && ds->desired == dc->bdesired
            && ds->min_requests == dc->min_beacons)
        {
            m->flags[d] |= SQ_ROW_BROWSER;

        } else if (ds->indicator == SQ_IND_LATENCY_RATIO) {
            m->lat = ds->lat;
            m->base = ds->base;
        }
    }

    bs = &ws->browser;

    if (bs->beacons == 0 && row->browser == NULL) {
        for (j = 0; j < SQ_WIRE_NBHISTS; j++) {
            if (bs->n[j] || !isnan(bs->p75[j])) {
                break;
            }
        }

        if (j == SQ_WIRE_NBHISTS) {
            return SQ_OK;
        }
    }

    if (row->browser == NULL) {
        row->browser = sq_arena_alloc(&bd->v->arena,
                                      2 * sizeof(sq_browser_score_t));
        if (row->browser == NULL) {
            return SQ_ERR_NOMEM;
        }

        for (j = 0; j < 2; j++) {
            sq_view_no_browser(&row->browser[j]);
        }
    }

    row->browser[k] = *bs;

    return SQ_OK;
}


/*
 * A journey over all regions and in each region any of its steps was
 * seen in.  Reliability is the product of the steps' success ratios;
 * empathy of a region is its traffic against the journey's in all
 * regions, and over all regions the worst served region.
 */

static int
sq_view_journey(sq_builder_t *bd, const sq_journey_t *jn, sq_gmap_t *ep,
    sq_gmap_t *er)
{
    int             created, k, rc;
    size_t          i, j, nregions, rcap;
    sq_win_t        all[2], *reg, *steps;
    sq_row_t       *row;
    sq_where_t      where;
    sq_group_t     *g, *s;
    const char    **regions, **tmp;
    sq_baseline_t  *base;
    sq_win_score_t  ws;

    regions = NULL;
    nregions = 0;
    rcap = 0;
    reg = NULL;
    steps = NULL;
    base = NULL;
    rc = SQ_ERR_NOMEM;

    sq_win_init(&all[0]);
    sq_win_init(&all[1]);

    /* the regions any step was seen in */

    for (i = 0; i < jn->nsteps; i++) {
        g = sq_gmap_get(ep, jn->steps[i], NULL, &created);
        if (g == NULL) {
            goto cleanup;
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
                    goto cleanup;
                }

                regions = tmp;
            }

            regions[nregions++] = s->k2;
        }
    }

    /* steps[k * nsteps + i]; reg[k * nregions + j] */

    steps = calloc(2 * jn->nsteps + 1, sizeof(sq_win_t));
    reg = calloc(2 * nregions + 1, sizeof(sq_win_t));
    base = calloc(nregions + 1, sizeof(sq_baseline_t));

    if (steps == NULL || reg == NULL || base == NULL) {
        goto cleanup;
    }

    for (i = 0; i < 2 * jn->nsteps; i++) {
        sq_win_init(&steps[i]);
    }

    for (j = 0; j < 2 * nregions; j++) {
        sq_win_init(&reg[j]);
    }

    /* the journey's traffic in each region, and over all */

    for (k = 0; k < 2; k++) {
        for (i = 0; i < jn->nsteps; i++) {
            g = sq_gmap_get(ep, jn->steps[i], NULL, &created);

            if (g) {
                (void) sq_win_merge(&steps[k * jn->nsteps + i], &g->w[k]);
                (void) sq_win_merge(&all[k], &g->w[k]);
            }
        }

        for (j = 0; j < nregions; j++) {
            for (i = 0; i < jn->nsteps; i++) {
                g = sq_gmap_get(er, jn->steps[i], regions[j], &created);

                if (g) {
                    (void) sq_win_merge(&reg[k * nregions + j], &g->w[k]);
                }
            }
        }
    }

    /* over all regions: empathy is the worst served region */

    row = sq_view_row(bd, SQ_SCOPE_JOURNEY, jn->name, SQ_ALL, SQ_ALL, jn);
    if (row == NULL) {
        goto cleanup;
    }

    where.endpoint = NULL;
    where.region = NULL;
    where.segment = NULL;
    where.journey = jn;

    for (k = 0; k < 2; k++) {
        for (j = 0; j < nregions; j++) {
            base[j].h = &reg[k * nregions + j].h[SQ_H_RT];
            base[j].all = &all[k].h[SQ_H_RT];
            base[j].self = base[j].h;
            base[j].region = regions[j];
        }

        sq_score_window_dc(bd->conf, row->levels->dc, &where, &all[k], base,
                           nregions, &ws);
        sq_score_journey(bd->conf, &where, &steps[k * jn->nsteps],
                         jn->nsteps, &ws);

        if (sq_view_pack(bd, row, k, &ws) != SQ_OK) {
            goto cleanup;
        }
    }

    /* per region */

    for (j = 0; j < nregions; j++) {
        row = sq_view_row(bd, SQ_SCOPE_JOURNEY, jn->name, regions[j],
                          SQ_ALL, jn);
        if (row == NULL) {
            goto cleanup;
        }

        where.region = regions[j];

        for (k = 0; k < 2; k++) {
            for (i = 0; i < jn->nsteps; i++) {
                sq_win_reset(&steps[k * jn->nsteps + i]);
                g = sq_gmap_get(er, jn->steps[i], regions[j], &created);

                if (g) {
                    (void) sq_win_merge(&steps[k * jn->nsteps + i],
                                        &g->w[k]);
                }
            }

            base[0].h = &reg[k * nregions + j].h[SQ_H_RT];
            base[0].all = &all[k].h[SQ_H_RT];
            base[0].self = base[0].h;
            base[0].region = regions[j];

            sq_score_window_dc(bd->conf, row->levels->dc, &where,
                               &reg[k * nregions + j], base, 1, &ws);
            sq_score_journey(bd->conf, &where, &steps[k * jn->nsteps],
                             jn->nsteps, &ws);

            if (sq_view_pack(bd, row, k, &ws) != SQ_OK) {
                goto cleanup;
            }
        }
    }

    rc = SQ_OK;

cleanup:

    for (i = 0; steps && i < 2 * jn->nsteps; i++) {
        sq_win_free(&steps[i]);
    }

    for (j = 0; reg && j < 2 * nregions; j++) {
        sq_win_free(&reg[j]);
    }

    sq_win_free(&all[0]);
    sq_win_free(&all[1]);
    free(steps);
    free(reg);
    free(base);
    free(regions);

    return rc;
}


/* a series' row: empathy is its quantile over its endpoint's */

static int
sq_view_series(sq_builder_t *bd, sq_row_t *row, sq_group_t *ge,
    sq_group_t *gg, sq_where_t *where, sq_win_t *w)
{
    int             k;
    sq_baseline_t   one;
    sq_win_score_t  ws;

    if (sq_view_row_at(bd, row, SQ_SCOPE_SERIES, where->endpoint,
                       where->region, where->segment, NULL)
        != SQ_OK)
    {
        return SQ_ERR_NOMEM;
    }

    for (k = 0; k < 2; k++) {
        one.h = &w[k].h[SQ_H_RT];
        one.all = ge ? &ge->w[k].h[SQ_H_RT] : NULL;
        one.self = gg ? &gg->w[k].h[SQ_H_RT] : NULL;
        one.region = where->region;

        sq_score_window_dc(bd->conf, row->levels->dc, where, &w[k], &one,
                           ge && gg ? 1 : 0, &ws);

        if (sq_view_pack(bd, row, k, &ws) != SQ_OK) {
            return SQ_ERR_NOMEM;
        }
    }

    return SQ_OK;
}


/* an endpoint's row: empathy is the worst region against all regions */

static int
sq_view_endpoint(sq_builder_t *bd, sq_row_t *row, sq_group_t *ge)
{
    int              k;
    size_t           n;
    sq_group_t      *s;
    sq_where_t       where;
    sq_baseline_t   *base;
    sq_win_score_t   ws;

    if (sq_view_row_at(bd, row, SQ_SCOPE_ENDPOINT, ge->k1, SQ_ALL, SQ_ALL,
                       NULL)
        != SQ_OK)
    {
        return SQ_ERR_NOMEM;
    }

    n = 0;

    for (s = ge->regions; s; s = s->sibling) {
        n++;
    }

    if (n > bd->nbase) {
        base = realloc(bd->base, n * sizeof(sq_baseline_t));
        if (base == NULL) {
            return SQ_ERR_NOMEM;
        }

        bd->base = base;
        bd->nbase = n;
    }

    base = bd->base;

    where.endpoint = ge->k1;
    where.region = NULL;
    where.segment = NULL;
    where.journey = NULL;

    for (k = 0; k < 2; k++) {
        n = 0;

        for (s = ge->regions; s; s = s->sibling) {
            base[n].h = &s->w[k].h[SQ_H_RT];
            base[n].all = &ge->w[k].h[SQ_H_RT];
            base[n].self = base[n].h;
            base[n].region = s->k2;
            n++;
        }

        sq_score_window_dc(bd->conf, row->levels->dc, &where, &ge->w[k],
                           base, n, &ws);

        if (sq_view_pack(bd, row, k, &ws) != SQ_OK) {
            return SQ_ERR_NOMEM;
        }
    }

    return SQ_OK;
}


/* a region's row over all endpoints: against all regions */

static int
sq_view_region(sq_builder_t *bd, sq_row_t *row, sq_group_t *gr,
    sq_win_t *glob)
{
    int             k;
    sq_where_t      where;
    sq_baseline_t   one;
    sq_win_score_t  ws;

    if (sq_view_row_at(bd, row, SQ_SCOPE_REGION, SQ_ALL, gr->k1, SQ_ALL,
                       NULL)
        != SQ_OK)
    {
        return SQ_ERR_NOMEM;
    }

    where.endpoint = NULL;
    where.region = gr->k1;
    where.segment = NULL;
    where.journey = NULL;

    for (k = 0; k < 2; k++) {
        one.h = &gr->w[k].h[SQ_H_RT];
        one.all = &glob[k].h[SQ_H_RT];
        one.self = one.h;
        one.region = gr->k1;

        sq_score_window_dc(bd->conf, row->levels->dc, &where, &gr->w[k],
                           &one, 1, &ws);

        if (sq_view_pack(bd, row, k, &ws) != SQ_OK) {
            return SQ_ERR_NOMEM;
        }
    }

    return SQ_OK;
}


/* whether endpoint e is a step of a journey */

static int
sq_view_step(const sq_conf_t *conf, const char *e)
{
    size_t  i, j;

    for (i = 0; i < conf->njourneys; i++) {
        for (j = 0; j < conf->journeys[i].nsteps; j++) {
            if (strcmp(conf->journeys[i].steps[j], e) == 0) {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * The privacy floor (docs/privacy.md): the region of a series whose
 * region has fewer than privacy.min_requests requests in the short
 * window (and so possibly in the long one) becomes _other, in every row
 * built from it.  regs[i]: the region of series i in the view.
 */

static int
sq_view_fold(const sq_windows_t *a, uint32_t ns, const sq_conf_t *conf,
    sq_win_t *wins, uint32_t n, const char **regs)
{
    int           created;
    uint32_t      i;
    sq_gmap_t     rt;
    sq_group_t   *g;
    sq_series_t  *se;

    for (i = 0; i < n; i++) {
        se = sq_view_nth(a, ns, i);
        regs[i] = se->region;
    }

    if (conf->privacy_min == 0) {
        return SQ_OK;
    }

    if (sq_gmap_init(&rt, 256) != 0) {
        return SQ_ERR_NOMEM;
    }

    for (i = 0; i < n; i++) {
        g = sq_gmap_get(&rt, regs[i], NULL, &created);
        if (g == NULL) {
            sq_gmap_free(&rt);
            return SQ_ERR_NOMEM;
        }

        g->w[0].c[SQ_C_REQUESTS] += wins[2 * i].c[SQ_C_REQUESTS];
    }

    for (i = 0; i < n; i++) {
        g = sq_gmap_get(&rt, regs[i], NULL, &created);

        if (g->w[0].c[SQ_C_REQUESTS] < conf->privacy_min) {
            regs[i] = SQ_WIRE_OTHER;
        }
    }

    sq_gmap_free(&rt);

    return SQ_OK;
}


static int64_t
sq_view_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/*
 * Series i of a build that began with ns live series: those appended
 * since (a yield merged datagrams) come after them in the store and are
 * not in this view; _other, when it was live, is the last.
 */

static sq_series_t *
sq_view_nth(const sq_windows_t *a, uint32_t ns, uint32_t i)
{
    return i < ns ? a->all[i] : a->other;
}


/*
 * Every SQ_VIEW_YIELD_SERIES series read, the loop's owed work: the
 * merge of what the ingest queue holds, when it holds much
 * (sq_ingest_catch_up()), so that a build at 100k series (0.3-0.4 s)
 * leaves no backlog of datagrams behind it.
 */

static void
sq_view_yield(sq_builder_t *bd)
{
    struct timespec  t0, t1;

    if (bd->yield == NULL || ++bd->since < SQ_VIEW_YIELD_SERIES) {
        return;
    }

    bd->since = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    bd->yield(bd->yield_data);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    bd->yielded += (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
}


sq_view_t *
sq_view_build(const sq_windows_t *a, const sq_conf_t *conf, int64_t now)
{
    return sq_view_build_yielding(a, conf, now, NULL, NULL);
}


/*
 * The build.  With a yield, the store may change under it between two
 * series: datagrams merged into series not yet read (they are read as
 * they are then), new series appended (not in this view: the next one
 * has them).  Nothing in the store is freed or moved by a merge, only by
 * the expiry and a reload, which are the loop's and wait for the build.
 */

sq_view_t *
sq_view_build_yielding(const sq_windows_t *a, const sq_conf_t *conf,
    int64_t now, sq_view_yield_pt yield, void *data)
{
    int               k, created, step, rc;
    size_t            nrows;
    uint32_t          i, n, ns, j, cnt, tcap;
    uint32_t         *nexts, *pos;
    sq_group_t      **grs, **ggs;
    sq_win_t         *wins, *tw, *w, glob[2];
    sq_row_t         *row;
    sq_view_t        *v;
    sq_gmap_t         ep, er, rg, sf;
    sq_group_t       *ge, *gr, *gg, *gs, *s;
    const char      **regs;
    sq_where_t        where;
    sq_series_t      *se;
    sq_builder_t      bd;
    struct timespec   t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);

    v = calloc(1, sizeof(sq_view_t));
    if (v == NULL) {
        return NULL;
    }

    v->now = now;
    v->refs = 1;
    v->store.stats = a->stats;
    v->store.series = a->n;
    v->store.other = a->other ? 1 : 0;
    v->store.workers = a->workers.n;
    v->store.lost = a->workers.lost;
    v->store.reordered = a->workers.reordered;
    v->store.restarts = a->workers.restarts;
    v->store.max_series = a->max_series;
    v->store.memory = sq_windows_memory(a);

    memset(&bd, 0, sizeof(sq_builder_t));
    bd.v = v;
    bd.conf = conf;
    bd.yield = yield;
    bd.yield_data = data;

    /* the series, and the one past the series limit */

    ns = a->n;
    n = ns + (a->other ? 1 : 0);

    wins = NULL;
    tw = NULL;
    tcap = 0;
    rc = SQ_ERR_NOMEM;
    nrows = 0;

    sq_win_init(&glob[0]);
    sq_win_init(&glob[1]);

    memset(&ep, 0, sizeof(sq_gmap_t));
    memset(&er, 0, sizeof(sq_gmap_t));
    memset(&rg, 0, sizeof(sq_gmap_t));
    memset(&sf, 0, sizeof(sq_gmap_t));

    bd.key = malloc((conf->noverrides + 1) * SQ_VIEW_KEY_NUM + 1);
    regs = calloc(n ? n : 1, sizeof(char *));
    nexts = calloc(n ? n : 1, sizeof(uint32_t));
    pos = calloc(n ? n : 1, sizeof(uint32_t));
    grs = calloc(n ? n : 1, sizeof(sq_group_t *));
    ggs = calloc(n ? n : 1, sizeof(sq_group_t *));

    if (bd.key == NULL || regs == NULL || nexts == NULL || pos == NULL
        || grs == NULL || ggs == NULL
        || sq_smap_init(&bd.names, 1024) != SQ_OK
        || sq_smap_init(&bd.levels, 16) != SQ_OK
        || sq_gmap_init(&ep, a->n / 4) != 0
        || sq_gmap_init(&er, a->n / 2) != 0
        || sq_gmap_init(&rg, 256) != 0
        || sq_gmap_init(&sf, 64) != 0)
    {
        goto done;
    }

    /* endpoint by region: most groups are one series */
    er.shared = 1;

    /*
     * Under the privacy floor the regions to fold are known from every
     * series' windows: those are taken first, all at once.  Otherwise a
     * series' windows are taken with its endpoint's and let go once its
     * endpoint's rows are scored: the build holds one endpoint's.
     */

    if (conf->privacy_min) {
        wins = calloc(2 * (size_t) n, sizeof(sq_win_t));
        if (wins == NULL) {
            goto done;
        }

        for (i = 0; i < n; i++) {
            sq_view_yield(&bd);
            se = sq_view_nth(a, ns, i);

            for (k = 0; k < 2; k++) {
                sq_win_init(&wins[2 * i + k]);
                (void) sq_windows_window(a, se, k, now, &wins[2 * i + k]);
            }
        }
    }

    if (sq_view_fold(a, ns, conf, wins, n, regs) != SQ_OK) {
        goto done;
    }

    /* the groups, their keys only; the series of each endpoint listed */

    for (i = 0; i < n; i++) {
        sq_view_yield(&bd);
        se = sq_view_nth(a, ns, i);

        ge = sq_gmap_get(&ep, se->endpoint, NULL, &created);
        gr = sq_gmap_get(&rg, regs[i], NULL, &created);
        gg = sq_gmap_get(&er, se->endpoint, regs[i], &created);

        if (ge == NULL || gr == NULL || gg == NULL) {
            goto done;
        }

        if (created) {
            gg->sibling = ge->regions;
            ge->regions = gg;
        }

        if (strcmp(regs[i], SQ_WIRE_OTHER) == 0) {
            if (sq_gmap_get(&sf, se->endpoint, se->segment, &created)
                == NULL)
            {
                goto done;
            }

            pos[i] = UINT32_MAX;

        } else {
            pos[i] = (uint32_t) nrows++;
        }

        grs[i] = gr;
        ggs[i] = gg;
        nexts[i] = ge->first;
        ge->first = i + 1;
        ge->count++;
    }

    /*
     * Where each row goes: the series in the store's order, the series of
     * region _other by endpoint and segment, the endpoints, the regions;
     * the journeys after them.
     */

    for (i = 0; i < sf.nb; i++) {
        for (gs = sf.b[i]; gs; gs = gs->next) {
            gs->pos = (uint32_t) nrows++;
        }
    }

    for (i = 0; i < ep.nb; i++) {
        for (ge = ep.b[i]; ge; ge = ge->next) {
            ge->pos = (uint32_t) nrows++;
        }
    }

    for (i = 0; i < rg.nb; i++) {
        for (gr = rg.b[i]; gr; gr = gr->next) {
            gr->pos = (uint32_t) nrows++;
        }
    }

    bd.cap = nrows + 16;
    v->rows = malloc(bd.cap * sizeof(sq_row_t));

    if (v->rows == NULL) {
        bd.cap = 0;
        goto done;
    }

    /* each endpoint: its series' windows, the rollups, its rows */

    where.journey = NULL;

    for (j = 0; j < ep.nb; j++) {
        for (ge = ep.b[j]; ge; ge = ge->next) {

            /* the windows of the largest endpoint so far, reused */

            if (wins == NULL && ge->count > tcap) {
                w = realloc(tw, 2 * (size_t) ge->count * sizeof(sq_win_t));
                if (w == NULL) {
                    goto done;
                }

                tw = w;

                for (i = 2 * tcap; i < 2 * ge->count; i++) {
                    sq_win_init(&tw[i]);
                }

                tcap = ge->count;
            }

            cnt = 0;

            for (i = ge->first; i; i = nexts[i - 1]) {
                sq_view_yield(&bd);
                se = sq_view_nth(a, ns, i - 1);

                if (wins) {
                    w = &wins[2 * (i - 1)];

                } else {
                    w = &tw[2 * cnt];

                    for (k = 0; k < 2; k++) {
                        sq_win_reset(&w[k]);
                        (void) sq_windows_window(a, se, k, now, &w[k]);
                    }
                }

                cnt++;

                gr = grs[i - 1];
                gg = ggs[i - 1];
                gs = pos[i - 1] == UINT32_MAX
                     ? sq_gmap_get(&sf, se->endpoint, se->segment, &created)
                     : NULL;

                for (k = 0; k < 2; k++) {
                    if (gs) {
                        (void) sq_win_merge(&gs->w[k], &w[k]);
                    }

                    (void) sq_win_merge(&ge->w[k], &w[k]);
                    (void) sq_win_merge(&gr->w[k], &w[k]);
                }

                (void) sq_group_merge(gg, w);
            }

            /* its series' rows: empathy over the endpoint's */

            cnt = 0;

            for (i = ge->first; i; i = nexts[i - 1]) {
                se = sq_view_nth(a, ns, i - 1);
                w = wins ? &wins[2 * (i - 1)] : &tw[2 * cnt];
                cnt++;

                if (pos[i - 1] != UINT32_MAX) {
                    where.endpoint = se->endpoint;
                    where.region = se->region;
                    where.segment = se->segment;

                    if (sq_view_series(&bd, &v->rows[pos[i - 1]], ge,
                                       ggs[i - 1], &where, w)
                        != SQ_OK)
                    {
                        goto done;
                    }

                    continue;
                }

                /* region _other: one row an endpoint and segment */

                gs = sq_gmap_get(&sf, se->endpoint, se->segment, &created);

                if (gs->done) {
                    continue;
                }

                gs->done = 1;
                where.endpoint = gs->k1;
                where.region = SQ_WIRE_OTHER;
                where.segment = gs->k2;

                if (sq_view_series(&bd, &v->rows[gs->pos], ge, ggs[i - 1],
                                   &where, gs->w)
                    != SQ_OK)
                {
                    goto done;
                }
            }

            if (sq_view_endpoint(&bd, &v->rows[ge->pos], ge) != SQ_OK) {
                goto done;
            }

            /*
             * The endpoint's (endpoint, region) groups: a journey's step
             * keeps a copy of the windows it shares, the others let go.
             */

            step = sq_view_step(conf, ge->k1);

            for (s = ge->regions; s; s = s->sibling) {
                if (step) {
                    if (s->sole && sq_group_own(s) != SQ_OK) {
                        goto done;
                    }

                    continue;
                }

                if (s->alloc) {
                    sq_win_free(&s->w[0]);
                    sq_win_free(&s->w[1]);
                    free(s->w);
                    s->alloc = 0;
                }

                s->w = sq_group_none;
                s->sole = 0;
            }
        }
    }

    /* all traffic: the regions' merged (a few merges, not one a series) */

    for (i = 0; i < rg.nb; i++) {
        for (gr = rg.b[i]; gr; gr = gr->next) {
            for (k = 0; k < 2; k++) {
                (void) sq_win_merge(&glob[k], &gr->w[k]);
            }
        }
    }

    for (i = 0; i < rg.nb; i++) {
        for (gr = rg.b[i]; gr; gr = gr->next) {
            if (sq_view_region(&bd, &v->rows[gr->pos], gr, glob) != SQ_OK) {
                goto done;
            }
        }
    }

    v->n = nrows;

    for (i = 0; i < conf->njourneys; i++) {
        if (sq_view_journey(&bd, &conf->journeys[i], &ep, &er) != SQ_OK) {
            break;
        }
    }

    rc = SQ_OK;

done:

    if (rc != SQ_OK) {
        /* out of memory: rows placed but not all scored are not shown */
        v->n = 0;
    }

    for (i = 0; wins && i < 2 * n; i++) {
        sq_win_free(&wins[i]);
    }

    for (i = 0; i < 2 * tcap; i++) {
        sq_win_free(&tw[i]);
    }

    free(wins);
    free(tw);
    free(regs);
    free(nexts);
    free(pos);
    free(grs);
    free(ggs);
    sq_win_free(&glob[0]);
    sq_win_free(&glob[1]);
    sq_gmap_free(&ep);
    sq_gmap_free(&er);
    sq_gmap_free(&rg);
    sq_gmap_free(&sf);
    sq_view_builder_free(&bd);

    if (v->n && v->n < bd.cap) {
        row = realloc(v->rows, v->n * sizeof(sq_row_t));
        v->rows = row ? row : v->rows;
    }

    v->bytes = sizeof(sq_view_t) + v->n * sizeof(sq_row_t)
               + v->arena.bytes;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    v->wall = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    v->seconds = v->wall - bd.yielded;

    return v;
}


static void
sq_view_builder_free(sq_builder_t *bd)
{
    sq_smap_free(&bd->levels);
    sq_smap_free(&bd->names);
    free(bd->key);
    free(bd->base);

    bd->base = NULL;
    bd->key = NULL;
}


/* a window without beacons, as sq_score_window() shows it */

static void
sq_view_no_browser(sq_browser_score_t *bs)
{
    int  k;

    bs->beacons = 0;

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        bs->n[k] = 0;
        bs->p75[k] = NAN;
    }
}


void
sq_view_dim(const sq_row_t *r, int which, int dim, sq_dim_score_t *out)
{
    const sq_row_win_t   *m;
    const sq_dim_conf_t  *dc;

    m = &r->m[which];
    dc = &r->levels->dc[dim];

    out->value = m->dim[dim].value;
    out->requests = m->dim[dim].requests;
    out->weight = dc->weight;
    out->lat = NAN;
    out->base = NAN;

    if (m->flags[dim] & SQ_ROW_BROWSER) {
        out->indicator = dc->browser;
        out->adequate = dc->badequate;
        out->desired = dc->bdesired;
        out->min_requests = dc->min_beacons;

    } else {
        out->indicator = dc->indicator;
        out->adequate = dc->adequate;
        out->desired = dc->desired;
        out->min_requests = dc->min_requests;

        if (dc->indicator == SQ_IND_LATENCY_RATIO) {
            out->lat = m->lat;
            out->base = m->base;
        }
    }

    out->state = m->flags[dim] & SQ_ROW_STATE;

    if (out->state == SQ_STATE_INSUFFICIENT) {
        out->z = NAN;
        out->msa = NAN;
        out->mss = NAN;
        return;
    }

    sq_place(out);
}


void
sq_view_score(const sq_row_t *r, int which, sq_win_score_t *out)
{
    int                  d;
    const sq_row_win_t  *m;

    m = &r->m[which];

    out->requests = m->requests;
    out->p50 = m->p50;
    out->p75 = m->p75;
    out->p95 = m->p95;
    out->p99 = m->p99;

    for (d = 0; d < SQ_NDIMS; d++) {
        sq_view_dim(r, which, d, &out->dim[d]);
    }

    if (r->browser) {
        out->browser = r->browser[which];

    } else {
        sq_view_no_browser(&out->browser);
    }

    sq_score_index(out);
}


sq_view_t *
sq_view_retain(sq_view_t *v)
{
    if (v) {
        v->refs++;
    }

    return v;
}


void
sq_view_release(sq_view_t *v)
{
    if (v && --v->refs == 0) {
        sq_view_free(v);
    }
}


static void
sq_view_free(sq_view_t *v)
{
    sq_arena_free(&v->arena);
    free(v->rows);
    free(v);
}


int
sq_view_tick(sq_view_pub_t *p, const sq_windows_t *a, const sq_conf_t *conf,
    int64_t now, int force, int *built)
{
    int64_t     ms, slot;
    uint32_t    series;
    sq_view_t  *v;

    *built = 0;
    ms = sq_view_ms();

    if (p->latest == NULL || p->latest->refs == 1) {
        /* no scrape holds the latest view: no wait under way */
        p->held_ms = 0;
    }

    slot = a->slot ? now / a->slot : now;
    series = a->n + (a->other ? 1 : 0);

    if (p->latest && !p->stale && slot == p->slot && series == p->series
        && memcmp(&p->stats, &a->stats, sizeof(sq_windows_stats_t)) == 0)
    {
        return SQ_OK;
    }

    if (!force && p->latest && ms < p->next_ms) {
        return SQ_OK;
    }

    /*
     * A scrape being streamed holds the latest view: a build now would
     * hold two views and a build's work at once (at 100k series about
     * 100 MB).  The build waits for it, up to SQ_VIEW_HELD_MS (a client
     * that stops reading must not freeze the view), and readers meanwhile
     * take the view they have, an evaluation included; a reload's does
     * not wait.
     */

    if (p->latest && p->latest->refs > 1 && !p->stale) {
        if (p->held_ms == 0) {
            p->held_ms = ms;
        }

        if (ms - p->held_ms < SQ_VIEW_HELD_MS) {
            p->waits++;
            return SQ_OK;
        }
    }

    /*
     * The build runs on the loop: when no reader holds the latest view
     * (a scrape being streamed does), nobody can see it until the new
     * one is published, so it is freed first and the two are never held
     * at once (at 100k series a view is about 38 MB).
     */

    if (p->latest && p->latest->refs == 1) {
        sq_view_release(p->latest);
        p->latest = NULL;
    }

    v = sq_view_build_yielding(a, conf, now, p->yield, p->yield_data);
    if (v == NULL) {
        return SQ_ERR_NOMEM;
    }

    /*
     * The store as the build began: what a yield merged meanwhile makes
     * the next tick build again.  The guard counts the build's own time,
     * not the merges it let run.
     */

    v->gen = ++p->builds;
    p->seconds = v->seconds;
    p->next_ms = sq_view_ms() + (int64_t) (v->seconds * 1000)
                 * (SQ_VIEW_GUARD - 1);
    p->slot = slot;
    p->series = series;
    p->stats = v->store.stats;
    p->stale = 0;
    p->held_ms = 0;

    /* the hand-off: readers that hold the old one keep it */

    sq_view_release(p->latest);
    p->latest = v;
    *built = 1;

    return SQ_OK;
}


void
sq_view_stale(sq_view_pub_t *p)
{
    p->stale = 1;
}


sq_view_t *
sq_view_latest(sq_view_pub_t *p)
{
    return p->latest;
}


void
sq_view_pub_free(sq_view_pub_t *p)
{
    sq_view_release(p->latest);
    p->latest = NULL;
}
