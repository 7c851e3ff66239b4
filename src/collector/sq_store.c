
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sqlite3.h>

#include "sq_status.h"
#include "sq_store.h"


/*
 * The schema, version 2 (PRAGMA user_version):
 *
 *   series   (id, endpoint, region, segment)   one row per series
 *   rollups  (series, t, secs, complete, requests, slot)
 *            one row per series and fine slot; t is the slot's start in
 *            epoch seconds, secs its length; complete is 0 for a slot
 *            written at exit before it was over; slot is the packed slot
 *            of sq_slot.h, the same bytes as the window store's rings
 *   alerts   (id, t, status, severity, endpoint, region, segment,
 *            journey, dimension, indicator, value, adequate, desired,
 *            msa, since, labels)   one row per alert transition
 *
 * Version 3 adds what makes loss visible across restarts, written in
 * the same transaction as the rollups they go with:
 *
 *   workers  (node, pid, seq, end_cr, end_cx, last_seen)   each sending
 *            worker's highest sequence number and running totals
 *   losses   (cause, requests)   servqual_lost_requests_total by cause,
 *                                 and the row "counted": the requests
 *                                 taken (servqual_counted_requests_total)
 *
 * Version 4 adds to rollups the browser's beacons of the slot (wire
 * version 3), 0 for a slot without them; the measurements themselves
 * are in the packed slot, behind its map's bit SQ_SLOT_BROWSER.
 *
 * Version 5 adds the older tier (sq_compact.c):
 *
 *   coarse   (series, t, secs, requests, beacons, slots, slot)
 *            one row per series and coarse slot (an hour by default):
 *            the fine rollups older than storage.slot_retention merged,
 *            counts added; slots is how many fine rows went into it, slot
 *            the packed slot as in rollups
 *
 * A fine slot is in exactly one of rollups and coarse at any time: the
 * coarse row is written and its fine rows deleted in one transaction.
 *
 * A migration takes the database from version i to i + 1: its SQL, then
 * its step in C if it has one; they all run in one transaction on open.
 *
 * Version 1 kept a rollup in three BLOBs of its own varint codec
 * (counters, rt, ttfb); the migration to version 2 converts each row
 * once, through the legacy reader below, which nothing else uses.
 */

typedef struct {
    const char   *sql;
    int         (*step)(sq_store_t *st);
} sq_store_migration_t;


static int sq_store_migrate_v2(sq_store_t *st);


static const sq_store_migration_t  sq_store_migrations[] = {

    /* 0 -> 1 */
    { "CREATE TABLE series ("
      "  id INTEGER PRIMARY KEY,"
      "  endpoint TEXT NOT NULL,"
      "  region TEXT NOT NULL,"
      "  segment TEXT NOT NULL,"
      "  UNIQUE (endpoint, region, segment));"
      "CREATE TABLE rollups ("
      "  series INTEGER NOT NULL,"
      "  t INTEGER NOT NULL,"
      "  secs INTEGER NOT NULL,"
      "  complete INTEGER NOT NULL,"
      "  requests INTEGER NOT NULL,"
      "  counters BLOB NOT NULL,"
      "  rt BLOB NOT NULL,"
      "  ttfb BLOB NOT NULL,"
      "  PRIMARY KEY (series, t)) WITHOUT ROWID;"
      "CREATE INDEX rollups_t ON rollups (t);"
      "CREATE TABLE alerts ("
      "  id INTEGER PRIMARY KEY,"
      "  t INTEGER NOT NULL,"
      "  status TEXT NOT NULL,"
      "  severity TEXT NOT NULL,"
      "  endpoint TEXT NOT NULL,"
      "  region TEXT NOT NULL,"
      "  segment TEXT NOT NULL,"
      "  journey TEXT,"
      "  dimension TEXT NOT NULL,"
      "  indicator TEXT NOT NULL,"
      "  value REAL,"
      "  adequate REAL,"
      "  desired REAL,"
      "  msa REAL,"
      "  since INTEGER NOT NULL,"
      "  labels TEXT NOT NULL);"
      "CREATE INDEX alerts_t ON alerts (t);",
      NULL },

    /* 1 -> 2: one BLOB, the packed slot */
    { "DROP INDEX rollups_t;"
      "ALTER TABLE rollups RENAME TO rollups_v1;"
      "CREATE TABLE rollups ("
      "  series INTEGER NOT NULL,"
      "  t INTEGER NOT NULL,"
      "  secs INTEGER NOT NULL,"
      "  complete INTEGER NOT NULL,"
      "  requests INTEGER NOT NULL,"
      "  slot BLOB NOT NULL,"
      "  PRIMARY KEY (series, t)) WITHOUT ROWID;"
      "CREATE INDEX rollups_t ON rollups (t);",
      sq_store_migrate_v2 },

    /* 2 -> 3: the workers' sequence state and the loss counters */
    { "CREATE TABLE workers ("
      "  node TEXT NOT NULL,"
      "  pid INTEGER NOT NULL,"
      "  seq INTEGER NOT NULL,"
      "  end_cr INTEGER NOT NULL,"
      "  end_cx INTEGER NOT NULL,"
      "  last_seen INTEGER NOT NULL,"
      "  PRIMARY KEY (node, pid)) WITHOUT ROWID;"
      "CREATE TABLE losses ("
      "  cause TEXT PRIMARY KEY,"
      "  requests INTEGER NOT NULL) WITHOUT ROWID;",
      NULL },

    /* 3 -> 4: the browser's beacons of each rollup */
    { "ALTER TABLE rollups ADD COLUMN beacons INTEGER NOT NULL DEFAULT 0;",
      NULL },

    /* 4 -> 5: the coarse tier, older rollups merged */
    { "CREATE TABLE IF NOT EXISTS coarse ("
      "  series INTEGER NOT NULL,"
      "  t INTEGER NOT NULL,"
      "  secs INTEGER NOT NULL,"
      "  requests INTEGER NOT NULL,"
      "  beacons INTEGER NOT NULL,"
      "  slots INTEGER NOT NULL,"
      "  slot BLOB NOT NULL,"
      "  PRIMARY KEY (series, t)) WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS coarse_t ON coarse (t);",
      NULL }
};

#define SQ_STORE_NMIGRATIONS                                                 \
    (sizeof(sq_store_migrations) / sizeof(sq_store_migrations[0]))


#define SQ_STORE_IDS  4096        /* id cache buckets */
#define SQ_STORE_AHEAD  16        /* series fetched ahead in a batch */


typedef struct sq_sid_s  sq_sid_t;

