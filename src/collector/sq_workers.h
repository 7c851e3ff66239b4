
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


typedef struct sq_worker_s  sq_worker_t;


typedef struct {
    sq_worker_t  **buckets;
    uint32_t       nbuckets;
    uint32_t       n;             /* workers tracked */
    uint64_t       max;

    uint64_t       lost;          /* sequence gaps */
    uint64_t       reordered;     /* arrived after their gap was counted */
    uint64_t       restarts;      /* a worker's sequence started over */
    uint64_t       untracked;     /* datagrams past max workers */
    uint64_t       jumps;         /* more than SQ_WORKERS_MAX_JUMP ahead */
} sq_workers_t;


/* SQ_OK or SQ_ERR_NOMEM */
int sq_workers_init(sq_workers_t *w, uint64_t max);
void sq_workers_free(sq_workers_t *w);

/* SQ_OK (new, counted) or SQ_ERR_DUPLICATE (seen before) */
int sq_workers_check(sq_workers_t *w, const sq_str_t *node, uint64_t pid,
    uint64_t seq, int64_t now);

/* forgets workers last seen before before */
void sq_workers_expire(sq_workers_t *w, int64_t before);

size_t sq_workers_memory(const sq_workers_t *w);


#endif /* _SQ_WORKERS_H_INCLUDED_ */
