
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sq_status.h"
#include "sq_windows.h"


/*
 * A series' rings are one buffer of nfine + ncoarse entries, the fine
 * slots first, each a varint tag, 0 for an empty position or else the
 * slot's start / slot + 1, then for a slot the varint length of the
 * packed slot (sq_slot.h) and the packed slot.  Each slot is written once
 * a minute or so, so walking to a position costs little; a slot
 * rewritten moves the entries after it.
 */

typedef struct {
    int64_t               start;      /* -1: empty */
    const unsigned char  *data;
    uint32_t              len;
} sq_rslot_t;


static uint64_t sq_hash_bytes(const char *p, size_t len, uint64_t h);
static uint64_t sq_key_hash(const sq_str_t *e, const sq_str_t *r,
    const sq_str_t *g);
static sq_series_t *sq_series_find(const sq_windows_t *a, uint64_t h,
    const sq_str_t *e, const sq_str_t *r, const sq_str_t *g);
static sq_series_t *sq_series_peek(const sq_windows_t *a, uint64_t h);
static inline int sq_same_bytes(const char *x, const char *y, size_t len);
static int sq_series_is(const sq_series_t *s, const sq_str_t *e,
    const sq_str_t *r, const sq_str_t *g);
static void sq_series_prefetch(const sq_series_t *s, size_t end);
static sq_series_t *sq_series_get(sq_windows_t *a, uint64_t h,
    const sq_str_t *e, const sq_str_t *r, const sq_str_t *g, int64_t now);
static void sq_merge_series(sq_windows_t *a, sq_series_t *s,
    const sq_dseries_t *ds, int64_t start, int64_t now);
static void sq_series_free(sq_windows_t *a, sq_series_t *s);
static void sq_rings_free(sq_windows_t *a, sq_series_t *s);
static int sq_rehash(sq_windows_t *a);
static const unsigned char *sq_ring_next(const sq_windows_t *a,
    const unsigned char *p, sq_rslot_t *r);
static void sq_ring_get(const sq_windows_t *a, const sq_series_t *s,
    uint32_t pos, sq_rslot_t *r);
static int sq_ring_set(const sq_windows_t *a, sq_series_t *s, uint32_t pos,
    int64_t start, const unsigned char *data, uint32_t len);
static int sq_ring_put(sq_windows_t *a, sq_series_t *s, uint32_t pos,
    const sq_slot_t *sl, int64_t start);
static int sq_put_finished(sq_windows_t *a, sq_series_t *s,
    const sq_slot_t *sl);
static sq_slot_t *sq_cur(sq_windows_t *a, sq_series_t *s, int64_t start);
static int sq_add_browser(sq_slot_t *sl, sq_series_t *s,
    const sq_dseries_t *ds);
static int64_t sq_place(sq_windows_t *a, const sq_dgram_t *d, int64_t now,
    int *covered);
static int sq_add_hist(sq_slot_t *sl, sq_series_t *s, int k,
    const sq_dhist_t *o);


/* reads the ring entry at p into r; returns the next entry */

static const unsigned char *
sq_ring_next(const sq_windows_t *a, const unsigned char *p, sq_rslot_t *r)
{
    uint64_t  tag;

    tag = sq_varint_read(&p);

    if (tag == 0) {
        r->start = -1;
        r->data = NULL;
        r->len = 0;
        return p;
    }

    r->start = (int64_t) (tag - 1) * a->slot;
    r->len = (uint32_t) sq_varint_read(&p);
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


/* a packed slot (len bytes at data) to ring position pos */

static int
sq_ring_set(const sq_windows_t *a, sq_series_t *s, uint32_t pos, int64_t start,
    const unsigned char *data, uint32_t len)
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

    h = sq_varint_put(hdr, (uint64_t) (start / a->slot) + 1);
    h = sq_varint_put(h, len);
    hlen = (size_t) (h - hdr);
    nlen = hlen + len;
    total = s->rings_len - olen + nlen;

    if (nlen > olen) {
        b = realloc(s->rings, total);
        if (b == NULL) {
            return SQ_ERR_NOMEM;
        }

        s->rings = b;
    }

    memmove(s->rings + off + nlen, s->rings + off + olen,
            s->rings_len - off - olen);
    memcpy(s->rings + off, hdr, hlen);
    memcpy(s->rings + off + hlen, data, len);

    if (nlen < olen) {
        b = realloc(s->rings, total);
        if (b) {
            s->rings = b;
        }
    }

    s->rings_len = (uint32_t) total;

    return SQ_OK;
}


