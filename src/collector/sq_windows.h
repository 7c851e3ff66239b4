
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_WINDOWS_H_INCLUDED_
#define _SQ_WINDOWS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "servqual_wire.h"
#include "sq_decode.h"
#include "sq_metrics.h"
#include "sq_slot.h"
#include "sq_workers.h"


/*
 * The window store.  Each series (endpoint, region, segment) keeps two
 * rings of slots: fine slots of windows.slot seconds (default one minute)
 * that make up the short window, and coarse slots (a twelfth of the long
 * window, rounded up to whole fine slots) that make up the long window.
 * A window is the exact merge of the slots it covers.
 *
 * Only the minute being written (cur) is a full sq_slot_t.  When a series
 * moves on to the next minute, the finished one is packed (sq_slot.h, the
 * one packed form, also the history store's) into the fine ring, and
 * merged into the packed coarse slot of its period; so a datagram touches
 * one slot, and an hour of a series is about a dozen packed slots of a
 * few dozen bytes.  A series' packed slots, both rings, share one
 * allocation (rings), rewritten when a slot is.
 *
 * The fine slots are whole minutes by default: the per-minute rollups of
 * the history store are exactly the fine slots, and a window can be
 * rebuilt from stored minutes with sq_windows_add_slot().
 *
 * Sequence tracking per sending worker is sq_workers.h; a series'
 * lifetime Prometheus histograms are sq_metrics.h.
 */

#define SQ_WIN_SHORT  0
#define SQ_WIN_LONG   1


/*
 * Filing by the time requests were served.  A datagram goes to the fine
 * slot that holds the end of its window ("we" less a millisecond: a
 * window ending on a slot boundary belongs to the slot before), not the
 * slot it was received in, when that end is at most SQ_WINDOWS_SKEW
 * seconds ahead of the collector's clock (then the current slot) and at
 * most SQ_WINDOWS_LATE seconds behind it, within the short window.  A
 * window straddling a boundary goes whole to the slot of its end (a
 * worker's window is its flush interval, normally a second).
 *
 * Outside that it goes to the slot it was received in, counted in
 * refiled[] by reason: skew (ahead), late (behind), order (its worker
 * had a later datagram filed into a later slot already, see below).
 * Nothing is dropped for its times.
 *
 * A slot the history store wrote already is written again
 * (sq_windows_rewrite(), sq_persist_rewind()), not closed: rows are
 * replaced, so a backlog a worker sends after an outage lands in the
 * minutes it was served in.
 *
 * The workers' state stored with a slot must be that of exactly the
 * datagrams filed into it and before (sq_workers_snapshot(), taken when
 * a later slot begins): a datagram filed into a slot before the one
 * being ingested into is added to the snapshot, when nothing of its
 * worker went into a later slot since (else it is refiled, "order").
 */
#define SQ_WINDOWS_SKEW  10
#define SQ_WINDOWS_LATE  120


typedef enum {
    SQ_REFILE_SKEW = 0,           /* window end ahead of our clock */
    SQ_REFILE_LATE,               /* too far behind, or past the short
                                     window */
    SQ_REFILE_ORDER,              /* its worker moved on to a later slot */
    SQ_NREFILE
} sq_refile_t;


typedef struct sq_series_s  sq_series_t;

/*
 * A series.  The fields a datagram's merge touches come first, in the
 * order it touches them (the key to compare, the slot being written, the
 * totals, the Prometheus histograms), so that sq_windows_ingest() can
 * fetch them ahead while it merges the series before.
 */

struct sq_series_s {
    uint16_t       elen;
    uint16_t       rlen;
    uint16_t       glen;
    uint32_t       pos;           /* in sq_windows_t.all */
    uint32_t       rings_len;
    const char    *endpoint;      /* the key, in tail[] */
    const char    *region;
    const char    *segment;
    sq_slot_t     *cur;           /* the fine slot being written */
    int64_t        last_seen;
    sq_browser_t  *browser;       /* since first seen; NULL: no beacons */
    uint64_t       total[SQ_WIRE_NCOUNTERS];   /* since first seen */
    sq_metrics_t   metrics;                    /* Prometheus histograms */
    int64_t        first_seen;
    unsigned char *rings;         /* finished slots, packed (sq_windows.c) */
    uint64_t       tail[];        /* the buckets of metrics, then the key:
                                     endpoint, region, segment, each
                                     NUL-terminated */
};


/*
 * The series table: open addressing with linear probing, at most three
 * quarters full (16 bytes a bucket: 21 to 43 bytes a series), each
 * bucket the series' full 64-bit hash (of its three strings, one pass)
 * next to its pointer, so that a lookup compares hashes before it reads
 * any series and reads the one series it finds.  A removed series'
 * bucket is filled by shifting back the ones after it (no tombstones).
 * s NULL: an empty bucket.
 */

typedef struct {
    uint64_t       hash;
    sq_series_t   *s;
} sq_sbucket_t;


