
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_WRITER_H_INCLUDED_
#define _SQ_WRITER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "sq_compact.h"
#include "sq_status.h"
#include "sq_store.h"


/*
 * The storage thread ("sq-storage"): every write to the history store,
 * on a connection of its own, so that the event loop, which merges
 * ingest, never waits on SQLite.  The loop hands over one job at a time
 * (a slot's batch, a retention expiry, a slice of the tier merge, a
 * slice of the alert history) and gets it back through an eventfd: the
 * done callback runs on the loop, which takes the result and does the
 * bookkeeping (sq_persist.c).  Nothing the thread reads is changed by
 * the loop while the job is out, and the thread changes nothing the loop
 * reads: the job and its memory belong to the thread from
 * sq_writer_submit() until sq_writer_result() gives it back.
 *
 * The loop's own connection (ctx->store) only reads (the history API,
 * the alert history, the load at start); in WAL mode its reads never
 * wait on the thread's transaction.
 */

typedef enum {
    SQ_WRITE_SLOT = 1,            /* a slot's batch */
    SQ_WRITE_EXPIRE,              /* rows past retention, old series */
    SQ_WRITE_COMPACT,             /* a slice of the tier merge */
    SQ_WRITE_ALERTS               /* alert transitions */
} sq_write_op_t;


typedef struct {
    sq_write_op_t            op;

    /* in */
    const sq_store_batch_t  *batch;        /* SQ_WRITE_SLOT */
    int64_t                  before;       /* SQ_WRITE_EXPIRE */
    int64_t                  now;          /* SQ_WRITE_COMPACT */
    int64_t                  slot_retention;
    int64_t                  coarse_slot;
    int64_t                  guard;
    const sq_alert_event_t  *events;       /* SQ_WRITE_ALERTS */
    size_t                   nevents;

    /* out */
    int                      rc;           /* SQ_OK or a status */
    size_t                   n;            /* rows written or deleted */
    double                   ms;           /* the thread's time on it */
    char                     err[512];     /* the store's reason */
    sq_compact_stats_t       cs;           /* the tier merge's, after */
} sq_write_job_t;


typedef struct sq_writer_s  sq_writer_t;

/* called on the loop when a job handed over is done */
typedef void (*sq_writer_done_pt)(void *data);


/*
 * Opens the store at path on a connection of the thread's, the tier
 * merge on it, and starts the thread.  NULL on error, the reason in err.
 * SERVQUAL_TEST_STORE_HOLD=PATH (tests): a slot's transaction waits
 * before its commit while that file exists.
 */
sq_writer_t *sq_writer_start(const char *path, struct event_base *base,
    sq_writer_done_pt done, void *data, char *err, size_t len);

/* a job was handed over and its result is not taken yet */
int sq_writer_busy(sq_writer_t *w);

/* hands job over (not busy); done is called once it is written */
void sq_writer_submit(sq_writer_t *w, sq_write_job_t *job);

/* the job handed over when it is done, else NULL; then not busy */
sq_write_job_t *sq_writer_result(sq_writer_t *w);

/* waits for the job handed over and gives it back (NULL: none) */
sq_write_job_t *sq_writer_wait(sq_writer_t *w);

/* waits for the job handed over (its result dropped), stops the thread,
   closes its connection */
void sq_writer_stop(sq_writer_t *w);

/* the file that holds a slot's transaction (SERVQUAL_TEST_STORE_HOLD),
   or NULL */
const char *sq_writer_hold(const sq_writer_t *w);


#endif /* _SQ_WRITER_H_INCLUDED_ */
