
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_ALERT_REC_H_INCLUDED_
#define _SQ_ALERT_REC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "sq_store.h"


/*
 * The alert history in the store, written in slices: an evaluation's
 * transitions are copied into a queue, and written SQ_ALERT_REC_SLICE at a
 * time, one transaction each, by the storage thread (sq_persist.h,
 * sq_writer.h) between its other writes.  A mass event (225,000 rows
 * firing at once at 100k series: about 2 s of SQLite) so never holds the
 * loop, and a slot's write waits at most one slice.  What is queued is
 * written at exit.
 */

#define SQ_ALERT_REC_SLICE  8192


typedef struct sq_alert_rec_s  sq_alert_rec_t;

struct sq_ctx_s;


/* the writer for ctx's store (ctx->store, NULL: nothing is written) */
sq_alert_rec_t *sq_alert_rec_new(struct sq_ctx_s *ctx);

/* queues a copy of ev; SQ_OK or SQ_ERR_NOMEM (then it is not recorded) */
int sq_alert_rec_add(sq_alert_rec_t *r, const sq_alert_event_t *ev);

/* starts writing what is queued, a slice at a time */
void sq_alert_rec_kick(sq_alert_rec_t *r);

/*
 * For the storage thread's turn (sq_persist.c): the next slice, at most
 * max transitions, in *ev (kept until sq_alert_rec_done()); 0 when
 * nothing is queued or a slice is out already.
 */
size_t sq_alert_rec_take(sq_alert_rec_t *r, size_t max,
    const sq_alert_event_t **ev);

/* the slice taken was written (rc SQ_OK) or not (err says why), in
   seconds: dropped from the queue, a failure logged */
void sq_alert_rec_done(sq_alert_rec_t *r, int rc, const char *err,
    double seconds);

/* transitions queued, not yet written */
size_t sq_alert_rec_pending(const sq_alert_rec_t *r);

/* the seconds the longest slice took since the last call, then 0 */
double sq_alert_rec_slowest(sq_alert_rec_t *r);

/* writes everything queued now, then frees the writer */
void sq_alert_rec_free(sq_alert_rec_t *r);


#endif /* _SQ_ALERT_REC_H_INCLUDED_ */
