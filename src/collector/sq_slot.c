
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>

#include "sq_status.h"
#include "sq_slot.h"


static int sq_slot_decode(const unsigned char *p, size_t len, uint64_t *c,
    sq_hist_t *h, sq_browser_t **b);
static int sq_hists_merge(sq_hist_t *dst, const sq_hist_t *src);
static void sq_browser_reset(sq_browser_t *b);
static unsigned char *sq_pack_hist(unsigned char *p, const sq_hist_t *h);
static int sq_check_hist(const unsigned char **pp, const unsigned char *end);
static int sq_decode_hist(const unsigned char **pp, sq_hist_t *h);


/* both histograms, rt and ttfb: SQ_OK or SQ_ERR_NOMEM */

static int
sq_hists_merge(sq_hist_t *dst, const sq_hist_t *src)
{
    if (sq_hist_merge(&dst[0], &src[0]) != SQ_OK
        || sq_hist_merge(&dst[1], &src[1]) != SQ_OK)
    {
        return SQ_ERR_NOMEM;
    }

    return SQ_OK;
}


void
sq_slot_init(sq_slot_t *sl, int64_t start)
{
    sq_hist_init(&sl->h[0]);
    sq_hist_init(&sl->h[1]);
    sl->b = NULL;
    sq_slot_reset(sl, start);
}


void
sq_slot_free(sq_slot_t *sl)
{
    sq_hist_free(&sl->h[0]);
    sq_hist_free(&sl->h[1]);
    sq_browser_free(&sl->b);
}


sq_slot_t *
sq_slot_new(int64_t start)
{
    int         k;
    sq_slot_t  *sl;
    sq_hbin_t  *bins;

    sl = malloc(SQ_SLOT_NEW_BYTES);
    if (sl == NULL) {
        return NULL;
    }

    sq_slot_init(sl, start);
    bins = (sq_hbin_t *) (sl + 1);

    for (k = 0; k < SQ_WIRE_NHISTS; k++) {
        sq_hist_lend(&sl->h[k], bins + k * SQ_SLOT_INLINE_BINS,
                     SQ_SLOT_INLINE_BINS);
    }

    return sl;
}


void
sq_slot_delete(sq_slot_t *sl)
{
    if (sl) {
        sq_slot_free(sl);
        free(sl);
    }
}


void
sq_slot_reset(sq_slot_t *sl, int64_t start)
{
    sl->start = start;
    sl->bytes = 0;
    memset(sl->c, 0, sizeof(sl->c));
    sq_hist_reset(&sl->h[0]);
    sq_hist_reset(&sl->h[1]);
    sq_browser_reset(sl->b);
}


int
sq_slot_empty(const sq_slot_t *sl)
{
    return sl->c[SQ_C_REQUESTS] == 0 && sl->h[0].total == 0
           && sl->h[1].total == 0 && sq_browser_empty(sl->b);
}


void
sq_slot_add_counters(sq_slot_t *sl, const uint64_t *c)
{
    int       k;
    uint64_t  v;

    /* one pass without branches over all, then bytes in 64 bits */

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        v = (uint64_t) sl->c[k] + c[k];
        sl->c[k] = (v < c[k] || v > UINT32_MAX) ? UINT32_MAX : (uint32_t) v;
    }

    sl->bytes += c[SQ_C_BYTES];
    sl->c[SQ_C_BYTES] = 0;
}


int
sq_slot_merge(sq_slot_t *dst, const sq_slot_t *src)
{
    int       k;
    uint64_t  v;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        v = (uint64_t) dst->c[k] + src->c[k];
        dst->c[k] = v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
    }

    dst->bytes += src->bytes;

    if (sq_browser_merge(&dst->b, src->b) != SQ_OK) {
        return SQ_ERR_NOMEM;
    }

    return sq_hists_merge(dst->h, src->h);
}


int
sq_slot_merge_win(sq_slot_t *dst, const sq_win_t *src)
{
    sq_slot_add_counters(dst, src->c);

    if (sq_browser_merge(&dst->b, src->b) != SQ_OK) {
        return SQ_ERR_NOMEM;
    }

    return sq_hists_merge(dst->h, src->h);
}


/* the browser part */

int
sq_browser_get(sq_browser_t **bp)
{
    int            k;
    sq_browser_t  *b;

    if (*bp != NULL) {
        return SQ_OK;
    }

    b = malloc(sizeof(sq_browser_t));
    if (b == NULL) {
        return SQ_ERR_NOMEM;
    }

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        sq_hist_init(&b->h[k]);
    }

    memset(b->c, 0, sizeof(b->c));
    *bp = b;

    return SQ_OK;
}


void
sq_browser_free(sq_browser_t **bp)
{
    int  k;

    if (*bp == NULL) {
        return;
    }

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        sq_hist_free(&(*bp)->h[k]);
    }

    free(*bp);
    *bp = NULL;
}


static void
sq_browser_reset(sq_browser_t *b)
{
    int  k;

    if (b == NULL) {
        return;
    }

    memset(b->c, 0, sizeof(b->c));

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        sq_hist_reset(&b->h[k]);
    }
}


