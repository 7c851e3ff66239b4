
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sq_alert_rec.h"
#include "sq_compact.h"
#include "sq_persist.h"
#include "sq_wal.h"
#include "sq_writer.h"


#define SQ_PERSIST_SLOW_MS  200
#define SQ_PERSIST_MARKS    1024


/* where in the ingest log the merges of a slot began */

typedef struct {
    int64_t        slot;
    uint64_t       pos;
} sq_persist_mark_t;


/*
 * Every write goes to the storage thread (sq_writer.h), one job at a
 * time, in this order of need: the next slot that is over, a slice of
 * the alert history, the retention expiry (once a minute), a slice of
 * the tier merge (once a second).  A slot's job is its batch, filled on
 * the loop (sq_store_batch_fill(): the packed bytes copied, a few ms at
 * 100k series); what the loop did after a write (ps->next, the stats,
 * the ingest log's stored position, the retry, the give-up) it does when
 * the result comes back, so the position moves only after the commit.
 * The loop never takes the thread's locks: its own connection only
 * reads, and in WAL mode a read does not wait on a writer.
 */

struct sq_persist_s {
    sq_store_t    *store;         /* the loop's connection: reads */
    sq_writer_t   *writer;        /* the storage thread */
    sq_write_job_t job;           /* the job handed over */
    sq_store_batch_t  batch;      /* a slot's job's rows */
    int            slot_out;      /* the job handed over is a slot's */
    int64_t        slot;          /* which slot */
    int            again;         /* filed into since its batch was made:
                                     written again */
    int            retry;         /* a slot write failed: next tick */
    int            stopping;
    int64_t        compacted;     /* when the tier merge last had a turn */
    struct sq_alert_rec_s  *rec;  /* the alert history's queue */
    sq_compact_stats_t  cs;       /* the tier merge's, from the thread */
    sq_wal_t      *wal;           /* the ingest log, next to the database */
    int64_t        next;          /* the next slot to write */
    int64_t        expired;       /* when retention last ran */
    int64_t        logged;        /* when a write error was last logged */
    int64_t        wal_logged;    /* when an ingest log error was */
    uint64_t       wal_unlogged;
    sq_persist_stats_t  stats;

    /* the ingest log's position of the last datagram merged, the slot
       it was merged in, and where each later slot's merges began */
    uint64_t       merged;
    int64_t        merged_slot;
    size_t         nmarks;
    int            marks_full;    /* a slot's mark could not be kept */
    sq_persist_mark_t  marks[SQ_PERSIST_MARKS];
};


static double sq_persist_ms(void);
static uint64_t sq_persist_slot_requests(const sq_windows_t *a,
    int64_t start);
static int sq_persist_replay(void *data, const char *buf, size_t len,
    int64_t received, uint64_t end);
static uint64_t sq_persist_stored_pos(sq_persist_t *ps, int64_t slot);
static void sq_persist_wal_error(sq_persist_t *ps, const char *what,
    int64_t now);
static void sq_persist_pump(sq_ctx_t *ctx, int64_t now);
static int sq_persist_submit_slot(sq_ctx_t *ctx, int64_t start,
    int complete);
static void sq_persist_on_written(void *data);
static void sq_persist_done(sq_ctx_t *ctx, sq_write_job_t *job,
    int64_t now);
static void sq_persist_slot_done(sq_ctx_t *ctx, sq_write_job_t *job,
    int64_t now);


static double
sq_persist_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}


/* the requests of every series in the fine slot at start */

static uint64_t
sq_persist_slot_requests(const sq_windows_t *a, int64_t start)
{
    uint32_t      i;
    uint64_t      n;
    sq_slot_t     sl;
    sq_series_t  *s;

    n = 0;
    sq_slot_init(&sl, start);

    for (i = 0; i <= a->n; i++) {
        s = (i < a->n) ? a->all[i] : a->other;

        if (s && sq_windows_slot(a, s, start, &sl) == SQ_OK) {
            n += sl.c[SQ_C_REQUESTS];
        }
    }

    sq_slot_free(&sl);

    return n;
}


