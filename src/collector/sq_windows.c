
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>

#include "sq_windows.h"


const double  sq_prom_le[SQ_PROM_NLE] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10
};

static uint8_t  sq_le_of[SQ_HIST_BUCKETS];
static double   sq_mid_s[SQ_HIST_BUCKETS];        /* midpoints, seconds */
static int      sq_le_ready;


/*
 * A packed slot: a bitmap of the non-zero counters (3 bytes), their
 * values, then for each histogram the number of bins and each bin's
 * distance from the previous one and count; every number a LEB128
 * varint.
 *
 * A series' rings are one buffer of nfine + ncoarse entries, the fine
 * slots first, each a varint tag, 0 for an empty position or else the
 * slot's start / slot + 1, then for a slot the varint length of the
 * packed slot and the packed slot.  Each slot is written once a minute
 * or so, so walking to a position costs little; a slot rewritten moves
 * the entries after it.
 */

typedef struct {
    int64_t               start;      /* -1: empty */
    const unsigned char  *data;
    uint32_t              len;
} sq_rslot_t;

#define SQ_PSLOT_MAX                                                         \
    (3 + 10 * SQ_WIRE_NCOUNTERS + 2 * (5 + 10 * 2 * SQ_HIST_BUCKETS))


/* scratch: packing, merging finished slots, sq_windows_slot_at() */
static unsigned char  sq_pbuf[SQ_PSLOT_MAX];
static sq_hbin_t      sq_pbins[SQ_HIST_BUCKETS];
static sq_slot_t      sq_tmp;
static sq_slot_t      sq_at;


static uint32_t sq_hash(const char *p, size_t len, uint32_t h);
static sq_series_t *sq_series_get(sq_windows_t *a, const sq_str_t *e,
    const sq_str_t *r, const sq_str_t *g, int64_t now);
static void sq_series_free(sq_windows_t *a, sq_series_t *s);
static void sq_rings_free(sq_windows_t *a, sq_series_t *s);
static int sq_seq_check(sq_windows_t *a, const sq_dgram_t *d, int64_t now);
static int sq_rehash(sq_windows_t *a);
static void sq_slot_free(sq_slot_t *sl);
static void sq_slot_reset(sq_slot_t *sl, int64_t start);
static void sq_slot_counters(sq_slot_t *sl, const uint64_t *c);
static int sq_slot_merge(sq_slot_t *dst, const sq_slot_t *src);
static uint32_t sq_pack(const sq_slot_t *sl);
static int sq_unpack(const unsigned char *p, uint64_t *c, sq_hist_t *h);
static int sq_unpack_slot(const unsigned char *p, sq_slot_t *sl);
static const unsigned char *sq_ring_next(const sq_windows_t *a,
    const unsigned char *p, sq_rslot_t *r);
static void sq_ring_get(const sq_windows_t *a, const sq_series_t *s,
    uint32_t pos, sq_rslot_t *r);
static int sq_ring_set(const sq_windows_t *a, sq_series_t *s, uint32_t pos,
    int64_t start, uint32_t len);
static int sq_put_finished(sq_windows_t *a, sq_series_t *s, sq_slot_t *sl);
static sq_slot_t *sq_cur(sq_windows_t *a, sq_series_t *s, int64_t start);


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
sq_slot_reset(sq_slot_t *sl, int64_t start)
{
    sl->start = start;
    sl->bytes = 0;
    memset(sl->c, 0, sizeof(sl->c));
    sq_hist_reset(&sl->h[0]);
    sq_hist_reset(&sl->h[1]);
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


static int
sq_slot_merge(sq_slot_t *dst, const sq_slot_t *src)
{
    int       k;
    uint64_t  v;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        v = (uint64_t) dst->c[k] + src->c[k];
        dst->c[k] = v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
    }

    dst->bytes += src->bytes;

    if (sq_hist_merge(&dst->h[0], &src->h[0]) != 0
        || sq_hist_merge(&dst->h[1], &src->h[1]) != 0)
    {
        return -1;
    }

    return 0;
}


static unsigned char *
sq_put_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char) (v | 0x80);
        v >>= 7;
    }

    *p++ = (unsigned char) v;

    return p;
}


static uint64_t
sq_get_varint(const unsigned char **pp)
{
    int                   shift;
    uint64_t              v;
    const unsigned char  *p;

    p = *pp;
    v = 0;

    for (shift = 0; *p & 0x80; shift += 7) {
        v |= (uint64_t) (*p++ & 0x7f) << shift;
    }

    v |= (uint64_t) *p++ << shift;
    *pp = p;

    return v;
}


