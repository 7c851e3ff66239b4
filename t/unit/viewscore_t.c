
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * The view keeps of each row only what is measured, and a level set the
 * rows of the same overrides share; sq_view_score() gives back the full
 * score.  Over random series (some with beacons), random overrides (some
 * with labels) and journeys, every field of every row's two windows must
 * equal what sq_score_window() gives when the row is scored from the
 * windows here, apart from the view: the series against their endpoint,
 * endpoints against their regions, regions against all traffic, and
 * journeys as docs/dimensions.md says.  A row handed another row's level
 * set must be caught.
 *
 * With SQ_VIEW_SERIES=N set it also builds views over N series of
 * bench/scale.pl's shape and prints the build's time (thread CPU), the
 * view's bytes a row and what the build held besides.
 */

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tap.h"
#include "feed.h"
#include "sq_score.h"
#include "sq_status.h"
#include "sq_view.h"
#include "sq_windows.h"


#define T_NE    9                      /* endpoints */
#define T_NR    5                      /* regions */
#define T_NG    3                      /* segments */
#define T_MAXS  (T_NE * T_NR * T_NG)

#define diag(...)                                                            \
    (printf("# "), printf(__VA_ARGS__), printf("\n"))


#define T_PER       100               /* the benchmark: series a datagram */
#define T_PER_NAME  T_PER

static char          t_names[T_NE][16];
static const char   *t_bregions[8] = {
    "US", "BR", "DE", "FR", "JP", "IN", "GB", "AU"
};
static const char   *t_regions[T_NR] = { "US", "BR", "DE", "JP", "_other" };
static const char   *t_segments[T_NG] = { "", "free", "pro" };
static sq_hbin_t     t_bins[T_MAXS][SQ_WIRE_NBHISTS][4];
static int64_t       t_now_s;
static unsigned      t_seed;

/* what the rows checked covered */
static size_t        t_browser_rows, t_browser_decided, t_journeys,
                     t_insufficient, t_placed, t_empathy;


static uint32_t t_rand(uint32_t n);
static void t_conf(sq_conf_t *conf);
static void t_feed_round(uint64_t seq, int64_t now);
static void t_merge(sq_win_t *out, const char *e, const char *r,
    const char *g);
static int t_regions_of(const char *e, const char **out);
static void t_expect(const sq_conf_t *conf, const sq_row_t *row,
    sq_win_score_t *ws);
static int t_same_dbl(double a, double b);
static int t_same(const sq_win_score_t *a, const sq_win_score_t *b,
    char *why, size_t len);
static void t_cover(const sq_row_t *row, const sq_win_score_t *ws);
static size_t t_check(const sq_conf_t *conf, const sq_view_t *v,
    int verbose);
static void t_bench(uint32_t universe);
static double t_cpu(void);


static uint32_t
t_rand(uint32_t n)
{
    t_seed = t_seed * 1103515245u + 12345u;

    return n ? (t_seed >> 8) % n : 0;
}


static void
t_levels(sq_dim_conf_t *dc)
{
    double  a, b;

    a = 0.2 + t_rand(60) / 100.0;
    b = a + 0.05 + t_rand(20) / 100.0;

    dc->set |= SQ_SET_ADEQUATE | SQ_SET_DESIRED;
    dc->adequate = a;
    dc->desired = b;

    if (t_rand(2)) {
        dc->set |= SQ_SET_WEIGHT;
        dc->weight = 1 + t_rand(4);
    }

    if (t_rand(3) == 0) {
        dc->set |= SQ_SET_MIN;
        dc->min_requests = t_rand(120);
    }

    if (t_rand(4) == 0) {
        dc->set |= SQ_SET_MIN_BEACONS;
        dc->min_beacons = 1 + t_rand(20);
    }
}


/* random overrides (sorted as sq_conf_load() sorts them) and journeys */

