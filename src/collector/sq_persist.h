
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_PERSIST_H_INCLUDED_
#define _SQ_PERSIST_H_INCLUDED_


#include <stdint.h>

#include "sq_collector.h"


/*
 * The collector's storage timetable, between the window store and the
 * history store: at start open the database, drop rows past retention
 * and load the last long window; on each tick write every slot that is
 * over, once a minute drop rows past retention, and merge one slice of
 * rollups past storage.slot_retention into coarse rows (sq_compact.h);
 * at exit write the current, partial slot and close.  Nothing happens
 * when storage is off.  The writes are the storage thread's
 * (sq_writer.h): the loop hands them over and does the bookkeeping when
 * they come back.
 * The ingest's log thread logs every datagram (sq_wal.h); the log is kept
 * until the slots its datagrams were merged into are written, and what
 * was not stored is replayed at start.
 */

typedef struct sq_persist_s  sq_persist_t;

struct sq_alert_rec_s;


/* what /metrics says of storage */

typedef struct {
    int            on;            /* storage is on */
    uint64_t       writes;        /* slots written */
    uint64_t       errors;        /* writes that failed (retried) */
    uint64_t       dropped;       /* slots given up after retries */
    uint64_t       wal_errors;    /* ingest log appends or syncs failed */
    double         last_seconds;  /* the last write's duration */
    int64_t        last_ok;       /* when a write last succeeded, or 0 */
    uint64_t       pending;       /* slots over and not written yet */
    uint64_t       merged_rows;   /* slot rows merged into coarse rows */
    uint64_t       merge_slices;  /* that merge's slices */
    double         merge_slice_max;  /* its longest slice, seconds */
    double         prepare_seconds;  /* the loop's part of the last slot
                                        write: its batch made */
    double         prepare_max;      /* the longest since start */
} sq_persist_stats_t;


/* SQ_OK (also when storage is off) or the store's status, logged */
int sq_persist_start(sq_ctx_t *ctx);
void sq_persist_tick(sq_ctx_t *ctx, int64_t now);
void sq_persist_stop(sq_ctx_t *ctx);

void sq_persist_stats(const sq_ctx_t *ctx, int64_t now,
    sq_persist_stats_t *st);

/* the ingest log (sq_wal.h) the ingest's log thread appends to, or NULL */
struct sq_wal_s *sq_persist_wal(sq_ctx_t *ctx);

/*
 * A datagram that ends at end in the ingest log was taken at now (merged
 * or rejected); the log before it is stored once the slots are.
 */
void sq_persist_merged(sq_ctx_t *ctx, uint64_t end, int64_t now);

/*
 * The alert history's queue (sq_alert_rec.c) written by the storage
 * thread: r set when it is made, NULL before it goes; kick when
 * transitions were queued; flush waits for the write under way and
 * writes what is queued (at exit).
 */
void sq_persist_alert_rec(sq_ctx_t *ctx, struct sq_alert_rec_s *r);
void sq_persist_kick(sq_ctx_t *ctx);
void sq_persist_flush(sq_ctx_t *ctx);

/* slots filed into after they were written: written again from the next
   tick (sq_windows_rewrite()); called before sq_persist_tick() */
void sq_persist_rewind(sq_ctx_t *ctx);


#endif /* _SQ_PERSIST_H_INCLUDED_ */