struct sq_sid_s {
    sq_sid_t      *next;
    uint32_t       hash;
    int64_t        id;
    size_t         len;
    char           key[];         /* endpoint \0 region \0 segment */
};


struct sq_store_s {
    sqlite3        *db;
    char           *path;
    char            err[512];

    sqlite3_stmt   *get_series;
    sqlite3_stmt   *add_series;
    sqlite3_stmt   *put_rollup;
    sqlite3_stmt   *add_alert;
    sqlite3_stmt   *put_worker;
    sqlite3_stmt   *put_loss;

    sq_sid_t      **ids;
    size_t          nids;

    sq_slot_t       slot;         /* work space: the slot being written */
    unsigned char  *packed;       /* and its packed form */
};


static int sq_store_fail(sq_store_t *st, const char *what);
static int sq_store_nomem(sq_store_t *st);
static int sq_store_exec(sq_store_t *st, const char *sql);
static int sq_store_version(sq_store_t *st, int *version);
static int sq_store_open_db(sq_store_t *st, int flags);
static int sq_store_migrate(sq_store_t *st);
static int sq_store_prepare(sq_store_t *st);
static void sq_store_ids_clear(sq_store_t *st);
static int sq_store_series_id(sq_store_t *st, const char *e, const char *r,
    const char *g, int64_t *id);
static int sq_legacy_counters(const void *blob, int len, sq_slot_t *sl);
static int sq_legacy_hist(const void *blob, int len, sq_hist_t *h);
static int sq_store_put(sq_store_t *st, const char *e, const char *r,
    const char *g, const sq_slot_t *sl, int64_t secs, int complete);
static void sq_store_prefetch(const sq_series_t *s, int deref);
static int sq_store_batch_grow(unsigned char **buf, size_t *cap,
    size_t need);
static int sq_store_batch_state(sq_store_batch_t *b, const sq_windows_t *a,
    int64_t start, int complete);
static int sq_store_batch_worker(void *data, const sq_worker_state_t *ws);
static int sq_store_put_batch_state(sq_store_t *st,
    const sq_store_batch_t *b);
static int sq_store_column_slot(sqlite3_stmt *s, int col,
    const unsigned char **p, size_t *len);
static void sq_bind_str(sqlite3_stmt *s, int i, const char *v);
static void sq_bind_num(sqlite3_stmt *s, int i, double v);
static double sq_col_num(sqlite3_stmt *s, int i);
static int sq_store_load_state(sq_store_t *st, sq_windows_t *a);


static int
sq_store_fail(sq_store_t *st, const char *what)
{
    int  e;

    e = sqlite3_system_errno(st->db);

    if (e != 0 && sqlite3_errcode(st->db) != SQLITE_NOTADB
        && sqlite3_errcode(st->db) != SQLITE_CORRUPT)
    {
        snprintf(st->err, sizeof(st->err), "%s: %s: %s (%s)", st->path,
                 what, sqlite3_errmsg(st->db), strerror(e));

    } else {
        snprintf(st->err, sizeof(st->err), "%s: %s: %s", st->path, what,
                 sqlite3_errmsg(st->db));
    }

    return SQ_ERR_STORE;
}


static int
sq_store_nomem(sq_store_t *st)
{
    snprintf(st->err, sizeof(st->err), "%s: out of memory", st->path);

    return SQ_ERR_NOMEM;
}


static int
sq_store_exec(sq_store_t *st, const char *sql)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        return sq_store_fail(st, sql);
    }

    return SQ_OK;
}


static int
sq_store_version(sq_store_t *st, int *version)
{
    int            rc;
    sqlite3_stmt  *s;

    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL)
        != SQLITE_OK)
    {
        return sq_store_fail(st, "cannot read the database");
    }

    rc = sqlite3_step(s);
    *version = (rc == SQLITE_ROW) ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);

    if (rc != SQLITE_ROW) {
        return sq_store_fail(st, "cannot read the database");
    }

    return SQ_OK;
}


static int
sq_store_migrate(sq_store_t *st)
{
    int   v;
    char  sql[64];

    if (sq_store_version(st, &v) != SQ_OK) {
        return SQ_ERR_STORE;
    }

    if (v > (int) SQ_STORE_NMIGRATIONS) {
        snprintf(st->err, sizeof(st->err), "%s: the schema version %d is "
                 "newer than this collector's (%d)", st->path, v,
                 (int) SQ_STORE_NMIGRATIONS);
        return SQ_ERR_STORE;
    }

    if (v == (int) SQ_STORE_NMIGRATIONS) {
        return SQ_OK;
    }

    if (sq_store_exec(st, "BEGIN IMMEDIATE") != SQ_OK) {
        return SQ_ERR_STORE;
    }

    for ( /* void */ ; v < (int) SQ_STORE_NMIGRATIONS; v++) {
        if (sqlite3_exec(st->db, sq_store_migrations[v].sql, NULL, NULL,
                         NULL)
            != SQLITE_OK)
        {
            snprintf(sql, sizeof(sql), "migration to version %d", v + 1);
            sq_store_fail(st, sql);
            goto failed;
        }

        if (sq_store_migrations[v].step
            && sq_store_migrations[v].step(st) != SQ_OK)
        {
            goto failed;
        }
    }

    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);

    if (sq_store_exec(st, sql) != SQ_OK
        || sq_store_exec(st, "COMMIT") != SQ_OK)
    {
        goto failed;
    }

    return SQ_OK;

failed:

    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);

    return SQ_ERR_STORE;
}


/*
 * The legacy reader of version 1's BLOBs, for the migration to version 2
 * only: sequences of unsigned LEB128 varints (sq_varint_get()),
 *
 *   counters   n, then n counters in the order of servqual_wire.h
 *              (the first SQ_WIRE_NCOUNTERS taken, the rest skipped)
 *   rt, ttfb   n, then n pairs (bucket index delta, count)
 */

static int
sq_legacy_counters(const void *blob, int len, sq_slot_t *sl)
{
    uint64_t              n, i, v, c[SQ_WIRE_NCOUNTERS];
    const unsigned char  *p, *end;

    p = blob;
    end = p + len;
    memset(c, 0, sizeof(c));

    if (sq_varint_get(&p, end, &n) != SQ_OK) {
        return SQ_ERR_CORRUPT;
    }

    for (i = 0; i < n; i++) {
        if (sq_varint_get(&p, end, &v) != SQ_OK) {
            return SQ_ERR_CORRUPT;
        }

        if (i < SQ_WIRE_NCOUNTERS) {
            c[i] = v;
        }
    }

    sq_slot_add_counters(sl, c);

    return SQ_OK;
}