int
sq_browser_empty(const sq_browser_t *b)
{
    int  k;

    if (b == NULL) {
        return 1;
    }

    for (k = 0; k < SQ_WIRE_NBCOUNTERS; k++) {
        if (b->c[k]) {
            return 0;
        }
    }

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        if (b->h[k].total) {
            return 0;
        }
    }

    return 1;
}


int
sq_browser_merge(sq_browser_t **dst, const sq_browser_t *src)
{
    int  k;

    if (sq_browser_empty(src)) {
        return SQ_OK;
    }

    if (sq_browser_get(dst) != SQ_OK) {
        return SQ_ERR_NOMEM;
    }

    for (k = 0; k < SQ_WIRE_NBCOUNTERS; k++) {
        (*dst)->c[k] += src->c[k];
    }

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        if (sq_hist_merge(&(*dst)->h[k], &src->h[k]) != SQ_OK) {
            return SQ_ERR_NOMEM;
        }
    }

    return SQ_OK;
}


size_t
sq_browser_bytes(const sq_browser_t *b)
{
    int     k;
    size_t  m;

    if (b == NULL) {
        return 0;
    }

    m = sizeof(sq_browser_t);

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        m += sq_hist_bytes(&b->h[k]);
    }

    return m;
}


/* the packed form */

size_t
sq_slot_pack(const sq_slot_t *sl, unsigned char *buf)
{
    int                  k;
    uint64_t             map, m;
    unsigned char       *p;
    const sq_browser_t  *b;

    map = sl->bytes ? UINT64_C(1) << SQ_C_BYTES : 0;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        map |= (uint64_t) (sl->c[k] != 0) << k;
    }

    b = sq_browser_empty(sl->b) ? NULL : sl->b;

    if (b) {
        map |= UINT64_C(1) << SQ_SLOT_BROWSER;
    }

    p = sq_varint_put(buf, map);

    for (m = map & ~(UINT64_C(1) << SQ_SLOT_BROWSER); m; m &= m - 1) {
        k = __builtin_ctzll(m);
        p = sq_varint_put(p, (k == SQ_C_BYTES) ? sl->bytes : sl->c[k]);
    }

    p = sq_pack_hist(p, &sl->h[0]);
    p = sq_pack_hist(p, &sl->h[1]);

    if (b == NULL) {
        return (size_t) (p - buf);
    }

    map = 0;

    for (k = 0; k < SQ_WIRE_NBCOUNTERS; k++) {
        map |= (uint64_t) (b->c[k] != 0) << k;
    }

    p = sq_varint_put(p, map);

    for (m = map; m; m &= m - 1) {
        p = sq_varint_put(p, b->c[__builtin_ctzll(m)]);
    }

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        p = sq_pack_hist(p, &b->h[k]);
    }

    return (size_t) (p - buf);
}


static unsigned char *
sq_pack_hist(unsigned char *p, const sq_hist_t *h)
{
    uint32_t  i, idx, prev;

    p = sq_varint_put(p, h->n);
    prev = 0;

    for (i = 0; i < h->n; i++) {
        idx = sq_hbin_idx(h->bins[i]);
        p = sq_varint_put(p, idx - prev);
        p = sq_varint_put(p, sq_hbin_count(h->bins[i]));
        prev = idx;
    }

    return p;
}


int
sq_slot_check(const unsigned char *p, size_t len)
{
    int                   k, browser;
    uint64_t              map, v;
    const unsigned char  *end;

    end = p + len;

    if (sq_varint_get(&p, end, &map) != SQ_OK) {
        return SQ_ERR_CORRUPT;
    }

    browser = (map >> SQ_SLOT_BROWSER) & 1;
    map &= ~(UINT64_C(1) << SQ_SLOT_BROWSER);

    if ((map >> SQ_WIRE_NCOUNTERS) != 0) {
        return SQ_ERR_CORRUPT;
    }

    for ( /* void */ ; map; map &= map - 1) {
        if (sq_varint_get(&p, end, &v) != SQ_OK) {
            return SQ_ERR_CORRUPT;
        }
    }

    if (sq_check_hist(&p, end) != SQ_OK || sq_check_hist(&p, end) != SQ_OK) {
        return SQ_ERR_CORRUPT;
    }

    if (browser) {
        if (sq_varint_get(&p, end, &map) != SQ_OK
            || (map >> SQ_WIRE_NBCOUNTERS) != 0)
        {
            return SQ_ERR_CORRUPT;
        }

        for ( /* void */ ; map; map &= map - 1) {
            if (sq_varint_get(&p, end, &v) != SQ_OK) {
                return SQ_ERR_CORRUPT;
            }
        }

        for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
            if (sq_check_hist(&p, end) != SQ_OK) {
                return SQ_ERR_CORRUPT;
            }
        }
    }

    return p == end ? SQ_OK : SQ_ERR_CORRUPT;
}


