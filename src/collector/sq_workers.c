
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
    uint64_t       end_cr;        /* running totals at the end of max_seq */
    uint64_t       end_cx;
    uint64_t       snap_seq;      /* the same, as of the snapshot */
    uint64_t       snap_cr;
    uint64_t       snap_cx;
    unsigned       fresh:1;       /* no datagram since the collector
                                     started: a gap is SQ_LOSS_COLLECTOR */
    unsigned       in_snap:1;     /* tracked when the snapshot was taken */
    unsigned       retired:1;     /* idle past the time to live: not
                                     counted in n, state kept */
    uint64_t       gap_lo;        /* the requests counted lost in gaps */
    uint64_t       gap_hi;        /* lie in [gap_lo, gap_hi), 0 if none */
    sq_node_t     *nd;            /* its node's figures */
    uint32_t       nlen;
    char           node[SQ_WIRE_MAX_NODE + 1];
};


static uint32_t sq_workers_hash(const sq_str_t *node, uint64_t pid);
static sq_worker_t *sq_workers_find(sq_workers_t *w, const sq_str_t *node,
    uint64_t pid, uint32_t h);
static sq_worker_t *sq_workers_add(sq_workers_t *w, const sq_str_t *node,
    uint64_t pid, uint32_t h);
static void sq_workers_gap(sq_workers_t *w, sq_worker_t *p,
    const sq_dgram_t *d);
static sq_node_t *sq_workers_node(sq_workers_t *w, const sq_str_t *node);
static void sq_workers_node_seen(sq_workers_t *w, sq_node_t *nd,
    int64_t now);


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

    w->nodes = calloc(SQ_WORKERS_MAX_NODES + 1, sizeof(sq_node_t));
    if (w->nodes == NULL) {
        free(w->buckets);
        w->buckets = NULL;
        return SQ_ERR_NOMEM;
    }

    memcpy(w->nodes[SQ_WORKERS_MAX_NODES].node, "_other", 7);

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

    free(w->nodes);
    w->nodes = NULL;
    w->nnodes = 0;
}


/*
 * A node's figures, found by name; past SQ_WORKERS_MAX_NODES nodes,
 * "_other".  A linear search: it runs for a worker's first datagram (and
 * for the datagrams of workers past max), not for every datagram.
 */

static sq_node_t *
sq_workers_node(sq_workers_t *w, const sq_str_t *node)
{
    uint32_t    i;
    size_t      len;
    sq_node_t  *nd;

    len = node->len > SQ_WIRE_MAX_NODE ? SQ_WIRE_MAX_NODE : node->len;

    for (i = 0; i < w->nnodes; i++) {
        nd = &w->nodes[i];

        if (memcmp(nd->node, node->ptr, len) == 0
            && nd->node[len] == '\0')
        {
            return nd;
        }
    }

    if (w->nnodes < SQ_WORKERS_MAX_NODES) {
        nd = &w->nodes[w->nnodes++];
        memcpy(nd->node, node->ptr, len);
        nd->node[len] = '\0';
        return nd;
    }

    return &w->nodes[SQ_WORKERS_MAX_NODES];
}


static void
sq_workers_node_seen(sq_workers_t *w, sq_node_t *nd, int64_t now)
{
    nd->datagrams++;

    if (now > nd->last_seen) {
        nd->last_seen = now;
    }

    if (nd == &w->nodes[SQ_WORKERS_MAX_NODES]) {
        w->nodes_folded++;
    }
}


const sq_node_t *
sq_workers_nodes(const sq_workers_t *w, uint32_t *n)
{
    /* "_other" is used only once the table is full: it follows */

    *n = w->nnodes + (w->nodes[SQ_WORKERS_MAX_NODES].datagrams ? 1 : 0);

    return w->nodes;
}


static sq_worker_t *
sq_workers_find(sq_workers_t *w, const sq_str_t *node, uint64_t pid,
    uint32_t h)
{
    sq_worker_t  *p;

    for (p = w->buckets[h & (w->nbuckets - 1)]; p; p = p->next) {
        if (p->hash == h && p->pid == (uint32_t) pid && p->nlen == node->len
            && memcmp(p->node, node->ptr, node->len) == 0)
        {
            return p;
        }
    }

    return NULL;
}


static sq_worker_t *
sq_workers_add(sq_workers_t *w, const sq_str_t *node, uint64_t pid,
    uint32_t h)
{
    sq_worker_t  *p;

    if (w->n >= w->max || node->len > SQ_WIRE_MAX_NODE) {
        return NULL;
    }

    p = calloc(1, sizeof(sq_worker_t));
    if (p == NULL) {
        return NULL;
    }

    p->nd = sq_workers_node(w, node);
    p->nd->workers++;
    p->hash = h;
    p->pid = (uint32_t) pid;
    p->nlen = node->len;
    memcpy(p->node, node->ptr, node->len);
    p->next = w->buckets[h & (w->nbuckets - 1)];
    w->buckets[h & (w->nbuckets - 1)] = p;
    w->n++;

    return p;
}


