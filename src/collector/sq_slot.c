
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <string.h>

#include "sq_status.h"
#include "sq_slot.h"


/* a packed slot read back, before it is added anywhere (on the stack:
   32 KiB, no allocation per slot read) */

typedef struct {
    uint64_t    c[SQ_WIRE_NCOUNTERS];
    sq_hist_t   h[2];             /* views of bins */
    sq_hbin_t   bins[2][SQ_HIST_BUCKETS];
} sq_unpacked_t;


static int sq_slot_decode(const unsigned char *p, size_t len,
    sq_unpacked_t *u);
static int sq_hists_merge(sq_hist_t *dst, const sq_hist_t *src);


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
    sq_slot_reset(sl, start);
}


void
sq_slot_free(sq_slot_t *sl)
{
    sq_hist_free(&sl->h[0]);
    sq_hist_free(&sl->h[1]);
}


void
sq_slot_reset(sq_slot_t *sl, int64_t start)
{
    sl->start = start;
    sl->bytes = 0;
    memset(sl->c, 0, sizeof(sl->c));
    sq_hist_reset(&sl->h[0]);
    sq_hist_reset(&sl->h[1]);
}


int
sq_slot_empty(const sq_slot_t *sl)
{
    return sl->c[SQ_C_REQUESTS] == 0 && sl->h[0].total == 0
           && sl->h[1].total == 0;
}


void
sq_slot_add_counters(sq_slot_t *sl, const uint64_t *c)
{
    int       k;
    uint64_t  v;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        if (k == SQ_C_BYTES) {
            sl->bytes += c[k];
            continue;
        }

        v = (uint64_t) sl->c[k] + c[k];
        sl->c[k] = (v > UINT32_MAX || v < c[k]) ? UINT32_MAX : (uint32_t) v;
    }
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

    return sq_hists_merge(dst->h, src->h);
}


int
sq_slot_merge_win(sq_slot_t *dst, const sq_win_t *src)
{
    sq_slot_add_counters(dst, src->c);

    return sq_hists_merge(dst->h, src->h);
}


/* the packed form */

unsigned char *
sq_varint_put(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char) (v | 0x80);
        v >>= 7;
    }

    *p++ = (unsigned char) v;

    return p;
}


int
sq_varint_get(const unsigned char **pp, const unsigned char *end,
    uint64_t *v)
{
    int                   shift;
    uint64_t              r;
    const unsigned char  *p;

    r = 0;

    for (p = *pp, shift = 0; p < end && shift < 64; p++, shift += 7) {
        r |= (uint64_t) (*p & 0x7f) << shift;

        if ((*p & 0x80) == 0) {
            *pp = p + 1;
            *v = r;
            return SQ_OK;
        }
    }

    return SQ_ERR_CORRUPT;
}


size_t
sq_slot_pack(const sq_slot_t *sl, unsigned char *buf)
{
    int               k;
    uint32_t          i, idx, prev;
    uint64_t          map, v;
    unsigned char    *p;
    const sq_hist_t  *h;

    map = 0;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        v = (k == SQ_C_BYTES) ? sl->bytes : sl->c[k];

        if (v) {
            map |= UINT64_C(1) << k;
        }
    }

    p = sq_varint_put(buf, map);

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        if (map & (UINT64_C(1) << k)) {
            p = sq_varint_put(p, (k == SQ_C_BYTES) ? sl->bytes : sl->c[k]);
        }
    }

    for (k = 0; k < 2; k++) {
        h = &sl->h[k];
        p = sq_varint_put(p, h->n);
        prev = 0;

        for (i = 0; i < h->n; i++) {
            idx = sq_hbin_idx(h->bins[i]);
            p = sq_varint_put(p, idx - prev);
            p = sq_varint_put(p, sq_hbin_count(h->bins[i]));
            prev = idx;
        }
    }

    return (size_t) (p - buf);
}


/* reads and checks a whole packed slot, adding nothing anywhere */

static int
sq_slot_decode(const unsigned char *p, size_t len, sq_unpacked_t *u)
{
    int                   k;
    uint32_t              i, m;
    uint64_t              map, n, d, cnt, idx, total;
    const unsigned char  *end;

    end = p + len;

    if (sq_varint_get(&p, end, &map) != SQ_OK
        || (map >> SQ_WIRE_NCOUNTERS) != 0)
    {
        return SQ_ERR_CORRUPT;
    }

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        u->c[k] = 0;

        if ((map & (UINT64_C(1) << k))
            && sq_varint_get(&p, end, &u->c[k]) != SQ_OK)
        {
            return SQ_ERR_CORRUPT;
        }
    }

    for (k = 0; k < 2; k++) {
        if (sq_varint_get(&p, end, &n) != SQ_OK || n > SQ_HIST_BUCKETS) {
            return SQ_ERR_CORRUPT;
        }

        idx = 0;
        total = 0;
        m = 0;

        for (i = 0; i < n; i++) {
            if (sq_varint_get(&p, end, &d) != SQ_OK
                || sq_varint_get(&p, end, &cnt) != SQ_OK
                || (i > 0 && d == 0)
                || d >= SQ_HIST_BUCKETS - idx
                || cnt > SQ_HBIN_COUNT_MAX)
            {
                return SQ_ERR_CORRUPT;
            }

            idx += d;

            if (cnt) {
                u->bins[k][m++] = sq_hbin(idx, cnt);
                total += cnt;
            }
        }

        u->h[k].bins = u->bins[k];
        u->h[k].n = m;
        u->h[k].cap = m;
        u->h[k].total = total;
    }

    return p == end ? SQ_OK : SQ_ERR_CORRUPT;
}


int
sq_slot_unpack(const unsigned char *p, size_t len, sq_slot_t *sl)
{
    int            rc;
    sq_unpacked_t  u;

    rc = sq_slot_decode(p, len, &u);

    if (rc == SQ_OK) {
        sq_slot_add_counters(sl, u.c);

        rc = sq_hists_merge(sl->h, u.h);
    }

    return rc;
}


int
sq_slot_unpack_win(const unsigned char *p, size_t len, sq_win_t *w)
{
    int            k, rc;
    sq_unpacked_t  u;

    rc = sq_slot_decode(p, len, &u);

    if (rc == SQ_OK) {
        for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
            w->c[k] += u.c[k];
        }

        rc = sq_hists_merge(w->h, u.h);
    }

    return rc;
}


/* windows */

void
sq_win_init(sq_win_t *w)
{
    sq_hist_init(&w->h[0]);
    sq_hist_init(&w->h[1]);
    sq_win_reset(w);
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

    return sq_hists_merge(dst->h, src->h);
}


int
sq_win_merge_slot(sq_win_t *dst, const sq_slot_t *src)
{
    int  k;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        dst->c[k] += (k == SQ_C_BYTES) ? src->bytes : src->c[k];
    }

    return sq_hists_merge(dst->h, src->h);
}
