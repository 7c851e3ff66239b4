
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#include "sq_collector.h"
#include "sq_compact.h"
#include "sq_config.h"
#include "sq_conf_listen.h"
#include "sq_slot.h"


/*
 * A pass visits the series in id order (a seek each: rollups and coarse
 * are keyed by series first) and merges each one's fine rows older than
 * the cut, oldest first, one coarse slot at a time.  A slice stops at a
 * coarse slot's boundary once it has merged SQ_COMPACT_ROWS rows, so a
 * series with many old rows (a database of schema 4, every minute of the
 * retention) takes several slices; the cursor stays on it.
 */

#define SQ_COMPACT_MAX_SLOT  86400  /* counters of a slot are 32 bits */


struct sq_compact_s {
    sq_store_t      *store;
    sqlite3         *db;

    sqlite3_stmt    *any_fine;
    sqlite3_stmt    *next_series;
    sqlite3_stmt    *get_fine;
    sqlite3_stmt    *del_fine;
    sqlite3_stmt    *get_coarse;
    sqlite3_stmt    *put_coarse;

    int64_t          cursor;      /* the last series done in this pass */
    int              active;      /* a pass is under way */
    int64_t          idle_before; /* nothing older than this was left */

    sq_slot_t        acc;         /* the coarse slot being merged */
    unsigned char   *packed;

    uint64_t         pass_rows;
    uint64_t         pass_slices;
    double           pass_ms;
    double           pass_max;

    sq_compact_stats_t  stats;
};


static double sq_compact_ms(void);
static const char *sq_compact_dur(char *buf, size_t len, int64_t secs);
static int sq_compact_flush(sq_compact_t *c, int64_t series, int64_t t,
    int64_t secs, int64_t nslots);
static int sq_compact_series(sq_compact_t *c, int64_t series,
    int64_t before, int64_t secs, size_t max, size_t *rows, int *partial);


static double
sq_compact_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}


/* a duration as the config writes it: 2d, 1h, 90s */

static const char *
sq_compact_dur(char *buf, size_t len, int64_t secs)
{
    if (secs % 86400 == 0) {
        snprintf(buf, len, "%lldd", (long long) (secs / 86400));

    } else if (secs % 3600 == 0) {
        snprintf(buf, len, "%lldh", (long long) (secs / 3600));

    } else if (secs % 60 == 0) {
        snprintf(buf, len, "%lldm", (long long) (secs / 60));

    } else {
        snprintf(buf, len, "%llds", (long long) secs);
    }

    return buf;
}


sq_compact_t *
sq_compact_open(sq_store_t *st)
{
    static const struct {
        size_t       off;
        const char  *sql;
    } stmts[] = {
        { offsetof(sq_compact_t, any_fine),
          "SELECT 1 FROM rollups WHERE t < ?1 LIMIT 1" },
        { offsetof(sq_compact_t, next_series),
          "SELECT id FROM series WHERE id > ?1 ORDER BY id LIMIT 1" },
        { offsetof(sq_compact_t, get_fine),
          "SELECT t, slot FROM rollups WHERE series = ?1 AND t < ?2 "
          "ORDER BY t" },
        { offsetof(sq_compact_t, del_fine),
          "DELETE FROM rollups WHERE series = ?1 AND t < ?2" },
        { offsetof(sq_compact_t, get_coarse),
          "SELECT secs, slots, slot FROM coarse WHERE series = ?1 AND t = ?2" },
        { offsetof(sq_compact_t, put_coarse),
          "INSERT OR REPLACE INTO coarse (series, t, secs, requests, beacons, "
          "slots, slot) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)" }
    };

    size_t          i;
    sqlite3_stmt  **sp;
    sq_compact_t   *c;

    c = calloc(1, sizeof(sq_compact_t));
    if (c == NULL) {
        return NULL;
    }

    c->store = st;
    c->db = (sqlite3 *) sq_store_db(st);
    c->packed = malloc(SQ_SLOT_PACKED_MAX);
    sq_slot_init(&c->acc, 0);

    if (c->packed == NULL) {
        sq_compact_close(c);
        return NULL;
    }

    for (i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        sp = (sqlite3_stmt **) ((char *) c + stmts[i].off);

        if (sqlite3_prepare_v3(c->db, stmts[i].sql, -1,
                               SQLITE_PREPARE_PERSISTENT, sp, NULL)
            != SQLITE_OK)
        {
            sq_store_error(st, "cannot prepare a statement");
            sq_compact_close(c);
            return NULL;
        }
    }

    return c;
}


