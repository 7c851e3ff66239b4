
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>

#include "sq_agg.h"


const double  sq_prom_le[SQ_PROM_NLE] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10
};

static uint8_t  sq_le_of[SQ_HIST_BUCKETS];
static int      sq_le_ready;


static uint32_t sq_hash(const char *p, size_t len, uint32_t h);
static sq_series_t *sq_series_get(sq_agg_t *a, const sq_str_t *e,
    const sq_str_t *r, const sq_str_t *g, int64_t now);
static void sq_series_free(sq_agg_t *a, sq_series_t *s);
static sq_slot_t *sq_slot_get(sq_slot_t **ring, uint32_t n, int64_t width,
    int64_t now);
static int sq_seq_check(sq_agg_t *a, const sq_dgram_t *d, int64_t now);
static int sq_add_hist(sq_slot_t *f, sq_slot_t *c, sq_series_t *s, int k,
    const sq_dhist_t *o);
static int sq_rehash(sq_agg_t *a);
static void sq_slot_free(sq_slot_t *sl);
static void sq_slot_counters(sq_slot_t *sl, const uint64_t *c);


static void
sq_slot_free(sq_slot_t *sl)
{
    if (sl) {
        sq_hist_free(&sl->h[0]);
        sq_hist_free(&sl->h[1]);
        free(sl);
    }
}


static void
sq_slot_counters(sq_slot_t *sl, const uint64_t *c)
{
    int       k;
    uint64_t  v;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        if (k == SQ_C_BYTES) {
            sl->bytes += c[k];
            continue;
        }

        v = (uint64_t) sl->c[k] + c[k];
        sl->c[k] = v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
    }
}


int
sq_win_merge_slot(sq_win_t *dst, const sq_slot_t *src)
{
    int  k;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        dst->c[k] += (k == SQ_C_BYTES) ? src->bytes : src->c[k];
    }

    if (sq_hist_merge(&dst->h[0], &src->h[0]) != 0
        || sq_hist_merge(&dst->h[1], &src->h[1]) != 0)
    {
        return -1;
    }

    return 0;
}


static uint32_t
sq_hash(const char *p, size_t len, uint32_t h)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) p[i];
        h *= 16777619u;
    }

    return h;
}


void
sq_win_init(sq_win_t *w)
{
    memset(w->c, 0, sizeof(w->c));
    sq_hist_init(&w->h[0]);
    sq_hist_init(&w->h[1]);
}


void
sq_win_free(sq_win_t *w)
{
    sq_hist_free(&w->h[0]);
    sq_hist_free(&w->h[1]);
}


void
sq_win_reset(sq_win_t *w)
{
    memset(w->c, 0, sizeof(w->c));
    sq_hist_reset(&w->h[0]);
    sq_hist_reset(&w->h[1]);
}


int
sq_win_merge(sq_win_t *dst, const sq_win_t *src)
{
    int  k;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        dst->c[k] += src->c[k];
    }

    if (sq_hist_merge(&dst->h[0], &src->h[0]) != 0
        || sq_hist_merge(&dst->h[1], &src->h[1]) != 0)
    {
        return -1;
    }

    return 0;
}


int
sq_agg_init(sq_agg_t *a, int64_t slot, int64_t short_window,
    int64_t long_window, uint64_t max_series, int64_t ttl,
    uint64_t max_workers)
{
    uint32_t  i, k;

    memset(a, 0, sizeof(sq_agg_t));

    if (!sq_le_ready) {
        for (i = 0; i < SQ_HIST_BUCKETS; i++) {
            for (k = 0; k < SQ_PROM_NLE; k++) {
                if (sq_hist_mid(i) <= sq_prom_le[k] * 1e6) {
                    break;
                }
            }

            sq_le_of[i] = (uint8_t) k;
        }

        sq_le_ready = 1;
    }

    a->nbuckets = 1024;
    a->buckets = calloc(a->nbuckets, sizeof(sq_series_t *));
    a->nwbuckets = 1024;
    a->wbuckets = calloc(a->nwbuckets, sizeof(sq_worker_t *));

    if (a->buckets == NULL || a->wbuckets == NULL) {
        sq_agg_free(a);
        return -1;
    }

    return sq_agg_configure(a, slot, short_window, long_window, max_series,
                            ttl, max_workers);
}


