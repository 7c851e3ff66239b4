
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
 * time, one transaction each, one slice a turn of the event loop.  A mass
 * event (225,000 rows firing at once at 100k series: about 2 s of SQLite)
 * so never holds the loop for long, and ingest is merged between slices.
 * What is queued is written at exit.
 */

#define SQ_ALERT_REC_SLICE  8192


typedef struct sq_alert_rec_s  sq_alert_rec_t;

struct sq_ctx_s;


/* the writer for ctx's store (ctx->store, NULL: nothing is written) */
sq_alert_rec_t *sq_alert_rec_new(struct sq_ctx_s *ctx);

/* queues a copy of ev; SQ_OK or SQ_ERR_NOMEM (then it is not recorded) */
int sq_alert_rec_add(sq_alert_rec_t *r, const sq_alert_event_t *ev);

/* starts writing what is queued, a slice a loop turn */
void sq_alert_rec_kick(sq_alert_rec_t *r);

/* transitions queued, not yet written */
size_t sq_alert_rec_pending(const sq_alert_rec_t *r);

/* the seconds the longest slice took since the last call, then 0 */
double sq_alert_rec_slowest(sq_alert_rec_t *r);

/* writes everything queued now, then frees the writer */
void sq_alert_rec_free(sq_alert_rec_t *r);


#endif /* _SQ_ALERT_REC_H_INCLUDED_ */