typedef struct {
    uint64_t       accepted;
    uint64_t       rejected[SQ_NREJECTS];
    uint64_t       duplicate;
    uint64_t       late;          /* counted lost before they came */
    uint64_t       lost_requests[SQ_NLOSS];    /* the workers', by cause */
    uint64_t       counted;       /* the workers': requests taken */
    uint64_t       source_dropped;
    uint64_t       source_dropped_requests;
    uint64_t       requests;
    uint64_t       series_updates;
    uint64_t       series_folded_requests;     /* "so" from the module */
    uint64_t       segment_folded_requests;    /* "go" from the module */
    uint64_t       overflow_requests;          /* past limits.max_series */
    uint64_t       series_expired;
    uint64_t       bytes;
    uint64_t       refiled[SQ_NREFILE];    /* filed by receive time */
    uint64_t       backfilled;    /* filed into a slot before the one
                                     they were received in */
} sq_windows_stats_t;


typedef struct {
    int64_t        slot;          /* fine slot, seconds */
    uint32_t       nfine;
    int64_t        cslot;         /* coarse slot, seconds */
    uint32_t       ncoarse;
    int64_t        short_window;
    int64_t        long_window;
    uint64_t       max_series;
    int64_t        ttl;

    sq_sbucket_t  *buckets;       /* nbuckets, a power of two */
    uint32_t       nbuckets;
    sq_series_t  **all;
    uint32_t       n;
    uint32_t       cap;
    sq_series_t   *other;

    sq_workers_t   workers;       /* sequence tracking per worker */
    int64_t        minute;        /* the latest fine slot ingested into;
                                     sq_workers_snapshot() was taken when
                                     it began */

    int64_t        rewrite;       /* the oldest slot backfilled since
                                     sq_windows_rewrite(), or INT64_MAX */

    sq_slot_t      merged;        /* work space: a slot merged with a */
    unsigned char *packed;        /* packed one, and its packed form */
    sq_slot_t      late;          /* a datagram for a finished slot */

    sq_windows_stats_t stats;
} sq_windows_t;


/* SQ_OK, SQ_ERR_NOMEM or SQ_ERR_INVALID (windows shorter than a slot) */
int sq_windows_init(sq_windows_t *a, int64_t slot, int64_t short_window,
    int64_t long_window, uint64_t max_series, int64_t ttl,
    uint64_t max_workers);
void sq_windows_free(sq_windows_t *a);

/*
 * Takes new limits (a reload).  The windows are kept when the slot sizes
 * do not change; otherwise the rings are rebuilt and the windows start
 * over, while lifetime totals stay.  SQ_OK, SQ_ERR_NOMEM, SQ_ERR_INVALID.
 */
int sq_windows_configure(sq_windows_t *a, int64_t slot, int64_t short_window,
    int64_t long_window, uint64_t max_series, int64_t ttl,
    uint64_t max_workers);

/*
 * Merges a decoded, validated datagram: SQ_OK, or SQ_ERR_DUPLICATE when
 * its worker sent it before (nothing merged).
 */
int sq_windows_ingest(sq_windows_t *a, const sq_dgram_t *d, int64_t now);

/*
 * Adds a whole fine slot (sl->start) to a series, e.g. a minute from the
 * store: SQ_OK or SQ_ERR_NOMEM.  A slot past the long window is ignored.
 */
int sq_windows_add_slot(sq_windows_t *a, const char *endpoint,
    const char *region, const char *segment, const sq_slot_t *sl,
    int64_t now);

/* merges the short or long window of a series as of now into out */
int sq_windows_window(const sq_windows_t *a, const sq_series_t *s, int which,
    int64_t now, sq_win_t *out);

/*
 * Fills out (reset first) with the fine slot of a series that starts at
 * start (a multiple of windows.slot): for the history store, which
 * writes each series' completed minutes from here once the minute is
 * over.  A series without that minute gives an empty slot
 * (sq_slot_empty()).  SQ_OK, SQ_ERR_INVALID (start not on a slot) or
 * SQ_ERR_NOMEM.
 */
int sq_windows_slot(const sq_windows_t *a, const sq_series_t *s,
    int64_t start, sq_slot_t *out);

/*
 * The oldest fine slot a datagram was filed into since the last call,
 * when it is before the slot it was received in (the history store may
 * have written it: it is to be written again), or INT64_MAX.
 */
int64_t sq_windows_rewrite(sq_windows_t *a);

/* drops series and workers idle longer than their time to live */
void sq_windows_expire(sq_windows_t *a, int64_t now);

size_t sq_windows_memory(const sq_windows_t *a);

/*
 * The hash of a series' three strings, as the table keeps it; ANDed with
 * sq_windows_hash_mask (all ones), which a test narrows to force
 * collisions through the table.
 */
uint64_t sq_windows_hash(const char *e, size_t elen, const char *r,
    size_t rlen, const char *g, size_t glen);

extern uint64_t  sq_windows_hash_mask;


/*
 * For the history store's batches (sq_persist.c): the fine slot of a
 * series that starts at start in its packed form (sq_slot.h), as
 * sq_windows_slot() would unpack it.  *p points into the series' ring
 * (valid until the series is next written to or freed) or, for the slot
 * being written, into buf (SQ_SLOT_PACKED_MAX bytes) where it was packed;
 * *len is 0 when the series has nothing of that slot.  SQ_OK or
 * SQ_ERR_INVALID (start not on a slot).
 */
int sq_windows_slot_packed(const sq_windows_t *a, const sq_series_t *s,
    int64_t start, unsigned char *buf, const unsigned char **p, size_t *len);


#endif /* _SQ_WINDOWS_H_INCLUDED_ */