int
sq_persist_start(sq_ctx_t *ctx)
{
    int            rc;
    char           err[600], dir[4096];
    size_t         n;
    int64_t        now, oldest;
    const char    *path;
    sq_store_t    *st;
    sq_persist_t  *ps;

    path = ctx->conf->storage_path;

    if (strcmp(path, "off") == 0) {
        sq_log(SQ_LOG_INFO, "storage is off");
        return SQ_OK;
    }

    ps = calloc(1, sizeof(sq_persist_t));
    if (ps == NULL) {
        sq_log(SQ_LOG_ERROR, "storage: %s", sq_strerror(SQ_ERR_NOMEM));
        return SQ_ERR_NOMEM;
    }

    st = sq_store_open(path, err, sizeof(err));

    if (st == NULL) {
        sq_log(SQ_LOG_ERROR, "storage: %s", err);
        free(ps);
        return SQ_ERR_STORE;
    }

    now = sq_now();

    rc = sq_store_expire(st, now - ctx->conf->retention, &n);

    if (rc == SQ_OK && n) {
        sq_log(SQ_LOG_INFO, "storage \"%s\": %zu rows past retention "
               "deleted", path, n);
    }

    if (rc == SQ_OK) {
        rc = sq_store_load(st, &ctx->windows, now, &n);
    }

    if (rc != SQ_OK) {
        sq_log(SQ_LOG_ERROR, "storage: %s", sq_store_strerror(st));
        sq_store_close(st);
        free(ps);
        return rc;
    }

    /* the writes, on a thread and a connection of their own */

    ps->writer = sq_writer_start(path, ctx->base, sq_persist_on_written,
                                 ctx, err, sizeof(err));

    if (ps->writer == NULL) {
        sq_log(SQ_LOG_ERROR, "storage: %s", err);
        sq_store_close(st);
        free(ps);
        return SQ_ERR_STORE;
    }

    if (sq_writer_hold(ps->writer)) {
        sq_log(SQ_LOG_WARN, "storage: slot writes are held before their "
               "commit while \"%s\" exists", sq_writer_hold(ps->writer));
    }

    ps->store = st;
    ps->next = now - now % ctx->windows.slot;
    ps->expired = now;
    ctx->store = st;
    ctx->persist = ps;

    sq_log(SQ_LOG_INFO, "storage \"%s\": %zu rollups of the last %llds "
           "loaded", path, n, (long long) ctx->windows.long_window);

    /* the datagrams taken after the last write, from the ingest log */

    snprintf(dir, sizeof(dir), "%s.ingest", path);

    ps->wal = sq_wal_open(dir, err, sizeof(err));

    if (ps->wal == NULL) {
        sq_log(SQ_LOG_ERROR, "storage: ingest log: %s", err);
        return SQ_OK;
    }

    ps->merged = sq_wal_stored_pos(ps->wal);

    if (sq_wal_replay(ps->wal, sq_persist_replay, ctx, &oldest, &n)
        != SQ_OK)
    {
        sq_log(SQ_LOG_ERROR, "storage: ingest log \"%s\": %s", dir,
               strerror(errno));

    } else if (n) {
        oldest -= oldest % ctx->windows.slot;

        if (oldest < ps->next) {
            ps->next = oldest;
        }

        sq_log(SQ_LOG_INFO, "storage: %zu datagrams replayed from the "
               "ingest log \"%s\"", n, dir);
    }

    /* synced by a thread of its own from now on (sq_wal.h) */

    if (sq_wal_start(ps->wal) != SQ_OK) {
        sq_log(SQ_LOG_WARN, "storage: ingest log \"%s\": no sync thread, "
               "synced by the loop", dir);
    }

    return SQ_OK;
}


/*
 * A datagram of the ingest log not known to be stored: checked, decoded
 * and merged as it was live, at the time it was received.  The earlier
 * layout held only accepted datagrams, their signature cut off.
 */

static int
sq_persist_replay(void *data, const char *buf, size_t len, int64_t received,
    uint64_t end)
{
    sq_ctx_t  *ctx = data;

    if (end != SQ_WAL_NONE) {
        sq_net_datagram(ctx, buf, len, received, end);
        return 0;
    }

    if (sq_decode(&ctx->dgram, buf, len) == SQ_DECODE_OK) {
        (void) sq_windows_ingest(&ctx->windows, &ctx->dgram,
                                 received / 1000);
    }

    return 0;
}