/*
 * The requests between the end of the worker's highest datagram and the
 * start of this one (d->cr): those it could not send (the growth of "cx")
 * are SQ_LOSS_SOURCE, the rest were lost on the way, or, before the
 * worker's first datagram since the collector started, while the
 * collector was down or before it had stored them.  Then the worker's
 * totals move to the end of this datagram.
 */

static void
sq_workers_gap(sq_workers_t *w, sq_worker_t *p, const sq_dgram_t *d)
{
    uint64_t  gap, src;

    if (d->version < 2) {
        w->lost_requests[SQ_LOSS_SOURCE] += d->dr;
        p->nd->source_dropped += d->dr;
        return;
    }

    gap = (d->cr > p->end_cr) ? d->cr - p->end_cr : 0;
    src = (d->cx > p->end_cx) ? d->cx - p->end_cx : 0;

    if (src > gap) {
        src = gap;
    }

    w->lost_requests[SQ_LOSS_SOURCE] += src;
    w->lost_requests[p->fresh ? SQ_LOSS_COLLECTOR : SQ_LOSS_TRANSIT]
        += gap - src;

    p->nd->source_dropped += src;
    p->nd->lost_requests += gap - src;

    if (gap) {
        /* from the first gap's start: an older gap stays covered */
        if (p->gap_hi == 0) {
            p->gap_lo = p->end_cr;
        }

        p->gap_hi = d->cr;
    }

    if (d->cr + d->requests > p->end_cr) {
        p->end_cr = d->cr + d->requests;
    }

    if (d->cx > p->end_cx) {
        p->end_cx = d->cx;
    }

    p->fresh = 0;
}


int
sq_workers_check(sq_workers_t *w, const sq_dgram_t *d, int64_t now)
{
    uint32_t      h;
    uint64_t      shift, seq;
    sq_node_t    *nd;
    sq_worker_t  *p;

    seq = d->seq;
    h = sq_workers_hash(&d->node, d->pid);
    p = sq_workers_find(w, &d->node, d->pid, h);

    if (p && p->retired) {
        /* back after a long silence, with its totals */
        p->retired = 0;
        p->nd->workers++;
        w->n++;
        w->retired--;
    }

    if (p == NULL) {
        p = sq_workers_add(w, &d->node, d->pid, h);

        if (p == NULL) {
            w->untracked++;

            nd = sq_workers_node(w, &d->node);
            sq_workers_node_seen(w, nd, now);

            if (d->version < 2) {
                w->lost_requests[SQ_LOSS_SOURCE] += d->dr;
                nd->source_dropped += d->dr;
            }

            return SQ_WORKER_NEW;
        }

        sq_workers_node_seen(w, p->nd, now);

        /* all it made before this datagram is measured from 0 */

        p->max_seq = seq;
        p->seen = ~UINT64_C(0);
        p->last_seen = now;
        p->fresh = (d->cr > 0);
        sq_workers_gap(w, p, d);

        return SQ_WORKER_NEW;
    }

    p->last_seen = now;
    sq_workers_node_seen(w, p->nd, now);

    if (seq - p->max_seq > SQ_WORKERS_MAX_JUMP && seq > p->max_seq) {
        /* absurdly far ahead: taken, but it moves nothing, so it cannot
           make the worker's next datagrams look old or count a loss */
        w->jumps++;
        return SQ_WORKER_NEW;
    }

    if (seq > p->max_seq) {
        shift = seq - p->max_seq;
        w->lost += shift - 1;
        p->nd->lost += shift - 1;
        p->seen = (shift >= 64) ? 1 : (p->seen << shift) | 1;
        p->max_seq = seq;
        sq_workers_gap(w, p, d);
        return SQ_WORKER_NEW;
    }

    shift = p->max_seq - seq;

    if (shift < 64) {
        if (p->seen & (UINT64_C(1) << shift)) {
            return SQ_WORKER_DUPLICATE;
        }

        p->seen |= UINT64_C(1) << shift;
        w->reordered++;

        if (d->version >= 2 && d->requests > 0 && p->gap_hi
            && d->cr >= p->gap_lo && d->cr + d->requests <= p->gap_hi)
        {
            /*
             * in a gap counted lost, the last or an older one: a
             * datagram not seen before there is not merged (merging it
             * would count its requests twice; the loss counters only go
             * up).  Between the gaps lie datagrams that arrived, which
             * the sequence numbers tell apart as duplicates.
             */
            w->late++;
            return SQ_WORKER_LATE;
        }

        if (d->version < 2) {
            w->lost_requests[SQ_LOSS_SOURCE] += d->dr;
            p->nd->source_dropped += d->dr;
        }

        return SQ_WORKER_NEW;
    }

    if (seq <= 64) {
        /* the worker's sequence started over (a pid used again) */
        w->restarts++;
        p->max_seq = seq;
        p->seen = ~UINT64_C(0);
        p->end_cr = 0;
        p->end_cx = 0;
        p->gap_lo = 0;
        p->gap_hi = 0;
        sq_workers_gap(w, p, d);
        return SQ_WORKER_NEW;
    }

    /* too old to tell from a duplicate */

    return SQ_WORKER_DUPLICATE;
}


