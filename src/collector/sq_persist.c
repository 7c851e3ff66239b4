
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sq_compact.h"
#include "sq_persist.h"
#include "sq_wal.h"


#define SQ_PERSIST_SLOW_MS  200
#define SQ_PERSIST_MARKS    1024


/* where in the ingest log the merges of a slot began */

typedef struct {
    int64_t        slot;
    uint64_t       pos;
} sq_persist_mark_t;


struct sq_persist_s {
    sq_store_t    *store;
    sq_compact_t  *compact;       /* the older tier (sq_compact.h) */
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

    if (rc == SQ_OK) {
        ps->compact = sq_compact_open(st);

        if (ps->compact == NULL) {
            rc = SQ_ERR_STORE;
        }
    }

    if (rc != SQ_OK) {
        sq_log(SQ_LOG_ERROR, "storage: %s", sq_store_strerror(st));
        sq_store_close(st);
        free(ps);
        return rc;
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
    double         t0, ms;
    size_t         n;
    int64_t        cur, oldest;
    sq_store_t    *st;
    sq_windows_t  *a;
    sq_persist_t  *ps;

    ps = ctx->persist;

    if (ps == NULL) {
        return;
    }

    st = ps->store;
    a = &ctx->windows;
    cur = now - now % a->slot;
    oldest = cur - (int64_t) a->nfine * a->slot;

    /* the ingest log is synced once a tick, a second */

    if (ps->wal && sq_wal_sync(ps->wal) != SQ_OK) {
        sq_persist_wal_error(ps, "cannot sync", now);
    }

    /* a new slot length after a reload, or a clock that went back */

    if (ps->next % a->slot != 0 || ps->next > cur) {
        ps->next = cur;
    }

    if (ps->next < oldest) {
        ps->next = oldest;
    }

    while (ps->next < cur) {
        t0 = sq_persist_ms();

        if (sq_store_write_slot(st, a, ps->next, 1, &n) != SQ_OK) {
            ps->stats.errors++;

            if (ps->next > oldest) {
                if (now - ps->logged >= 60) {
                    sq_log(SQ_LOG_ERROR, "storage: %s, will retry",
                           sq_store_strerror(st));
                    ps->logged = now;
                }

                return;
            }

            /*
             * the oldest slot the windows hold, tried since it was over:
             * it is given up, its requests counted as lost inside the
             * collector in the database, where they are missing (in
             * memory they are still counted)
             */

            n = (size_t) sq_persist_slot_requests(a, ps->next);
            a->workers.unstored += n;
            ps->stats.dropped++;

            sq_log(SQ_LOG_ERROR, "storage: %s, the slot of %lld given up: "
                   "%zu requests not stored", sq_store_strerror(st),
                   (long long) ps->next, n);
            ps->logged = now;

            ps->next += a->slot;
            continue;
        }

        ms = sq_persist_ms() - t0;

        ps->stats.writes++;
        ps->stats.last_seconds = ms / 1e3;
        ps->stats.last_ok = now;

        sq_log(ms > SQ_PERSIST_SLOW_MS ? SQ_LOG_WARN : SQ_LOG_DEBUG,
               "storage: %zu rollups of %lld written in %.1f ms", n,
               (long long) ps->next, ms);

        /* written with the workers' state that goes with it (sq_store.c):
           its datagrams are no longer needed in the ingest log */

        if (ps->wal && a->minute <= ps->next + a->slot
            && sq_wal_stored(ps->wal, sq_persist_stored_pos(ps, ps->next),
                             ps->next)
               != SQ_OK)
        {
            sq_persist_wal_error(ps, "cannot store the position", now);
        }

        ps->next += a->slot;
    }

    if (now - ps->expired >= 60) {
        ps->expired = now;
        t0 = sq_persist_ms();

        if (sq_store_expire(st, now - ctx->conf->retention, &n) != SQ_OK) {
            sq_log(SQ_LOG_ERROR, "storage: %s", sq_store_strerror(st));
            return;
        }

        if (n) {
            sq_log(SQ_LOG_DEBUG, "storage: %zu rows past retention deleted "
                   "in %.1f ms", n, sq_persist_ms() - t0);
        }
    }

    /* one slice of the older tier a tick, never a slot of the long
       window: the fine ring may write it again, a restart loads it */

    if (ctx->conf->slot_retention < ctx->conf->retention
        && sq_compact_tick(ps->compact, now, ctx->conf->slot_retention,
                           ctx->conf->coarse_slot, cur - a->long_window)
           != SQ_OK
        && now - ps->logged >= 60)
    {
        sq_log(SQ_LOG_ERROR, "storage: %s, will retry",
               sq_store_strerror(st));
        ps->logged = now;
    }
}


void
sq_persist_stop(sq_ctx_t *ctx)
{
    size_t         n;
    int64_t        now;
    sq_store_t    *st;
    sq_persist_t  *ps;

    ps = ctx->persist;

    if (ps == NULL) {
        return;
    }

    st = ps->store;
    now = sq_now();
    sq_persist_tick(ctx, now);

    /* the current slot, not over yet: loaded back and completed later */

    if (sq_store_write_slot(st, &ctx->windows,
                            now - now % ctx->windows.slot, 0, &n)
        != SQ_OK)
    {
        sq_log(SQ_LOG_ERROR, "storage: %s", sq_store_strerror(st));

    } else {
        sq_log(SQ_LOG_INFO, "storage: %zu rollups of the current slot "
               "written", n);

        /* everything taken is in the database */

        if (ps->wal
            && sq_wal_stored(ps->wal, sq_wal_end(ps->wal), INT64_MAX)
               != SQ_OK)
        {
            sq_persist_wal_error(ps, "cannot store the position", now);
        }
    }

    sq_wal_close(ps->wal);
    sq_compact_close(ps->compact);
    sq_store_close(st);
    free(ps);
    ctx->store = NULL;
    ctx->persist = NULL;
}


void
sq_persist_stats(const sq_ctx_t *ctx, int64_t now, sq_persist_stats_t *st)
{
    int64_t             cur;
    sq_persist_t       *ps;
    sq_compact_stats_t  cs;

    ps = ctx->persist;

    if (ps == NULL) {
        memset(st, 0, sizeof(sq_persist_stats_t));
        return;
    }

    *st = ps->stats;
    st->on = 1;

    if (ps->compact) {
        sq_compact_stats(ps->compact, &cs);
        st->merged_rows = cs.rows;
        st->merge_slices = cs.slices;
        st->merge_slice_max = cs.max_ms / 1000;
    }

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
 * oldest (rows are replaced).
 */

void
sq_persist_rewind(sq_ctx_t *ctx)
{
    int64_t        start;
    sq_persist_t  *ps;

    start = sq_windows_rewrite(&ctx->windows);
    ps = ctx->persist;

    if (ps != NULL && start < ps->next) {
        ps->next = start;
    }
}
