
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_WORKERS_H_INCLUDED_
#define _SQ_WORKERS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "sq_decode.h"


/*
 * Sequence tracking per sending worker, a (node, pid) pair: each worker
 * numbers its datagrams 1, 2, 3...; a gap counts as lost, a number seen
 * again within the last 64 as a duplicate, a number in a counted gap as
 * reordered, a low number far behind the highest as a restart.  At most
 * max workers are tracked; datagrams of further ones are taken
 * unchecked.
 */

/* a sequence number this far ahead of a worker's highest is not its own */
#define SQ_WORKERS_MAX_JUMP  (UINT64_C(1) << 24)

/* how long a silent worker's totals are kept past the time to live */
#define SQ_WORKERS_TTL  (7 * 86400)

/*
 * Nodes (the "node" of the datagrams: one nginx host) counted apart, at
 * most this many; datagrams of further nodes are counted as the node
 * "_other" (and in nodes_folded), so a sender making up names cannot grow
 * the table.
 */
#define SQ_WORKERS_MAX_NODES  512


typedef struct sq_worker_s  sq_worker_t;


/* why requests were lost: servqual_lost_requests_total{cause} */

typedef enum {
    SQ_LOSS_SOURCE = 0,           /* the worker could not send them */
    SQ_LOSS_TRANSIT,              /* sent, never received */
    SQ_LOSS_COLLECTOR,            /* while the collector was down, or
                                     received and not yet stored when it
                                     died */
    SQ_NLOSS
} sq_loss_t;


/*
 * A worker's durable state (sq_store.c keeps it with the rollups): its
 * highest sequence number, and the running totals at the end of that
 * datagram.
 */

typedef struct {
    const char    *node;
    uint32_t       nlen;
    uint64_t       pid;
    uint64_t       seq;
    uint64_t       end_cr;        /* requests up to the end of seq */
    uint64_t       end_cx;        /* of those, not sent */
    int64_t        last_seen;
} sq_worker_state_t;


/* a node's ingest figures since the collector started */

typedef struct {
    char           node[SQ_WIRE_MAX_NODE + 1];
    uint64_t       datagrams;     /* received, duplicates included */
    uint64_t       lost;          /* datagrams: sequence gaps */
    uint64_t       lost_requests; /* sent, never received (or while the
                                     collector was down) */
    uint64_t       source_dropped;  /* requests the node could not send */
    int64_t        last_seen;     /* seconds since the epoch */
    uint32_t       workers;       /* tracked now */
} sq_node_t;


/* called once per worker; non-zero stops the walk */
typedef int (*sq_workers_pt)(void *data, const sq_worker_state_t *ws);


typedef struct {
    sq_worker_t  **buckets;
    uint32_t       nbuckets;
    uint32_t       n;             /* workers tracked */
    uint32_t       retired;       /* silent past the time to live, their
                                     totals kept SQ_WORKERS_TTL more */
    uint64_t       max;

    uint64_t       lost;          /* sequence gaps */
    uint64_t       reordered;     /* arrived after their gap was counted */
    uint64_t       restarts;      /* a worker's sequence started over */
    uint64_t       untracked;     /* datagrams past max workers */
    uint64_t       jumps;         /* more than SQ_WORKERS_MAX_JUMP ahead */

    uint64_t       late;          /* arrived after their requests were
                                     counted lost: not merged */

    uint64_t       lost_requests[SQ_NLOSS];
    uint64_t       snap_lost[SQ_NLOSS];   /* as of sq_workers_snapshot() */
    uint64_t       counted;       /* requests taken, since the first
                                     start, stored with lost_requests[]:
                                     counted + lost = served */
    uint64_t       snap_counted;  /* as of sq_workers_snapshot() */
    uint64_t       unstored;      /* requests of slots that could not be
                                     written: SQ_LOSS_COLLECTOR in the
                                     database only (sq_persist.c) */

    sq_node_t     *nodes;         /* SQ_WORKERS_MAX_NODES + 1: the last
                                     one is "_other" */
    uint32_t       nnodes;        /* in use, "_other" not counted */
    uint64_t       nodes_folded;  /* datagrams counted as "_other" */
} sq_workers_t;


/* SQ_OK or SQ_ERR_NOMEM */
int sq_workers_init(sq_workers_t *w, uint64_t max);
void sq_workers_free(sq_workers_t *w);

/* what sq_workers_check() found a datagram to be */

typedef enum {
    SQ_WORKER_NEW = 0,            /* new: to be merged */
    SQ_WORKER_DUPLICATE,          /* seen before */
    SQ_WORKER_LATE                /* its requests were counted lost
                                     already: not to be merged */
} sq_worker_result_t;


/*
 * SQ_WORKER_NEW, SQ_WORKER_DUPLICATE or SQ_WORKER_LATE.  A version 2
 * datagram's running totals measure in requests the gap since the
 * worker's previous datagram, whatever caused it: lost_requests[] by
 * cause.  A version 1 datagram's "dr" is all it says (SQ_LOSS_SOURCE).
 */
int sq_workers_check(sq_workers_t *w, const sq_dgram_t *d, int64_t now);

/*
 * The state of every worker as it is now, for the loss counters and for
 * each worker: sq_workers_state() with snapshot set walks this copy.
 */
void sq_workers_snapshot(sq_workers_t *w);

/*
 * Whether nothing of the datagram's worker was taken since the snapshot:
 * then a datagram of it may still be filed into a slot the snapshot
 * covers (sq_windows.h).
 */
int sq_workers_settled(sq_workers_t *w, const sq_dgram_t *d);

/*
 * The datagram just taken (SQ_WORKER_NEW) was filed into a slot the
 * snapshot covers: the snapshot takes its worker's totals, its requests
 * and the loss its gap counted (lost_before: lost_requests[] before the
 * check).
 */
void sq_workers_snapshot_add(sq_workers_t *w, const sq_dgram_t *d,
    const uint64_t *lost_before);

/* walks the workers' states, live or as of the snapshot */
int sq_workers_state(const sq_workers_t *w, int snapshot, sq_workers_pt cb,
    void *data);

/*
 * A worker's state read back at start; its next datagram's gap counts as
 * SQ_LOSS_COLLECTOR.  SQ_OK or SQ_ERR_NOMEM.
 */
int sq_workers_restore(sq_workers_t *w, const sq_worker_state_t *ws);

/*
 * Stops tracking workers last seen before before; their totals are kept
 * SQ_WORKERS_TTL longer (at most max of them), so that a worker back
 * after hours of silence is measured from where it was.
 */
void sq_workers_expire(sq_workers_t *w, int64_t before);

size_t sq_workers_memory(const sq_workers_t *w);

/*
 * The nodes' figures: *n of them, "_other" last when it has had a
 * datagram.  Valid until the next datagram.
 */
const sq_node_t *sq_workers_nodes(const sq_workers_t *w, uint32_t *n);


#endif /* _SQ_WORKERS_H_INCLUDED_ */
