
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sq_persist.h"


#define SQ_PERSIST_SLOW_MS  200


struct sq_persist_s {
    sq_store_t    *store;
    int64_t        next;          /* the next slot to write */
    int64_t        expired;       /* when retention last ran */
    int64_t        logged;        /* when a write error was last logged */
};


static double sq_persist_ms(void);


static double
sq_persist_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}


int
sq_persist_start(sq_ctx_t *ctx)
{
    int            rc;
    char           err[600];
    size_t         n;
    int64_t        now;
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

    rc = sq_store_expire(st, now - ctx->conf->retention, NULL);

    if (rc == SQ_OK) {
        rc = sq_store_load(st, &ctx->windows, now, &n);
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

    return SQ_OK;
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
            if (now - ps->logged >= 60) {
                sq_log(SQ_LOG_ERROR, "storage: %s, will retry",
                       sq_store_strerror(st));
                ps->logged = now;
            }

            return;
        }

        ms = sq_persist_ms() - t0;

        sq_log(ms > SQ_PERSIST_SLOW_MS ? SQ_LOG_WARN : SQ_LOG_DEBUG,
               "storage: %zu rollups of %lld written in %.1f ms", n,
               (long long) ps->next, ms);

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
    }

    sq_store_close(st);
    free(ps);
    ctx->store = NULL;
    ctx->persist = NULL;
}