static void
t_conf(sq_conf_t *conf)
{
    int             d;
    size_t          i, j, n;
    sq_journey_t   *jn;
    sq_override_t  *o;

    conf->privacy_min = 0;

    n = 3 + t_rand(6);
    conf->overrides = calloc(n, sizeof(sq_override_t));
    conf->noverrides = n;

    for (i = 0; i < n; i++) {
        o = &conf->overrides[i];
        o->index = (int) i;
        o->line = 10 + (int) i;

        if (t_rand(3)) {
            o->endpoint = strdup(t_names[t_rand(T_NE)]);
            o->nmatch++;
        }

        if (t_rand(2)) {
            o->region = strdup(t_regions[t_rand(T_NR)]);
            o->nmatch++;
        }

        if (t_rand(3) == 0) {
            o->segment = strdup(t_segments[t_rand(T_NG)]);
            o->nmatch++;
        }

        for (d = 0; d < SQ_NDIMS; d++) {
            if (t_rand(2)) {
                t_levels(&o->dims[d]);
            }
        }

        if (t_rand(2)) {
            o->nlabels = 1 + t_rand(2);
            o->labels = calloc(o->nlabels, sizeof(sq_label_t));

            for (j = 0; j < o->nlabels; j++) {
                o->labels[j].key = strdup(j ? "tier" : "team");
                o->labels[j].value = strdup(t_names[t_rand(T_NE)] + 1);
            }
        }
    }

    qsort(conf->overrides, n, sizeof(sq_override_t),
          (int (*)(const void *, const void *)) sq_override_cmp);

    conf->njourneys = 2;
    conf->journeys = calloc(2, sizeof(sq_journey_t));

    for (i = 0; i < 2; i++) {
        jn = &conf->journeys[i];
        jn->name = strdup(i ? "signup" : "checkout");
        jn->nsteps = 2 + i;
        jn->steps = calloc(jn->nsteps, sizeof(char *));

        for (j = 0; j < jn->nsteps; j++) {
            jn->steps[j] = strdup(t_names[(i * 3 + j * 2) % T_NE]);
        }

        t_levels(&jn->dims[SQ_DIM_RELIABILITY]);
        t_levels(&jn->dims[t_rand(SQ_NDIMS)]);

        if (i == 0) {
            jn->nlabels = 1;
            jn->labels = calloc(1, sizeof(sq_label_t));
            jn->labels[0].key = strdup("journey_owner");
            jn->labels[0].value = strdup("shop");
        }
    }
}


/* a datagram of a random part of the series, a third with beacons */

static void
t_feed_round(uint64_t seq, int64_t now)
{
    uint32_t     i, n, k, b, sid[T_MAXS], idx;
    t_series_t   s[T_MAXS];
    sq_dseries_t  *ds;

    n = 0;

    for (i = 0; i < T_MAXS; i++) {
        if (t_rand(3)) {
            continue;
        }

        sid[n] = i;
        mk(&s[n], t_names[i / (T_NR * T_NG)], t_regions[(i / T_NG) % T_NR],
           t_rand(4) ? t_rand(300) : t_rand(5), 0, 0);
        s[n].segment = t_segments[i % T_NG];
        s[n].c[SQ_C_5XX] = t_rand(8) ? 0 : t_rand(1 + s[n].c[SQ_C_REQUESTS]);
        s[n].c[SQ_C_2XX] = s[n].c[SQ_C_REQUESTS] - s[n].c[SQ_C_5XX];
        s[n].c[SQ_C_UPSTREAM_ERROR] = t_rand(1 + s[n].c[SQ_C_REQUESTS] / 8);
        s[n].c[SQ_C_ABORTED] = t_rand(1 + s[n].c[SQ_C_REQUESTS] / 8);
        s[n].c[SQ_C_TLS_13] = s[n].c[SQ_C_REQUESTS] / (1 + t_rand(3));
        s[n].c[SQ_C_HSTS] = t_rand(1 + s[n].c[SQ_C_TLS_13]);
        s[n].c[SQ_C_COMPRESSIBLE] = s[n].c[SQ_C_REQUESTS] / 2;
        s[n].c[SQ_C_COMPRESSED] = t_rand(1 + s[n].c[SQ_C_COMPRESSIBLE]);
        s[n].nbuckets = 1 + t_rand(4);

        if (s[n].nbuckets > s[n].c[SQ_C_REQUESTS]) {
            s[n].nbuckets = (uint32_t) s[n].c[SQ_C_REQUESTS];
        }

        idx = sq_hist_index(1000 + t_rand(20000));

        for (b = 0; b < s[n].nbuckets; b++) {
            idx += 1 + t_rand(60);
            s[n].bucket[b] = idx;
            s[n].count[b] = s[n].c[SQ_C_REQUESTS] / s[n].nbuckets
                            + (b == 0 ? s[n].c[SQ_C_REQUESTS]
                                        % s[n].nbuckets : 0);
        }

        n++;
    }

    if (n == 0) {
        return;
    }

    t_pack(&sb, "n1", 1, seq, s, n);

    k = sq_decode(&d, sb.data, sb.size);
    if (k != SQ_DECODE_OK) {
        diag("decode %u", k);
        return;
    }

    /* beacons beside the server's measurements */

    for (i = 0; i < n; i++) {
        if (sid[i] % 3 != 0 || t_rand(2)) {
            continue;
        }

        ds = &d.series[i];
        ds->browser = 1;
        memset(ds->bc, 0, sizeof(ds->bc));
        ds->bc[SQ_BC_BEACONS] = 1 + t_rand(40);

        for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
            ds->bhist[k].n = k == SQ_B_CLS ? 1 : 1 + t_rand(3);
            ds->bhist[k].total = 0;
            ds->bhist[k].bins = t_bins[sid[i]][k];
            idx = k == SQ_B_CLS ? t_rand(40) : sq_hist_index(200000);

            for (b = 0; b < ds->bhist[k].n; b++) {
                idx += k == SQ_B_CLS ? 0 : t_rand(200);
                t_bins[sid[i]][k][b] = sq_hbin(idx + b, 1 + t_rand(15));
                ds->bhist[k].total += sq_hbin_count(t_bins[sid[i]][k][b]);
            }
        }
    }

    k = sq_windows_ingest(&a, &d, now);

    if (k != SQ_OK) {
        diag("not merged: %u", k);
    }
}