int
sq_agg_configure(sq_agg_t *a, int64_t slot, int64_t short_window,
    int64_t long_window, uint64_t max_series, int64_t ttl,
    uint64_t max_workers)
{
    int64_t       cslot;
    uint32_t      i, j, nfine, ncoarse;
    sq_slot_t   **fine, **coarse;
    sq_series_t  *s;

    nfine = (uint32_t) (short_window / slot);
    cslot = ((long_window / 12 + slot - 1) / slot) * slot;
    ncoarse = (uint32_t) ((long_window + cslot - 1) / cslot);

    if (nfine == 0 || ncoarse == 0) {
        return -1;
    }

    if (slot != a->slot || nfine != a->nfine || cslot != a->cslot
        || ncoarse != a->ncoarse)
    {
        /* new rings: the windows start over */

        for (i = 0; i < a->n; i++) {
            s = a->all[i];

            fine = calloc(nfine, sizeof(sq_slot_t *));
            coarse = calloc(ncoarse, sizeof(sq_slot_t *));

            if (fine == NULL || coarse == NULL) {
                free(fine);
                free(coarse);
                return -1;
            }

            for (j = 0; j < a->nfine; j++) {
                sq_slot_free(s->fine[j]);
            }

            for (j = 0; j < a->ncoarse; j++) {
                sq_slot_free(s->coarse[j]);
            }

            free(s->fine);
            free(s->coarse);
            s->fine = fine;
            s->coarse = coarse;
        }
    }

    a->slot = slot;
    a->nfine = nfine;
    a->cslot = cslot;
    a->ncoarse = ncoarse;
    a->short_window = short_window;
    a->long_window = long_window;
    a->max_series = max_series;
    a->ttl = ttl > long_window ? ttl : long_window;
    a->max_workers = max_workers;

    return 0;
}


void
sq_agg_free(sq_agg_t *a)
{
    uint32_t      i;
    sq_worker_t  *w, *next;

    while (a->n) {
        sq_series_free(a, a->all[a->n - 1]);
    }

    if (a->other) {
        sq_series_free(a, a->other);
    }

    for (i = 0; i < a->nwbuckets && a->wbuckets; i++) {
        for (w = a->wbuckets[i]; w; w = next) {
            next = w->next;
            free(w);
        }
    }

    free(a->buckets);
    free(a->wbuckets);
    free(a->all);

    a->buckets = NULL;
    a->wbuckets = NULL;
    a->all = NULL;
}


static void
sq_series_free(sq_agg_t *a, sq_series_t *s)
{
    uint32_t      j;
    sq_series_t **pp;

    if (s == a->other) {
        a->other = NULL;

    } else {
        for (pp = &a->buckets[s->hash & (a->nbuckets - 1)]; *pp;
             pp = &(*pp)->next)
        {
            if (*pp == s) {
                *pp = s->next;
                break;
            }
        }

        a->all[s->pos] = a->all[a->n - 1];
        a->all[s->pos]->pos = s->pos;
        a->n--;
    }

    for (j = 0; j < a->nfine; j++) {
        sq_slot_free(s->fine[j]);
    }

    for (j = 0; j < a->ncoarse; j++) {
        sq_slot_free(s->coarse[j]);
    }

    free(s->fine);
    free(s->coarse);
    free(s);
}


static int
sq_rehash(sq_agg_t *a)
{
    uint32_t      i, n;
    sq_series_t **b, *s, *next;

    n = a->nbuckets * 2;

    b = calloc(n, sizeof(sq_series_t *));
    if (b == NULL) {
        return -1;
    }

    for (i = 0; i < a->nbuckets; i++) {
        for (s = a->buckets[i]; s; s = next) {
            next = s->next;
            s->next = b[s->hash & (n - 1)];
            b[s->hash & (n - 1)] = s;
        }
    }

    free(a->buckets);
    a->buckets = b;
    a->nbuckets = n;

    return 0;
}