sq_wal_t *
sq_persist_wal(sq_ctx_t *ctx)
{
    return ctx->persist ? ctx->persist->wal : NULL;
}


/*
 * A datagram that ends at end in the ingest log was taken (merged or
 * rejected) at now: the first of a slot marks where that slot began.
 */

void
sq_persist_merged(sq_ctx_t *ctx, uint64_t end, int64_t now)
{
    int64_t        slot;
    sq_persist_t  *ps;

    ps = ctx->persist;

    if (ps == NULL || ps->wal == NULL || end == SQ_WAL_NONE) {
        return;
    }

    slot = now - now % ctx->windows.slot;

    if (slot > ps->merged_slot) {
        if (ps->nmarks < SQ_PERSIST_MARKS) {
            ps->marks[ps->nmarks].slot = slot;
            ps->marks[ps->nmarks].pos = ps->merged;
            ps->nmarks++;

        } else {
            ps->marks_full = 1;
        }

        ps->merged_slot = slot;
    }

    ps->merged = end;
}


/*
 * The position before which every datagram was merged in a slot up to
 * slot: where the next slot's merges began.  Without its mark (too many
 * slots went unwritten), where the last slot marked began.
 */

static uint64_t
sq_persist_stored_pos(sq_persist_t *ps, int64_t slot)
{
    size_t    i, j;
    uint64_t  pos;

    for (i = 0; i < ps->nmarks; i++) {
        if (ps->marks[i].slot > slot) {
            break;
        }
    }

    if (i < ps->nmarks) {
        pos = ps->marks[i].pos;

    } else if (ps->marks_full) {
        pos = (i > 0) ? ps->marks[i - 1].pos : sq_wal_stored_pos(ps->wal);
        ps->marks_full = 0;

    } else {
        pos = ps->merged;
    }

    /* the marks of slots stored are no longer needed */

    for (j = 0; i + j < ps->nmarks; j++) {
        ps->marks[j] = ps->marks[i + j];
    }

    ps->nmarks = j;

    return pos;
}


static void
sq_persist_wal_error(sq_persist_t *ps, const char *what, int64_t now)
{
    ps->stats.wal_errors++;

    if (now - ps->wal_logged < 60) {
        ps->wal_unlogged++;
        return;
    }

    sq_log(SQ_LOG_ERROR, "storage: ingest log \"%s\": %s: %s (%llu more "
           "since the last report)", sq_wal_dir(ps->wal), what,
           strerror(errno), (unsigned long long) ps->wal_unlogged);

    ps->wal_logged = now;
    ps->wal_unlogged = 0;
}


void
sq_persist_tick(sq_ctx_t *ctx, int64_t now)
{
    sq_persist_t  *ps;

    ps = ctx->persist;

    if (ps == NULL) {
        return;
    }

    /* the ingest log is synced once a tick, a second (by its thread) */

    if (ps->wal && sq_wal_sync(ps->wal) != SQ_OK) {
        sq_persist_wal_error(ps, "cannot sync", now);
    }

    /* a slot that failed is tried again once a tick */

    ps->retry = 0;

    sq_persist_pump(ctx, now);
}


/* the next job for the storage thread, when it has none */