/* the windows of the series that match e, r, g (NULL: any), merged */

static void
t_merge(sq_win_t *out, const char *e, const char *r, const char *g)
{
    int           k;
    uint32_t      i;
    sq_series_t  *s;

    for (i = 0; i < a.n; i++) {
        s = a.all[i];

        if ((e && strcmp(e, s->endpoint)) || (r && strcmp(r, s->region))
            || (g && strcmp(g, s->segment)))
        {
            continue;
        }

        for (k = 0; k < 2; k++) {
            (void) sq_windows_window(&a, s, k, t_now_s, &out[k]);
        }
    }
}


/* the regions of endpoint e (NULL: any), latest first seen first */

static int
t_regions_of(const char *e, const char **out)
{
    int           n, j, m;
    uint32_t      i;
    const char   *seen[T_NR];

    n = 0;

    for (i = 0; i < a.n; i++) {
        if (e && strcmp(e, a.all[i]->endpoint)) {
            continue;
        }

        for (j = 0; j < n; j++) {
            if (strcmp(seen[j], a.all[i]->region) == 0) {
                break;
            }
        }

        if (j == n) {
            seen[n++] = a.all[i]->region;
        }
    }

    for (m = 0; m < n; m++) {
        out[m] = seen[n - 1 - m];
    }

    return n;
}


static void
t_wins_init(sq_win_t *w, int n)
{
    int  i;

    for (i = 0; i < n; i++) {
        sq_win_init(&w[i]);
    }
}


static void
t_wins_free(sq_win_t *w, int n)
{
    int  i;

    for (i = 0; i < n; i++) {
        sq_win_free(&w[i]);
    }
}


/*
 * A row scored from the windows, apart from the view: ws[0], ws[1].  The
 * baselines in the order the view keeps them (an endpoint's regions the
 * latest first seen first), as ties of the worst served region are
 * decided by it.
 */