static sq_series_t *
sq_series_get(sq_agg_t *a, const sq_str_t *e, const sq_str_t *r,
    const sq_str_t *g, int64_t now)
{
    char          *p;
    size_t         len;
    uint32_t       h, cap;
    sq_str_t       other, empty;
    sq_series_t   *s, **all;

    h = sq_hash(e->ptr, e->len, 2166136261u);
    h = sq_hash("", 1, h);
    h = sq_hash(r->ptr, r->len, h);
    h = sq_hash("", 1, h);
    h = sq_hash(g->ptr, g->len, h);

    for (s = a->buckets[h & (a->nbuckets - 1)]; s; s = s->next) {
        if (s->hash == h
            && strlen(s->endpoint) == e->len
            && memcmp(s->endpoint, e->ptr, e->len) == 0
            && strlen(s->region) == r->len
            && memcmp(s->region, r->ptr, r->len) == 0
            && strlen(s->segment) == g->len
            && memcmp(s->segment, g->ptr, g->len) == 0)
        {
            return s;
        }
    }

    if (a->n >= a->max_series) {
        s = a->other;

        if (s) {
            return s;
        }

        other.ptr = SQ_WIRE_OTHER;
        other.len = sizeof(SQ_WIRE_OTHER) - 1;
        empty.ptr = "";
        empty.len = 0;
        e = &other;
        r = &other;
        g = &empty;
    }

    len = e->len + r->len + g->len + 3;

    s = calloc(1, sizeof(sq_series_t) + len);
    if (s == NULL) {
        return NULL;
    }

    s->fine = calloc(a->nfine, sizeof(sq_slot_t *));
    s->coarse = calloc(a->ncoarse, sizeof(sq_slot_t *));

    if (s->fine == NULL || s->coarse == NULL) {
        free(s->fine);
        free(s->coarse);
        free(s);
        return NULL;
    }

    p = s->key;
    s->endpoint = p;
    memcpy(p, e->ptr, e->len);
    p += e->len;
    *p++ = '\0';
    s->region = p;
    memcpy(p, r->ptr, r->len);
    p += r->len;
    *p++ = '\0';
    s->segment = p;
    memcpy(p, g->ptr, g->len);
    p[g->len] = '\0';

    s->first_seen = now;
    s->last_seen = now;

    if (a->n >= a->max_series) {
        a->other = s;
        return s;
    }

    if (a->n == a->cap) {
        cap = a->cap ? a->cap * 2 : 1024;
        all = realloc(a->all, cap * sizeof(sq_series_t *));

        if (all == NULL) {
            free(s->fine);
            free(s->coarse);
            free(s);
            return NULL;
        }

        a->all = all;
        a->cap = cap;
    }

    if (a->n >= a->nbuckets) {
        (void) sq_rehash(a);
    }

    s->hash = h;
    s->next = a->buckets[h & (a->nbuckets - 1)];
    a->buckets[h & (a->nbuckets - 1)] = s;
    s->pos = a->n;
    a->all[a->n++] = s;

    return s;
}


static sq_slot_t *
sq_slot_get(sq_slot_t **ring, uint32_t n, int64_t width, int64_t now)
{
    int64_t     start;
    uint32_t    i;
    sq_slot_t  *sl;

    start = now - now % width;
    i = (uint32_t) ((start / width) % n);
    sl = ring[i];

    if (sl == NULL) {
        sl = calloc(1, sizeof(sq_slot_t));
        if (sl == NULL) {
            return NULL;
        }

        sq_hist_init(&sl->h[0]);
        sq_hist_init(&sl->h[1]);
        sl->start = start;
        ring[i] = sl;

    } else if (sl->start != start) {
        if (sl->start > start) {
            /* older than the ring: the window no longer covers it */
            return NULL;
        }

        memset(sl->c, 0, sizeof(sl->c));
        sl->bytes = 0;
        sq_hist_reset(&sl->h[0]);
        sq_hist_reset(&sl->h[1]);
        sl->start = start;
    }

    return sl;
}


