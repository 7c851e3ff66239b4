
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* The history store's schema 1 (three BLOBs of its own codec) migrated to
   schema 2 (the packed slot): rows converted once, history and windows
   read back the same, a damaged row stops the migration and changes
   nothing; a damaged packed slot is refused at load. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "tap.h"
#include "sq_history.h"
#include "sq_store.h"


/* the schema of version 1, as that collector created it */

static const char  *v1_schema =
    "CREATE TABLE series (id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL,"
    "  region TEXT NOT NULL, segment TEXT NOT NULL,"
    "  UNIQUE (endpoint, region, segment));"
    "CREATE TABLE rollups (series INTEGER NOT NULL, t INTEGER NOT NULL,"
    "  secs INTEGER NOT NULL, complete INTEGER NOT NULL,"
    "  requests INTEGER NOT NULL, counters BLOB NOT NULL, rt BLOB NOT NULL,"
    "  ttfb BLOB NOT NULL, PRIMARY KEY (series, t)) WITHOUT ROWID;"
    "CREATE INDEX rollups_t ON rollups (t);"
    "CREATE TABLE alerts (id INTEGER PRIMARY KEY, t INTEGER NOT NULL,"
    "  status TEXT NOT NULL, severity TEXT NOT NULL,"
    "  endpoint TEXT NOT NULL, region TEXT NOT NULL,"
    "  segment TEXT NOT NULL, journey TEXT, dimension TEXT NOT NULL,"
    "  indicator TEXT NOT NULL, value REAL, adequate REAL, desired REAL,"
    "  msa REAL, since INTEGER NOT NULL, labels TEXT NOT NULL);"
    "CREATE INDEX alerts_t ON alerts (t);"
    "INSERT INTO series VALUES (1, 'checkout', 'US', '');"
    "INSERT INTO series VALUES (2, 'checkout', 'BR', 'premium');"
    "PRAGMA user_version = 1;";


typedef struct {
    size_t     n;
    uint64_t   requests;
    uint64_t   rt;
    uint64_t   c5xx;
    uint64_t   bytes;
} hsum_t;


static unsigned char *
put(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char) (v | 0x80);
        v >>= 7;
    }

    *p++ = (unsigned char) v;

    return p;
}


/* a rollup as version 1 wrote it: ncounters counters, all written */

static size_t
v1_row(sqlite3 *db, int series, int64_t t, uint64_t n, uint64_t c5xx,
    uint32_t idx, int ncounters, int truncate)
{
    int             k;
    size_t          blobs;
    sqlite3_stmt   *s;
    unsigned char   c[256], rt[64], tt[64], *p, *q, *r;

    p = put(c, (uint64_t) ncounters);

    for (k = 0; k < ncounters; k++) {
        p = put(p, k == SQ_C_REQUESTS ? n : k == SQ_C_5XX ? c5xx
                   : k == SQ_C_2XX ? n - c5xx : k == SQ_C_BYTES ? n * 1000
                   : k >= SQ_WIRE_NCOUNTERS ? 77 : 0);
    }

    q = put(rt, 2);
    q = put(q, idx);
    q = put(q, n);
    q = put(q, 300);
    q = put(q, 1);

    r = put(tt, 1);
    r = put(r, idx);
    r = put(r, n);

    if (truncate) {
        p = c + 3;
    }

    sqlite3_prepare_v2(db, "INSERT INTO rollups VALUES "
                       "(?1, ?2, 60, 1, ?3, ?4, ?5, ?6)", -1, &s, NULL);
    sqlite3_bind_int(s, 1, series);
    sqlite3_bind_int64(s, 2, t);
    sqlite3_bind_int64(s, 3, (int64_t) n);
    sqlite3_bind_blob(s, 4, c, (int) (p - c), SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 5, rt, (int) (q - rt), SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 6, tt, (int) (r - tt), SQLITE_TRANSIENT);
    sqlite3_step(s);
    sqlite3_finalize(s);

    blobs = (size_t) ((p - c) + (q - rt) + (r - tt));

    return blobs;
}


static int64_t
one(sqlite3 *db, const char *sql)
{
    int64_t        v;
    sqlite3_stmt  *s;

    v = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW) {
            v = sqlite3_column_int64(s, 0);
        }

        sqlite3_finalize(s);
    }

    return v;
}


static int
on_point(void *data, const sq_history_point_t *p)
{
    hsum_t  *h = data;

    h->n++;
    h->requests += p->win->c[SQ_C_REQUESTS];
    h->rt += p->win->h[SQ_H_RT].total;
    h->c5xx += p->win->c[SQ_C_5XX];
    h->bytes += p->win->c[SQ_C_BYTES];

    return 0;
}


