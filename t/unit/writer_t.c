
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "tap.h"

#include "sq_store.h"
#include "sq_writer.h"


/*
 * The storage thread's batches: a slot's rows copied on the loop
 * (sq_store_batch_fill()) and written by sq_store_write_batch() are the
 * rows of the window store, byte for byte (the packed slot of
 * sq_windows_slot() packed again), from the slot being written and from
 * the ring; the thread (sq_writer.h) writes a job handed over and calls
 * back on the loop; and the loop's part against the thread's, timed:
 * SQ_WRITER_SERIES=100000 build/t/writer_t gives the figures of
 * docs/scaling.md.
 */

typedef struct {
    struct event_base  *base;
    int                 done;
} cb_t;


static double
ms_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}


static void
on_done(void *data)
{
    cb_t  *cb = data;

    cb->done++;
    event_base_loopbreak(cb->base);
}


static void
mkslot(sq_slot_t *sl, int64_t start, uint32_t i)
{
    sq_slot_reset(sl, start);
    sl->c[SQ_C_REQUESTS] = 100 + i % 50;
    sl->c[SQ_C_2XX] = 100 + i % 50;
    sl->c[SQ_C_5XX] = i % 3;
    sl->bytes = 1000 * (i + 1);
    sq_hist_add(&sl->h[0], 400 + i % 200, 80);
    sq_hist_add(&sl->h[0], 700 + i % 100, 20 + i % 50);
    sq_hist_add(&sl->h[0], 900, 1);
    sq_hist_add(&sl->h[1], 300 + i % 200, 100 + i % 50);
}


static void
fill(sq_windows_t *a, uint32_t n, int64_t start, int64_t now)
{
    char       e[32], r[8];
    uint32_t   i;
    sq_slot_t  sl;

    sq_slot_init(&sl, start);

    for (i = 0; i < n; i++) {
        snprintf(e, sizeof(e), "endpoint-%u", i / 8);
        snprintf(r, sizeof(r), "R%u", i % 8);
        mkslot(&sl, start, i);
        sq_windows_add_slot(a, e, r, i % 5 ? "" : "premium", &sl, now);
    }

    sq_slot_free(&sl);
}


/* every row of the slot at start equals the window store's slot, packed */

static size_t
check_rows(sqlite3 *db, const sq_windows_t *a, int64_t start, size_t *bad)
{
    size_t          n, len;
    uint32_t        i;
    sqlite3_stmt   *q;
    sq_slot_t       sl;
    sq_series_t    *s;
    unsigned char  *buf;

    n = 0;
    *bad = 0;
    buf = malloc(SQ_SLOT_PACKED_MAX);
    sq_slot_init(&sl, start);

    sqlite3_prepare_v2(db, "SELECT r.slot, r.requests FROM rollups r "
                       "JOIN series s ON s.id = r.series WHERE r.t = ?1 "
                       "AND s.endpoint = ?2 AND s.region = ?3 "
                       "AND s.segment = ?4", -1, &q, NULL);

    for (i = 0; i < a->n; i++) {
        s = a->all[i];
        sq_windows_slot(a, s, start, &sl);
        len = sq_slot_pack(&sl, buf);

        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, start);
        sqlite3_bind_text(q, 2, s->endpoint, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, s->region, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, s->segment, -1, SQLITE_STATIC);

        if (sqlite3_step(q) != SQLITE_ROW
            || (size_t) sqlite3_column_bytes(q, 0) != len
            || memcmp(sqlite3_column_blob(q, 0), buf, len) != 0
            || (uint64_t) sqlite3_column_int64(q, 1)
               != sl.c[SQ_C_REQUESTS])
        {
            (*bad)++;
        }

        n++;
    }

    sqlite3_finalize(q);
    sq_slot_free(&sl);
    free(buf);

    return n;
}


static int
storage_thread(void)
{
    int             found;
    char            path[300], name[64];
    FILE           *f;
    DIR            *d;
    struct dirent  *de;

    found = 0;
    d = opendir("/proc/self/task");

    while (d && (de = readdir(d)) != NULL) {
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
        f = fopen(path, "r");

        if (f) {
            if (fgets(name, sizeof(name), f)
                && strcmp(name, "sq-storage\n") == 0)
            {
                found++;
            }

            fclose(f);
        }
    }

    if (d) {
        closedir(d);
    }

    return found;
}