void
sq_compact_close(sq_compact_t *c)
{
    if (c == NULL) {
        return;
    }

    sqlite3_finalize(c->any_fine);
    sqlite3_finalize(c->next_series);
    sqlite3_finalize(c->get_fine);
    sqlite3_finalize(c->del_fine);
    sqlite3_finalize(c->get_coarse);
    sqlite3_finalize(c->put_coarse);

    sq_slot_free(&c->acc);
    free(c->packed);
    free(c);
}


/*
 * Writes the coarse slot merged in c->acc (nslots fine rows) as the row
 * (series, t), added to the row already there: a slot cut by a slice or
 * merged in an earlier pass.  A row of another length there (the coarse
 * slot was changed) is added to as well and keeps the longer length.
 */

static int
sq_compact_flush(sq_compact_t *c, int64_t series, int64_t t, int64_t secs,
    int64_t nslots)
{
    int                   rc;
    size_t                len;
    int64_t               had;
    sqlite3_stmt         *q;
    const unsigned char  *blob;

    q = c->get_coarse;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, series);
    sqlite3_bind_int64(q, 2, t);

    rc = sqlite3_step(q);

    if (rc == SQLITE_ROW) {
        had = sqlite3_column_int64(q, 0);
        nslots += sqlite3_column_int64(q, 1);
        blob = sqlite3_column_blob(q, 2);
        len = (size_t) sqlite3_column_bytes(q, 2);

        if (had > secs) {
            secs = had;
        }

        rc = sq_slot_check(blob, len);

        if (rc == SQ_OK) {
            rc = sq_slot_unpack(blob, len, &c->acc);
        }

        sqlite3_reset(q);

        if (rc == SQ_ERR_CORRUPT) {
            return sq_store_damaged(c->store, series, t);
        }

        if (rc != SQ_OK) {
            return rc;
        }

    } else {
        sqlite3_reset(q);

        if (rc != SQLITE_DONE) {
            return sq_store_error(c->store, "cannot read a coarse rollup");
        }
    }

    len = sq_slot_pack(&c->acc, c->packed);

    q = c->put_coarse;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, series);
    sqlite3_bind_int64(q, 2, t);
    sqlite3_bind_int64(q, 3, secs);
    sqlite3_bind_int64(q, 4, c->acc.c[SQ_C_REQUESTS]);
    sqlite3_bind_int64(q, 5, c->acc.b
                             ? (sqlite3_int64) c->acc.b->c[SQ_BC_BEACONS]
                             : 0);
    sqlite3_bind_int64(q, 6, nslots);
    sqlite3_bind_blob(q, 7, c->packed, (int) len, SQLITE_STATIC);

    rc = sqlite3_step(q);
    sqlite3_reset(q);

    if (rc != SQLITE_DONE) {
        return sq_store_error(c->store, "cannot write a coarse rollup");
    }

    c->stats.coarse++;

    return SQ_OK;
}


/*
 * The fine rows of one series older than before, merged a coarse slot
 * at a time; stops at a coarse slot's boundary once *rows reaches max
 * (*partial = 1): the rows merged are deleted, the rest stay for the
 * next slice.
 */

