
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_INGEST_H_INCLUDED_
#define _SQ_INGEST_H_INCLUDED_


#include <stdint.h>
#include <event2/buffer.h>

#include "sq_collector.h"


/*
 * The receive thread and its queue (docs/scaling.md, "How ingest stays
 * ahead").  One thread does nothing but read the ingest sockets and put
 * what it read in a bounded queue of raw datagrams; with storage on, a
 * log thread appends it to the ingest log (sq_wal.h) and only then lets
 * the event loop take it from the queue and verify, decode, check and
 * merge it.  A collector killed with -9 loses nothing logged: it is
 * replayed from the log.
 * Periodic work on the loop (a view build, an alert evaluation, a minute
 * write, a scrape) then only delays the merge: the sockets keep being
 * drained, and what arrives meanwhile waits in the queue instead of
 * overflowing the kernel's receive buffer.  A datagram that finds the
 * queue full is counted (overflow) and dropped, and not logged.  The
 * kernel's own drops are read back per socket (SO_RXQ_OVFL).
 */

typedef struct sq_ingest_s  sq_ingest_t;


typedef struct {
    uint64_t       received;      /* datagrams read from the sockets */
    uint64_t       overflow;      /* dropped: the queue was full */
    uint64_t       queued;        /* waiting now to be merged */
    uint64_t       unlogged;      /* ... to be written to the ingest log */
    uint64_t       bytes;         /* of the queue in use now */
    uint64_t       peak;          /* the most bytes ever in use */
    uint64_t       capacity;      /* bytes */
    uint64_t       resident;      /* bytes of the queue's pages in memory */
    uint64_t       released;      /* bytes of merged records whose pages
                                     were given back */
} sq_ingest_stats_t;


/* SQ_OK or SQ_ERR_NOMEM / SQ_ERR_IO, logged; listeners from ctx */
int sq_ingest_start(sq_ctx_t *ctx);
void sq_ingest_stop(sq_ctx_t *ctx);

/* around a change of the listeners (a reload): the queue stays */
void sq_ingest_pause(sq_ctx_t *ctx);
int sq_ingest_resume(sq_ctx_t *ctx);

/*
 * From inside a long task on the loop (sq_view_yield_pt, data: the
 * ctx): merges what is queued once it is more than a few MB.
 */
void sq_ingest_catch_up(void *data);

/* merge everything queued now, on the loop (tests, shutdown) */
void sq_ingest_drain(sq_ctx_t *ctx);

void sq_ingest_stats(const sq_ctx_t *ctx, sq_ingest_stats_t *st);

/* the kernel's receive-buffer drops of a listener, since it was opened */
uint64_t sq_ingest_kernel_drops(const sq_listener_t *l);

/* the receive families of /metrics */
void sq_ingest_prom(sq_ctx_t *ctx, struct evbuffer *b);


#endif /* _SQ_INGEST_H_INCLUDED_ */