static int
sq_seq_check(sq_agg_t *a, const sq_dgram_t *d, int64_t now)
{
    uint32_t      h;
    uint64_t      shift;
    sq_worker_t  *w;

    h = sq_hash(d->node.ptr, d->node.len, 2166136261u);
    h = sq_hash((const char *) &d->pid, sizeof(d->pid), h);

    for (w = a->wbuckets[h & (a->nwbuckets - 1)]; w; w = w->next) {
        if (w->hash == h && w->pid == d->pid
            && strlen(w->node) == d->node.len
            && memcmp(w->node, d->node.ptr, d->node.len) == 0)
        {
            break;
        }
    }

    if (w == NULL) {
        if (a->nworkers >= a->max_workers) {
            a->stats.workers_untracked++;
            return SQ_AGG_ACCEPTED;
        }

        w = calloc(1, sizeof(sq_worker_t));
        if (w == NULL) {
            a->stats.workers_untracked++;
            return SQ_AGG_ACCEPTED;
        }

        w->hash = h;
        w->pid = (uint32_t) d->pid;
        memcpy(w->node, d->node.ptr, d->node.len);
        w->max_seq = d->seq;
        w->seen = ~UINT64_C(0);
        w->next = a->wbuckets[h & (a->nwbuckets - 1)];
        a->wbuckets[h & (a->nwbuckets - 1)] = w;
        a->nworkers++;

        w->last_seen = now;
        return SQ_AGG_ACCEPTED;
    }

    w->last_seen = now;

    if (d->seq > w->max_seq) {
        shift = d->seq - w->max_seq;

        if (shift >= 64) {
            a->stats.lost += shift - 1;
            w->seen = 1;

        } else {
            a->stats.lost += shift - 1;
            w->seen = (w->seen << shift) | 1;
        }

        w->max_seq = d->seq;
        return SQ_AGG_ACCEPTED;
    }

    shift = w->max_seq - d->seq;

    if (shift < 64) {
        if (w->seen & (UINT64_C(1) << shift)) {
            return SQ_AGG_DUPLICATE;
        }

        w->seen |= UINT64_C(1) << shift;
        a->stats.reordered++;
        return SQ_AGG_ACCEPTED;
    }

    if (d->seq <= 64) {
        /* the worker's sequence started over */
        a->stats.restarts++;
        w->max_seq = d->seq;
        w->seen = ~UINT64_C(0);
        return SQ_AGG_ACCEPTED;
    }

    /* too old to tell from a duplicate */

    return SQ_AGG_DUPLICATE;
}


static int
sq_add_hist(sq_slot_t *f, sq_slot_t *c, sq_series_t *s, int k,
    const sq_dhist_t *o)
{
    uint32_t  i, idx;
    uint64_t  cnt;

    for (i = 0; i < o->n; i++) {
        idx = sq_hbin_idx(o->bins[i]);
        cnt = sq_hbin_count(o->bins[i]);

        if ((f && sq_hist_add(&f->h[k], idx, cnt) != 0)
            || (c && sq_hist_add(&c->h[k], idx, cnt) != 0))
        {
            return -1;
        }

        if (sq_le_of[idx] < SQ_PROM_NLE) {
            s->le[k][sq_le_of[idx]] += cnt;
        }

        s->count[k] += cnt;
        s->sum[k] += sq_hist_mid(idx) * 1e-6 * (double) cnt;
    }

    return 0;
}


int
sq_agg_ingest(sq_agg_t *a, const sq_dgram_t *d, int64_t now)
{
    int            k, rc;
    uint32_t       i;
    sq_slot_t     *f, *c;
    sq_series_t   *s;
    sq_dseries_t   ds;

    rc = sq_seq_check(a, d, now);

    if (rc == SQ_AGG_DUPLICATE) {
        a->stats.duplicate++;
        return rc;
    }

    a->stats.accepted++;
    a->stats.source_dropped += d->dd;
    a->stats.source_dropped_requests += d->dr;
    a->stats.series_folded_requests += d->so;
    a->stats.segment_folded_requests += d->go;
    a->stats.requests += d->requests;

    for (i = 0; i < d->nseries; i++) {
        sq_decode_series(d, i, &ds);

        s = sq_series_get(a, &ds.endpoint, &ds.region, &ds.segment, now);
        if (s == NULL) {
            continue;
        }

        if (s == a->other) {
            a->stats.overflow_requests += ds.c[SQ_C_REQUESTS];
        }

        s->last_seen = now;
        a->stats.series_updates++;

        f = sq_slot_get(s->fine, a->nfine, a->slot, now);
        c = sq_slot_get(s->coarse, a->ncoarse, a->cslot, now);

        for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
            s->total[k] += ds.c[k];
        }

        if (f) {
            sq_slot_counters(f, ds.c);
        }

        if (c) {
            sq_slot_counters(c, ds.c);
        }

        (void) sq_add_hist(f, c, s, SQ_HIST_RT, &ds.hist[0]);
        (void) sq_add_hist(f, c, s, SQ_HIST_TTFB, &ds.hist[1]);
    }

    return SQ_AGG_ACCEPTED;
}