static int
sq_legacy_hist(const void *blob, int len, sq_hist_t *h)
{
    uint64_t              n, i, d, c, idx;
    const unsigned char  *p, *end;

    p = blob;
    end = p + len;
    idx = 0;

    if (sq_varint_get(&p, end, &n) != SQ_OK) {
        return SQ_ERR_CORRUPT;
    }

    for (i = 0; i < n; i++) {
        if (sq_varint_get(&p, end, &d) != SQ_OK
            || sq_varint_get(&p, end, &c) != SQ_OK)
        {
            return SQ_ERR_CORRUPT;
        }

        idx += d;

        if (idx >= SQ_HIST_BUCKETS || c > SQ_HBIN_COUNT_MAX) {
            return SQ_ERR_CORRUPT;
        }

        if (c && sq_hist_add(h, (uint32_t) idx, c) != SQ_OK) {
            return SQ_ERR_NOMEM;
        }
    }

    return SQ_OK;
}


/* 1 -> 2: each row of rollups_v1 read by the legacy reader, packed */

static int
sq_store_migrate_v2(sq_store_t *st)
{
    int             rc, ret;
    size_t          len;
    sqlite3_stmt   *get, *put;

    get = NULL;
    put = NULL;
    ret = SQ_ERR_STORE;

    if (sqlite3_prepare_v2(st->db,
            "SELECT series, t, secs, complete, requests, counters, rt, ttfb "
            "FROM rollups_v1", -1, &get, NULL)
        != SQLITE_OK
        || sqlite3_prepare_v2(st->db,
            "INSERT INTO rollups (series, t, secs, complete, requests, slot) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &put, NULL)
        != SQLITE_OK)
    {
        sq_store_fail(st, "migration to version 2");
        goto done;
    }

    while ((rc = sqlite3_step(get)) == SQLITE_ROW) {
        sq_slot_reset(&st->slot, sqlite3_column_int64(get, 1));

        rc = sq_legacy_counters(sqlite3_column_blob(get, 5),
                                sqlite3_column_bytes(get, 5), &st->slot);

        if (rc == SQ_OK) {
            rc = sq_legacy_hist(sqlite3_column_blob(get, 6),
                                sqlite3_column_bytes(get, 6),
                                &st->slot.h[SQ_H_RT]);
        }

        if (rc == SQ_OK) {
            rc = sq_legacy_hist(sqlite3_column_blob(get, 7),
                                sqlite3_column_bytes(get, 7),
                                &st->slot.h[SQ_H_TTFB]);
        }

        if (rc != SQ_OK) {
            snprintf(st->err, sizeof(st->err), "%s: migration to version "
                     "2: the rollup of series %lld at %lld is damaged",
                     st->path, (long long) sqlite3_column_int64(get, 0),
                     (long long) sqlite3_column_int64(get, 1));
            goto done;
        }

        len = sq_slot_pack(&st->slot, st->packed);

        sqlite3_reset(put);
        sqlite3_bind_int64(put, 1, sqlite3_column_int64(get, 0));
        sqlite3_bind_int64(put, 2, sqlite3_column_int64(get, 1));
        sqlite3_bind_int64(put, 3, sqlite3_column_int64(get, 2));
        sqlite3_bind_int64(put, 4, sqlite3_column_int64(get, 3));
        sqlite3_bind_int64(put, 5, sqlite3_column_int64(get, 4));
        sqlite3_bind_blob(put, 6, st->packed, (int) len, SQLITE_STATIC);

        if (sqlite3_step(put) != SQLITE_DONE) {
            sq_store_fail(st, "migration to version 2");
            goto done;
        }
    }

    if (rc != SQLITE_DONE) {
        sq_store_fail(st, "migration to version 2");
        goto done;
    }

    sqlite3_finalize(get);
    sqlite3_finalize(put);
    get = NULL;
    put = NULL;

    if (sq_store_exec(st, "DROP TABLE rollups_v1") != SQ_OK) {
        goto done;
    }

    ret = SQ_OK;

done:

    sqlite3_finalize(get);
    sqlite3_finalize(put);

    return ret;
}


static int
sq_store_prepare(sq_store_t *st)
{
    static const struct {
        size_t       off;
        const char  *sql;
    } stmts[] = {
        { offsetof(sq_store_t, get_series),
          "SELECT id FROM series "
          "WHERE endpoint = ?1 AND region = ?2 AND segment = ?3" },
        { offsetof(sq_store_t, add_series),
          "INSERT INTO series (endpoint, region, segment) "
          "VALUES (?1, ?2, ?3)" },
        { offsetof(sq_store_t, put_rollup),
          "INSERT OR REPLACE INTO rollups (series, t, secs, complete, "
          "requests, slot, beacons) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)" },
        { offsetof(sq_store_t, add_alert),
          "INSERT INTO alerts (t, status, severity, endpoint, region, "
          "segment, journey, dimension, indicator, value, adequate, "
          "desired, msa, since, labels) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
          "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)" },
        { offsetof(sq_store_t, put_worker),
          "INSERT OR REPLACE INTO workers (node, pid, seq, end_cr, end_cx, "
          "last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6)" },
        { offsetof(sq_store_t, put_loss),
          "INSERT OR REPLACE INTO losses (cause, requests) VALUES (?1, ?2)" }
    };

    size_t          i;
    sqlite3_stmt  **sp;

    for (i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        sp = (sqlite3_stmt **) ((char *) st + stmts[i].off);

        if (sqlite3_prepare_v3(st->db, stmts[i].sql, -1,
                               SQLITE_PREPARE_PERSISTENT, sp, NULL)
            != SQLITE_OK)
        {
            return sq_store_fail(st, "cannot prepare a statement");
        }
    }

    return SQ_OK;
}


static int
sq_store_open_db(sq_store_t *st, int flags)
{
    if (sqlite3_open_v2(st->path, &st->db, flags, NULL) != SQLITE_OK) {
        if (st->db == NULL) {
            snprintf(st->err, sizeof(st->err), "%s: out of memory",
                     st->path);
            return SQ_ERR_STORE;
        }

        return sq_store_fail(st, "cannot open the database");
    }

    sqlite3_extended_result_codes(st->db, 0);
    sqlite3_busy_timeout(st->db, 200);

    return SQ_OK;
}


sq_store_t *
sq_store_open(const char *path, char *err, size_t len)
{
    int          v;
    sq_store_t  *st;

    st = calloc(1, sizeof(sq_store_t));
    if (st == NULL) {
        snprintf(err, len, "%s: out of memory", path);
        return NULL;
    }

    sq_slot_init(&st->slot, 0);
    st->path = strdup(path);
    st->ids = calloc(SQ_STORE_IDS, sizeof(sq_sid_t *));
    st->packed = malloc(SQ_SLOT_PACKED_MAX);

    if (st->path == NULL || st->ids == NULL || st->packed == NULL) {
        snprintf(err, len, "%s: out of memory", path);
        goto failed;
    }

    if (sq_store_open_db(st, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        != SQ_OK)
    {
        goto failed;
    }

    /* reading the header first tells a file that is not a database */

    if (sq_store_version(st, &v) != SQ_OK) {
        goto failed;
    }

    if (sqlite3_db_readonly(st->db, "main") == 1) {
        snprintf(st->err, sizeof(st->err), "%s: the file is read-only",
                 st->path);
        goto failed;
    }

    if (sq_store_exec(st, "PRAGMA journal_mode = WAL") != SQ_OK
        || sq_store_exec(st, "PRAGMA synchronous = NORMAL") != SQ_OK
        || sq_store_migrate(st) != SQ_OK
        || sq_store_prepare(st) != SQ_OK)
    {
        goto failed;
    }

    /* a write proves that the file, its directory and the lock work */

    if (sq_store_exec(st, "BEGIN IMMEDIATE") != SQ_OK
        || sq_store_exec(st, "COMMIT") != SQ_OK)
    {
        goto failed;
    }

    return st;

failed:

    if (st->err[0]) {
        snprintf(err, len, "%s", st->err);
    }

    sq_store_close(st);

    return NULL;
}


int
sq_store_check(const char *path, char *err, size_t len)
{
    int          v, rc;
    char        *dir;
    const char  *slash;
    sq_store_t   st;
    struct stat  sb;

    /* a database that is not there yet: its directory must be writable */

    if (stat(path, &sb) != 0) {
        if (errno != ENOENT) {
            snprintf(err, len, "%s: %s", path, strerror(errno));
            return SQ_ERR_STORE;
        }

        slash = strrchr(path, '/');

        if (slash == NULL) {
            dir = strdup(".");

        } else {
            /* "/db" is in "/", "a/b/db" in "a/b" */
            dir = strndup(path, slash == path ? 1 : (size_t) (slash - path));
        }

        if (dir == NULL) {
            snprintf(err, len, "%s: out of memory", path);
            return SQ_ERR_NOMEM;
        }

        rc = access(dir, W_OK | X_OK);

        if (rc != 0) {
            snprintf(err, len, "%s: cannot create the database in \"%s\": "
                     "%s", path, dir, strerror(errno));
        }

        free(dir);

        return rc == 0 ? SQ_OK : SQ_ERR_STORE;
    }

    memset(&st, 0, sizeof(sq_store_t));
    sq_slot_init(&st.slot, 0);
    st.path = (char *) path;
    rc = SQ_ERR_STORE;

    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, len, "%s: is a directory", path);
        return SQ_ERR_STORE;
    }

    if (sq_store_open_db(&st, SQLITE_OPEN_READWRITE) != SQ_OK
        || sq_store_version(&st, &v) != SQ_OK)
    {
        goto done;
    }

    if (sqlite3_db_readonly(st.db, "main") == 1) {
        snprintf(st.err, sizeof(st.err), "%s: the file is read-only", path);
        goto done;
    }

    if (v > (int) SQ_STORE_NMIGRATIONS) {
        snprintf(st.err, sizeof(st.err), "%s: the schema version %d is "
                 "newer than this collector's (%d)", path, v,
                 (int) SQ_STORE_NMIGRATIONS);
        goto done;
    }

    rc = SQ_OK;

done:

    if (rc != SQ_OK) {
        snprintf(err, len, "%s", st.err);
    }

    sqlite3_close(st.db);

    return rc;
}