/*
 * Packs sl into ring position pos with start start; when the position
 * already holds that slot (a minute written twice: the history store's
 * and ours, or a coarse slot), the two are merged first.
 */

static int
sq_ring_put(sq_windows_t *a, sq_series_t *s, uint32_t pos,
    const sq_slot_t *sl, int64_t start)
{
    int         rc;
    size_t      len;
    sq_rslot_t  r;

    sq_ring_get(a, s, pos, &r);

    if (r.start > start) {
        /* a newer slot: the window no longer covers this one */
        return SQ_OK;
    }

    if (r.start == start) {
        sq_slot_reset(&a->merged, start);

        rc = sq_slot_merge(&a->merged, sl);

        if (rc == SQ_OK) {
            rc = sq_slot_unpack(r.data, r.len, &a->merged);
        }

        if (rc != SQ_OK) {
            return rc;
        }

        sl = &a->merged;
    }

    len = sq_slot_pack(sl, a->packed);

    return sq_ring_set(a, s, pos, start, a->packed, (uint32_t) len);
}


/*
 * A finished fine slot goes to the fine ring, packed, and is merged into
 * the packed coarse slot of its period.
 */

static int
sq_put_finished(sq_windows_t *a, sq_series_t *s, const sq_slot_t *sl)
{
    int       rc;
    int64_t   start, cstart;
    uint32_t  i, j;

    start = sl->start;
    cstart = start - start % a->cslot;

    i = (uint32_t) ((start / a->slot) % a->nfine);
    j = a->nfine + (uint32_t) ((cstart / a->cslot) % a->ncoarse);

    rc = sq_ring_put(a, s, i, sl, start);

    if (rc != SQ_OK) {
        return rc;
    }

    return sq_ring_put(a, s, j, sl, cstart);
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
        sl = sq_slot_new(start);
        if (sl == NULL) {
            return NULL;
        }

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


/*
 * The series' hash: eight bytes at a time, each word mixed in with a
 * multiply and a shift, the three lengths in the seed (so that "ab"+"c"
 * and "a"+"bc" differ), the 64-bit finaliser of MurmurHash3 at the end.
 * Not keyed: a series' strings come from the configured nginx (signed
 * datagrams, when signing is on) and limits.max_series bounds the table.
 */

#define SQ_HASH_MUL  UINT64_C(0x9e3779b97f4a7c15)

uint64_t  sq_windows_hash_mask = ~UINT64_C(0);


static uint64_t
sq_hash_bytes(const char *p, size_t len, uint64_t h)
{
    uint16_t  s, t;
    uint32_t  u, v;
    uint64_t  w;

    while (len >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * SQ_HASH_MUL;
        h ^= h >> 32;
        p += 8;
        len -= 8;
    }

    /*
     * The last 1-7 bytes as one word without a loop: two loads of four
     * bytes that may overlap, or of two, or the one byte.  The lengths
     * are in the seed, so the overlap does not make strings collide.
     */

    if (len >= 4) {
        memcpy(&u, p, 4);
        memcpy(&v, p + len - 4, 4);
        w = (uint64_t) u | (uint64_t) v << 32;

    } else if (len >= 2) {
        memcpy(&s, p, 2);
        memcpy(&t, p + len - 2, 2);
        w = (uint64_t) s | (uint64_t) t << 16;

    } else if (len) {
        w = (unsigned char) p[0];

    } else {
        return h;
    }

    h = (h ^ w) * SQ_HASH_MUL;
    h ^= h >> 32;

    return h;
}


uint64_t
sq_windows_hash(const char *e, size_t elen, const char *r, size_t rlen,
    const char *g, size_t glen)
{
    uint64_t  h;

    h = (uint64_t) elen | (uint64_t) rlen << 20 | (uint64_t) glen << 40;
    h = sq_hash_bytes(e, elen, h * SQ_HASH_MUL + 1);
    h = sq_hash_bytes(r, rlen, h + 2);
    h = sq_hash_bytes(g, glen, h + 3);

    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;

    return h & sq_windows_hash_mask;
}


static uint64_t
sq_key_hash(const sq_str_t *e, const sq_str_t *r, const sq_str_t *g)
{
    return sq_windows_hash(e->ptr, e->len, r->ptr, r->len, g->ptr, g->len);
}


int
sq_windows_init(sq_windows_t *a, int64_t slot, int64_t short_window,
    int64_t long_window, uint64_t max_series, int64_t ttl,
    uint64_t max_workers)
{
    int  rc;

    memset(a, 0, sizeof(sq_windows_t));
    sq_slot_init(&a->merged, 0);
    sq_slot_init(&a->late, 0);
    a->rewrite = INT64_MAX;

    a->nbuckets = 1024;
    a->buckets = calloc(a->nbuckets, sizeof(sq_sbucket_t));
    a->packed = malloc(SQ_SLOT_PACKED_MAX);

    if (a->buckets == NULL || a->packed == NULL
        || sq_workers_init(&a->workers, max_workers) != SQ_OK)
    {
        sq_windows_free(a);
        return SQ_ERR_NOMEM;
    }

    rc = sq_windows_configure(a, slot, short_window, long_window, max_series,
                              ttl, max_workers);

    if (rc != SQ_OK) {
        sq_windows_free(a);
    }

    return rc;
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

    if (cslot < slot) {
        /* a long window under 12 slots: coarse slots of one slot */
        cslot = slot;
    }

    ncoarse = (uint32_t) ((long_window + cslot - 1) / cslot);

    if (nfine == 0 || ncoarse == 0) {
        return SQ_ERR_INVALID;
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
                return SQ_ERR_NOMEM;
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
    a->workers.max = max_workers;

    return SQ_OK;
}


void
sq_windows_free(sq_windows_t *a)
{
    while (a->n) {
        sq_series_free(a, a->all[a->n - 1]);
    }

    if (a->other) {
        sq_series_free(a, a->other);
    }

    sq_workers_free(&a->workers);
    sq_slot_free(&a->merged);
    sq_slot_free(&a->late);

    free(a->buckets);
    free(a->all);
    free(a->packed);

    a->buckets = NULL;
    a->all = NULL;
    a->packed = NULL;
    a->cap = 0;
}


static void
sq_rings_free(sq_windows_t *a, sq_series_t *s)
{
    free(s->rings);

    sq_slot_delete(s->cur);

    s->rings = NULL;
    s->rings_len = 0;
    s->cur = NULL;
}


static void
sq_series_free(sq_windows_t *a, sq_series_t *s)
{
    uint32_t       i, j, home, mask;
    sq_sbucket_t  *b;

    if (s == a->other) {
        a->other = NULL;

    } else {
        b = a->buckets;
        mask = a->nbuckets - 1;
        i = (uint32_t) sq_windows_hash(s->endpoint, s->elen, s->region,
                                       s->rlen, s->segment, s->glen) & mask;

        while (b[i].s != s) {
            i = (i + 1) & mask;
        }

        /* the buckets after it that may move back into the hole */

        for (j = (i + 1) & mask; b[j].s; j = (j + 1) & mask) {
            home = (uint32_t) b[j].hash & mask;

            /* b[j] stays when its home is cyclically in (i, j] */

            if ((j > i) ? (home > i && home <= j) : (home > i || home <= j))
            {
                continue;
            }

            b[i] = b[j];
            i = j;
        }

        b[i].s = NULL;
        b[i].hash = 0;

        a->all[s->pos] = a->all[a->n - 1];
        a->all[s->pos]->pos = s->pos;
        a->n--;
    }

    sq_rings_free(a, s);
    sq_browser_free(&s->browser);
    free(s);
}


/* the table twice the size, every bucket put again */

static int
sq_rehash(sq_windows_t *a)
{
    uint32_t       i, j, n;
    sq_sbucket_t  *b;

    n = a->nbuckets * 2;

    b = calloc(n, sizeof(sq_sbucket_t));
    if (b == NULL) {
        return SQ_ERR_NOMEM;
    }

    for (i = 0; i < a->nbuckets; i++) {
        if (a->buckets[i].s == NULL) {
            continue;
        }

        for (j = (uint32_t) a->buckets[i].hash & (n - 1); b[j].s;
             j = (j + 1) & (n - 1))
        {
            /* void */
        }

        b[j] = a->buckets[i];
    }

    free(a->buckets);
    a->buckets = b;
    a->nbuckets = n;

    return SQ_OK;
}


/* the series of that hash and strings, or NULL */

static sq_series_t *
sq_series_find(const sq_windows_t *a, uint64_t h, const sq_str_t *e,
    const sq_str_t *r, const sq_str_t *g)
{
    uint32_t             i, mask;
    sq_series_t         *s;
    const sq_sbucket_t  *b;

    b = a->buckets;
    mask = a->nbuckets - 1;

    for (i = (uint32_t) h & mask; b[i].s; i = (i + 1) & mask) {
        s = b[i].s;

        if (b[i].hash == h && sq_series_is(s, e, r, g)) {
            return s;
        }
    }

    return NULL;
}


static int
sq_series_is(const sq_series_t *s, const sq_str_t *e, const sq_str_t *r,
    const sq_str_t *g)
{
    return s->elen == e->len && s->rlen == r->len && s->glen == g->len
           && sq_same_bytes(s->endpoint, e->ptr, e->len)
           && sq_same_bytes(s->region, r->ptr, r->len)
           && sq_same_bytes(s->segment, g->ptr, g->len);
}


/* memcmp() == 0 for the short strings of a key, without a call */

static inline int
sq_same_bytes(const char *x, const char *y, size_t len)
{
    uint64_t  u, v;

    for ( /* void */ ; len >= 8; len -= 8, x += 8, y += 8) {
        memcpy(&u, x, 8);
        memcpy(&v, y, 8);

        if (u != v) {
            return 0;
        }
    }

    for ( /* void */ ; len; len--) {
        if (*x++ != *y++) {
            return 0;
        }
    }

    return 1;
}


/*
 * The first series of hash h in the table, or NULL, without reading any
 * series: the likely one, to fetch ahead; whether it is the one is for
 * sq_series_is() once it is there.
 */

static sq_series_t *
sq_series_peek(const sq_windows_t *a, uint64_t h)
{
    uint32_t             i, mask;
    const sq_sbucket_t  *b;

    b = a->buckets;
    mask = a->nbuckets - 1;

    for (i = (uint32_t) h & mask; b[i].s; i = (i + 1) & mask) {
        if (b[i].hash == h) {
            return b[i].s;
        }
    }

    return NULL;
}


/*
 * Fetches the cache lines a merge of s touches: the series, the buckets
 * of its Prometheus histograms and the start of its key, which follows
 * them (so no line of s need be there to know where it is).
 */

static void
sq_series_prefetch(const sq_series_t *s, size_t end)
{
    size_t       off;
    const char  *p;

    p = (const char *) s;

    for (off = 0; off < end; off += 64) {
        __builtin_prefetch(p + off, 1);
    }
}


/*
 * The series of those strings (h their hash), created when new; past
 * limits.max_series, the one series _other.  NULL: out of memory.
 */

static sq_series_t *
sq_series_get(sq_windows_t *a, uint64_t h, const sq_str_t *e,
    const sq_str_t *r, const sq_str_t *g, int64_t now)
{
    char          *p;
    size_t         len, mb;
    uint32_t       i, cap;
    sq_str_t       other, empty;
    sq_series_t   *s, **all;

    s = sq_series_find(a, h, e, r, g);

    if (s) {
        return s;
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
    mb = sq_metrics_le_bytes();

    s = calloc(1, sizeof(sq_series_t) + mb + len);
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

    sq_metrics_init(&s->metrics, s->tail);

    p = (char *) s->tail + mb;
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

    /* at most three quarters full */

    if (4 * (uint64_t) (a->n + 1) > 3 * (uint64_t) a->nbuckets
        && sq_rehash(a) != SQ_OK
        && a->n + 1 >= a->nbuckets)
    {
        free(s->rings);
        free(s);
        return NULL;
    }

    for (i = (uint32_t) h & (a->nbuckets - 1); a->buckets[i].s;
         i = (i + 1) & (a->nbuckets - 1))
    {
        /* void */
    }

    a->buckets[i].hash = h;
    a->buckets[i].s = s;
    s->pos = a->n;
    a->all[a->n++] = s;

    return s;
}


/*
 * A datagram's histogram: merged into the slot being written, and into the
 * series' Prometheus histograms.
 */

static int
sq_add_hist(sq_slot_t *sl, sq_series_t *s, int k, const sq_dhist_t *o)
{
    sq_hist_t  view;

    view.bins = (sq_hbin_t *) o->bins;
    view.n = o->n;
    view.cap = o->n;
    view.total = o->total;

    return sq_metrics_add_slot(&s->metrics, k, &view, sl ? &sl->h[k] : NULL);
}


/*
 * The fine slot a datagram goes to (see SQ_WINDOWS_SKEW in sq_windows.h);
 * *covered is set when that slot is before the one being ingested into,
 * so covered by the workers' snapshot.
 */

static int64_t
sq_place(sq_windows_t *a, const sq_dgram_t *d, int64_t now, int *covered)
{
    int64_t   recv, start, end;
    uint64_t  last;

    *covered = 0;
    recv = now - now % a->slot;

    /* the window's last millisecond, in seconds */

    last = (d->we > d->ws) ? d->we - 1 : d->we;

    if (last / 1000 > (uint64_t) (now + SQ_WINDOWS_SKEW)) {
        a->stats.refiled[SQ_REFILE_SKEW]++;
        start = recv;
        goto received;
    }

    end = (int64_t) (last / 1000);
    start = end - end % a->slot;

    if (end < now - SQ_WINDOWS_LATE
        || start <= recv - (int64_t) a->nfine * a->slot)
    {
        a->stats.refiled[SQ_REFILE_LATE]++;
        start = recv;
        goto received;
    }

    if (start > recv) {
        /* a little ahead of our clock: the current slot */
        start = recv;
    }

    if (start >= a->minute) {
        return start;
    }

    if (sq_workers_settled(&a->workers, d)) {
        *covered = 1;
        return start;
    }

    a->stats.refiled[SQ_REFILE_ORDER]++;
    start = recv;

received:

    /* a clock that went back: still the slot being ingested into */

    return (start < a->minute) ? a->minute : start;
}


/*
 * How far ahead of the series being merged its datagram's series are
 * looked at: SQ_AHEAD_HASH series ahead, the hash is computed and the
 * table's bucket fetched; SQ_AHEAD_FIND series ahead, the series of that
 * hash is taken from the bucket (sq_series_peek()) and its lines fetched
 * (sq_series_prefetch()); one series ahead, its slot being written.
 * With 100k series the table and the series are far larger than the
 * caches: the fetches overlap the merges of the series before.
 */
#define SQ_AHEAD_HASH  4
#define SQ_AHEAD_FIND  2
#define SQ_AHEAD_CUR   1
#define SQ_AHEAD_RING  16             /* a power of two > SQ_AHEAD_HASH */


int
sq_windows_ingest(sq_windows_t *a, const sq_dgram_t *d, int64_t now)
{
    int                  covered;
    size_t               hot;
    int64_t              start;
    uint32_t             i, j, n;
    uint64_t             h[SQ_AHEAD_RING];
    sq_series_t         *s, *found[SQ_AHEAD_RING];
    const sq_dseries_t  *ds;

    start = sq_place(a, d, now, &covered);
    hot = offsetof(sq_series_t, tail) + sq_metrics_le_bytes() + 16;

    if (start > a->minute) {
        /* the workers' state that goes with the slots before this one */
        sq_workers_snapshot(&a->workers);
        a->minute = start;
    }

    switch (sq_workers_check(&a->workers, d, now)) {

    case SQ_WORKER_DUPLICATE:
        a->stats.duplicate++;
        return SQ_ERR_DUPLICATE;

    case SQ_WORKER_LATE:
        a->stats.late++;
        return SQ_ERR_DUPLICATE;

    default:
        break;
    }

    if (covered) {
        /* the stats still hold the loss counters before the check */
        sq_workers_snapshot_add(&a->workers, d, a->stats.lost_requests);
    }

    if (start < now - now % a->slot) {
        a->stats.backfilled++;

        if (start < a->rewrite) {
            a->rewrite = start;
        }
    }

    memcpy(a->stats.lost_requests, a->workers.lost_requests,
           sizeof(a->stats.lost_requests));

    /* kept like the loss counters: stored, restored, replayed on top */
    a->workers.counted += d->requests;
    a->stats.counted = a->workers.counted;

    a->stats.accepted++;
    a->stats.source_dropped += d->dd;
    a->stats.source_dropped_requests += d->dr;
    a->stats.series_folded_requests += d->so;
    a->stats.segment_folded_requests += d->go;
    a->stats.requests += d->requests;

    n = d->nseries;

    for (i = 0; i < n + SQ_AHEAD_HASH; i++) {

        if (i < n) {
            ds = &d->series[i];
            j = i & (SQ_AHEAD_RING - 1);
            h[j] = sq_key_hash(&ds->endpoint, &ds->region, &ds->segment);
            __builtin_prefetch(&a->buckets[h[j] & (a->nbuckets - 1)]);
        }

        if (i >= SQ_AHEAD_HASH - SQ_AHEAD_FIND
            && i - (SQ_AHEAD_HASH - SQ_AHEAD_FIND) < n)
        {
            j = i - (SQ_AHEAD_HASH - SQ_AHEAD_FIND);
            s = sq_series_peek(a, h[j & (SQ_AHEAD_RING - 1)]);
            found[j & (SQ_AHEAD_RING - 1)] = s;

            if (s) {
                sq_series_prefetch(s, hot);
            }
        }

        if (i < SQ_AHEAD_HASH) {
            continue;
        }

        j = i - SQ_AHEAD_HASH;

        if (j + SQ_AHEAD_CUR < n) {
            s = found[(j + SQ_AHEAD_CUR) & (SQ_AHEAD_RING - 1)];

            if (s && s->cur) {
                __builtin_prefetch(s->cur, 1);
                __builtin_prefetch((const char *) s->cur + 64, 1);
                __builtin_prefetch((const char *) s->cur + 128, 1);
                __builtin_prefetch((const char *) s->cur + 192, 1);
                __builtin_prefetch((const char *) s->cur
                                   + SQ_SLOT_NEW_BYTES - 1, 1);
            }
        }

        ds = &d->series[j];
        s = found[j & (SQ_AHEAD_RING - 1)];

        if (s == NULL || !sq_series_is(s, &ds->endpoint, &ds->region,
                                       &ds->segment))
        {
            /* new, created by a series before it in this datagram, or
               another series of the same hash */
            s = sq_series_get(a, h[j & (SQ_AHEAD_RING - 1)], &ds->endpoint,
                              &ds->region, &ds->segment, now);
            if (s == NULL) {
                continue;
            }
        }

        sq_merge_series(a, s, ds, start, now);
    }

    return SQ_OK;
}


/* one series of a datagram, filed into the slot at start */

static void
sq_merge_series(sq_windows_t *a, sq_series_t *s, const sq_dseries_t *ds,
    int64_t start, int64_t now)
{
    int         old;
    uint32_t    nz;
    sq_slot_t  *sl;

    if (s == a->other) {
        a->stats.overflow_requests += ds->c[SQ_C_REQUESTS];
    }

    s->last_seen = now;
    a->stats.series_updates++;

    /* the counters that are not 0: most of a series' in a datagram */

    for (nz = ds->nz; nz; nz &= nz - 1) {
        s->total[__builtin_ctz(nz)] += ds->c[__builtin_ctz(nz)];
    }

    sl = sq_cur(a, s, start);

    /* a slot the series has finished: merged into its rings */

    old = (sl == NULL && s->cur != NULL);

    if (old) {
        sl = &a->late;
        sq_slot_reset(sl, start);
    }

    if (sl) {
        sq_slot_add_nz(sl, ds->c, ds->nz);
    }

    (void) sq_add_hist(sl, s, SQ_H_RT, &ds->hist[SQ_H_RT]);
    (void) sq_add_hist(sl, s, SQ_H_TTFB, &ds->hist[SQ_H_TTFB]);

    if (ds->browser) {
        (void) sq_add_browser(sl, s, ds);
    }

    if (old) {
        (void) sq_put_finished(a, s, sl);
    }
}


/*
 * A datagram's browser measurements (version 3): into the slot being
 * written and the series' lifetime totals, each allocated on the first
 * beacon, so that a series without any costs nothing more.
 */

static int
sq_add_browser(sq_slot_t *sl, sq_series_t *s, const sq_dseries_t *ds)
{
    int            k;
    sq_hist_t      view;
    sq_browser_t  *b[2];

    if (sq_browser_get(&s->browser) != SQ_OK
        || (sl && sq_browser_get(&sl->b) != SQ_OK))
    {
        return SQ_ERR_NOMEM;
    }

    b[0] = s->browser;
    b[1] = sl ? sl->b : NULL;

    for (k = 0; k < SQ_WIRE_NBCOUNTERS; k++) {
        b[0]->c[k] += ds->bc[k];

        if (b[1]) {
            b[1]->c[k] += ds->bc[k];
        }
    }

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        if (ds->bhist[k].n == 0) {
            continue;
        }

        view.bins = (sq_hbin_t *) ds->bhist[k].bins;
        view.n = ds->bhist[k].n;
        view.cap = ds->bhist[k].n;
        view.total = ds->bhist[k].total;

        if (sq_hist_merge(&b[0]->h[k], &view) != SQ_OK
            || (b[1] && sq_hist_merge(&b[1]->h[k], &view) != SQ_OK))
        {
            return SQ_ERR_NOMEM;
        }
    }

    return SQ_OK;
}


int64_t
sq_windows_rewrite(sq_windows_t *a)
{
    int64_t  start;

    start = a->rewrite;
    a->rewrite = INT64_MAX;

    return start;
}


int
sq_windows_add_slot(sq_windows_t *a, const char *endpoint,
    const char *region, const char *segment, const sq_slot_t *sl,
    int64_t now)
{
    int           k;
    int64_t       start;
    sq_str_t      e, r, g;
    sq_slot_t    *cur;
    sq_series_t  *s;

    if (sl->start % a->slot != 0) {
        return SQ_ERR_INVALID;
    }

    e.ptr = endpoint;
    e.len = (uint32_t) strlen(endpoint);
    r.ptr = region;
    r.len = (uint32_t) strlen(region);
    g.ptr = segment;
    g.len = (uint32_t) strlen(segment);

    s = sq_series_get(a, sq_key_hash(&e, &r, &g), &e, &r, &g, now);
    if (s == NULL) {
        return SQ_ERR_NOMEM;
    }

    start = sl->start;

    if (start + a->long_window <= now) {
        return SQ_OK;
    }

    if (s->last_seen < start) {
        s->last_seen = start;
    }

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        s->total[k] += (k == SQ_C_BYTES) ? sl->bytes : sl->c[k];
    }

    /* minutes come oldest first: each goes through the slot being written */

    cur = sq_cur(a, s, start);

    if (cur == NULL) {
        /* older than the slot being written: straight to the rings, merged
           with what they hold of that minute */
        return sq_put_finished(a, s, sl);
    }

    return sq_slot_merge(cur, sl);
}


int
sq_windows_window(const sq_windows_t *a, const sq_series_t *s, int which,
    int64_t now, sq_win_t *out)
{
    int                   rc;
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
        rc = sq_win_merge_slot(out, s->cur);

        if (rc != SQ_OK) {
            return rc;
        }
    }

    p = s->rings;

    for (i = 0; i < first + n; i++) {
        p = sq_ring_next(a, p, &r);

        if (i >= first && r.start >= oldest && r.start <= now) {
            rc = sq_slot_unpack_win(r.data, r.len, out);

            if (rc != SQ_OK) {
                return rc;
            }
        }
    }

    return SQ_OK;
}