static void
t_expect(const sq_conf_t *conf, const sq_row_t *row, sq_win_score_t *ws)
{
    int                  k, j, i, nr, ns, seen;
    const char          *regs[T_NR], *rj[T_NR], *e, *r, *g;
    sq_win_t             w[2], all[2], self[2], glob[2], reg[2 * T_NR];
    sq_win_t             steps[2 * 4], stepk[4];
    sq_where_t           where;
    sq_baseline_t        base[T_NR];
    const sq_journey_t  *jn;

    e = row->endpoint;
    r = row->region;
    g = row->segment;
    regs[0] = r;

    t_wins_init(w, 2);
    t_wins_init(all, 2);
    t_wins_init(self, 2);
    t_wins_init(glob, 2);
    t_wins_init(reg, 2 * T_NR);
    t_wins_init(steps, 8);

    memset(&where, 0, sizeof(where));

    switch (row->scope) {

    case SQ_SCOPE_SERIES:
        where.endpoint = e;
        where.region = r;
        where.segment = g;
        t_merge(w, e, r, g);
        t_merge(all, e, NULL, NULL);
        t_merge(self, e, r, NULL);

        for (k = 0; k < 2; k++) {
            base[0].h = &w[k].h[SQ_H_RT];
            base[0].all = &all[k].h[SQ_H_RT];
            base[0].self = &self[k].h[SQ_H_RT];
            base[0].region = r;
            sq_score_window(conf, &where, &w[k], base, 1, &ws[k]);
        }

        break;

    case SQ_SCOPE_ENDPOINT:
        where.endpoint = e;
        t_merge(all, e, NULL, NULL);
        nr = t_regions_of(e, regs);

        for (j = 0; j < nr; j++) {
            t_merge(&reg[2 * j], e, regs[j], NULL);
        }

        for (k = 0; k < 2; k++) {
            for (j = 0; j < nr; j++) {
                base[j].h = &reg[2 * j + k].h[SQ_H_RT];
                base[j].all = &all[k].h[SQ_H_RT];
                base[j].self = base[j].h;
                base[j].region = regs[j];
            }

            sq_score_window(conf, &where, &all[k], base, nr, &ws[k]);
        }

        break;

    case SQ_SCOPE_REGION:
        where.region = r;
        t_merge(w, NULL, r, NULL);
        t_merge(glob, NULL, NULL, NULL);

        for (k = 0; k < 2; k++) {
            base[0].h = &w[k].h[SQ_H_RT];
            base[0].all = &glob[k].h[SQ_H_RT];
            base[0].self = base[0].h;
            base[0].region = r;
            sq_score_window(conf, &where, &w[k], base, 1, &ws[k]);
        }

        break;

    default:
        jn = NULL;

        for (i = 0; i < (int) conf->njourneys; i++) {
            if (strcmp(conf->journeys[i].name, e) == 0) {
                jn = &conf->journeys[i];
            }
        }

        where.journey = jn;
        ns = (int) jn->nsteps;
        nr = 0;

        /* the regions any step was seen in, in the view's order */

        for (i = 0; i < ns; i++) {
            seen = t_regions_of(jn->steps[i], rj);

            for (j = 0; j < seen; j++) {
                for (k = 0; k < nr; k++) {
                    if (strcmp(regs[k], rj[j]) == 0) {
                        break;
                    }
                }

                if (k == nr) {
                    regs[nr++] = rj[j];
                }
            }
        }

        for (i = 0; i < ns; i++) {
            t_merge(all, jn->steps[i], NULL, NULL);

            for (j = 0; j < nr; j++) {
                t_merge(&reg[2 * j], jn->steps[i], regs[j], NULL);
            }
        }

        /* the steps: over all regions, or in the row's */

        j = 0;

        if (strcmp(r, SQ_ALL)) {
            while (j < nr - 1 && strcmp(regs[j], r)) {
                j++;
            }

            where.region = nr ? regs[j] : r;
        }

        for (i = 0; i < ns; i++) {
            t_merge(&steps[2 * i], jn->steps[i], where.region, NULL);
        }

        for (k = 0; k < 2; k++) {
            for (i = 0; i < ns; i++) {
                stepk[i] = steps[2 * i + k];
            }

            if (where.region == NULL) {
                for (j = 0; j < nr; j++) {
                    base[j].h = &reg[2 * j + k].h[SQ_H_RT];
                    base[j].all = &all[k].h[SQ_H_RT];
                    base[j].self = base[j].h;
                    base[j].region = regs[j];
                }

                sq_score_window(conf, &where, &all[k], base, nr, &ws[k]);

            } else {
                base[0].h = &reg[2 * j + k].h[SQ_H_RT];
                base[0].all = &all[k].h[SQ_H_RT];
                base[0].self = base[0].h;
                base[0].region = regs[j];

                sq_score_window(conf, &where, &reg[2 * j + k], base, 1,
                                &ws[k]);
            }

            sq_score_journey(conf, &where, stepk, ns, &ws[k]);
        }

        break;
    }

    t_wins_free(w, 2);
    t_wins_free(all, 2);
    t_wins_free(self, 2);
    t_wins_free(glob, 2);
    t_wins_free(reg, 2 * T_NR);
    t_wins_free(steps, 8);
}