void
sq_store_close(sq_store_t *st)
{
    if (st == NULL) {
        return;
    }

    sqlite3_finalize(st->get_series);
    sqlite3_finalize(st->add_series);
    sqlite3_finalize(st->put_rollup);
    sqlite3_finalize(st->add_alert);
    sqlite3_finalize(st->put_worker);
    sqlite3_finalize(st->put_loss);

    if (st->db) {
        sqlite3_close(st->db);
    }

    if (st->ids) {
        sq_store_ids_clear(st);
        free(st->ids);
    }

    sq_slot_free(&st->slot);
    free(st->packed);
    free(st->path);
    free(st);
}


const char *
sq_store_strerror(sq_store_t *st)
{
    return st->err;
}


const char *
sq_store_path(sq_store_t *st)
{
    return st->path;
}


sqlite3 *
sq_store_db(sq_store_t *st)
{
    return st->db;
}


int
sq_store_error(sq_store_t *st, const char *what)
{
    return sq_store_fail(st, what);
}


int
sq_store_damaged(sq_store_t *st, int64_t series, int64_t t)
{
    snprintf(st->err, sizeof(st->err), "%s: the rollup of series %lld at "
             "%lld is damaged", st->path, (long long) series, (long long) t);

    return SQ_ERR_CORRUPT;
}

/* the ids of series already in the database */

static void
sq_store_ids_clear(sq_store_t *st)
{
    size_t     i;
    sq_sid_t  *p, *next;

    for (i = 0; i < SQ_STORE_IDS; i++) {
        for (p = st->ids[i]; p; p = next) {
            next = p->next;
            free(p);
        }

        st->ids[i] = NULL;
    }

    st->nids = 0;
}