static int
sq_compact_series(sq_compact_t *c, int64_t series, int64_t before,
    int64_t secs, size_t max, size_t *rows, int *partial)
{
    int                   rc, ret;
    size_t                len;
    int64_t               t, b, cur, n, stop, done;
    sqlite3_stmt         *q;
    const unsigned char  *blob;

    q = c->get_fine;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, series);
    sqlite3_bind_int64(q, 2, before);

    cur = INT64_MIN;
    n = 0;
    done = 0;
    stop = before;
    ret = SQ_OK;
    *partial = 0;

    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        t = sqlite3_column_int64(q, 0);
        b = t - ((t % secs) + secs) % secs;

        if (b != cur) {
            if (cur != INT64_MIN) {
                ret = sq_compact_flush(c, series, cur, secs, n);

                if (ret != SQ_OK) {
                    break;
                }

                cur = INT64_MIN;
            }

            if (*rows >= max) {
                stop = b;
                *partial = 1;
                break;
            }

            cur = b;
            n = 0;
            sq_slot_reset(&c->acc, b);
        }

        blob = sqlite3_column_blob(q, 1);
        len = (size_t) sqlite3_column_bytes(q, 1);

        ret = sq_slot_check(blob, len);

        if (ret == SQ_OK) {
            ret = sq_slot_unpack(blob, len, &c->acc);
        }

        if (ret == SQ_ERR_CORRUPT) {
            ret = sq_store_damaged(c->store, series, t);
        }

        if (ret != SQ_OK) {
            break;
        }

        n++;
        done++;
        (*rows)++;
    }

    sqlite3_reset(q);

    if (ret != SQ_OK) {
        return ret;
    }

    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        return sq_store_error(c->store, "cannot read rollups");
    }

    if (cur != INT64_MIN) {
        ret = sq_compact_flush(c, series, cur, secs, n);

        if (ret != SQ_OK) {
            return ret;
        }
    }

    if (done == 0) {
        return SQ_OK;
    }

    q = c->del_fine;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, series);
    sqlite3_bind_int64(q, 2, stop);

    rc = sqlite3_step(q);
    sqlite3_reset(q);

    if (rc != SQLITE_DONE) {
        return sq_store_error(c->store, "cannot delete merged rollups");
    }

    return SQ_OK;
}


int
sq_compact_slice(sq_compact_t *c, int64_t before, int64_t secs, size_t max,
    size_t *rows, int *more)
{
    int            rc, partial;
    size_t         visited;
    int64_t        id, cursor;
    sqlite3_stmt  *q;

    *rows = 0;
    *more = 0;
    cursor = c->cursor;
    visited = 0;

    if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)
        != SQLITE_OK)
    {
        return sq_store_error(c->store, "cannot begin a compaction");
    }

    for ( ;; ) {
        q = c->next_series;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, c->cursor);

        rc = sqlite3_step(q);
        id = (rc == SQLITE_ROW) ? sqlite3_column_int64(q, 0) : 0;
        sqlite3_reset(q);

        if (rc == SQLITE_DONE) {
            /* the pass is over */
            c->cursor = 0;
            break;
        }

        if (rc != SQLITE_ROW) {
            rc = sq_store_error(c->store, "cannot read series");
            goto failed;
        }

        rc = sq_compact_series(c, id, before, secs, max, rows, &partial);

        if (rc != SQ_OK) {
            goto failed;
        }

        if (partial) {
            *more = 1;
            break;
        }

        c->cursor = id;

        if (*rows >= max || ++visited >= SQ_COMPACT_SERIES) {
            *more = 1;
            break;
        }
    }

    if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = sq_store_error(c->store, "cannot commit a compaction");
        goto failed;
    }

    c->stats.rows += *rows;
    c->stats.slices++;

    return SQ_OK;

failed:

    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    c->cursor = cursor;
    *rows = 0;
    *more = 1;

    return rc;
}


