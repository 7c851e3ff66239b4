
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* The older tier (sq_compact.c): minute rows merged into hourly rows in
   slices that stop at an hour's boundary, counts and histogram bins
   added, a late minute added to its hourly row, the history read across
   the tiers with each request once, a damaged row rolls the slice back. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "tap.h"
#include "sq_compact.h"
#include "sq_history.h"
#include "sq_store.h"


#define BASE  ((int64_t) 1800000000)      /* an hour's start */


typedef struct {
    size_t     n;
    size_t     hours;
    uint64_t   requests;
    uint64_t   rt;
} hsum_t;


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
point(void *data, const sq_history_point_t *p)
{
    uint32_t   i;
    hsum_t    *h = data;

    h->n++;
    h->hours += (p->secs == 3600);
    h->requests += p->win->c[SQ_C_REQUESTS];

    for (i = 0; i < p->win->h[SQ_H_RT].n; i++) {
        h->rt += sq_hbin_count(p->win->h[SQ_H_RT].bins[i]);
    }

    return 0;
}


/* one minute row: 2 requests, both in rt bucket 5 */

static void
minute(sqlite3 *db, int64_t series, int64_t t)
{
    char  sql[256];

    snprintf(sql, sizeof(sql), "INSERT INTO rollups (series, t, secs, "
             "complete, requests, slot) VALUES (%lld, %lld, 60, 1, 2, "
             "x'010201050200')", (long long) series, (long long) t);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
}


static int
pass(sq_compact_t *c, int64_t before, size_t max, size_t *slices)
{
    int     rc, more;
    size_t  rows, total;

    total = 0;
    *slices = 0;

    do {
        rc = sq_compact_slice(c, before, 3600, max, &rows, &more);

        if (rc != SQ_OK) {
            return -1;
        }

        total += rows;
        (*slices)++;
    } while (more && *slices < 1000);

    return (int) total;
}


int
main(void)
{
    int            fd;
    char           path[64], err[600];
    size_t         slices;
    int64_t        t;
    hsum_t         h;
    sqlite3       *db;
    sq_store_t    *st;
    sq_compact_t  *c;

    strcpy(path, "/tmp/servqual-compact-XXXXXX");
    fd = mkstemp(path);
    close(fd);
    unlink(path);

    st = sq_store_open(path, err, sizeof(err));
    ok(st != NULL, "a database of schema %d", SQ_STORE_SCHEMA);

    if (st == NULL) {
        fprintf(stderr, "# %s\n", err);
        return done_testing();
    }

    db = (sqlite3 *) sq_store_db(st);
    c = sq_compact_open(st);
    ok(c != NULL, "the compaction's statements");

    sqlite3_exec(db, "INSERT INTO series VALUES (1, 'e', 'US', '');"
                 "INSERT INTO series VALUES (2, 'e', 'BR', '');",
                 NULL, NULL, NULL);

    /* three hours of minutes for two series */

    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);

    for (t = BASE; t < BASE + 3 * 3600; t += 60) {
        minute(db, 1, t);
        minute(db, 2, t);
    }

    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    is_int(one(db, "SELECT count(*) FROM rollups"), 360, "360 minute rows");

    /* the first two hours, 50 rows a slice: a slice ends at an hour */

    is_int(pass(c, BASE + 2 * 3600, 50, &slices), 240,
           "two hours of two series merged");
    is_int(slices, 5, "in four slices of an hour each and one to the end");
    is_int(one(db, "SELECT count(*) FROM coarse"), 4, "four hourly rows");
    is_int(one(db, "SELECT count(*) FROM coarse WHERE requests = 120 "
                   "AND slots = 60 AND secs = 3600 AND t % 3600 = 0"), 4,
           "each of 60 minutes, 120 requests");
    is_int(one(db, "SELECT count(*) FROM rollups"), 120,
           "the third hour still in minutes");
    is_int(one(db, "SELECT min(t) FROM rollups"), BASE + 2 * 3600,
           "from its start");

    /* a pass with nothing to do */

    is_int(pass(c, BASE + 2 * 3600, 50, &slices), 0, "nothing left to merge");
    is_int(one(db, "SELECT sum(requests) FROM coarse"), 480, "unchanged");

    /* a minute written late into a merged hour: added to its row */

    minute(db, 1, BASE + 1800 + 1);
    is_int(pass(c, BASE + 2 * 3600, 4096, &slices), 1, "a late minute");
    is_int(one(db, "SELECT requests * 1000 + slots FROM coarse "
                   "WHERE series = 1 AND t = 1800000000"), 122061,
           "added to its hour: 122 requests, 61 minutes");

    /* the history across the tiers: each request once */

    memset(&h, 0, sizeof(h));
    is_int(sq_history_points(st, "e", NULL, NULL, BASE, BASE + 3 * 3600,
                             point, &h), SQ_OK, "the history");
    is_int(h.n, 2 + 60, "two hourly points, then 60 minutes");
    is_int(h.hours, 2, "the hourly ones say 3600 s");
    is_int(h.requests, 722, "every request once");
    is_int(h.rt, 722, "every latency once");

    /* a damaged minute: the slice rolls back, nothing changes */

    sqlite3_exec(db, "UPDATE rollups SET slot = x'01ff' WHERE series = 2 "
                 "AND t = 1800007320", NULL, NULL, NULL);
    is_int(one(db, "SELECT count(*) FROM rollups WHERE slot = x'01ff'"), 1,
           "a damaged minute row");
    ok(pass(c, BASE + 3 * 3600, 4096, &slices) < 0,
       "the slice with it fails");
    is_int(one(db, "SELECT count(*) FROM rollups"), 60 + 60,
           "and changes nothing");
    is_int(one(db, "SELECT sum(requests) FROM coarse"), 482, "nothing");

    sq_compact_close(c);
    sq_store_close(st);
    unlink(path);

    return done_testing();
}