static int
sq_store_series_id(sq_store_t *st, const char *e, const char *r,
    const char *g, int64_t *id)
{
    int        rc;
    char       key[3 * 256];
    size_t     le, lr, lg, len, i;
    uint32_t   h;
    sq_sid_t  *p;

    le = strlen(e);
    lr = strlen(r);
    lg = strlen(g);
    len = le + lr + lg + 2;

    if (len < sizeof(key)) {
        memcpy(key, e, le + 1);
        memcpy(key + le + 1, r, lr + 1);
        memcpy(key + le + lr + 2, g, lg);

        h = 2166136261u;

        for (i = 0; i < len; i++) {
            h = (h ^ (unsigned char) key[i]) * 16777619u;
        }

        for (p = st->ids[h % SQ_STORE_IDS]; p; p = p->next) {
            if (p->hash == h && p->len == len
                && memcmp(p->key, key, len) == 0)
            {
                *id = p->id;
                return SQ_OK;
            }
        }

    } else {
        h = 0;
        len = 0;
    }

    sqlite3_reset(st->get_series);
    sqlite3_bind_text(st->get_series, 1, e, -1, SQLITE_STATIC);
    sqlite3_bind_text(st->get_series, 2, r, -1, SQLITE_STATIC);
    sqlite3_bind_text(st->get_series, 3, g, -1, SQLITE_STATIC);

    rc = sqlite3_step(st->get_series);

    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st->get_series, 0);
        sqlite3_reset(st->get_series);

    } else {
        sqlite3_reset(st->get_series);

        if (rc != SQLITE_DONE) {
            return sq_store_fail(st, "cannot read series");
        }

        sqlite3_reset(st->add_series);
        sqlite3_bind_text(st->add_series, 1, e, -1, SQLITE_STATIC);
        sqlite3_bind_text(st->add_series, 2, r, -1, SQLITE_STATIC);
        sqlite3_bind_text(st->add_series, 3, g, -1, SQLITE_STATIC);

        rc = sqlite3_step(st->add_series);
        sqlite3_reset(st->add_series);

        if (rc != SQLITE_DONE) {
            return sq_store_fail(st, "cannot add a series");
        }

        *id = sqlite3_last_insert_rowid(st->db);
    }

    if (len == 0) {
        return SQ_OK;
    }

    if (st->nids > 16 * SQ_STORE_IDS * 64) {
        sq_store_ids_clear(st);
    }

    p = malloc(sizeof(sq_sid_t) + len);
    if (p == NULL) {
        return SQ_OK;
    }

    p->hash = h;
    p->id = *id;
    p->len = len;
    memcpy(p->key, key, len);
    p->next = st->ids[h % SQ_STORE_IDS];
    st->ids[h % SQ_STORE_IDS] = p;
    st->nids++;

    return SQ_OK;
}


/* rollups */

static int
sq_store_put(sq_store_t *st, const char *e, const char *r, const char *g,
    const sq_slot_t *sl, int64_t secs, int complete)
{
    int            rc;
    size_t         len;
    int64_t        id;
    sqlite3_stmt  *q;

    if (sq_store_series_id(st, e, r, g, &id) != SQ_OK) {
        return SQ_ERR_STORE;
    }

    len = sq_slot_pack(sl, st->packed);

    q = st->put_rollup;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, sl->start);
    sqlite3_bind_int64(q, 3, secs);
    sqlite3_bind_int(q, 4, complete);
    sqlite3_bind_int64(q, 5, sl->c[SQ_C_REQUESTS]);
    sqlite3_bind_blob(q, 6, st->packed, (int) len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 7, sl->b ? (sqlite3_int64) sl->b->c[SQ_BC_BEACONS]
                                   : 0);

    rc = sqlite3_step(q);
    sqlite3_reset(q);

    if (rc != SQLITE_DONE) {
        return sq_store_fail(st, "cannot write a rollup");
    }

    return SQ_OK;
}


/* the packed slot in column col of a row read back, checked */

static int
sq_store_column_slot(sqlite3_stmt *s, int col, const unsigned char **p,
    size_t *len)
{
    *p = sqlite3_column_blob(s, col);
    *len = (size_t) sqlite3_column_bytes(s, col);

    return sq_slot_check(*p, *len);
}


/*
 * A batch's rows, one after the other: the header, then endpoint, region
 * and segment each with its \0, then the packed slot; its workers: each
 * one's sq_worker_state_t (node not set), then the node's name.
 */

typedef struct {
    uint32_t       plen;          /* of the packed slot */
    uint16_t       elen;
    uint16_t       rlen;
    uint16_t       glen;
} sq_batch_row_t;


static void
sq_store_prefetch(const sq_series_t *s, int deref)
{
    if (!deref) {
        __builtin_prefetch(s);
        __builtin_prefetch(&s->rings);
        return;
    }

    /* the series' header is in: what it points to */

    if (s->cur) {
        __builtin_prefetch(s->cur);
    }

    if (s->rings) {
        __builtin_prefetch(s->rings);
    }
}


static int
sq_store_batch_grow(unsigned char **buf, size_t *cap, size_t need)
{
    size_t          n;
    unsigned char  *p;

    if (need <= *cap) {
        return SQ_OK;
    }

    n = *cap ? *cap : 65536;

    while (n < need) {
        n *= 2;
    }

    p = realloc(*buf, n);
    if (p == NULL) {
        return SQ_ERR_NOMEM;
    }

    *buf = p;
    *cap = n;

    return SQ_OK;
}


int
sq_store_batch_fill(sq_store_batch_t *b, const sq_windows_t *a,
    int64_t start, int complete)
{
    int                   rc;
    size_t                len, need;
    uint32_t              i;
    sq_series_t          *s;
    unsigned char        *d;
    sq_batch_row_t        h;
    const unsigned char  *p;

    if (b->packed == NULL) {
        b->packed = malloc(SQ_SLOT_PACKED_MAX);
        if (b->packed == NULL) {
            return SQ_ERR_NOMEM;
        }
    }

    b->start = start;
    b->secs = a->slot;
    b->complete = complete;
    b->nrows = 0;
    b->len = 0;

    for (i = 0; i <= a->n; i++) {
        s = (i < a->n) ? a->all[i] : a->other;

        if (s == NULL) {
            continue;
        }

        /* 100k series are 100k cache misses or more: the series ahead
           are fetched while this one is copied */

        if (i + SQ_STORE_AHEAD < a->n) {
            sq_store_prefetch(a->all[i + SQ_STORE_AHEAD], 0);
        }

        if (i + SQ_STORE_AHEAD / 2 < a->n) {
            sq_store_prefetch(a->all[i + SQ_STORE_AHEAD / 2], 1);
        }

        rc = sq_windows_slot_packed(a, s, start, b->packed, &p, &len);

        if (rc != SQ_OK) {
            return rc;
        }

        if (len == 0) {
            continue;
        }

        h.plen = (uint32_t) len;
        h.elen = s->elen;
        h.rlen = s->rlen;
        h.glen = s->glen;
        need = b->len + sizeof(h) + h.elen + h.rlen + h.glen + 3 + len;

        if (sq_store_batch_grow(&b->rows, &b->cap, need) != SQ_OK) {
            return SQ_ERR_NOMEM;
        }

        d = b->rows + b->len;
        memcpy(d, &h, sizeof(h));
        d += sizeof(h);
        memcpy(d, s->endpoint, h.elen + 1);
        d += h.elen + 1;
        memcpy(d, s->region, h.rlen + 1);
        d += h.rlen + 1;
        memcpy(d, s->segment, h.glen + 1);
        d += h.glen + 1;
        memcpy(d, p, len);

        b->len = need;
        b->nrows++;
    }

    return sq_store_batch_state(b, a, start, complete);
}