static int
t_same_dbl(double x, double y)
{
    return x == y || (isnan(x) && isnan(y));
}


/* every field of two scored windows; the first that differs in why */

static int
t_same(const sq_win_score_t *x, const sq_win_score_t *y, char *why,
    size_t len)
{
    int                    d, k;
    const sq_dim_score_t  *p, *q;

#define T_D(f, name)                                                         \
    if (!t_same_dbl(f(x), f(y))) {                                           \
        snprintf(why, len, "%s: %.17g != %.17g", name, f(x), f(y));          \
        return 0;                                                            \
    }

#define T_U(f, name)                                                         \
    if (f(x) != f(y)) {                                                      \
        snprintf(why, len, "%s: %llu != %llu", name,                         \
                 (unsigned long long) f(x), (unsigned long long) f(y));      \
        return 0;                                                            \
    }

#define T_REQ(s)    (s)->requests
#define T_P50(s)    (s)->p50
#define T_P75(s)    (s)->p75
#define T_P95(s)    (s)->p95
#define T_P99(s)    (s)->p99
#define T_INDEX(s)  (s)->index
#define T_STATE(s)  (s)->state
#define T_BEAC(s)   (s)->browser.beacons

    T_U(T_REQ, "requests");
    T_D(T_P50, "p50");
    T_D(T_P75, "p75");
    T_D(T_P95, "p95");
    T_D(T_P99, "p99");
    T_D(T_INDEX, "index");
    T_U(T_STATE, "state");
    T_U(T_BEAC, "browser beacons");

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        if (x->browser.n[k] != y->browser.n[k]
            || !t_same_dbl(x->browser.p75[k], y->browser.p75[k]))
        {
            snprintf(why, len, "browser measure %d", k);
            return 0;
        }
    }

    for (d = 0; d < SQ_NDIMS; d++) {
        p = &x->dim[d];
        q = &y->dim[d];

        if (p->indicator != q->indicator || p->state != q->state
            || p->requests != q->requests
            || p->min_requests != q->min_requests
            || !t_same_dbl(p->value, q->value)
            || !t_same_dbl(p->adequate, q->adequate)
            || !t_same_dbl(p->desired, q->desired)
            || !t_same_dbl(p->weight, q->weight)
            || !t_same_dbl(p->z, q->z)
            || !t_same_dbl(p->msa, q->msa)
            || !t_same_dbl(p->mss, q->mss)
            || !t_same_dbl(p->lat, q->lat)
            || !t_same_dbl(p->base, q->base))
        {
            snprintf(why, len, "%s: indicator %d/%d state %d/%d value "
                     "%.17g/%.17g levels %g,%g/%g,%g weight %g/%g z "
                     "%.17g/%.17g requests %llu/%llu min %llu/%llu lat "
                     "%g/%g", sq_dim_names[d], p->indicator, q->indicator,
                     p->state, q->state, p->value, q->value, p->adequate,
                     p->desired, q->adequate, q->desired, p->weight,
                     q->weight, p->z, q->z,
                     (unsigned long long) p->requests,
                     (unsigned long long) q->requests,
                     (unsigned long long) p->min_requests,
                     (unsigned long long) q->min_requests, p->lat, q->lat);
            return 0;
        }
    }

    return 1;
}


static void
t_cover(const sq_row_t *row, const sq_win_score_t *ws)
{
    int  d;

    t_browser_rows += row->browser != NULL;
    t_journeys += row->scope == SQ_SCOPE_JOURNEY;
    t_empathy += !isnan(ws->dim[SQ_DIM_EMPATHY].lat);

    for (d = 0; d < SQ_NDIMS; d++) {
        t_browser_decided += sq_indicator_browser(ws->dim[d].indicator);
        t_insufficient += ws->dim[d].state == SQ_STATE_INSUFFICIENT;
        t_placed += ws->dim[d].state != SQ_STATE_INSUFFICIENT;
    }
}


/* the rows of v that differ from their scores apart from the view */