/* packs a slot into sq_pbuf; returns the length */

static uint32_t
sq_pack(const sq_slot_t *sl)
{
    int               k;
    uint32_t          map, i, idx, prev;
    uint64_t          v;
    unsigned char    *p;
    const sq_hist_t  *h;

    p = sq_pbuf + 3;
    map = 0;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        v = (k == SQ_C_BYTES) ? sl->bytes : sl->c[k];

        if (v) {
            map |= 1u << k;
            p = sq_put_varint(p, v);
        }
    }

    sq_pbuf[0] = (unsigned char) map;
    sq_pbuf[1] = (unsigned char) (map >> 8);
    sq_pbuf[2] = (unsigned char) (map >> 16);

    for (k = 0; k < 2; k++) {
        h = &sl->h[k];
        p = sq_put_varint(p, h->n);
        prev = 0;

        for (i = 0; i < h->n; i++) {
            idx = sq_hbin_idx(h->bins[i]);
            p = sq_put_varint(p, idx - prev);
            p = sq_put_varint(p, sq_hbin_count(h->bins[i]));
            prev = idx;
        }
    }

    return (uint32_t) (p - sq_pbuf);
}


/* reads the ring entry at p into r; returns the next entry */

static const unsigned char *
sq_ring_next(const sq_windows_t *a, const unsigned char *p, sq_rslot_t *r)
{
    uint64_t  tag;

    tag = sq_get_varint(&p);

    if (tag == 0) {
        r->start = -1;
        r->data = NULL;
        r->len = 0;
        return p;
    }

    r->start = (int64_t) (tag - 1) * a->slot;
    r->len = (uint32_t) sq_get_varint(&p);
    r->data = p;

    return p + r->len;
}


static void
sq_ring_get(const sq_windows_t *a, const sq_series_t *s, uint32_t pos,
    sq_rslot_t *r)
{
    uint32_t              i;
    const unsigned char  *p;

    p = s->rings;

    for (i = 0; i < pos; i++) {
        p = sq_ring_next(a, p, r);
    }

    (void) sq_ring_next(a, p, r);
}


/* the packed slot in sq_pbuf (len bytes) to ring position pos */

static int
sq_ring_set(const sq_windows_t *a, sq_series_t *s, uint32_t pos, int64_t start,
    uint32_t len)
{
    size_t                off, olen, hlen, nlen, total;
    uint32_t              i;
    sq_rslot_t            r;
    unsigned char         hdr[20], *h, *b;
    const unsigned char  *p;

    p = s->rings;

    for (i = 0; i < pos; i++) {
        p = sq_ring_next(a, p, &r);
    }

    off = (size_t) (p - s->rings);
    olen = (size_t) (sq_ring_next(a, p, &r) - p);

    h = sq_put_varint(hdr, (uint64_t) (start / a->slot) + 1);
    h = sq_put_varint(h, len);
    hlen = (size_t) (h - hdr);
    nlen = hlen + len;
    total = s->rings_len - olen + nlen;

    if (nlen > olen) {
        b = realloc(s->rings, total);
        if (b == NULL) {
            return -1;
        }

        s->rings = b;
    }

    memmove(s->rings + off + nlen, s->rings + off + olen,
            s->rings_len - off - olen);
    memcpy(s->rings + off, hdr, hlen);
    memcpy(s->rings + off + hlen, sq_pbuf, len);

    if (nlen < olen) {
        b = realloc(s->rings, total);
        if (b) {
            s->rings = b;
        }
    }

    s->rings_len = (uint32_t) total;

    return 0;
}


/* adds a packed slot's counters to c and its histograms to h[2] */

