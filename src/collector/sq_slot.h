
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_SLOT_H_INCLUDED_
#define _SQ_SLOT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "servqual_wire.h"
#include "sq_hist.h"
#include "sq_status.h"


/*
 * A slot: the counters and the two histograms of one series over one
 * period (a minute of the fine ring, a twelfth of the long window in the
 * coarse ring, a row of the history store); and a window, the exact
 * merge of slots, with 64-bit counters.
 *
 * A slot has one packed form, written by sq_slot_pack() and read by
 * sq_slot_unpack() and sq_slot_unpack_win(): the window store's rings
 * hold it, the history store writes it as the row's BLOB and a restart
 * reads it back.  Every number is an unsigned LEB128 varint (7 bits a
 * byte, least significant first, the high bit set on all but the last
 * byte):
 *
 *   map        bit k set: counter k (servqual_wire.h order) is not zero
 *   counters   the non-zero counters, in ascending k
 *   rt, ttfb   each: n, then n pairs (bucket index delta, count), the
 *              sparse histogram in ascending bucket order, each index the
 *              difference from the previous one (the first from 0)
 *
 * and, only when bit SQ_SLOT_BROWSER of map is set (the slot holds the
 * browser's measurements, wire version 3):
 *
 *   bmap       bit k set: browser counter k (SQ_BC_*) is not zero
 *   bcounters  the non-zero browser counters, in ascending k
 *   lcp, inp, cls, fcp, ttfb   five histograms as rt above
 *
 * so a slot without browser data packs to the same bytes as before.
 */

#define SQ_SLOT_BROWSER  63

/* the longest packed slot: every counter and every bucket at its widest */
#define SQ_SLOT_PACKED_MAX                                                   \
    (10 + 10 * SQ_WIRE_NCOUNTERS + 2 * (10 + 20 * SQ_HIST_BUCKETS)          \
     + 10 + 10 * SQ_WIRE_NBCOUNTERS                                          \
     + SQ_WIRE_NBHISTS * (10 + 20 * SQ_HIST_BUCKETS))


/*
 * The browser's measurements of a slot or a window: allocated only for a
 * series that has them, so a server-only series pays one pointer.
 */

typedef struct {
    uint64_t    c[SQ_WIRE_NBCOUNTERS];
    sq_hist_t   h[SQ_WIRE_NBHISTS];
} sq_browser_t;


/* a slot keeps its counters in 32 bits (saturating), bytes in 64 (bytes;
   c[SQ_C_BYTES] stays 0) */

typedef struct {
    int64_t     start;            /* seconds since the epoch */
    uint64_t    bytes;
    uint32_t    c[SQ_WIRE_NCOUNTERS];
    sq_hist_t   h[SQ_WIRE_NHISTS];
    sq_browser_t *b;              /* NULL: no browser measurements */
} sq_slot_t;


typedef struct {
    uint64_t    c[SQ_WIRE_NCOUNTERS];
    sq_hist_t   h[SQ_WIRE_NHISTS];
    sq_browser_t *b;
} sq_win_t;


void sq_slot_init(sq_slot_t *sl, int64_t start);
void sq_slot_free(sq_slot_t *sl);

/*
 * A slot allocated with room for SQ_SLOT_INLINE_BINS bins of each
 * histogram after it, in one allocation (a series' slot being written:
 * a series' latencies fall in a few buckets); NULL: out of memory.
 * sq_slot_delete() frees it.
 */
#define SQ_SLOT_INLINE_BINS  4
#define SQ_SLOT_NEW_BYTES                                                    \
    (sizeof(sq_slot_t) + SQ_WIRE_NHISTS * SQ_SLOT_INLINE_BINS               \
                         * sizeof(sq_hbin_t))

sq_slot_t *sq_slot_new(int64_t start);
void sq_slot_delete(sq_slot_t *sl);
void sq_slot_reset(sq_slot_t *sl, int64_t start);

/* no requests and no latency: nothing to keep */
int sq_slot_empty(const sq_slot_t *sl);