int
sq_agg_add_slot(sq_agg_t *a, const char *endpoint, const char *region,
    const char *segment, const sq_win_t *w, int64_t start, int64_t now)
{
    int           k;
    sq_str_t      e, r, g;
    sq_slot_t    *f, *c;
    sq_series_t  *s;

    e.ptr = endpoint;
    e.len = (uint32_t) strlen(endpoint);
    r.ptr = region;
    r.len = (uint32_t) strlen(region);
    g.ptr = segment;
    g.len = (uint32_t) strlen(segment);

    s = sq_series_get(a, &e, &r, &g, now);
    if (s == NULL) {
        return -1;
    }

    if (start + a->long_window <= now) {
        return 0;
    }

    if (s->last_seen < start) {
        s->last_seen = start;
    }

    f = (start + a->short_window > now)
        ? sq_slot_get(s->fine, a->nfine, a->slot, start) : NULL;
    c = sq_slot_get(s->coarse, a->ncoarse, a->cslot, start);

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        s->total[k] += w->c[k];
    }

    if (f) {
        sq_slot_counters(f, w->c);
    }

    if (c) {
        sq_slot_counters(c, w->c);
    }

    if ((f && (sq_hist_merge(&f->h[0], &w->h[0]) != 0
               || sq_hist_merge(&f->h[1], &w->h[1]) != 0))
        || (c && (sq_hist_merge(&c->h[0], &w->h[0]) != 0
                  || sq_hist_merge(&c->h[1], &w->h[1]) != 0)))
    {
        return -1;
    }

    return 0;
}


int
sq_agg_window(const sq_agg_t *a, const sq_series_t *s, int which,
    int64_t now, sq_win_t *out)
{
    int64_t      width, oldest;
    uint32_t     i, n;
    sq_slot_t  **ring;

    if (which == SQ_WIN_SHORT) {
        ring = s->fine;
        n = a->nfine;
        width = a->slot;

    } else {
        ring = s->coarse;
        n = a->ncoarse;
        width = a->cslot;
    }

    /* the current slot and the n - 1 before it */

    oldest = now - now % width - (int64_t) (n - 1) * width;

    for (i = 0; i < n; i++) {
        if (ring[i] && ring[i]->start >= oldest && ring[i]->start <= now) {
            if (sq_win_merge_slot(out, ring[i]) != 0) {
                return -1;
            }
        }
    }

    return 0;
}


const sq_slot_t *
sq_agg_slot_at(const sq_agg_t *a, const sq_series_t *s, int64_t start)
{
    const sq_slot_t  *sl;

    if (start % a->slot != 0) {
        return NULL;
    }

    sl = s->fine[(uint32_t) ((start / a->slot) % a->nfine)];

    return (sl && sl->start == start) ? sl : NULL;
}


void
sq_agg_expire(sq_agg_t *a, int64_t now)
{
    uint32_t      i;
    sq_worker_t **pp, *w;

    for (i = 0; i < a->n; /* void */ ) {
        if (a->all[i]->last_seen + a->ttl < now) {
            sq_series_free(a, a->all[i]);
            a->stats.series_expired++;
            continue;
        }

        i++;
    }

    if (a->other && a->other->last_seen + a->ttl < now) {
        sq_series_free(a, a->other);
    }

    for (i = 0; i < a->nwbuckets; i++) {
        for (pp = &a->wbuckets[i]; *pp; /* void */ ) {
            w = *pp;

            if (w->last_seen + a->ttl < now) {
                *pp = w->next;
                free(w);
                a->nworkers--;
                continue;
            }

            pp = &w->next;
        }
    }
}


size_t
sq_agg_memory(const sq_agg_t *a)
{
    size_t        m;
    uint32_t      i, j;
    sq_series_t  *s;

    m = a->nbuckets * sizeof(void *) + a->cap * sizeof(void *)
        + a->nworkers * sizeof(sq_worker_t);

    for (i = 0; i < a->n; i++) {
        s = a->all[i];
        m += sizeof(sq_series_t) + strlen(s->endpoint) + 3
             + (a->nfine + a->ncoarse) * sizeof(void *);

        for (j = 0; j < a->nfine; j++) {
            if (s->fine[j]) {
                m += sizeof(sq_slot_t) + sq_hist_bytes(&s->fine[j]->h[0])
                     + sq_hist_bytes(&s->fine[j]->h[1]);
            }
        }

        for (j = 0; j < a->ncoarse; j++) {
            if (s->coarse[j]) {
                m += sizeof(sq_slot_t)
                     + sq_hist_bytes(&s->coarse[j]->h[0])
                     + sq_hist_bytes(&s->coarse[j]->h[1]);
            }
        }
    }

    return m;
}