static int
sq_unpack(const unsigned char *data, uint64_t *c, sq_hist_t *h)
{
    int                   k;
    uint32_t              map, i, n, idx;
    uint64_t              cnt, total;
    sq_hist_t             view;
    const unsigned char  *p;

    p = data;
    map = p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16);
    p += 3;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        if (map & (1u << k)) {
            c[k] += sq_get_varint(&p);
        }
    }

    for (k = 0; k < 2; k++) {
        n = (uint32_t) sq_get_varint(&p);
        idx = 0;
        total = 0;

        for (i = 0; i < n; i++) {
            idx += (uint32_t) sq_get_varint(&p);
            cnt = sq_get_varint(&p);
            sq_pbins[i] = sq_hbin(idx, cnt);
            total += cnt;
        }

        view.bins = sq_pbins;
        view.n = n;
        view.cap = n;
        view.total = total;

        if (sq_hist_merge(&h[k], &view) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
sq_unpack_slot(const unsigned char *data, sq_slot_t *sl)
{
    uint64_t  c[SQ_WIRE_NCOUNTERS];

    memset(c, 0, sizeof(c));

    if (sq_unpack(data, c, sl->h) != 0) {
        return -1;
    }

    sq_slot_counters(sl, c);

    return 0;
}


/*
 * A finished fine slot goes to the fine ring, packed, and is merged into
 * the packed coarse slot of its period.  A ring position holding a newer
 * slot is left alone: the window no longer covers the older one.
 */

static int
sq_put_finished(sq_windows_t *a, sq_series_t *s, sq_slot_t *sl)
{
    int64_t     start, cstart;
    uint32_t    i, j, len;
    sq_rslot_t  r;

    start = sl->start;
    cstart = start - start % a->cslot;

    i = (uint32_t) ((start / a->slot) % a->nfine);
    j = a->nfine + (uint32_t) ((cstart / a->cslot) % a->ncoarse);

    sq_ring_get(a, s, i, &r);

    if (r.start <= start) {
        if (r.start == start) {
            /* a minute written twice: the history store's and ours */
            sq_slot_reset(&sq_tmp, start);

            if (sq_slot_merge(&sq_tmp, sl) != 0
                || sq_unpack_slot(r.data, &sq_tmp) != 0)
            {
                return -1;
            }

            len = sq_pack(&sq_tmp);

        } else {
            len = sq_pack(sl);
        }

        if (sq_ring_set(a, s, i, start, len) != 0) {
            return -1;
        }
    }

    sq_ring_get(a, s, j, &r);

    if (r.start > cstart) {
        return 0;
    }

    if (r.start == cstart) {
        sq_slot_reset(&sq_tmp, cstart);

        if (sq_unpack_slot(r.data, &sq_tmp) != 0
            || sq_slot_merge(&sq_tmp, sl) != 0)
        {
            return -1;
        }

        len = sq_pack(&sq_tmp);

    } else {
        len = sq_pack(sl);
    }

    return sq_ring_set(a, s, j, cstart, len);
}


/*
 * The slot being written for the fine slot at start: the finished one is
 * put away first.  NULL for a fine slot older than the one being written.
 */

static sq_slot_t *
sq_cur(sq_windows_t *a, sq_series_t *s, int64_t start)
{
    sq_slot_t  *sl;

    sl = s->cur;

    if (sl == NULL) {
        sl = calloc(1, sizeof(sq_slot_t));
        if (sl == NULL) {
            return NULL;
        }

        sq_hist_init(&sl->h[0]);
        sq_hist_init(&sl->h[1]);
        sl->start = start;
        s->cur = sl;
        return sl;
    }

    if (sl->start == start) {
        return sl;
    }

    if (sl->start > start) {
        return NULL;
    }

    (void) sq_put_finished(a, s, sl);
    sq_slot_reset(sl, start);

    return sl;
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
sq_windows_init(sq_windows_t *a, int64_t slot, int64_t short_window,
    int64_t long_window, uint64_t max_series, int64_t ttl,
    uint64_t max_workers)
{
    uint32_t  i, k;

    memset(a, 0, sizeof(sq_windows_t));

    if (!sq_le_ready) {
        for (i = 0; i < SQ_HIST_BUCKETS; i++) {
            for (k = 0; k < SQ_PROM_NLE; k++) {
                if (sq_hist_mid(i) <= sq_prom_le[k] * 1e6) {
                    break;
                }
            }

            sq_le_of[i] = (uint8_t) k;
            sq_mid_s[i] = sq_hist_mid(i) * 1e-6;
        }

        sq_le_ready = 1;
    }

    a->nbuckets = 1024;
    a->buckets = calloc(a->nbuckets, sizeof(sq_series_t *));
    a->nwbuckets = 1024;
    a->wbuckets = calloc(a->nwbuckets, sizeof(sq_worker_t *));

    if (a->buckets == NULL || a->wbuckets == NULL) {
        sq_windows_free(a);
        return -1;
    }

    return sq_windows_configure(a, slot, short_window, long_window, max_series,
                            ttl, max_workers);
}


int
sq_windows_configure(sq_windows_t *a, int64_t slot, int64_t short_window,
    int64_t long_window, uint64_t max_series, int64_t ttl,
    uint64_t max_workers)
{
    int64_t         cslot;
    uint32_t        i, nfine, ncoarse;
    sq_series_t    *s;
    unsigned char  *rings;

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

        for (i = 0; i <= a->n; i++) {
            s = (i < a->n) ? a->all[i] : a->other;

            if (s == NULL) {
                continue;
            }

            rings = calloc(1, nfine + ncoarse);
            if (rings == NULL) {
                return -1;
            }

            sq_rings_free(a, s);
            s->rings = rings;
            s->rings_len = nfine + ncoarse;
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
sq_windows_free(sq_windows_t *a)
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
sq_rings_free(sq_windows_t *a, sq_series_t *s)
{
    free(s->rings);
    sq_slot_free(s->cur);
    s->rings = NULL;
    s->rings_len = 0;
    s->cur = NULL;
}


static void
sq_series_free(sq_windows_t *a, sq_series_t *s)
{
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

    sq_rings_free(a, s);
    free(s);
}


static int
sq_rehash(sq_windows_t *a)
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
sq_series_get(sq_windows_t *a, const sq_str_t *e, const sq_str_t *r,
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
            && s->elen == e->len && s->rlen == r->len && s->glen == g->len
            && memcmp(s->endpoint, e->ptr, e->len) == 0
            && memcmp(s->region, r->ptr, r->len) == 0
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

    s->rings = calloc(1, a->nfine + a->ncoarse);

    if (s->rings == NULL) {
        free(s);
        return NULL;
    }

    s->rings_len = a->nfine + a->ncoarse;
    s->elen = (uint16_t) e->len;
    s->rlen = (uint16_t) r->len;
    s->glen = (uint16_t) g->len;

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
            free(s->rings);
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


static int
sq_seq_check(sq_windows_t *a, const sq_dgram_t *d, int64_t now)
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
            return SQ_WINDOWS_ACCEPTED;
        }

        w = calloc(1, sizeof(sq_worker_t));
        if (w == NULL) {
            a->stats.workers_untracked++;
            return SQ_WINDOWS_ACCEPTED;
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
        return SQ_WINDOWS_ACCEPTED;
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
        return SQ_WINDOWS_ACCEPTED;
    }

    shift = w->max_seq - d->seq;

    if (shift < 64) {
        if (w->seen & (UINT64_C(1) << shift)) {
            return SQ_WINDOWS_DUPLICATE;
        }

        w->seen |= UINT64_C(1) << shift;
        a->stats.reordered++;
        return SQ_WINDOWS_ACCEPTED;
    }

    if (d->seq <= 64) {
        /* the worker's sequence started over */
        a->stats.restarts++;
        w->max_seq = d->seq;
        w->seen = ~UINT64_C(0);
        return SQ_WINDOWS_ACCEPTED;
    }

    /* too old to tell from a duplicate */

    return SQ_WINDOWS_DUPLICATE;
}


/*
 * A datagram's histogram: merged into the slot being written, and into the
 * series' Prometheus buckets (bucket -> le table) and sum.
 */

static int
sq_add_hist(sq_slot_t *sl, sq_series_t *s, int k, const sq_dhist_t *o)
{
    uint32_t   i, idx;
    uint64_t   cnt;
    double     sum;
    sq_hist_t  view;

    sum = 0;

    for (i = 0; i < o->n; i++) {
        idx = sq_hbin_idx(o->bins[i]);
        cnt = sq_hbin_count(o->bins[i]);

        if (sq_le_of[idx] < SQ_PROM_NLE) {
            s->le[k][sq_le_of[idx]] += cnt;
        }

        sum += sq_mid_s[idx] * (double) cnt;
    }

    s->count[k] += o->total;
    s->sum[k] += sum;

    if (sl == NULL || o->n == 0) {
        return 0;
    }

    view.bins = (sq_hbin_t *) o->bins;
    view.n = o->n;
    view.cap = o->n;
    view.total = o->total;

    return sq_hist_merge(&sl->h[k], &view);
}


int
sq_windows_ingest(sq_windows_t *a, const sq_dgram_t *d, int64_t now)
{
    int            k, rc;
    int64_t        start;
    uint32_t       i;
    sq_slot_t     *sl;
    sq_series_t   *s;
    sq_dseries_t  *ds;

    rc = sq_seq_check(a, d, now);

    if (rc == SQ_WINDOWS_DUPLICATE) {
        a->stats.duplicate++;
        return rc;
    }

    a->stats.accepted++;
    a->stats.source_dropped += d->dd;
    a->stats.source_dropped_requests += d->dr;
    a->stats.series_folded_requests += d->so;
    a->stats.segment_folded_requests += d->go;
    a->stats.requests += d->requests;

    start = now - now % a->slot;

    for (i = 0; i < d->nseries; i++) {
        ds = &d->series[i];

        s = sq_series_get(a, &ds->endpoint, &ds->region, &ds->segment, now);
        if (s == NULL) {
            continue;
        }

        if (s == a->other) {
            a->stats.overflow_requests += ds->c[SQ_C_REQUESTS];
        }

        s->last_seen = now;
        a->stats.series_updates++;

        for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
            s->total[k] += ds->c[k];
        }

        sl = sq_cur(a, s, start);

        if (sl) {
            sq_slot_counters(sl, ds->c);
        }

        (void) sq_add_hist(sl, s, SQ_HIST_RT, &ds->hist[0]);
        (void) sq_add_hist(sl, s, SQ_HIST_TTFB, &ds->hist[1]);
    }

    return SQ_WINDOWS_ACCEPTED;
}


int
sq_windows_add_slot(sq_windows_t *a, const char *endpoint, const char *region,
    const char *segment, const sq_win_t *w, int64_t start, int64_t now)
{
    int           k;
    sq_str_t      e, r, g;
    sq_slot_t    *sl;
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

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        s->total[k] += w->c[k];
    }

    start -= start % a->slot;

    /* minutes come oldest first: each goes through the slot being written */

    sl = sq_cur(a, s, start);

    if (sl == NULL) {
        /* older than the slot being written: straight to the rings
           (sq_put_finished() merges in sq_tmp) */

        sl = &sq_at;
        sq_slot_reset(sl, start);
        sq_slot_counters(sl, w->c);

        if (sq_hist_merge(&sl->h[0], &w->h[0]) != 0
            || sq_hist_merge(&sl->h[1], &w->h[1]) != 0)
        {
            return -1;
        }

        return sq_put_finished(a, s, &sq_at);
    }

    sq_slot_counters(sl, w->c);

    if (sq_hist_merge(&sl->h[0], &w->h[0]) != 0
        || sq_hist_merge(&sl->h[1], &w->h[1]) != 0)
    {
        return -1;
    }

    return 0;
}


int
sq_windows_window(const sq_windows_t *a, const sq_series_t *s, int which,
    int64_t now, sq_win_t *out)
{
    int64_t               width, oldest;
    uint32_t              i, first, n;
    sq_rslot_t            r;
    const unsigned char  *p;

    if (which == SQ_WIN_SHORT) {
        first = 0;
        n = a->nfine;
        width = a->slot;

    } else {
        first = a->nfine;
        n = a->ncoarse;
        width = a->cslot;
    }

    /* the current slot and the n - 1 before it */

    oldest = now - now % width - (int64_t) (n - 1) * width;

    /* the slot being written is in neither ring yet */

    if (s->cur && s->cur->start >= oldest && s->cur->start <= now) {
        if (sq_win_merge_slot(out, s->cur) != 0) {
            return -1;
        }
    }

    p = s->rings;

    for (i = 0; i < first + n; i++) {
        p = sq_ring_next(a, p, &r);

        if (i >= first && r.start >= oldest && r.start <= now) {
            if (sq_unpack(r.data, out->c, out->h) != 0) {
                return -1;
            }
        }
    }

    return 0;
}


const sq_slot_t *
sq_windows_slot_at(const sq_windows_t *a, const sq_series_t *s, int64_t start)
{
    sq_rslot_t  r;

    if (start % a->slot != 0) {
        return NULL;
    }

    if (s->cur && s->cur->start == start) {
        return s->cur;
    }

    sq_ring_get(a, s, (uint32_t) ((start / a->slot) % a->nfine), &r);

    if (r.start != start) {
        return NULL;
    }

    sq_slot_reset(&sq_at, start);

    if (sq_unpack_slot(r.data, &sq_at) != 0) {
        return NULL;
    }

    return &sq_at;
}


void
sq_windows_expire(sq_windows_t *a, int64_t now)
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
sq_windows_memory(const sq_windows_t *a)
{
    size_t        m;
    uint32_t      i;
    sq_series_t  *s;

    m = a->nbuckets * sizeof(void *) + a->cap * sizeof(void *)
        + a->nworkers * sizeof(sq_worker_t);

    for (i = 0; i < a->n; i++) {
        s = a->all[i];
        m += sizeof(sq_series_t) + s->elen + s->rlen + s->glen + 3
             + s->rings_len;

        if (s->cur) {
            m += sizeof(sq_slot_t) + sq_hist_bytes(&s->cur->h[0])
                 + sq_hist_bytes(&s->cur->h[1]);
        }
    }

    return m;
}
