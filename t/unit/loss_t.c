
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* Loss in requests from the running totals of wire version 2: a gap
   split by cause, a late datagram not merged again, version 1's "dr",
   a worker's state restored after a restart, a silent worker retired
   and back with its totals. */

#include <string.h>

#include "tap.h"
#include "sq_status.h"
#include "sq_workers.h"


static sq_workers_t  w;


/* a datagram of worker (n1, pid) with the totals before it */

static int
dg(uint64_t pid, uint64_t seq, uint64_t cr, uint64_t cx, uint64_t requests,
    int64_t now)
{
    sq_dgram_t  d;

    memset(&d, 0, sizeof(d));
    d.version = 2;
    d.node.ptr = "n1";
    d.node.len = 2;
    d.pid = pid;
    d.seq = seq;
    d.cr = cr;
    d.cx = cx;
    d.requests = requests;

    return sq_workers_check(&w, &d, now);
}


int
main(void)
{
    uint64_t           before[SQ_NLOSS];
    sq_dgram_t         d;
    sq_worker_state_t  ws;

    ok(sq_workers_init(&w, 10) == SQ_OK, "workers");

    /* 1: 10 requests; 2: 20, never arrives; 3: 5 not sent; 4: 7 */

    is_int(dg(1, 1, 0, 0, 10, 100), SQ_WORKER_NEW, "seq 1");
    is_int(dg(1, 4, 35, 5, 7, 101), SQ_WORKER_NEW, "seq 4");
    is_int(w.lost_requests[SQ_LOSS_SOURCE], 5, "5 not sent: source");
    is_int(w.lost_requests[SQ_LOSS_TRANSIT], 20, "20 lost on the way");
    is_int(w.lost, 2, "two datagrams missing");

    /* seq 2 arrives late: its 20 were counted lost, it is not merged */

    is_int(dg(1, 2, 10, 0, 20, 102), SQ_WORKER_LATE, "seq 2 late");
    is_int(w.late, 1, "counted late");
    is_int(dg(1, 2, 10, 0, 20, 102), SQ_WORKER_DUPLICATE, "then a duplicate");
    is_int(w.lost_requests[SQ_LOSS_TRANSIT], 20, "still 20 in transit");

    /* a datagram with no gap before it adds nothing */

    is_int(dg(1, 5, 42, 5, 3, 103), SQ_WORKER_NEW, "seq 5");
    is_int(w.lost_requests[SQ_LOSS_SOURCE] + w.lost_requests[SQ_LOSS_TRANSIT],
           25, "no new loss");

    /* two more gaps (seq 6: 5 requests, seq 8: 6); seq 6 then arrives, in
       the older gap: counted lost already, so not merged either */

    is_int(dg(1, 7, 50, 5, 4, 103), SQ_WORKER_NEW, "seq 7");
    is_int(dg(1, 9, 60, 5, 2, 103), SQ_WORKER_NEW, "seq 9");
    is_int(w.lost_requests[SQ_LOSS_TRANSIT], 31, "5 and 6 more in transit");
    is_int(dg(1, 6, 45, 5, 5, 104), SQ_WORKER_LATE,
           "seq 6, in a gap older than the last: late, not merged");
    is_int(dg(1, 8, 54, 5, 6, 104), SQ_WORKER_LATE,
           "seq 8, in the last gap: late");
    is_int(w.late, 3, "three late in all");
    is_int(w.lost_requests[SQ_LOSS_TRANSIT], 31, "the loss stays counted once");

    /* version 1: its "dr" is all it says */

    memset(&d, 0, sizeof(d));
    d.version = 1;
    d.node.ptr = "old";
    d.node.len = 3;
    d.pid = 9;
    d.seq = 3;
    d.dr = 40;
    is_int(sq_workers_check(&w, &d, 104), SQ_WORKER_NEW, "version 1");
    is_int(w.lost_requests[SQ_LOSS_SOURCE], 45, "its dr: source");

    /* a worker first seen with totals: what came before was lost while
       the collector was not there */

    is_int(dg(2, 9, 100, 0, 1, 105), SQ_WORKER_NEW, "a worker seen late");
    is_int(w.lost_requests[SQ_LOSS_COLLECTOR], 100, "100: collector");

    sq_workers_free(&w);

    /* a restart: the state read back, the next gap is the collector's */

    ok(sq_workers_init(&w, 10) == SQ_OK, "after a restart");
    ws.node = "n1";
    ws.nlen = 2;
    ws.pid = 1;
    ws.seq = 5;
    ws.end_cr = 45;
    ws.end_cx = 5;
    ws.last_seen = 103;
    is_int(sq_workers_restore(&w, &ws), SQ_OK, "state restored");
    is_int(dg(1, 5, 42, 5, 3, 200), SQ_WORKER_DUPLICATE,
           "a datagram stored before: a duplicate");
    is_int(dg(1, 8, 60, 5, 2, 201), SQ_WORKER_NEW, "seq 8");
    is_int(w.lost_requests[SQ_LOSS_COLLECTOR], 15,
           "15 lost while the collector was away");
    is_int(dg(1, 10, 70, 5, 1, 202), SQ_WORKER_NEW, "seq 10");
    is_int(w.lost_requests[SQ_LOSS_TRANSIT], 8, "then 8 in transit");

    /* silent past the time to live: retired, totals kept */

    sq_workers_expire(&w, 1000);
    is_int(w.n, 0, "the silent worker is not tracked");
    is_int(w.retired, 1, "its totals are kept");
    is_int(dg(1, 11, 71, 5, 4, 5000), SQ_WORKER_NEW, "back after hours");
    is_int(w.n, 1, "tracked again");
    is_int(w.lost_requests[SQ_LOSS_COLLECTOR]
           + w.lost_requests[SQ_LOSS_TRANSIT], 23,
           "measured from where it was: no new loss");

    sq_workers_expire(&w, 6000 + SQ_WORKERS_TTL + 1);
    is_int(w.n + w.retired, 0, "gone after SQ_WORKERS_TTL more");

    /* the counted requests go with the snapshot like the loss: a
       datagram filed into a slot the snapshot covers adds to both */

    w.counted = 500;
    sq_workers_snapshot(&w);
    is_int(w.snap_counted, 500, "the snapshot takes the counted total");

    memcpy(before, w.lost_requests, sizeof(before));
    memset(&d, 0, sizeof(d));
    d.version = 2;
    d.node.ptr = "n1";
    d.node.len = 2;
    d.pid = 9;
    d.seq = 1;
    d.requests = 12;
    is_int(sq_workers_check(&w, &d, 7000), SQ_WORKER_NEW, "pid 9 seq 1");
    w.counted += d.requests;
    sq_workers_snapshot_add(&w, &d, before);
    is_int(w.snap_counted, 512, "a covered datagram: its 12 in the snapshot");
    is_int(w.snap_counted, w.counted, "the snapshot is whole again");

    w.counted += 3;
    is_int(w.snap_counted, 512, "later requests wait for the next one");

    sq_workers_free(&w);

    return done_testing();
}