static int
sq_check_hist(const unsigned char **pp, const unsigned char *end)
{
    uint32_t  i;
    uint64_t  n, d, v, idx;

    if (sq_varint_get(pp, end, &n) != SQ_OK || n > SQ_HIST_BUCKETS) {
        return SQ_ERR_CORRUPT;
    }

    for (i = 0, idx = 0; i < n; i++) {
        if (sq_varint_get(pp, end, &d) != SQ_OK
            || sq_varint_get(pp, end, &v) != SQ_OK
            || (i > 0 && d == 0)
            || d >= SQ_HIST_BUCKETS - idx
            || v > SQ_HBIN_COUNT_MAX)
        {
            return SQ_ERR_CORRUPT;
        }

        idx += d;
    }

    return SQ_OK;
}


/*
 * Adds a packed slot's counters to c, its histograms to h[2] and its
 * browser part, if any, to *b (allocated then).  The bytes are trusted
 * (see sq_slot_check()), so every varint is read without bounds; that
 * the walk ends at p + len is checked last.
 */

static int
sq_slot_decode(const unsigned char *p, size_t len, uint64_t *c, sq_hist_t *h,
    sq_browser_t **b)
{
    int                   k, browser;
    uint64_t              map;
    const unsigned char  *end;

    end = p + len;
    map = sq_varint_read(&p);
    browser = (map >> SQ_SLOT_BROWSER) & 1;
    map &= ~(UINT64_C(1) << SQ_SLOT_BROWSER);

    for (k = 0; map; k++, map >>= 1) {
        if (map & 1) {
            c[k] += sq_varint_read(&p);
        }
    }

    if (sq_decode_hist(&p, &h[0]) != SQ_OK
        || sq_decode_hist(&p, &h[1]) != SQ_OK)
    {
        return SQ_ERR_NOMEM;
    }

    if (!browser) {
        return p == end ? SQ_OK : SQ_ERR_CORRUPT;
    }

    if (sq_browser_get(b) != SQ_OK) {
        return SQ_ERR_NOMEM;
    }

    map = sq_varint_read(&p);

    for (k = 0; map; k++, map >>= 1) {
        if (map & 1) {
            (*b)->c[k] += sq_varint_read(&p);
        }
    }

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        if (sq_decode_hist(&p, &(*b)->h[k]) != SQ_OK) {
            return SQ_ERR_NOMEM;
        }
    }

    return p == end ? SQ_OK : SQ_ERR_CORRUPT;
}


static int
sq_decode_hist(const unsigned char **pp, sq_hist_t *h)
{
    uint32_t   i, m, n, idx;
    uint64_t   v, total;
    sq_hist_t  view;
    sq_hbin_t  bins[SQ_HIST_BUCKETS];

    n = (uint32_t) sq_varint_read(pp);
    idx = 0;
    total = 0;

    for (i = 0, m = 0; i < n; i++) {
        idx += (uint32_t) sq_varint_read(pp);
        v = sq_varint_read(pp);

        if (v) {
            bins[m++] = sq_hbin(idx, v);
            total += v;
        }
    }

    view.bins = bins;
    view.n = m;
    view.cap = m;
    view.total = total;

    return sq_hist_merge(h, &view);
}


int
sq_slot_unpack(const unsigned char *p, size_t len, sq_slot_t *sl)
{
    int       rc;
    uint64_t  c[SQ_WIRE_NCOUNTERS];

    memset(c, 0, sizeof(c));

    rc = sq_slot_decode(p, len, c, sl->h, &sl->b);

    sq_slot_add_counters(sl, c);

    return rc;
}


int
sq_slot_unpack_win(const unsigned char *p, size_t len, sq_win_t *w)
{
    return sq_slot_decode(p, len, w->c, w->h, &w->b);
}


/* windows */

void
sq_win_init(sq_win_t *w)
{
    sq_hist_init(&w->h[0]);
    sq_hist_init(&w->h[1]);
    w->b = NULL;
    sq_win_reset(w);
}


void
sq_win_free(sq_win_t *w)
{
    sq_hist_free(&w->h[0]);
    sq_hist_free(&w->h[1]);
    sq_browser_free(&w->b);
}


void
sq_win_reset(sq_win_t *w)
{
    memset(w->c, 0, sizeof(w->c));
    sq_hist_reset(&w->h[0]);
    sq_hist_reset(&w->h[1]);
    sq_browser_reset(w->b);
}


int
sq_win_merge(sq_win_t *dst, const sq_win_t *src)
{
    int  k;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        dst->c[k] += src->c[k];
    }

    if (sq_browser_merge(&dst->b, src->b) != SQ_OK) {
        return SQ_ERR_NOMEM;
    }

    return sq_hists_merge(dst->h, src->h);
}


int
sq_win_merge_slot(sq_win_t *dst, const sq_slot_t *src)
{
    int  k;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        dst->c[k] += (k == SQ_C_BYTES) ? src->bytes : src->c[k];
    }

    if (sq_browser_merge(&dst->b, src->b) != SQ_OK) {
        return SQ_ERR_NOMEM;
    }

    return sq_hists_merge(dst->h, src->h);
}