static void
sq_persist_pump(sq_ctx_t *ctx, int64_t now)
{
    size_t                   k;
    int64_t                  cur, oldest;
    sq_windows_t            *a;
    sq_persist_t            *ps;
    sq_write_job_t          *job;
    const sq_alert_event_t  *ev;

    ps = ctx->persist;

    if (ps == NULL || ps->stopping || sq_writer_busy(ps->writer)) {
        return;
    }

    a = &ctx->windows;
    cur = now - now % a->slot;
    oldest = cur - (int64_t) a->nfine * a->slot;
    job = &ps->job;

    /* a new slot length after a reload, or a clock that went back */

    if (ps->next % a->slot != 0 || ps->next > cur) {
        ps->next = cur;
    }

    if (ps->next < oldest) {
        ps->next = oldest;
    }

    if (ps->next < cur && !ps->retry) {
        if (sq_persist_submit_slot(ctx, ps->next, 1) == SQ_OK) {
            return;
        }

        ps->stats.errors++;
        ps->retry = 1;

        if (now - ps->logged >= 60) {
            sq_log(SQ_LOG_ERROR, "storage: the slot of %lld: out of memory, "
                   "will retry", (long long) ps->next);
            ps->logged = now;
        }
    }

    memset(job, 0, sizeof(sq_write_job_t));

    if (ps->rec) {
        k = sq_alert_rec_take(ps->rec, SQ_ALERT_REC_SLICE, &ev);

        if (k) {
            job->op = SQ_WRITE_ALERTS;
            job->events = ev;
            job->nevents = k;
            sq_writer_submit(ps->writer, job);
            return;
        }
    }

    if (now - ps->expired >= 60) {
        ps->expired = now;
        job->op = SQ_WRITE_EXPIRE;
        job->before = now - ctx->conf->retention;
        sq_writer_submit(ps->writer, job);
        return;
    }

    /* one slice of the older tier a second, never a slot of the long
       window: the fine ring may write it again, a restart loads it */

    if (ctx->conf->slot_retention < ctx->conf->retention
        && ps->compacted != now)
    {
        ps->compacted = now;
        job->op = SQ_WRITE_COMPACT;
        job->now = now;
        job->slot_retention = ctx->conf->slot_retention;
        job->coarse_slot = ctx->conf->coarse_slot;
        job->guard = cur - a->long_window;
        sq_writer_submit(ps->writer, job);
    }
}


/*
 * The slot at start made into a batch, on the loop, and handed over:
 * SQ_OK, or SQ_ERR_NOMEM (nothing handed over).
 */

static int
sq_persist_submit_slot(sq_ctx_t *ctx, int64_t start, int complete)
{
    int             rc;
    double          t0, ms;
    sq_persist_t   *ps;
    sq_write_job_t *job;

    ps = ctx->persist;
    job = &ps->job;

    t0 = sq_persist_ms();
    rc = sq_store_batch_fill(&ps->batch, &ctx->windows, start, complete);
    ms = sq_persist_ms() - t0;

    ps->stats.prepare_seconds = ms / 1e3;

    if (ms > ps->stats.prepare_max * 1e3) {
        ps->stats.prepare_max = ms / 1e3;
    }

    if (rc != SQ_OK) {
        return rc;
    }

    ps->batch.hold = (complete && !ps->stopping)
                     ? sq_writer_hold(ps->writer) : NULL;

    memset(job, 0, sizeof(sq_write_job_t));
    job->op = SQ_WRITE_SLOT;
    job->batch = &ps->batch;

    ps->slot_out = 1;
    ps->slot = start;
    ps->again = 0;

    sq_writer_submit(ps->writer, job);

    return SQ_OK;
}


/* on the loop: the storage thread is done with its job */

static void
sq_persist_on_written(void *data)
{
    int64_t          now;
    sq_ctx_t        *ctx = data;
    sq_write_job_t  *job;

    if (ctx->persist == NULL) {
        return;
    }

    job = sq_writer_result(ctx->persist->writer);

    if (job == NULL) {
        return;
    }

    now = sq_now();
    sq_persist_done(ctx, job, now);
    sq_persist_pump(ctx, now);
}


static void
sq_persist_done(sq_ctx_t *ctx, sq_write_job_t *job, int64_t now)
{
    sq_persist_t  *ps;

    ps = ctx->persist;

    switch (job->op) {

    case SQ_WRITE_SLOT:
        sq_persist_slot_done(ctx, job, now);
        break;

    case SQ_WRITE_ALERTS:
        if (ps->rec) {
            sq_alert_rec_done(ps->rec, job->rc, job->err, job->ms / 1e3);
        }

        break;

    case SQ_WRITE_EXPIRE:
        if (job->rc != SQ_OK) {
            sq_log(SQ_LOG_ERROR, "storage: %s", job->err);

        } else if (job->n) {
            sq_log(SQ_LOG_DEBUG, "storage: %zu rows past retention deleted "
                   "in %.1f ms", job->n, job->ms);
        }

        break;

    case SQ_WRITE_COMPACT:
        ps->cs = job->cs;

        if (job->rc != SQ_OK && now - ps->logged >= 60) {
            sq_log(SQ_LOG_ERROR, "storage: %s, will retry", job->err);
            ps->logged = now;
        }

        break;
    }
}


