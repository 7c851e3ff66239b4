
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_COMPACT_H_INCLUDED_
#define _SQ_COMPACT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "sq_conf_yaml.h"
#include "sq_status.h"
#include "sq_store.h"


/*
 * The history store's older tier.  A fine rollup (one series, one slot,
 * a minute by default) is kept for storage.slot_retention (2d); then it
 * is merged into the coarse row of its series and coarse slot
 * (storage.coarse_slot, an hour), counts and histogram bins added, the
 * same packed slot (sq_slot.h).  Coarse rows go at storage.retention
 * (30d).  When slot_retention is not shorter than retention there is no
 * coarse tier: fine rows stay for the whole retention.
 *
 * The work is cut into slices run from the storage tick, each one
 * transaction of SQ_COMPACT_ROWS fine rows (and the rest of the coarse
 * slot the last of them is in: a slice ends at its boundary).  A
 * series' fine rows of one coarse slot are merged into its coarse row
 * (added to what the row already holds) and deleted in the same
 * transaction, so a fine slot is in exactly one tier at any time, and a
 * kill in the middle of the work loses and doubles nothing.  A slot of
 * the long window (the window store may write it again, a restart loads
 * it) is never merged.
 */

#define SQ_COMPACT_ROWS    4096   /* fine rows merged in one slice */
#define SQ_COMPACT_SERIES  16384  /* series visited in one slice */


typedef struct sq_compact_s  sq_compact_t;


/* what the compaction did since start */

typedef struct {
    uint64_t       rows;          /* fine rows merged */
    uint64_t       coarse;        /* coarse rows written (or added to) */
    uint64_t       slices;
    uint64_t       rounds;        /* passes over every series done */
    double         busy_ms;       /* in slices, all together */
    double         last_ms;       /* the last slice */
    double         max_ms;        /* the longest slice */
} sq_compact_stats_t;


/* NULL when out of memory or a statement cannot be prepared (the
   store's error says which) */
sq_compact_t *sq_compact_open(sq_store_t *st);
void sq_compact_close(sq_compact_t *c);

/*
 * One slice, if there is work: fine rows with a start before
 * now - slot_retention (and before guard, the oldest slot the windows
 * may still write) merged into coarse rows of coarse_slot seconds.
 * SQ_OK, or the store's status with the reason in sq_store_strerror()
 * (the slice rolled back; the next tick tries again).
 */
int sq_compact_tick(sq_compact_t *c, int64_t now, int64_t slot_retention,
    int64_t coarse_slot, int64_t guard);

/*
 * One slice as above with before given (aligned down to secs), at most
 * max rows: *rows gets the fine rows merged, *more 1 if rows older than
 * before are left.  For the tick, the tests and bench/disk.pl.
 */
int sq_compact_slice(sq_compact_t *c, int64_t before, int64_t secs,
    size_t max, size_t *rows, int *more);

void sq_compact_stats(const sq_compact_t *c, sq_compact_stats_t *s);

/* the storage mapping's check for -t: the tiers nest */
void sq_compact_conf_check(sq_conf_reader_t *rd, yaml_node_t *node,
    char *base, size_t index, const char *path);


#endif /* _SQ_COMPACT_H_INCLUDED_ */