int
main(void)
{
    int            fd;
    char           path[64], err[512];
    size_t         n, old, nrows;
    int64_t        t0, now, blob;
    hsum_t         h;
    sqlite3       *db;
    sq_win_t       w;
    sq_store_t    *st;
    sq_windows_t   a;

    strcpy(path, "/tmp/servqual-migrate-XXXXXX");
    fd = mkstemp(path);
    close(fd);
    unlink(path);

    t0 = 1700000040;
    now = t0 + 90;

    /* a database of version 1 with three rollups, one of them with more
       counters than this collector knows */

    sqlite3_open(path, &db);
    ok(sqlite3_exec(db, v1_schema, NULL, NULL, NULL) == SQLITE_OK,
       "a database of schema 1");
    old = v1_row(db, 1, t0, 100, 3, 500, SQ_WIRE_NCOUNTERS, 0);
    old += v1_row(db, 2, t0, 50, 0, 600, SQ_WIRE_NCOUNTERS, 0);
    old += v1_row(db, 1, t0 + 60, 10, 1, 500, SQ_WIRE_NCOUNTERS + 2, 0);
    sqlite3_close(db);

    st = sq_store_open(path, err, sizeof(err));
    ok(st != NULL, "opened and migrated (%s)", st ? "" : err);
    if (st == NULL) {
        return done_testing();
    }

    sq_store_close(st);

    sqlite3_open(path, &db);
    is_int(one(db, "PRAGMA user_version"), SQ_STORE_SCHEMA, "schema 2");
    is_int(one(db, "SELECT count(*) FROM sqlite_master "
                   "WHERE name = 'rollups_v1'"), 0, "the old table is gone");
    nrows = (size_t) one(db, "SELECT count(*) FROM rollups");
    is_int(nrows, 3, "every row converted");
    blob = one(db, "SELECT sum(length(slot)) FROM rollups");
    printf("# BLOB bytes of 3 rows: %zu in schema 1, %lld in schema 2\n",
           old, (long long) blob);
    ok(blob > 0 && (size_t) blob < old, "the packed slot is smaller");
    is_int(one(db, "SELECT requests FROM rollups WHERE t = 1700000100"), 10,
           "the requests column kept");
    sqlite3_close(db);

    st = sq_store_open(path, err, sizeof(err));

    memset(&h, 0, sizeof(h));
    ok(sq_history_points(st, "checkout", NULL, NULL, t0, t0 + 120, on_point,
                         &h) == SQ_OK, "history read");
    is_int(h.n, 2, "two points");
    is_int(h.requests, 160, "requests read back");
    is_int(h.rt, 163, "histograms read back");
    is_int(h.c5xx, 4, "counters read back");
    is_int(h.bytes, 160000, "bytes read back");

    sq_windows_init(&a, 60, 300, 3600, 100, 7200, 100);
    ok(sq_store_load(st, &a, now, &n) == SQ_OK, "loaded");
    is_int(n, 3, "three rollups loaded");
    is_int(a.n, 2, "two series");

    sq_win_init(&w);

    if (a.n == 2) {
        sq_windows_window(&a, strcmp(a.all[0]->region, "US") == 0
                              ? a.all[0] : a.all[1], SQ_WIN_SHORT, now, &w);
    }

    is_int(w.c[SQ_C_REQUESTS], 110, "the short window of US");
    is_int(w.c[SQ_C_2XX], 106, "its 2xx");
    is_int(w.h[SQ_H_TTFB].total, 110, "its ttfb");
    sq_win_free(&w);
    sq_windows_free(&a);

    /* a damaged packed slot is refused at load, with the series' name */

    sqlite3_open(path, &db);
    sqlite3_exec(db, "UPDATE rollups SET slot = x'ff' WHERE series = 2",
                 NULL, NULL, NULL);
    sqlite3_close(db);

    sq_windows_init(&a, 60, 300, 3600, 100, 7200, 100);
    is_int(sq_store_load(st, &a, now, &n), SQ_ERR_CORRUPT,
           "a damaged slot: not loaded");
    ok(strstr(sq_store_strerror(st), "checkout")
       && strstr(sq_store_strerror(st), "damaged"),
       "the reason: %s", sq_store_strerror(st));
    sq_windows_free(&a);

    memset(&h, 0, sizeof(h));
    is_int(sq_history_points(st, "checkout", NULL, NULL, t0, t0 + 120,
                             on_point, &h), SQ_ERR_CORRUPT,
           "nor read as history");
    sq_store_close(st);
    unlink(path);

    /* a damaged row of schema 1: the migration stops, nothing changes */

    sqlite3_open(path, &db);
    sqlite3_exec(db, v1_schema, NULL, NULL, NULL);
    v1_row(db, 1, t0, 100, 3, 500, SQ_WIRE_NCOUNTERS, 0);
    v1_row(db, 2, t0, 50, 0, 600, SQ_WIRE_NCOUNTERS, 1);
    sqlite3_close(db);

    st = sq_store_open(path, err, sizeof(err));
    ok(st == NULL, "a damaged row of schema 1: not opened");
    ok(strstr(err, path) && strstr(err, "damaged"), "the reason: %s", err);

    sqlite3_open(path, &db);
    is_int(one(db, "PRAGMA user_version"), 1, "still schema 1");
    is_int(one(db, "SELECT count(*) FROM rollups"), 2, "its rows untouched");
    is_int(one(db, "SELECT count(*) FROM sqlite_master "
                   "WHERE name = 'rollups_v1'"), 0, "no half migration");
    sqlite3_close(db);

    unlink(path);

    return done_testing();
}