static size_t
t_check(const sq_conf_t *conf, const sq_view_t *v, int verbose)
{
    int              k;
    char             why[512];
    size_t           i, bad;
    sq_win_score_t   want[2], got;
    const sq_row_t  *row;

    bad = 0;

    for (i = 0; i < v->n; i++) {
        row = &v->rows[i];
        t_expect(conf, row, want);

        for (k = 0; k < 2; k++) {
            sq_view_score(row, k, &got);
            t_cover(row, &got);

            if (!t_same(&got, &want[k], why, sizeof(why))) {
                if (verbose && bad < 3) {
                    diag("%s %s/%s/%s window %d: %s",
                         sq_scope_names[row->scope], row->endpoint,
                         row->region, row->segment, k, why);
                }

                bad++;
                break;
            }
        }
    }

    return bad;
}


static double
t_cpu(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static long
t_hwm_kb(void)
{
    char   line[256];
    long   kb;
    FILE  *f;

    kb = 0;
    f = fopen("/proc/self/status", "r");

    if (f == NULL) {
        return 0;
    }

    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmHWM: %ld", &kb) == 1) {
            break;
        }
    }

    fclose(f);

    return kb;
}


/*
 * universe series of bench/scale.pl's shape (t/unit/merge_t.c's: 100
 * series a datagram, endpoints of 8 regions, a third without segment),
 * a few slots of each window filled; then views built: the build's
 * thread CPU time, the view's bytes, and the peak RSS before and after.
 */

static void
t_bench(uint32_t universe)
{
    int               round, i;
    char              name[T_PER_NAME][32];
    double            t, best;
    size_t            heap0, heap1;
    int64_t           now;
    uint32_t          w, j, sid;
    int               k, dim;
    size_t            r;
    volatile double   sink;
    sq_view_t        *v;
    sq_conf_t        *conf;
    t_series_t        s[T_PER];
    sq_dim_score_t    ds;
    sq_win_score_t    ws;
    struct mallinfo2  mi;

    sink = 0;

    sq_windows_free(&a);
    sq_windows_init(&a, 10, 60, 600, 2 * (uint64_t) universe, 3600, 100000);
    now = 1800000000;

    for (round = 0; round < 12; round++) {
        for (w = 0; w < universe / T_PER; w++) {
            for (j = 0; j < T_PER; j++) {
                sid = w * T_PER + j;
                snprintf(name[j], sizeof(name[j]), "/api/e%u", sid / 8);
                mk(&s[j], name[j], t_bregions[sid % 8], 20,
                   sid % 1000 == 0, 0);
                s[j].segment = (sid % 3 == 0) ? "" : "free";
                s[j].nbuckets = 3;
                s[j].bucket[0] = sq_hist_index(2000);
                s[j].bucket[1] = sq_hist_index(15000 + (sid % 7) * 1000);
                s[j].bucket[2] = sq_hist_index(200000);
                s[j].count[0] = 10;
                s[j].count[1] = 6;
                s[j].count[2] = 4;
            }

            t_pack(&sb, "bench", w + 1, 1 + (uint64_t) round, s, T_PER);

            if (sq_decode(&d, sb.data, sb.size) == SQ_DECODE_OK) {
                (void) sq_windows_ingest(&a, &d, now);
            }
        }

        now += 10;
    }

    conf = sq_conf_default();
    best = 1e9;
    v = NULL;

    diag("%u series, peak RSS with the store: %ld MB", a.n,
         t_hwm_kb() / 1024);

    for (i = 0; i < 3; i++) {
        mi = mallinfo2();
        heap0 = mi.uordblks + mi.hblkhd;

        t = t_cpu();
        v = sq_view_build(&a, conf, now - 10);
        t = t_cpu() - t;

        mi = mallinfo2();
        heap1 = mi.uordblks + mi.hblkhd;

        best = t < best ? t : best;

        diag("view: %zu rows, %zu level sets; built in %.3f s (thread "
             "CPU); %zu bytes (%.1f MB), %.0f bytes a row (heap: %.0f)",
             v->n, v->nlevels, t, v->bytes, v->bytes / 1e6,
             (double) v->bytes / v->n, (double) (heap1 - heap0) / v->n);

        if (i == 0) {
            diag("peak RSS with the store and the first build: %ld MB "
                 "(the view and what its build held besides)",
                 t_hwm_kb() / 1024);

            /* what a reader pays: alerts read every dimension of every
               row's two windows, the API and /metrics whole windows */

            t = t_cpu();

            for (r = 0; r < v->n; r++) {
                for (k = 0; k < 2; k++) {
                    for (dim = 0; dim < SQ_NDIMS; dim++) {
                        sq_view_dim(&v->rows[r], k, dim, &ds);
                        sink += ds.z;
                    }
                }
            }

            t = t_cpu() - t;
            diag("every dimension of every row's windows expanded: "
                 "%.1f ms (%.0f ns a row)", t * 1e3, t * 1e9 / v->n);

            t = t_cpu();

            for (r = 0; r < v->n; r++) {
                for (k = 0; k < 2; k++) {
                    sq_view_score(&v->rows[r], k, &ws);
                    sink += ws.index;
                }
            }

            t = t_cpu() - t;
            diag("every row's two windows scored in full: %.1f ms (%.0f "
                 "ns a row)", t * 1e3, t * 1e9 / v->n);
        }

        sq_view_release(v);
    }

    diag("best build %.3f s; peak RSS with the store and a view: %ld MB",
         best, t_hwm_kb() / 1024);

    sq_conf_free(conf);
}