void
sq_workers_snapshot(sq_workers_t *w)
{
    uint32_t      i;
    sq_worker_t  *p;

    memcpy(w->snap_lost, w->lost_requests, sizeof(w->snap_lost));
    w->snap_counted = w->counted;

    for (i = 0; i < w->nbuckets; i++) {
        for (p = w->buckets[i]; p; p = p->next) {
            p->snap_seq = p->max_seq;
            p->snap_cr = p->end_cr;
            p->snap_cx = p->end_cx;
            p->in_snap = 1;
        }
    }
}


int
sq_workers_settled(sq_workers_t *w, const sq_dgram_t *d)
{
    sq_worker_t  *p;

    p = sq_workers_find(w, &d->node, d->pid,
                        sq_workers_hash(&d->node, d->pid));

    if (p == NULL) {
        /* its first datagram */
        return 1;
    }

    return p->in_snap && p->snap_seq == p->max_seq
           && p->snap_cr == p->end_cr && p->snap_cx == p->end_cx;
}


void
sq_workers_snapshot_add(sq_workers_t *w, const sq_dgram_t *d,
    const uint64_t *lost_before)
{
    int           cause;
    sq_worker_t  *p;

    for (cause = 0; cause < SQ_NLOSS; cause++) {
        w->snap_lost[cause] += w->lost_requests[cause] - lost_before[cause];
    }

    w->snap_counted += d->requests;

    p = sq_workers_find(w, &d->node, d->pid,
                        sq_workers_hash(&d->node, d->pid));

    if (p == NULL) {
        return;
    }

    p->snap_seq = p->max_seq;
    p->snap_cr = p->end_cr;
    p->snap_cx = p->end_cx;
    p->in_snap = 1;
}


int
sq_workers_state(const sq_workers_t *w, int snapshot, sq_workers_pt cb,
    void *data)
{
    int                 rc;
    uint32_t            i;
    sq_worker_t        *p;
    sq_worker_state_t   ws;

    for (i = 0; i < w->nbuckets; i++) {
        for (p = w->buckets[i]; p; p = p->next) {
            if (snapshot && !p->in_snap) {
                continue;
            }

            ws.node = p->node;
            ws.nlen = p->nlen;
            ws.pid = p->pid;
            ws.seq = snapshot ? p->snap_seq : p->max_seq;
            ws.end_cr = snapshot ? p->snap_cr : p->end_cr;
            ws.end_cx = snapshot ? p->snap_cx : p->end_cx;
            ws.last_seen = p->last_seen;

            rc = cb(data, &ws);

            if (rc != 0) {
                return rc;
            }
        }
    }

    return 0;
}


int
sq_workers_restore(sq_workers_t *w, const sq_worker_state_t *ws)
{
    uint32_t      h;
    sq_str_t      node;
    sq_worker_t  *p;

    node.ptr = ws->node;
    node.len = ws->nlen;
    h = sq_workers_hash(&node, ws->pid);

    p = sq_workers_find(w, &node, ws->pid, h);

    if (p == NULL) {
        p = sq_workers_add(w, &node, ws->pid, h);

        if (p == NULL) {
            return SQ_ERR_NOMEM;
        }
    }

    p->max_seq = ws->seq;
    p->seen = ~UINT64_C(0);
    p->end_cr = ws->end_cr;
    p->end_cx = ws->end_cx;
    p->last_seen = ws->last_seen;
    p->fresh = 1;

    if (ws->last_seen > p->nd->last_seen) {
        p->nd->last_seen = ws->last_seen;
    }

    return SQ_OK;
}


void
sq_workers_expire(sq_workers_t *w, int64_t before)
{
    uint32_t      i;
    sq_worker_t **pp, *p;

    for (i = 0; i < w->nbuckets; i++) {
        for (pp = &w->buckets[i]; *pp; /* void */ ) {
            p = *pp;

            if (p->last_seen >= before) {
                pp = &p->next;
                continue;
            }

            if (!p->retired && w->retired < w->max
                && p->last_seen >= before - SQ_WORKERS_TTL)
            {
                /* no longer tracked, its totals kept for its return */
                p->retired = 1;
                p->nd->workers--;
                w->n--;
                w->retired++;
                pp = &p->next;
                continue;
            }

            if (p->retired && p->last_seen >= before - SQ_WORKERS_TTL) {
                pp = &p->next;
                continue;
            }

            *pp = p->next;

            if (p->retired) {
                w->retired--;

            } else {
                p->nd->workers--;
                w->n--;
            }

            free(p);
        }
    }
}


size_t
sq_workers_memory(const sq_workers_t *w)
{
    return w->nbuckets * sizeof(sq_worker_t *)
           + (w->n + w->retired) * sizeof(sq_worker_t)
           + (SQ_WORKERS_MAX_NODES + 1) * sizeof(sq_node_t);
}