int
sq_compact_tick(sq_compact_t *c, int64_t now, int64_t slot_retention,
    int64_t coarse_slot, int64_t guard)
{
    int      rc, more;
    char     buf[32];
    double   t0, ms;
    size_t   rows;
    int64_t  cut, before;

    if (coarse_slot <= 0) {
        return SQ_OK;
    }

    cut = now - slot_retention;

    if (cut > guard) {
        cut = guard;
    }

    before = cut - ((cut % coarse_slot) + coarse_slot) % coarse_slot;

    if (!c->active) {
        if (before <= c->idle_before) {
            return SQ_OK;
        }

        sqlite3_reset(c->any_fine);
        sqlite3_bind_int64(c->any_fine, 1, before);
        rc = sqlite3_step(c->any_fine);
        sqlite3_reset(c->any_fine);

        if (rc == SQLITE_DONE) {
            c->idle_before = before;
            return SQ_OK;
        }

        if (rc != SQLITE_ROW) {
            return sq_store_error(c->store, "cannot read rollups");
        }

        c->active = 1;
        c->cursor = 0;
        c->pass_rows = 0;
        c->pass_slices = 0;
        c->pass_ms = 0;
        c->pass_max = 0;
    }

    t0 = sq_compact_ms();

    rc = sq_compact_slice(c, before, coarse_slot, SQ_COMPACT_ROWS, &rows,
                          &more);

    ms = sq_compact_ms() - t0;

    c->stats.busy_ms += ms;
    c->stats.last_ms = ms;

    if (ms > c->stats.max_ms) {
        c->stats.max_ms = ms;
    }

    if (rc != SQ_OK) {
        return rc;
    }

    c->pass_rows += rows;
    c->pass_slices++;
    c->pass_ms += ms;

    if (ms > c->pass_max) {
        c->pass_max = ms;
    }

    sq_log(SQ_LOG_DEBUG, "storage: compaction slice: %zu rollups merged "
           "in %.1f ms", rows, ms);

    if (more) {
        return SQ_OK;
    }

    c->active = 0;
    c->stats.rounds++;

    if (c->pass_rows) {
        sq_log(SQ_LOG_INFO, "storage: %llu rollups before %lld merged into "
               "rows of %s in %llu slices, %.1f ms (%.0f rows/s), the "
               "longest slice %.1f ms",
               (unsigned long long) c->pass_rows, (long long) before,
               sq_compact_dur(buf, sizeof(buf), coarse_slot),
               (unsigned long long) c->pass_slices, c->pass_ms,
               c->pass_ms > 0 ? c->pass_rows / (c->pass_ms / 1e3) : 0.0,
               c->pass_max);
    }

    return SQ_OK;
}


void
sq_compact_stats(const sq_compact_t *c, sq_compact_stats_t *s)
{
    *s = c->stats;
}


void
sq_compact_conf_check(sq_conf_reader_t *rd, yaml_node_t *node, char *base,
    size_t index, const char *path)
{
    char          buf[32];
    sq_conf_t    *conf;
    yaml_node_t  *sr, *cs;

    conf = sq_conf_field(base, 0, sq_conf_t);

    sr = sq_conf_value(rd, node, "slot_retention");
    cs = sq_conf_value(rd, node, "coarse_slot");

    /* the default slot_retention (2d) over a shorter retention: no
       coarse tier, fine rows for the whole retention */

    if (sr && conf->slot_retention >= conf->retention) {
        sq_conf_error(rd, sq_conf_line(sr), "storage.slot_retention",
                      "must be shorter than storage.retention (%s)",
                      sq_compact_dur(buf, sizeof(buf), conf->retention));
    }

    if (cs && conf->coarse_slot > SQ_COMPACT_MAX_SLOT) {
        sq_conf_error(rd, sq_conf_line(cs), "storage.coarse_slot",
                      "at most 1d");
        return;
    }

    if ((cs || sr) && conf->slot_retention < conf->retention
        && conf->coarse_slot > conf->slot_retention)
    {
        sq_conf_error(rd, sq_conf_line(cs ? cs : sr), "storage.coarse_slot",
                      "must not be longer than storage.slot_retention "
                      "(%s)", sq_compact_dur(buf, sizeof(buf),
                                             conf->slot_retention));
    }
}