int
sq_windows_slot(const sq_windows_t *a, const sq_series_t *s, int64_t start,
    sq_slot_t *out)
{
    sq_rslot_t  r;

    sq_slot_reset(out, start);

    if (start % a->slot != 0) {
        return SQ_ERR_INVALID;
    }

    if (s->cur && s->cur->start == start) {
        return sq_slot_merge(out, s->cur);
    }

    sq_ring_get(a, s, (uint32_t) ((start / a->slot) % a->nfine), &r);

    if (r.start != start) {
        return SQ_OK;
    }

    return sq_slot_unpack(r.data, r.len, out);
}


void
sq_windows_expire(sq_windows_t *a, int64_t now)
{
    uint32_t  i;

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

    sq_workers_expire(&a->workers, now - a->ttl);
}


size_t
sq_windows_memory(const sq_windows_t *a)
{
    size_t        m;
    uint32_t      i;
    sq_series_t  *s;

    m = a->nbuckets * sizeof(sq_sbucket_t) + a->cap * sizeof(void *)
        + sq_workers_memory(&a->workers);

    for (i = 0; i < a->n; i++) {
        s = a->all[i];
        m += sizeof(sq_series_t) + sq_metrics_le_bytes()
             + s->elen + s->rlen + s->glen + 3
             + s->rings_len;

        if (s->cur) {
            m += SQ_SLOT_NEW_BYTES + sq_hist_bytes(&s->cur->h[0])
                 + sq_hist_bytes(&s->cur->h[1]) + sq_browser_bytes(s->cur->b);
        }

        m += sq_browser_bytes(s->browser);
    }

    return m;
}


/* the history store's batches (sq_persist.c) */

int
sq_windows_slot_packed(const sq_windows_t *a, const sq_series_t *s,
    int64_t start, unsigned char *buf, const unsigned char **p, size_t *len)
{
    sq_rslot_t  r;

    *p = NULL;
    *len = 0;

    if (start % a->slot != 0) {
        return SQ_ERR_INVALID;
    }

    if (s->cur && s->cur->start == start) {
        *len = sq_slot_pack(s->cur, buf);
        *p = buf;
        return SQ_OK;
    }

    sq_ring_get(a, s, (uint32_t) ((start / a->slot) % a->nfine), &r);

    if (r.start == start) {
        *p = r.data;
        *len = r.len;
    }

    return SQ_OK;
}