void
sq_store_batch_free(sq_store_batch_t *b)
{
    free(b->rows);
    free(b->workers);
    free(b->packed);
    memset(b, 0, sizeof(sq_store_batch_t));
}


int
sq_store_write_batch(sq_store_t *st, const sq_store_batch_t *b,
    size_t *written)
{
    int                   rc;
    size_t                n, i;
    const char           *e, *r, *g;
    sq_batch_row_t        h;
    const unsigned char  *p;

    n = 0;

    if (sq_store_exec(st, "BEGIN IMMEDIATE") != SQ_OK) {
        return SQ_ERR_STORE;
    }

    p = b->rows;

    for (i = 0; i < b->nrows; i++) {
        memcpy(&h, p, sizeof(h));
        e = (const char *) p + sizeof(h);
        r = e + h.elen + 1;
        g = r + h.rlen + 1;
        p = (const unsigned char *) g + h.glen + 1;

        /* unpacked and packed again, as the rows were always written */

        sq_slot_reset(&st->slot, b->start);

        rc = sq_slot_unpack(p, h.plen, &st->slot);
        p += h.plen;

        if (rc != SQ_OK) {
            snprintf(st->err, sizeof(st->err), "%s: the slot at %lld: %s",
                     st->path, (long long) b->start, sq_strerror(rc));
            goto failed;
        }

        if (sq_slot_empty(&st->slot)) {
            continue;
        }

        rc = sq_store_put(st, e, r, g, &st->slot, b->secs, b->complete);

        if (rc != SQ_OK) {
            goto failed;
        }

        n++;
    }

    rc = sq_store_put_batch_state(st, b);

    if (rc != SQ_OK) {
        goto failed;
    }

    while (b->hold && access(b->hold, F_OK) == 0) {
        usleep(50000);
    }

    if (sq_store_exec(st, "COMMIT") != SQ_OK) {
        rc = SQ_ERR_STORE;
        goto failed;
    }

    if (written) {
        *written = n;
    }

    return SQ_OK;

failed:

    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);

    /* series added in the transaction are gone with it */
    sq_store_ids_clear(st);

    return rc;
}


int
sq_store_write_slot(sq_store_t *st, const sq_windows_t *a, int64_t start,
    int complete, size_t *written)
{
    int               rc;
    sq_store_batch_t  b;

    memset(&b, 0, sizeof(sq_store_batch_t));

    rc = sq_store_batch_fill(&b, a, start, complete);

    if (rc != SQ_OK) {
        snprintf(st->err, sizeof(st->err), "%s: the slot at %lld: %s",
                 st->path, (long long) start, sq_strerror(rc));

    } else {
        rc = sq_store_write_batch(st, &b, written);
    }

    sq_store_batch_free(&b);

    return rc;
}


/*
 * The workers' state and the loss counters that go with the rollups up
 * to the slot at start: as they are now when nothing was ingested after
 * that slot (or the slot is the current, partial one), as of the
 * snapshot taken when the next slot began when that is the slot being
 * ingested into; when later slots were ingested into too (catching up
 * after errors), the later slot's write brings them.
 */

static int
sq_store_batch_state(sq_store_batch_t *b, const sq_windows_t *a,
    int64_t start, int complete)
{
    int  snap, cause;

    b->wlen = 0;

    if (!complete || a->minute <= start) {
        snap = 0;

    } else if (a->minute == start + a->slot) {
        snap = 1;

    } else {
        b->state = 0;
        return SQ_OK;
    }

    b->state = 1;

    if (sq_workers_state(&a->workers, snap, sq_store_batch_worker, b) != 0) {
        return SQ_ERR_NOMEM;
    }

    for (cause = 0; cause < SQ_NLOSS; cause++) {
        b->lost[cause] = snap ? a->workers.snap_lost[cause]
                              : a->workers.lost_requests[cause];

        if (cause == SQ_LOSS_COLLECTOR) {
            /* counted in memory, missing from the rollups */
            b->lost[cause] += a->workers.unstored;
        }
    }

    /* the other side of the invariant, from the same snapshot */
    b->counted = snap ? a->workers.snap_counted : a->workers.counted;

    return SQ_OK;
}


static int
sq_store_batch_worker(void *data, const sq_worker_state_t *ws)
{
    sq_store_batch_t  *b = data;
    size_t             need;

    need = b->wlen + sizeof(sq_worker_state_t) + ws->nlen;

    if (sq_store_batch_grow(&b->workers, &b->wcap, need) != SQ_OK) {
        return 1;
    }

    memcpy(b->workers + b->wlen, ws, sizeof(sq_worker_state_t));
    memcpy(b->workers + b->wlen + sizeof(sq_worker_state_t), ws->node,
           ws->nlen);
    b->wlen = need;

    return 0;
}


static int
sq_store_put_batch_state(sq_store_t *st, const sq_store_batch_t *b)
{
    int                   cause;
    sqlite3_stmt         *q;
    sq_worker_state_t     ws;
    const unsigned char  *p, *end;

    static const char  *causes[SQ_NLOSS] = {
        "source", "transit", "collector"
    };

    if (!b->state) {
        return SQ_OK;
    }

    q = st->put_worker;
    p = b->workers;
    end = b->workers + b->wlen;

    while (p < end) {
        memcpy(&ws, p, sizeof(sq_worker_state_t));
        ws.node = (const char *) p + sizeof(sq_worker_state_t);
        p += sizeof(sq_worker_state_t) + ws.nlen;

        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, ws.node, (int) ws.nlen, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, (sqlite3_int64) ws.pid);
        sqlite3_bind_int64(q, 3, (sqlite3_int64) ws.seq);
        sqlite3_bind_int64(q, 4, (sqlite3_int64) ws.end_cr);
        sqlite3_bind_int64(q, 5, (sqlite3_int64) ws.end_cx);
        sqlite3_bind_int64(q, 6, ws.last_seen);

        if (sqlite3_step(q) != SQLITE_DONE) {
            return sq_store_fail(st, "cannot write a worker's state");
        }
    }

    for (cause = 0; cause < SQ_NLOSS; cause++) {
        sqlite3_reset(st->put_loss);
        sqlite3_bind_text(st->put_loss, 1, causes[cause], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st->put_loss, 2, (sqlite3_int64) b->lost[cause]);

        if (sqlite3_step(st->put_loss) != SQLITE_DONE) {
            return sq_store_fail(st, "cannot write the loss counters");
        }
    }

    sqlite3_reset(st->put_loss);
    sqlite3_bind_text(st->put_loss, 1, "counted", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->put_loss, 2, (sqlite3_int64) b->counted);

    if (sqlite3_step(st->put_loss) != SQLITE_DONE) {
        return sq_store_fail(st, "cannot write the loss counters");
    }

    return SQ_OK;
}


