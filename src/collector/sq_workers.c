
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>

#include "sq_status.h"
#include "sq_workers.h"


#define SQ_WORKERS_BUCKETS  1024


struct sq_worker_s {
    sq_worker_t   *next;
    uint32_t       hash;
    uint32_t       pid;
    uint64_t       max_seq;
    uint64_t       seen;          /* bit i: max_seq - i arrived */
    int64_t        last_seen;
    uint32_t       nlen;
    char           node[SQ_WIRE_MAX_NODE + 1];
};


static uint32_t sq_workers_hash(const sq_str_t *node, uint64_t pid);


static uint32_t
sq_workers_hash(const sq_str_t *node, uint64_t pid)
{
    size_t     i;
    uint32_t   h, p;

    h = 2166136261u;

    for (i = 0; i < node->len; i++) {
        h = (h ^ (unsigned char) node->ptr[i]) * 16777619u;
    }

    p = (uint32_t) pid;

    for (i = 0; i < sizeof(p); i++) {
        h = (h ^ ((p >> (8 * i)) & 0xff)) * 16777619u;
    }

    return h;
}


int
sq_workers_init(sq_workers_t *w, uint64_t max)
{
    memset(w, 0, sizeof(sq_workers_t));

    w->nbuckets = SQ_WORKERS_BUCKETS;
    w->buckets = calloc(w->nbuckets, sizeof(sq_worker_t *));
    if (w->buckets == NULL) {
        return SQ_ERR_NOMEM;
    }

    w->max = max;

    return SQ_OK;
}


void
sq_workers_free(sq_workers_t *w)
{
    uint32_t      i;
    sq_worker_t  *p, *next;

    for (i = 0; i < w->nbuckets && w->buckets; i++) {
        for (p = w->buckets[i]; p; p = next) {
            next = p->next;
            free(p);
        }
    }

    free(w->buckets);
    w->buckets = NULL;
    w->n = 0;
}


int
sq_workers_check(sq_workers_t *w, const sq_str_t *node, uint64_t pid,
    uint64_t seq, int64_t now)
{
    uint32_t      h;
    uint64_t      shift;
    sq_worker_t  *p;

    h = sq_workers_hash(node, pid);

    for (p = w->buckets[h & (w->nbuckets - 1)]; p; p = p->next) {
        if (p->hash == h && p->pid == (uint32_t) pid && p->nlen == node->len
            && memcmp(p->node, node->ptr, node->len) == 0)
        {
            break;
        }
    }

    if (p == NULL) {
        if (w->n >= w->max || node->len > SQ_WIRE_MAX_NODE) {
            w->untracked++;
            return SQ_OK;
        }

        p = calloc(1, sizeof(sq_worker_t));
        if (p == NULL) {
            w->untracked++;
            return SQ_OK;
        }

        p->hash = h;
        p->pid = (uint32_t) pid;
        p->nlen = node->len;
        memcpy(p->node, node->ptr, node->len);
        p->max_seq = seq;
        p->seen = ~UINT64_C(0);
        p->last_seen = now;
        p->next = w->buckets[h & (w->nbuckets - 1)];
        w->buckets[h & (w->nbuckets - 1)] = p;
        w->n++;

        return SQ_OK;
    }

    p->last_seen = now;

    if (seq - p->max_seq > SQ_WORKERS_MAX_JUMP && seq > p->max_seq) {
        /* absurdly far ahead: taken, but it moves nothing, so it cannot
           make the worker's next datagrams look old or count a loss */
        w->jumps++;
        return SQ_OK;
    }

    if (seq > p->max_seq) {
        shift = seq - p->max_seq;
        w->lost += shift - 1;
        p->seen = (shift >= 64) ? 1 : (p->seen << shift) | 1;
        p->max_seq = seq;
        return SQ_OK;
    }

    shift = p->max_seq - seq;

    if (shift < 64) {
        if (p->seen & (UINT64_C(1) << shift)) {
            return SQ_ERR_DUPLICATE;
        }

        p->seen |= UINT64_C(1) << shift;
        w->reordered++;
        return SQ_OK;
    }

    if (seq <= 64) {
        /* the worker's sequence started over */
        w->restarts++;
        p->max_seq = seq;
        p->seen = ~UINT64_C(0);
        return SQ_OK;
    }

    /* too old to tell from a duplicate */

    return SQ_ERR_DUPLICATE;
}


void
sq_workers_expire(sq_workers_t *w, int64_t before)
{
    uint32_t      i;
    sq_worker_t **pp, *p;

    for (i = 0; i < w->nbuckets; i++) {
        for (pp = &w->buckets[i]; *pp; /* void */ ) {
            p = *pp;

            if (p->last_seen < before) {
                *pp = p->next;
                free(p);
                w->n--;
                continue;
            }

            pp = &p->next;
        }
    }
}


size_t
sq_workers_memory(const sq_workers_t *w)
{
    return w->nbuckets * sizeof(sq_worker_t *) + w->n * sizeof(sq_worker_t);
}