/* adds 64-bit counters (a datagram's, a window's), saturating */
void sq_slot_add_counters(sq_slot_t *sl, const uint64_t *c);


/*
 * The same for a decoded datagram's counters, each below 2^56 (bytes)
 * or 2^40 (the rest): only those of nz (bit k: c[k] is not 0), since
 * most of a series' counters are 0 in a datagram.
 */

static inline void
sq_slot_add_nz(sq_slot_t *sl, const uint64_t *c, uint32_t nz)
{
    int       k;
    uint64_t  v;

    sl->bytes += c[SQ_C_BYTES];
    nz &= ~(UINT32_C(1) << SQ_C_BYTES);

    for ( /* void */ ; nz; nz &= nz - 1) {
        k = __builtin_ctz(nz);
        v = (uint64_t) sl->c[k] + c[k];
        sl->c[k] = v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
    }
}

/* SQ_OK or SQ_ERR_NOMEM */
int sq_slot_merge(sq_slot_t *dst, const sq_slot_t *src);
int sq_slot_merge_win(sq_slot_t *dst, const sq_win_t *src);

/* packs sl into buf (SQ_SLOT_PACKED_MAX bytes); returns the length */
size_t sq_slot_pack(const sq_slot_t *sl, unsigned char *buf);

/*
 * SQ_OK if p holds one whole, well-formed packed slot of len bytes, else
 * SQ_ERR_CORRUPT: bytes from outside (a database row) are checked with it
 * before they are unpacked.
 */
int sq_slot_check(const unsigned char *p, size_t len);

/*
 * Adds a packed slot of len bytes to sl or to w: SQ_OK or SQ_ERR_NOMEM
 * (SQ_ERR_CORRUPT if the slot did not end at p + len).  The bytes must
 * come from sq_slot_pack() or have passed sq_slot_check().
 */
int sq_slot_unpack(const unsigned char *p, size_t len, sq_slot_t *sl);
int sq_slot_unpack_win(const unsigned char *p, size_t len, sq_win_t *w);

/*
 * The varint of the packed form, also for framing around it: put writes
 * at most 10 bytes and returns the end; get reads one before end, checked:
 * SQ_OK or SQ_ERR_CORRUPT; read reads one from bytes known to be whole
 * (written by this process, or checked).  Inline: every window read
 * walks them.
 */

static inline unsigned char *
sq_varint_put(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char) (v | 0x80);
        v >>= 7;
    }

    *p++ = (unsigned char) v;

    return p;
}


static inline int
sq_varint_get(const unsigned char **pp, const unsigned char *end,
    uint64_t *v)
{
    int                   shift;
    uint64_t              r;
    const unsigned char  *p, *last;

    p = *pp;
    last = (end - p > 10) ? p + 10 : end;     /* 10 bytes hold 64 bits */
    r = 0;

    for (shift = 0; p < last; shift += 7) {
        r |= (uint64_t) (*p & 0x7f) << shift;

        if (*p++ < 0x80) {
            *pp = p;
            *v = r;
            return SQ_OK;
        }
    }

    return SQ_ERR_CORRUPT;
}


static inline uint64_t
sq_varint_read(const unsigned char **pp)
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


/*
 * The browser part: *bp allocated on first use (SQ_OK or SQ_ERR_NOMEM);
 * empty when absent or all zero; merge adds src (may be NULL) into *dst.
 */
int sq_browser_get(sq_browser_t **bp);
void sq_browser_free(sq_browser_t **bp);
int sq_browser_empty(const sq_browser_t *b);
int sq_browser_merge(sq_browser_t **dst, const sq_browser_t *src);
size_t sq_browser_bytes(const sq_browser_t *b);


void sq_win_init(sq_win_t *w);
void sq_win_free(sq_win_t *w);
void sq_win_reset(sq_win_t *w);

/* SQ_OK or SQ_ERR_NOMEM */
int sq_win_merge(sq_win_t *dst, const sq_win_t *src);
int sq_win_merge_slot(sq_win_t *dst, const sq_slot_t *src);


#endif /* _SQ_SLOT_H_INCLUDED_ */