/* the workers' state and the loss counters, read back at start */

static int
sq_store_load_state(sq_store_t *st, sq_windows_t *a)
{
    int                 rc, cause;
    const char         *name;
    sqlite3_stmt       *s;
    sq_worker_state_t   ws;

    static const char  *causes[SQ_NLOSS] = {
        "source", "transit", "collector"
    };

    if (sqlite3_prepare_v2(st->db,
            "SELECT node, pid, seq, end_cr, end_cx, last_seen FROM workers",
            -1, &s, NULL)
        != SQLITE_OK)
    {
        return sq_store_fail(st, "cannot read the workers' state");
    }

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ws.node = (const char *) sqlite3_column_text(s, 0);
        ws.nlen = (uint32_t) sqlite3_column_bytes(s, 0);
        ws.pid = (uint64_t) sqlite3_column_int64(s, 1);
        ws.seq = (uint64_t) sqlite3_column_int64(s, 2);
        ws.end_cr = (uint64_t) sqlite3_column_int64(s, 3);
        ws.end_cx = (uint64_t) sqlite3_column_int64(s, 4);
        ws.last_seen = sqlite3_column_int64(s, 5);

        if (ws.node == NULL || ws.nlen == 0 || ws.nlen > SQ_WIRE_MAX_NODE) {
            continue;
        }

        if (sq_workers_restore(&a->workers, &ws) != SQ_OK) {
            break;
        }
    }

    sqlite3_finalize(s);

    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        return sq_store_fail(st, "cannot read the workers' state");
    }

    if (sqlite3_prepare_v2(st->db, "SELECT cause, requests FROM losses",
                           -1, &s, NULL)
        != SQLITE_OK)
    {
        return sq_store_fail(st, "cannot read the loss counters");
    }

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        name = (const char *) sqlite3_column_text(s, 0);

        if (name && strcmp(name, "counted") == 0) {
            /* not a cause: servqual_counted_requests_total */
            a->workers.counted = (uint64_t) sqlite3_column_int64(s, 1);
            a->workers.snap_counted = a->workers.counted;
            continue;
        }

        for (cause = 0; name && cause < SQ_NLOSS; cause++) {
            if (strcmp(name, causes[cause]) == 0) {
                a->workers.lost_requests[cause]
                    = (uint64_t) sqlite3_column_int64(s, 1);
                a->workers.snap_lost[cause]
                    = a->workers.lost_requests[cause];
            }
        }
    }

    sqlite3_finalize(s);

    if (rc != SQLITE_DONE) {
        return sq_store_fail(st, "cannot read the loss counters");
    }

    memcpy(a->stats.lost_requests, a->workers.lost_requests,
           sizeof(a->stats.lost_requests));
    a->stats.counted = a->workers.counted;

    return SQ_OK;
}


int
sq_store_load(sq_store_t *st, sq_windows_t *a, int64_t now, size_t *loaded)
{
    int                   rc, ret;
    size_t                n, len;
    int64_t               t;
    sqlite3_stmt         *s;
    const unsigned char  *blob;

    n = 0;
    ret = SQ_OK;

    if (sqlite3_prepare_v2(st->db,
            "SELECT s.endpoint, s.region, s.segment, r.t, r.slot "
            "FROM rollups r JOIN series s ON s.id = r.series "
            "WHERE r.t > ?1 AND r.t <= ?2 AND r.secs = ?3 ORDER BY r.t",
            -1, &s, NULL)
        != SQLITE_OK)
    {
        return sq_store_fail(st, "cannot read rollups");
    }

    sqlite3_bind_int64(s, 1, now - a->long_window);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, a->slot);

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        t = sqlite3_column_int64(s, 3);

        if (t % a->slot != 0) {
            continue;
        }

        sq_slot_reset(&st->slot, t);

        ret = sq_store_column_slot(s, 4, &blob, &len);

        if (ret == SQ_OK) {
            ret = sq_slot_unpack(blob, len, &st->slot);
        }

        if (ret != SQ_OK) {
            snprintf(st->err, sizeof(st->err), "%s: a rollup of %s is "
                     "damaged", st->path,
                     (const char *) sqlite3_column_text(s, 0));
            break;
        }

        ret = sq_windows_add_slot(a, (const char *) sqlite3_column_text(s, 0),
                                  (const char *) sqlite3_column_text(s, 1),
                                  (const char *) sqlite3_column_text(s, 2),
                                  &st->slot, now);

        if (ret != SQ_OK) {
            sq_store_nomem(st);
            break;
        }

        n++;
    }

    sqlite3_finalize(s);

    if (ret != SQ_OK) {
        return ret;
    }

    if (rc != SQLITE_DONE) {
        return sq_store_fail(st, "cannot read rollups");
    }

    if (loaded) {
        *loaded = n;
    }

    return sq_store_load_state(st, a);
}


int
sq_store_expire(sq_store_t *st, int64_t before, size_t *deleted)
{
    int            rc;
    size_t         n;
    sqlite3_stmt  *s;

    /* a series without rollups is one nothing refers to any more: the
       table would otherwise keep every series ever seen */

    static const char  *sql[] = {
        "DELETE FROM rollups WHERE t < ?1",
        "DELETE FROM coarse WHERE t < ?1",
        "DELETE FROM alerts WHERE t < ?1",
        "DELETE FROM series WHERE ?1 IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM rollups r WHERE r.series = series.id) "
        "AND NOT EXISTS (SELECT 1 FROM coarse c WHERE c.series = series.id)",
        "DELETE FROM workers WHERE last_seen < ?1"
    };

    size_t  i;

    n = 0;

    for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        if (sqlite3_prepare_v2(st->db, sql[i], -1, &s, NULL) != SQLITE_OK) {
            return sq_store_fail(st, "cannot delete old rows");
        }

        sqlite3_bind_int64(s, 1, before);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);

        if (rc != SQLITE_DONE) {
            return sq_store_fail(st, "cannot delete old rows");
        }

        if (i < 3) {
            /* rows of history; a series or a worker's state is not one */
            n += (size_t) sqlite3_changes(st->db);
        }

        if (i == 3 && sqlite3_changes(st->db) > 0) {
            /* their ids may come back for other series */
            sq_store_ids_clear(st);
        }
    }

    if (deleted) {
        *deleted = n;
    }

    return SQ_OK;
}