/*
 * A slot's write came back: the bookkeeping a write on the loop did
 * after it, the same.
 */

static void
sq_persist_slot_done(sq_ctx_t *ctx, sq_write_job_t *job, int64_t now)
{
    int            again;
    size_t         n;
    int64_t        start, cur, oldest;
    sq_windows_t  *a;
    sq_persist_t  *ps;

    ps = ctx->persist;
    a = &ctx->windows;
    start = ps->slot;
    again = ps->again;
    ps->slot_out = 0;
    ps->again = 0;

    cur = now - now % a->slot;
    oldest = cur - (int64_t) a->nfine * a->slot;

    if (job->rc != SQ_OK) {
        ps->stats.errors++;

        if (start > oldest) {
            if (now - ps->logged >= 60) {
                sq_log(SQ_LOG_ERROR, "storage: %s, will retry", job->err);
                ps->logged = now;
            }

            ps->retry = 1;
            return;
        }

        /*
         * the oldest slot the windows hold, tried since it was over:
         * it is given up, its requests counted as lost inside the
         * collector in the database, where they are missing (in
         * memory they are still counted)
         */

        n = (size_t) sq_persist_slot_requests(a, start);
        a->workers.unstored += n;
        ps->stats.dropped++;

        sq_log(SQ_LOG_ERROR, "storage: %s, the slot of %lld given up: "
               "%zu requests not stored", job->err, (long long) start, n);
        ps->logged = now;

        if (ps->next == start && !again) {
            ps->next += a->slot;
        }

        return;
    }

    ps->stats.writes++;
    ps->stats.last_seconds = job->ms / 1e3;
    ps->stats.last_ok = now;

    /* a warning when the loop's part is slow, or the thread falls behind
       the slots */

    sq_log(ps->stats.prepare_seconds * 1e3 > SQ_PERSIST_SLOW_MS
           || job->ms > a->slot * 1e3 ? SQ_LOG_WARN : SQ_LOG_DEBUG,
           "storage: %zu rollups of %lld written in %.1f ms (%.1f ms of it "
           "on the loop)", job->n, (long long) start, job->ms,
           ps->stats.prepare_seconds * 1e3);

    /* written with the workers' state that goes with it (sq_store.c):
       its datagrams are no longer needed in the ingest log */

    if (ps->wal && ps->batch.state
        && sq_wal_stored(ps->wal, sq_persist_stored_pos(ps, start), start)
           != SQ_OK)
    {
        sq_persist_wal_error(ps, "cannot store the position", now);
    }

    /* filed into since its batch was made: written again */

    if (ps->next == start && !again) {
        ps->next += a->slot;
    }
}


/*
 * The job handed over, waited for, and the alert transitions queued,
 * written now: at exit, and before the alert history's queue goes.
 */

void
sq_persist_flush(sq_ctx_t *ctx)
{
    size_t                   k;
    sq_persist_t            *ps;
    sq_write_job_t          *job;
    const sq_alert_event_t  *ev;

    ps = ctx->persist;

    if (ps == NULL) {
        return;
    }

    job = sq_writer_wait(ps->writer);

    if (job) {
        sq_persist_done(ctx, job, sq_now());
    }

    while (ps->rec) {
        k = sq_alert_rec_take(ps->rec, SQ_ALERT_REC_SLICE, &ev);

        if (k == 0) {
            break;
        }

        job = &ps->job;
        memset(job, 0, sizeof(sq_write_job_t));
        job->op = SQ_WRITE_ALERTS;
        job->events = ev;
        job->nevents = k;

        sq_writer_submit(ps->writer, job);
        sq_persist_done(ctx, sq_writer_wait(ps->writer), sq_now());
    }
}