int
main(void)
{
    int           round;
    char         *env;
    size_t        i, bad, total;
    int64_t       t0;
    uint64_t      seq;
    sq_conf_t    *conf;
    sq_view_t    *v;
    sq_row_t     *row, *other;
    const sq_levels_t  *keep;

    (void) feed;
    (void) find;

    msgpack_sbuffer_init(&sb);
    sq_dgram_init(&d);

    for (i = 0; i < T_NE; i++) {
        snprintf(t_names[i], sizeof(t_names[i]), "/e%zu", i);
    }

    t0 = 1800000000;
    total = 0;
    bad = 0;

    for (round = 0; round < 12; round++) {
        t_seed = 7 + round * 7919;
        conf = sq_conf_default();
        t_conf(conf);

        sq_windows_init(&a, 60, 300, 3600, 1000, 7200, 100);
        seq = 1;

        /* slots of both windows: some series only in the long one */

        t_now_s = t0 - 3000 + round;
        t_feed_round(seq++, t_now_s);
        t_now_s = t0 - 200;
        t_feed_round(seq++, t_now_s);
        t_now_s = t0 - 100;
        t_feed_round(seq++, t_now_s);
        t_now_s = t0;
        t_feed_round(seq++, t_now_s);

        v = sq_view_build(&a, conf, t_now_s);

        if (v == NULL) {
            ok(0, "round %d: a view", round);
            continue;
        }

        total += v->n;
        bad += t_check(conf, v, 1);

        /* a row given another row's level set is caught */

        if (round < 4) {
            row = NULL;
            other = NULL;

            for (i = 0; i < v->n && other == NULL; i++) {
                if (v->rows[i].scope != SQ_SCOPE_SERIES) {
                    continue;
                }

                if (row == NULL) {
                    row = &v->rows[i];

                } else if (v->rows[i].levels != row->levels) {
                    other = &v->rows[i];
                }
            }

            ok(other != NULL, "round %d: series of different level sets",
               round);

            if (other) {
                keep = row->levels;
                row->levels = other->levels;
                ok(t_check(conf, v, 0) > 0,
                   "round %d: a row with another's level set is caught",
                   round);
                row->levels = keep;
            }
        }

        diag("round %d: %zu rows, %zu level sets, %zu overrides",
             round, v->n, v->nlevels, conf->noverrides);

        sq_view_release(v);
        sq_windows_free(&a);
        sq_conf_free(conf);
    }

    ok(total > 1000, "%zu rows checked", total);
    ok(t_browser_rows > 100 && t_browser_decided > 10,
       "of them %zu windows with beacons, %zu dimensions the browser's "
       "part decided", t_browser_rows, t_browser_decided);
    ok(t_journeys > 20 && t_empathy > 100 && t_insufficient > 100
       && t_placed > 1000, "%zu journey windows, %zu with an empathy "
       "ratio; %zu dimensions placed, %zu insufficient", t_journeys,
       t_empathy, t_placed, t_insufficient);
    is_int(bad, 0, "every field of every row's windows as scored in full");

    env = getenv("SQ_VIEW_SERIES");

    if (env && atoi(env) > 0) {
        sq_windows_init(&a, 60, 300, 3600, 1000, 7200, 100);
        t_bench((uint32_t) atoi(env));
        sq_windows_free(&a);
    }

    sq_dgram_free(&d);
    msgpack_sbuffer_destroy(&sb);

    return done_testing();
}