int
sq_store_rollups(sq_store_t *st, const char *endpoint, int64_t from,
    int64_t to, sq_store_row_pt cb, void *data)
{
    int                   rc, ret;
    size_t                len;
    sq_win_t              w;
    sqlite3_stmt         *s;
    sq_store_row_t        row;
    const unsigned char  *blob;

    /* both tiers: a fine slot is in one of them (sq_compact.c); at one
       start the coarse rows come first */

    if (sqlite3_prepare_v2(st->db,
            "SELECT s.region, s.segment, r.t, r.secs, r.slot "
            "FROM series s JOIN rollups r ON r.series = s.id "
            "WHERE s.endpoint = ?1 AND r.t >= ?2 AND r.t < ?3 "
            "UNION ALL "
            "SELECT s.region, s.segment, c.t, c.secs, c.slot "
            "FROM series s JOIN coarse c ON c.series = s.id "
            "WHERE s.endpoint = ?1 AND c.t >= ?2 AND c.t < ?3 "
            "ORDER BY 3, 4 DESC",
            -1, &s, NULL)
        != SQLITE_OK)
    {
        return sq_store_fail(st, "cannot read rollups");
    }

    sqlite3_bind_text(s, 1, endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to);

    sq_win_init(&w);
    ret = SQ_OK;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        sq_win_reset(&w);

        ret = sq_store_column_slot(s, 4, &blob, &len);

        if (ret == SQ_OK) {
            ret = sq_slot_unpack_win(blob, len, &w);
        }

        if (ret != SQ_OK) {
            snprintf(st->err, sizeof(st->err), "%s: a rollup of %s is "
                     "damaged", st->path, endpoint);
            break;
        }

        row.region = (const char *) sqlite3_column_text(s, 0);
        row.segment = (const char *) sqlite3_column_text(s, 1);
        row.start = sqlite3_column_int64(s, 2);
        row.secs = sqlite3_column_int64(s, 3);
        row.win = &w;

        if (row.region == NULL) {
            row.region = "";
        }

        if (row.segment == NULL) {
            row.segment = "";
        }

        if (cb(data, &row) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }

    sqlite3_finalize(s);
    sq_win_free(&w);

    if (ret != SQ_OK) {
        return ret;
    }

    if (rc != SQLITE_DONE) {
        return sq_store_fail(st, "cannot read rollups");
    }

    return SQ_OK;
}


/* alert history */

static void
sq_bind_str(sqlite3_stmt *s, int i, const char *v)
{
    if (v) {
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);

    } else {
        sqlite3_bind_null(s, i);
    }
}


static void
sq_bind_num(sqlite3_stmt *s, int i, double v)
{
    if (isnan(v) || isinf(v)) {
        sqlite3_bind_null(s, i);

    } else {
        sqlite3_bind_double(s, i, v);
    }
}


int
sq_store_alert_event(sq_store_t *st, const sq_alert_event_t *ev)
{
    int            rc;
    sqlite3_stmt  *s;

    s = st->add_alert;
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, ev->time);
    sq_bind_str(s, 2, ev->status ? ev->status : "");
    sq_bind_str(s, 3, ev->severity ? ev->severity : "");
    sq_bind_str(s, 4, ev->endpoint ? ev->endpoint : "");
    sq_bind_str(s, 5, ev->region ? ev->region : "");
    sq_bind_str(s, 6, ev->segment ? ev->segment : "");
    sq_bind_str(s, 7, ev->journey);
    sq_bind_str(s, 8, ev->dimension ? ev->dimension : "");
    sq_bind_str(s, 9, ev->indicator ? ev->indicator : "");
    sq_bind_num(s, 10, ev->value);
    sq_bind_num(s, 11, ev->adequate);
    sq_bind_num(s, 12, ev->desired);
    sq_bind_num(s, 13, ev->msa);
    sqlite3_bind_int64(s, 14, ev->since);
    sq_bind_str(s, 15, ev->labels ? ev->labels : "{}");

    rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);

    if (rc != SQLITE_DONE) {
        return sq_store_fail(st, "cannot record an alert");
    }

    return SQ_OK;
}


int
sq_store_alert_events(sq_store_t *st, const sq_alert_event_t *ev, size_t n)
{
    size_t  i;

    if (n > 1 && sq_store_exec(st, "BEGIN IMMEDIATE") != SQ_OK) {
        return SQ_ERR_STORE;
    }

    for (i = 0; i < n; i++) {
        if (sq_store_alert_event(st, &ev[i]) != SQ_OK) {
            if (n > 1) {
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            }

            return SQ_ERR_STORE;
        }
    }

    if (n > 1 && sq_store_exec(st, "COMMIT") != SQ_OK) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return SQ_ERR_STORE;
    }

    return SQ_OK;
}


static double
sq_col_num(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL
           ? NAN : sqlite3_column_double(s, i);
}


int
sq_store_alert_history(sq_store_t *st, int64_t since, size_t max,
    sq_store_alert_pt cb, void *data)
{
    int               rc;
    sqlite3_stmt     *s;
    sq_alert_event_t  ev;

    if (sqlite3_prepare_v2(st->db,
            "SELECT t, status, severity, endpoint, region, segment, "
            "journey, dimension, indicator, value, adequate, desired, msa, "
            "since, labels FROM alerts WHERE t >= ?1 "
            "ORDER BY t DESC, id DESC LIMIT ?2",
            -1, &s, NULL)
        != SQLITE_OK)
    {
        return sq_store_fail(st, "cannot read alerts");
    }

    sqlite3_bind_int64(s, 1, since);
    sqlite3_bind_int64(s, 2, max ? (int64_t) max : -1);

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ev.time = sqlite3_column_int64(s, 0);
        ev.status = (const char *) sqlite3_column_text(s, 1);
        ev.severity = (const char *) sqlite3_column_text(s, 2);
        ev.endpoint = (const char *) sqlite3_column_text(s, 3);
        ev.region = (const char *) sqlite3_column_text(s, 4);
        ev.segment = (const char *) sqlite3_column_text(s, 5);
        ev.journey = (const char *) sqlite3_column_text(s, 6);
        ev.dimension = (const char *) sqlite3_column_text(s, 7);
        ev.indicator = (const char *) sqlite3_column_text(s, 8);
        ev.value = sq_col_num(s, 9);
        ev.adequate = sq_col_num(s, 10);
        ev.desired = sq_col_num(s, 11);
        ev.msa = sq_col_num(s, 12);
        ev.since = sqlite3_column_int64(s, 13);
        ev.labels = (const char *) sqlite3_column_text(s, 14);

        if (cb(data, &ev) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }

    sqlite3_finalize(s);

    if (rc != SQLITE_DONE) {
        return sq_store_fail(st, "cannot read alerts");
    }

    return SQ_OK;
}