int
main(void)
{
    int               fd;
    char              path[64], err[512];
    size_t            bad, rows;
    double            t, fill_cur, fill_ring, write_ms;
    int64_t           t0, now, slot;
    uint32_t          nseries;
    const char       *env;
    sqlite3          *db;
    sq_windows_t      a;
    sq_writer_t      *w;
    sq_write_job_t    job, *res;
    sq_store_batch_t  b;
    cb_t              cb;

    env = getenv("SQ_WRITER_SERIES");
    nseries = env ? (uint32_t) atoi(env) : 3000;

    strcpy(path, "/tmp/servqual-writer-XXXXXX");
    fd = mkstemp(path);
    close(fd);
    unlink(path);

    slot = 10;
    t0 = 1700000000;
    now = t0 + 5;

    sq_windows_init(&a, slot, 300, 3600, 2 * nseries, 7200, 100);
    memset(&b, 0, sizeof(b));
    memset(&cb, 0, sizeof(cb));
    cb.base = event_base_new();

    /* the slot at t0 being written: each series' cur, packed on the loop */

    fill(&a, nseries, t0, now);

    ok(sq_store_batch_fill(&b, &a, t0, 1) == SQ_OK, "a batch of the slot "
       "being written");

    /* timed again: the batch's memory is kept from slot to slot */

    t = ms_now();
    ok(sq_store_batch_fill(&b, &a, t0, 1) == SQ_OK, "made again");
    fill_cur = ms_now() - t;
    is_int(b.nrows, nseries, "one row a series");
    ok(b.state == 1, "the workers' state goes with it");

    w = sq_writer_start(path, cb.base, on_done, &cb, err, sizeof(err));
    ok(w != NULL, "the storage thread started (%s)", w ? "" : err);
    if (w == NULL) {
        return done_testing();
    }

    is_int(storage_thread(), 1, "one thread named sq-storage");
    ok(!sq_writer_busy(w), "idle");

    memset(&job, 0, sizeof(job));
    job.op = SQ_WRITE_SLOT;
    job.batch = &b;
    sq_writer_submit(w, &job);
    ok(sq_writer_busy(w), "busy with a job handed over");

    event_base_dispatch(cb.base);
    is_int(cb.done, 1, "the loop was called back once");

    res = sq_writer_result(w);
    ok(res == &job, "the job comes back");
    ok(res && res->rc == SQ_OK, "written (%s)", res ? res->err : "");
    is_int(job.n, nseries, "every row");
    write_ms = job.ms;
    ok(!sq_writer_busy(w), "idle again");
    ok(sq_writer_result(w) == NULL, "no second result");

    sqlite3_open(path, &db);
    rows = check_rows(db, &a, t0, &bad);
    is_int(rows, nseries, "every series checked");
    is_int(bad, 0, "each row is the window store's slot, byte for byte");

    /* the next slot begins: the slot at t0 is in the rings now */

    fill(&a, nseries, t0 + slot, now + slot);

    t = ms_now();
    ok(sq_store_batch_fill(&b, &a, t0, 1) == SQ_OK, "a batch from the "
       "rings");
    fill_ring = ms_now() - t;
    is_int(b.nrows, nseries, "one row a series");
    ok(b.state == 1, "the snapshot's state goes with it");

    sq_writer_submit(w, &job);
    res = sq_writer_wait(w);
    ok(res && res->rc == SQ_OK, "written again, waited for");
    rows = check_rows(db, &a, t0, &bad);
    is_int(bad, 0, "the same rows, replaced");

    /* expiry on the thread */

    memset(&job, 0, sizeof(job));
    job.op = SQ_WRITE_EXPIRE;
    job.before = t0 + 1;
    sq_writer_submit(w, &job);
    res = sq_writer_wait(w);
    ok(res && res->rc == SQ_OK, "expired on the thread");
    is_int(job.n, nseries, "the slot's rows past retention deleted");

    sqlite3_close(db);
    sq_writer_stop(w);

    printf("# %u series: the loop's part %.1f ms (slot being written, "
           "packed), %.1f ms (from the rings); the thread's write %.1f ms\n",
           nseries, fill_cur, fill_ring, write_ms);

    /*
     * Not the storage's: what else a slot boundary costs the loop.  A
     * slot added to every series in the slot each is writing, then in
     * the next one: the difference is each series' finished slot packed
     * into its rings (sq_windows.c), at the first datagram after the
     * boundary.
     */

    t = ms_now();
    fill(&a, nseries, t0 + slot, now + slot);
    t = ms_now() - t;
    fill_cur = ms_now();
    fill(&a, nseries, t0 + 2 * slot, now + 2 * slot);
    fill_cur = ms_now() - fill_cur;

    printf("# %u series: a slot added to each in its current slot %.1f ms, "
           "in the next slot %.1f ms (the finished slots put away)\n",
           nseries, t, fill_cur);

    sq_store_batch_free(&b);
    sq_windows_free(&a);
    event_base_free(cb.base);
    unlink(path);

    snprintf(err, sizeof(err), "%s-wal", path);
    unlink(err);
    snprintf(err, sizeof(err), "%s-shm", path);
    unlink(err);

    return done_testing();
}