void
sq_persist_stop(sq_ctx_t *ctx)
{
    int64_t          now, cur, oldest;
    sq_windows_t    *a;
    sq_persist_t    *ps;
    sq_write_job_t  *job;

    ps = ctx->persist;

    if (ps == NULL) {
        return;
    }

    /* the write under way finishes; the alert history is written */

    sq_persist_flush(ctx);
    ps->stopping = 1;

    a = &ctx->windows;
    now = sq_now();
    cur = now - now % a->slot;
    oldest = cur - (int64_t) a->nfine * a->slot;

    if (ps->next % a->slot != 0 || ps->next > cur) {
        ps->next = cur;
    }

    if (ps->next < oldest) {
        ps->next = oldest;
    }

    /* the slots that are over, as a tick writes them, until one fails */

    ps->retry = 0;

    while (ps->next < cur && !ps->retry) {
        if (sq_persist_submit_slot(ctx, ps->next, 1) != SQ_OK) {
            sq_log(SQ_LOG_ERROR, "storage: the slot of %lld: out of memory",
                   (long long) ps->next);
            break;
        }

        sq_persist_done(ctx, sq_writer_wait(ps->writer), now);
    }

    /* the current slot, not over yet: loaded back and completed later */

    if (sq_persist_submit_slot(ctx, cur, 0) != SQ_OK) {
        sq_log(SQ_LOG_ERROR, "storage: the current slot: out of memory");

    } else {
        job = sq_writer_wait(ps->writer);
        ps->slot_out = 0;

        if (job->rc != SQ_OK) {
            sq_log(SQ_LOG_ERROR, "storage: %s", job->err);

        } else {
            sq_log(SQ_LOG_INFO, "storage: %zu rollups of the current slot "
                   "written", job->n);

            /* everything taken is in the database */

            if (ps->wal
                && sq_wal_stored(ps->wal, sq_wal_end(ps->wal), INT64_MAX)
                   != SQ_OK)
            {
                sq_persist_wal_error(ps, "cannot store the position", now);
            }
        }
    }

    sq_writer_stop(ps->writer);
    sq_wal_close(ps->wal);
    sq_store_close(ps->store);
    sq_store_batch_free(&ps->batch);
    free(ps);
    ctx->store = NULL;
    ctx->persist = NULL;
}


void
sq_persist_stats(const sq_ctx_t *ctx, int64_t now, sq_persist_stats_t *st)
{
    int64_t        cur;
    sq_persist_t  *ps;

    ps = ctx->persist;

    if (ps == NULL) {
        memset(st, 0, sizeof(sq_persist_stats_t));
        return;
    }

    *st = ps->stats;
    st->on = 1;
    st->merged_rows = ps->cs.rows;
    st->merge_slices = ps->cs.slices;
    st->merge_slice_max = ps->cs.max_ms / 1000;

    if (ps->wal) {
        st->wal_errors += sq_wal_errors(ps->wal);
    }

    cur = now - now % ctx->windows.slot;
    st->pending = (ps->next < cur)
                  ? (uint64_t) ((cur - ps->next) / ctx->windows.slot) : 0;
}


/*
 * Slots datagrams were filed into after they could have been written
 * (sq_windows_rewrite()): the next tick writes them again, from the
 * oldest (rows are replaced).  The slot whose batch is with the storage
 * thread may miss them: it is written again too.
 */

void
sq_persist_rewind(sq_ctx_t *ctx)
{
    int64_t        start;
    sq_persist_t  *ps;

    start = sq_windows_rewrite(&ctx->windows);
    ps = ctx->persist;

    if (ps == NULL) {
        return;
    }

    if (ps->slot_out && start <= ps->slot) {
        ps->again = 1;
    }

    if (start < ps->next) {
        ps->next = start;
    }
}


/* the alert history's queue (sq_alert_rec.c), or NULL when it goes */

void
sq_persist_alert_rec(sq_ctx_t *ctx, struct sq_alert_rec_s *r)
{
    if (ctx->persist) {
        ctx->persist->rec = r;
    }
}


/* alert transitions were queued: written when the thread is free */

void
sq_persist_kick(sq_ctx_t *ctx)
{
    sq_persist_pump(ctx, sq_now());
}
