
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>
#include <sqlite3.h>
#include <jansson.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "sq_collector.h"
#include "sq_score.h"
#include "sq_store.h"


/*
 * The schema, version 1 (PRAGMA user_version):
 *
 *   series   (id, endpoint, region, segment)   one row per series
 *   rollups  (series, t, secs, complete, requests, counters, rt, ttfb)
 *            one row per series and fine slot; t is the slot's start in
 *            epoch seconds, secs its length; complete is 0 for a slot
 *            written at exit before it was over
 *   alerts   (id, t, status, severity, endpoint, region, segment,
 *            journey, dimension, indicator, value, adequate, desired,
 *            msa, since, labels)   one row per alert transition
 *
 * The BLOBs are sequences of unsigned LEB128 varints (7 bits a byte,
 * least significant first, high bit set on all but the last byte):
 *
 *   counters   n, then n counters in the order of servqual_wire.h
 *              (readers take the first they know and skip the rest)
 *   rt, ttfb   n, then n pairs (bucket index delta, count): the sparse
 *              histogram in ascending bucket order, each index as the
 *              difference from the previous one (the first from 0)
 *
 * A migration takes the database from version i to i + 1; they run in
 * one transaction on open.
 */

static const char  *sq_store_migrations[] = {

    /* 0 -> 1 */
    "CREATE TABLE series ("
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
    "CREATE INDEX alerts_t ON alerts (t);"
};

#define SQ_STORE_NMIGRATIONS                                                 \
    (sizeof(sq_store_migrations) / sizeof(sq_store_migrations[0]))


#define SQ_STORE_IDS  4096        /* id cache buckets */


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

    sq_sid_t      **ids;
    size_t          nids;

    unsigned char  *buf;
    size_t          cap;

    int64_t         next;         /* the next slot to write */
    int64_t         expired;      /* when retention last ran */
    int64_t         logged;       /* when a write error was last logged */
};


/* history: the slots of a selection, with what empathy needs */

typedef struct {
    int64_t        start;
    int64_t        secs;
    int            matched;
    sq_win_t       sel;
    sq_win_t       ep;
    sq_win_t      *regs;
    char         **names;
    size_t         nregs;
    size_t         used;
} sq_hacc_t;


typedef struct {
    sq_ctx_t      *ctx;
    const char    *endpoint;
    const char    *region;        /* NULL: all */
    const char    *segment;
    json_t        *points;
    int64_t        secs;
} sq_hist_req_t;


static int sq_store_fail(sq_store_t *st, const char *what);
static int sq_store_exec(sq_store_t *st, const char *sql);
static int sq_store_version(sq_store_t *st, int *version);
static int sq_store_open_db(sq_store_t *st, int flags);
static int sq_store_migrate(sq_store_t *st);
static int sq_store_prepare(sq_store_t *st);
static void sq_store_ids_clear(sq_store_t *st);
static int sq_store_series_id(sq_store_t *st, const char *e, const char *r,
    const char *g, int64_t *id);
static int sq_store_reserve(sq_store_t *st, size_t need);
static unsigned char *sq_put_varint(unsigned char *p, uint64_t v);
static int sq_get_varint(const unsigned char **p, const unsigned char *end,
    uint64_t *v);
static size_t sq_enc_counters(unsigned char *p, const sq_slot_t *sl);
static size_t sq_enc_hist(unsigned char *p, const sq_hist_t *h);
static int sq_dec_counters(const void *blob, int len, sq_win_t *w);
static int sq_dec_hist(const void *blob, int len, sq_hist_t *h);
static int sq_dec_row(sqlite3_stmt *s, int col, sq_win_t *w);
static int sq_store_put(sq_store_t *st, const sq_series_t *s,
    const sq_slot_t *sl, int64_t start, int64_t secs, int complete);
static int sq_hacc_emit(sq_hacc_t *h, sq_store_point_pt cb, void *data);
static sq_win_t *sq_hacc_region(sq_hacc_t *h, const char *name);
static void sq_bind_str(sqlite3_stmt *s, int i, const char *v);
static void sq_bind_num(sqlite3_stmt *s, int i, double v);
static double sq_col_num(sqlite3_stmt *s, int i);
static double sq_store_ms(void);
static json_t *sq_store_num(double v);
static int sq_store_point(void *data, const sq_store_point_t *p);
static void sq_store_reply(struct evhttp_request *req, int code,
    const char *reason, json_t *json);
static void sq_store_bad(struct evhttp_request *req, int code,
    const char *reason, const char *msg);
static int sq_store_arg(struct evkeyvalq *args, const char *name,
    int64_t *v);


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

    return SQ_STORE_ERROR;
}


static int
sq_store_exec(sq_store_t *st, const char *sql)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        return sq_store_fail(st, sql);
    }

    return SQ_STORE_OK;
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

    return SQ_STORE_OK;
}


static int
sq_store_migrate(sq_store_t *st)
{
    int   v;
    char  sql[64];

    if (sq_store_version(st, &v) != SQ_STORE_OK) {
        return SQ_STORE_ERROR;
    }

    if (v > (int) SQ_STORE_NMIGRATIONS) {
        snprintf(st->err, sizeof(st->err), "%s: the schema version %d is "
                 "newer than this collector's (%d)", st->path, v,
                 (int) SQ_STORE_NMIGRATIONS);
        return SQ_STORE_ERROR;
    }

    if (v == (int) SQ_STORE_NMIGRATIONS) {
        return SQ_STORE_OK;
    }

    if (sq_store_exec(st, "BEGIN IMMEDIATE") != SQ_STORE_OK) {
        return SQ_STORE_ERROR;
    }

    for ( /* void */ ; v < (int) SQ_STORE_NMIGRATIONS; v++) {
        if (sqlite3_exec(st->db, sq_store_migrations[v], NULL, NULL, NULL)
            != SQLITE_OK)
        {
            snprintf(sql, sizeof(sql), "migration to version %d", v + 1);
            sq_store_fail(st, sql);
            goto failed;
        }
    }

    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);

    if (sq_store_exec(st, sql) != SQ_STORE_OK
        || sq_store_exec(st, "COMMIT") != SQ_STORE_OK)
    {
        goto failed;
    }

    return SQ_STORE_OK;

failed:

    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);

    return SQ_STORE_ERROR;
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
          "requests, counters, rt, ttfb) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)" },
        { offsetof(sq_store_t, add_alert),
          "INSERT INTO alerts (t, status, severity, endpoint, region, "
          "segment, journey, dimension, indicator, value, adequate, "
          "desired, msa, since, labels) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
          "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)" }
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

    return SQ_STORE_OK;
}


static int
sq_store_open_db(sq_store_t *st, int flags)
{
    if (sqlite3_open_v2(st->path, &st->db, flags, NULL) != SQLITE_OK) {
        if (st->db == NULL) {
            snprintf(st->err, sizeof(st->err), "%s: out of memory",
                     st->path);
            return SQ_STORE_ERROR;
        }

        return sq_store_fail(st, "cannot open the database");
    }

    sqlite3_extended_result_codes(st->db, 0);
    sqlite3_busy_timeout(st->db, 200);

    return SQ_STORE_OK;
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

    st->path = strdup(path);
    st->ids = calloc(SQ_STORE_IDS, sizeof(sq_sid_t *));

    if (st->path == NULL || st->ids == NULL) {
        snprintf(err, len, "%s: out of memory", path);
        goto failed;
    }

    if (sq_store_open_db(st, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        != SQ_STORE_OK)
    {
        goto failed;
    }

    /* reading the header first tells a file that is not a database */

    if (sq_store_version(st, &v) != SQ_STORE_OK) {
        goto failed;
    }

    if (sqlite3_db_readonly(st->db, "main") == 1) {
        snprintf(st->err, sizeof(st->err), "%s: the file is read-only",
                 st->path);
        goto failed;
    }

    if (sq_store_exec(st, "PRAGMA journal_mode = WAL") != SQ_STORE_OK
        || sq_store_exec(st, "PRAGMA synchronous = NORMAL") != SQ_STORE_OK
        || sq_store_migrate(st) != SQ_STORE_OK
        || sq_store_prepare(st) != SQ_STORE_OK)
    {
        goto failed;
    }

    /* a write proves that the file, its directory and the lock work */

    if (sq_store_exec(st, "BEGIN IMMEDIATE") != SQ_STORE_OK
        || sq_store_exec(st, "COMMIT") != SQ_STORE_OK)
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
    char        *dir, *slash;
    sq_store_t   st;
    struct stat  sb;

    /* a database that is not there yet: its directory must be writable */

    if (stat(path, &sb) != 0) {
        if (errno != ENOENT) {
            snprintf(err, len, "%s: %s", path, strerror(errno));
            return SQ_STORE_ERROR;
        }

        dir = strdup(path);
        if (dir == NULL) {
            snprintf(err, len, "%s: out of memory", path);
            return SQ_STORE_ERROR;
        }

        slash = strrchr(dir, '/');

        if (slash == NULL) {
            strcpy(dir, ".");

        } else if (slash == dir) {
            slash[1] = '\0';

        } else {
            *slash = '\0';
        }

        rc = access(dir, W_OK | X_OK);

        if (rc != 0) {
            snprintf(err, len, "%s: cannot create the database in \"%s\": "
                     "%s", path, dir, strerror(errno));
        }

        free(dir);

        return rc == 0 ? SQ_STORE_OK : SQ_STORE_ERROR;
    }

    memset(&st, 0, sizeof(sq_store_t));
    st.path = (char *) path;
    rc = SQ_STORE_ERROR;

    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, len, "%s: is a directory", path);
        return SQ_STORE_ERROR;
    }

    if (sq_store_open_db(&st, SQLITE_OPEN_READWRITE) != SQ_STORE_OK
        || sq_store_version(&st, &v) != SQ_STORE_OK)
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

    rc = SQ_STORE_OK;

done:

    if (rc != SQ_STORE_OK) {
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

    if (st->db) {
        sqlite3_close(st->db);
    }

    if (st->ids) {
        sq_store_ids_clear(st);
        free(st->ids);
    }

    free(st->buf);
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
                return SQ_STORE_OK;
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
        return SQ_STORE_OK;
    }

    if (st->nids > 16 * SQ_STORE_IDS * 64) {
        sq_store_ids_clear(st);
    }

    p = malloc(sizeof(sq_sid_t) + len);
    if (p == NULL) {
        return SQ_STORE_OK;
    }

    p->hash = h;
    p->id = *id;
    p->len = len;
    memcpy(p->key, key, len);
    p->next = st->ids[h % SQ_STORE_IDS];
    st->ids[h % SQ_STORE_IDS] = p;
    st->nids++;

    return SQ_STORE_OK;
}


/* the BLOB encodings */

static unsigned char *
sq_put_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char) (v | 0x80);
        v >>= 7;
    }

    *p++ = (unsigned char) v;

    return p;
}


static int
sq_get_varint(const unsigned char **p, const unsigned char *end,
    uint64_t *v)
{
    int                   shift;
    uint64_t              r;
    const unsigned char  *q;

    r = 0;
    shift = 0;

    for (q = *p; q < end && shift < 64; q++, shift += 7) {
        r |= (uint64_t) (*q & 0x7f) << shift;

        if ((*q & 0x80) == 0) {
            *p = q + 1;
            *v = r;
            return 0;
        }
    }

    return -1;
}


static int
sq_store_reserve(sq_store_t *st, size_t need)
{
    unsigned char  *b;

    if (need <= st->cap) {
        return 0;
    }

    need = need < 4096 ? 4096 : need * 2;

    b = realloc(st->buf, need);
    if (b == NULL) {
        return -1;
    }

    st->buf = b;
    st->cap = need;

    return 0;
}


static size_t
sq_enc_counters(unsigned char *p, const sq_slot_t *sl)
{
    int             k;
    unsigned char  *q;

    q = sq_put_varint(p, SQ_WIRE_NCOUNTERS);

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        q = sq_put_varint(q, k == SQ_C_BYTES ? sl->bytes : sl->c[k]);
    }

    return (size_t) (q - p);
}


static size_t
sq_enc_hist(unsigned char *p, const sq_hist_t *h)
{
    uint32_t        i, prev, idx;
    unsigned char  *q;

    q = sq_put_varint(p, h->n);
    prev = 0;

    for (i = 0; i < h->n; i++) {
        idx = sq_hbin_idx(h->bins[i]);
        q = sq_put_varint(q, idx - prev);
        q = sq_put_varint(q, sq_hbin_count(h->bins[i]));
        prev = idx;
    }

    return (size_t) (q - p);
}


static int
sq_dec_counters(const void *blob, int len, sq_win_t *w)
{
    uint64_t              n, i, v;
    const unsigned char  *p, *end;

    p = blob;
    end = p + len;

    if (sq_get_varint(&p, end, &n) != 0) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (sq_get_varint(&p, end, &v) != 0) {
            return -1;
        }

        if (i < SQ_WIRE_NCOUNTERS) {
            w->c[i] += v;
        }
    }

    return 0;
}


static int
sq_dec_hist(const void *blob, int len, sq_hist_t *h)
{
    uint64_t              n, i, d, c, idx;
    const unsigned char  *p, *end;

    p = blob;
    end = p + len;
    idx = 0;

    if (sq_get_varint(&p, end, &n) != 0) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (sq_get_varint(&p, end, &d) != 0
            || sq_get_varint(&p, end, &c) != 0)
        {
            return -1;
        }

        idx += d;

        if (idx >= SQ_HIST_BUCKETS || c > SQ_HBIN_COUNT_MAX) {
            return -1;
        }

        if (c && sq_hist_add(h, (uint32_t) idx, c) != 0) {
            return -1;
        }
    }

    return 0;
}


/* merges the counters, rt and ttfb columns at col, col + 1, col + 2 */

static int
sq_dec_row(sqlite3_stmt *s, int col, sq_win_t *w)
{
    if (sq_dec_counters(sqlite3_column_blob(s, col),
                        sqlite3_column_bytes(s, col), w) != 0
        || sq_dec_hist(sqlite3_column_blob(s, col + 1),
                       sqlite3_column_bytes(s, col + 1), &w->h[0]) != 0
        || sq_dec_hist(sqlite3_column_blob(s, col + 2),
                       sqlite3_column_bytes(s, col + 2), &w->h[1]) != 0)
    {
        return -1;
    }

    return 0;
}


/* rollups */

static int
sq_store_put(sq_store_t *st, const sq_series_t *s, const sq_slot_t *sl,
    int64_t start, int64_t secs, int complete)
{
    int            rc;
    size_t         nc, n0, n1;
    int64_t        id;
    sqlite3_stmt  *q;

    if (sq_store_series_id(st, s->endpoint, s->region, s->segment, &id)
        != SQ_STORE_OK)
    {
        return SQ_STORE_ERROR;
    }

    if (sq_store_reserve(st, 11 * (1 + SQ_WIRE_NCOUNTERS)
                         + 21 * ((size_t) sl->h[0].n + sl->h[1].n + 2))
        != 0)
    {
        snprintf(st->err, sizeof(st->err), "%s: out of memory", st->path);
        return SQ_STORE_ERROR;
    }

    nc = sq_enc_counters(st->buf, sl);
    n0 = sq_enc_hist(st->buf + nc, &sl->h[0]);
    n1 = sq_enc_hist(st->buf + nc + n0, &sl->h[1]);

    q = st->put_rollup;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, start);
    sqlite3_bind_int64(q, 3, secs);
    sqlite3_bind_int(q, 4, complete);
    sqlite3_bind_int64(q, 5, sl->c[SQ_C_REQUESTS]);
    sqlite3_bind_blob(q, 6, st->buf, (int) nc, SQLITE_STATIC);
    sqlite3_bind_blob(q, 7, st->buf + nc, (int) n0, SQLITE_STATIC);
    sqlite3_bind_blob(q, 8, st->buf + nc + n0, (int) n1, SQLITE_STATIC);

    rc = sqlite3_step(q);
    sqlite3_reset(q);

    if (rc != SQLITE_DONE) {
        return sq_store_fail(st, "cannot write a rollup");
    }

    return SQ_STORE_OK;
}


int
sq_store_write_slot(sq_store_t *st, const sq_windows_t *a, int64_t start,
    int complete, size_t *written)
{
    size_t            n;
    uint32_t          i;
    const sq_slot_t  *sl;
    sq_series_t      *s;

    n = 0;

    if (sq_store_exec(st, "BEGIN IMMEDIATE") != SQ_STORE_OK) {
        return SQ_STORE_ERROR;
    }

    for (i = 0; i <= a->n; i++) {
        s = (i < a->n) ? a->all[i] : a->other;

        if (s == NULL) {
            continue;
        }

        sl = sq_windows_slot_at(a, s, start);

        if (sl == NULL
            || (sl->c[SQ_C_REQUESTS] == 0 && sl->h[0].total == 0
                && sl->h[1].total == 0))
        {
            continue;
        }

        if (sq_store_put(st, s, sl, start, a->slot, complete)
            != SQ_STORE_OK)
        {
            goto failed;
        }

        n++;
    }

    if (sq_store_exec(st, "COMMIT") != SQ_STORE_OK) {
        goto failed;
    }

    if (written) {
        *written = n;
    }

    return SQ_STORE_OK;

failed:

    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);

    /* series added in the transaction are gone with it */
    sq_store_ids_clear(st);

    return SQ_STORE_ERROR;
}


int
sq_store_load(sq_store_t *st, sq_windows_t *a, int64_t now, size_t *loaded)
{
    int            rc, own;
    size_t         n;
    int64_t        t;
    sq_win_t       w;
    sqlite3_stmt  *s;

    n = 0;
    own = 0;

    if (sqlite3_prepare_v2(st->db,
            "SELECT s.endpoint, s.region, s.segment, r.t, r.counters, "
            "r.rt, r.ttfb FROM rollups r JOIN series s ON s.id = r.series "
            "WHERE r.t > ?1 AND r.t <= ?2 AND r.secs = ?3 ORDER BY r.t",
            -1, &s, NULL)
        != SQLITE_OK)
    {
        return sq_store_fail(st, "cannot read rollups");
    }

    sqlite3_bind_int64(s, 1, now - a->long_window);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, a->slot);

    sq_win_init(&w);

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        t = sqlite3_column_int64(s, 3);

        if (t % a->slot != 0) {
            continue;
        }

        sq_win_reset(&w);

        if (sq_dec_row(s, 4, &w) != 0) {
            snprintf(st->err, sizeof(st->err), "%s: a rollup of %s is "
                     "damaged", st->path,
                     (const char *) sqlite3_column_text(s, 0));
            own = 1;
            break;
        }

        if (sq_windows_add_slot(a, (const char *) sqlite3_column_text(s, 0),
                            (const char *) sqlite3_column_text(s, 1),
                            (const char *) sqlite3_column_text(s, 2),
                            &w, t, now)
            != 0)
        {
            snprintf(st->err, sizeof(st->err), "%s: out of memory",
                     st->path);
            own = 1;
            break;
        }

        n++;
    }

    sq_win_free(&w);

    if (own || rc != SQLITE_DONE) {
        if (!own) {
            sq_store_fail(st, "cannot read rollups");
        }

        sqlite3_finalize(s);
        return SQ_STORE_ERROR;
    }

    sqlite3_finalize(s);

    if (loaded) {
        *loaded = n;
    }

    return SQ_STORE_OK;
}


int
sq_store_expire(sq_store_t *st, int64_t before, size_t *deleted)
{
    int            rc;
    size_t         n;
    sqlite3_stmt  *s;

    static const char  *sql[] = {
        "DELETE FROM rollups WHERE t < ?1",
        "DELETE FROM alerts WHERE t < ?1"
    };

    size_t  i;

    n = 0;

    for (i = 0; i < 2; i++) {
        if (sqlite3_prepare_v2(st->db, sql[i], -1, &s, NULL) != SQLITE_OK) {
            return sq_store_fail(st, "cannot delete old rows");
        }

        sqlite3_bind_int64(s, 1, before);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);

        if (rc != SQLITE_DONE) {
            return sq_store_fail(st, "cannot delete old rows");
        }

        n += (size_t) sqlite3_changes(st->db);
    }

    if (deleted) {
        *deleted = n;
    }

    return SQ_STORE_OK;
}


/* history: the slots of a selection, with what empathy needs */

static int
sq_hacc_emit(sq_hacc_t *h, sq_store_point_pt cb, void *data)
{
    int               rc;
    sq_store_point_t  p;

    rc = 0;

    if (h->matched) {
        p.start = h->start;
        p.secs = h->secs;
        p.win = &h->sel;
        p.endpoint = &h->ep;
        p.regions = h->regs;
        p.names = (const char *const *) h->names;
        p.nregions = h->used;

        rc = cb(data, &p);
    }

    sq_win_reset(&h->sel);
    sq_win_reset(&h->ep);
    h->matched = 0;
    h->used = 0;

    return rc;
}


static sq_win_t *
sq_hacc_region(sq_hacc_t *h, const char *name)
{
    size_t     i;
    char     **nn;
    sq_win_t  *nw;

    for (i = 0; i < h->used; i++) {
        if (strcmp(h->names[i], name) == 0) {
            return &h->regs[i];
        }
    }

    if (h->used == h->nregs) {
        nw = realloc(h->regs, (h->nregs * 2 + 8) * sizeof(sq_win_t));
        if (nw == NULL) {
            return NULL;
        }

        h->regs = nw;

        nn = realloc(h->names, (h->nregs * 2 + 8) * sizeof(char *));
        if (nn == NULL) {
            return NULL;
        }

        h->names = nn;

        for (i = h->nregs; i < h->nregs * 2 + 8; i++) {
            sq_win_init(&h->regs[i]);
            h->names[i] = NULL;
        }

        h->nregs = h->nregs * 2 + 8;
    }

    free(h->names[h->used]);
    h->names[h->used] = strdup(name);

    if (h->names[h->used] == NULL) {
        return NULL;
    }

    sq_win_reset(&h->regs[h->used]);

    return &h->regs[h->used++];
}


int
sq_store_history(sq_store_t *st, const char *endpoint, const char *region,
    const char *segment, int64_t from, int64_t to, sq_store_point_pt cb,
    void *data)
{
    int            rc, ret, stop;
    size_t         i;
    int64_t        t;
    sq_win_t       w, *rw;
    sq_hacc_t      h;
    const char    *r, *g;
    sqlite3_stmt  *s;

    if (region && strcmp(region, "*") == 0) {
        region = NULL;
    }

    if (segment && strcmp(segment, "*") == 0) {
        segment = NULL;
    }

    if (sqlite3_prepare_v2(st->db,
            "SELECT s.region, s.segment, r.t, r.secs, r.counters, r.rt, "
            "r.ttfb FROM series s JOIN rollups r ON r.series = s.id "
            "WHERE s.endpoint = ?1 AND r.t >= ?2 AND r.t < ?3 "
            "ORDER BY r.t",
            -1, &s, NULL)
        != SQLITE_OK)
    {
        return sq_store_fail(st, "cannot read rollups");
    }

    sqlite3_bind_text(s, 1, endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to);

    memset(&h, 0, sizeof(sq_hacc_t));
    sq_win_init(&h.sel);
    sq_win_init(&h.ep);
    sq_win_init(&w);
    h.start = INT64_MIN;
    ret = SQ_STORE_ERROR;
    stop = 0;

    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        r = (const char *) sqlite3_column_text(s, 0);
        g = (const char *) sqlite3_column_text(s, 1);
        t = sqlite3_column_int64(s, 2);

        if (t != h.start) {
            stop = sq_hacc_emit(&h, cb, data);
            h.start = t;
            h.secs = sqlite3_column_int64(s, 3);
        }

        sq_win_reset(&w);

        if (sq_dec_row(s, 4, &w) != 0) {
            snprintf(st->err, sizeof(st->err), "%s: a rollup of %s is "
                     "damaged", st->path, endpoint);
            goto done;
        }

        rw = sq_hacc_region(&h, r ? r : "");

        if (rw == NULL
            || sq_win_merge(rw, &w) != 0
            || sq_win_merge(&h.ep, &w) != 0)
        {
            snprintf(st->err, sizeof(st->err), "out of memory");
            goto done;
        }

        if ((region == NULL || (r && strcmp(region, r) == 0))
            && (segment == NULL || (g && strcmp(segment, g) == 0)))
        {
            if (sq_win_merge(&h.sel, &w) != 0) {
                snprintf(st->err, sizeof(st->err), "out of memory");
                goto done;
            }

            h.matched = 1;
        }
    }

    if (!stop && rc != SQLITE_DONE) {
        sq_store_fail(st, "cannot read rollups");
        goto done;
    }

    if (!stop) {
        (void) sq_hacc_emit(&h, cb, data);
    }

    ret = SQ_STORE_OK;

done:

    sqlite3_finalize(s);

    for (i = 0; i < h.nregs; i++) {
        sq_win_free(&h.regs[i]);
        free(h.names[i]);
    }

    free(h.regs);
    free(h.names);
    sq_win_free(&h.sel);
    sq_win_free(&h.ep);
    sq_win_free(&w);

    return ret;
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

    return SQ_STORE_OK;
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

    return SQ_STORE_OK;
}


/*
 * The collector's side: open and load at start, write each slot once it
 * is over from the one-second timer, write the current slot at exit, and
 * /api/v1/history.
 */

#define SQ_STORE_SLOW_MS  200


static double
sq_store_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}


int
sq_store_start(sq_ctx_t *ctx)
{
    char         err[600];
    size_t       n;
    int64_t      now;
    const char  *path;
    sq_store_t  *st;

    path = ctx->conf->storage_path;

    if (strcmp(path, "off") == 0) {
        sq_log(SQ_LOG_INFO, "storage is off");
        return 0;
    }

    st = sq_store_open(path, err, sizeof(err));

    if (st == NULL) {
        sq_log(SQ_LOG_ERROR, "storage: %s", err);
        return -1;
    }

    now = sq_now();

    if (sq_store_expire(st, now - ctx->conf->retention, NULL) != SQ_STORE_OK
        || sq_store_load(st, &ctx->windows, now, &n) != SQ_STORE_OK)
    {
        sq_log(SQ_LOG_ERROR, "storage: %s", st->err);
        sq_store_close(st);
        return -1;
    }

    st->next = now - now % ctx->windows.slot;
    st->expired = now;
    ctx->store = st;

    sq_log(SQ_LOG_INFO, "storage \"%s\": %zu rollups of the last %llds "
           "loaded", path, n, (long long) ctx->windows.long_window);

    return 0;
}


void
sq_store_tick(sq_ctx_t *ctx, int64_t now)
{
    double       t0, ms;
    size_t       n;
    int64_t      cur, oldest;
    sq_windows_t    *a;
    sq_store_t  *st;

    st = ctx->store;

    if (st == NULL) {
        return;
    }

    a = &ctx->windows;
    cur = now - now % a->slot;
    oldest = cur - (int64_t) a->nfine * a->slot;

    /* a new slot length after a reload, or a clock that went back */

    if (st->next % a->slot != 0 || st->next > cur) {
        st->next = cur;
    }

    if (st->next < oldest) {
        st->next = oldest;
    }

    while (st->next < cur) {
        t0 = sq_store_ms();

        if (sq_store_write_slot(st, a, st->next, 1, &n) != SQ_STORE_OK) {
            if (now - st->logged >= 60) {
                sq_log(SQ_LOG_ERROR, "storage: %s, will retry", st->err);
                st->logged = now;
            }

            return;
        }

        ms = sq_store_ms() - t0;

        sq_log(ms > SQ_STORE_SLOW_MS ? SQ_LOG_WARN : SQ_LOG_DEBUG,
               "storage: %zu rollups of %lld written in %.1f ms", n,
               (long long) st->next, ms);

        st->next += a->slot;
    }

    if (now - st->expired >= 60) {
        st->expired = now;
        t0 = sq_store_ms();

        if (sq_store_expire(st, now - ctx->conf->retention, &n)
            != SQ_STORE_OK)
        {
            sq_log(SQ_LOG_ERROR, "storage: %s", st->err);
            return;
        }

        if (n) {
            sq_log(SQ_LOG_DEBUG, "storage: %zu rows past retention deleted "
                   "in %.1f ms", n, sq_store_ms() - t0);
        }
    }
}


void
sq_store_stop(sq_ctx_t *ctx)
{
    size_t       n;
    int64_t      now;
    sq_store_t  *st;

    st = ctx->store;

    if (st == NULL) {
        return;
    }

    now = sq_now();
    sq_store_tick(ctx, now);

    /* the current slot, not over yet: loaded back and completed later */

    if (sq_store_write_slot(st, &ctx->windows, now - now % ctx->windows.slot, 0,
                            &n)
        != SQ_STORE_OK)
    {
        sq_log(SQ_LOG_ERROR, "storage: %s", st->err);

    } else {
        sq_log(SQ_LOG_INFO, "storage: %zu rollups of the current slot "
               "written", n);
    }

    sq_store_close(st);
    ctx->store = NULL;
}


/* /api/v1/history */

static json_t *
sq_store_num(double v)
{
    return isnan(v) || isinf(v) ? json_null() : json_real(v);
}


static int
sq_store_point(void *data, const sq_store_point_t *p)
{
    int                    d;
    json_t                *pt, *dims, *o;
    sq_hist_req_t         *hr = data;
    sq_win_score_t         ws;
    const sq_dim_score_t  *ds;

    sq_score_slot(hr->ctx->conf, hr->endpoint, hr->region, hr->segment,
                  p->win, p->endpoint, p->regions, p->names, p->nregions,
                  &ws);

    hr->secs = p->secs;
    pt = json_object();
    dims = json_object();

    json_object_set_new(pt, "t", json_integer(p->start));
    json_object_set_new(pt, "requests", json_integer(ws.requests));
    json_object_set_new(pt, "index", sq_store_num(ws.index));
    json_object_set_new(pt, "state", json_string(sq_state_names[ws.state]));

    for (d = 0; d < SQ_NDIMS; d++) {
        ds = &ws.dim[d];
        o = json_object();

        json_object_set_new(o, "value", sq_store_num(ds->value));
        json_object_set_new(o, "z", ds->state == SQ_STATE_INSUFFICIENT
                                    ? json_null() : sq_store_num(ds->z));
        json_object_set_new(o, "state",
                            json_string(sq_state_names[ds->state]));
        json_object_set_new(dims, sq_dim_names[d], o);
    }

    json_object_set_new(pt, "dimensions", dims);
    json_array_append_new(hr->points, pt);

    return 0;
}


static void
sq_store_reply(struct evhttp_request *req, int code, const char *reason,
    json_t *json)
{
    char             *s;
    struct evbuffer  *b;

    s = json ? json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(10))
             : NULL;
    json_decref(json);
    b = evbuffer_new();

    if (s == NULL || b == NULL) {
        free(s);

        if (b) {
            evbuffer_free(b);
        }

        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }

    evbuffer_add(b, s, strlen(s));
    evbuffer_add(b, "\n", 1);
    free(s);

    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Type", "application/json");
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}


static void
sq_store_bad(struct evhttp_request *req, int code, const char *reason,
    const char *msg)
{
    sq_store_reply(req, code, reason, json_pack("{ss}", "error", msg));
}


static int
sq_store_arg(struct evkeyvalq *args, const char *name, int64_t *v)
{
    char        *end;
    const char  *s;
    long long    n;

    s = evhttp_find_header(args, name);

    if (s == NULL) {
        return 0;
    }

    errno = 0;
    n = strtoll(s, &end, 10);

    if (*s == '\0' || *end != '\0' || errno != 0 || n < 0) {
        return -1;
    }

    *v = n;

    return 1;
}


void
sq_store_http_history(struct evhttp_request *req, void *data)
{
    int                    rf, rt, rm;
    int64_t                now, from, to, minutes;
    json_t                *root;
    sq_ctx_t              *ctx = data;
    const char            *q, *e, *r, *g;
    sq_hist_req_t          hr;
    struct evkeyvalq       args;
    enum evhttp_cmd_type   cmd;

    ctx->http_requests++;
    cmd = evhttp_request_get_command(req);

    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET, HEAD");
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }

    memset(&args, 0, sizeof(args));
    q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));

    if (q && evhttp_parse_query_str(q, &args) != 0) {
        sq_store_bad(req, 400, "Bad Request", "invalid query string");
        return;
    }

    e = evhttp_find_header(&args, "endpoint");
    r = evhttp_find_header(&args, "region");
    g = evhttp_find_header(&args, "segment");

    now = sq_now();
    minutes = 60;
    to = now + 1;
    from = 0;

    rm = sq_store_arg(&args, "minutes", &minutes);
    rf = sq_store_arg(&args, "from", &from);
    rt = sq_store_arg(&args, "to", &to);

    if (e == NULL || *e == '\0') {
        sq_store_bad(req, 400, "Bad Request", "endpoint is required");
        goto done;
    }

    if (rm < 0 || rf < 0 || rt < 0 || minutes < 1
        || minutes > ctx->conf->retention / 60 + 1)
    {
        sq_store_bad(req, 400, "Bad Request", "minutes, from and to are "
                     "whole numbers: minutes from 1 to the retention, "
                     "from and to in seconds since the epoch");
        goto done;
    }

    if (rf == 0) {
        from = to - minutes * 60;
    }

    if (to <= from) {
        sq_store_bad(req, 400, "Bad Request", "to must be after from");
        goto done;
    }

    if (ctx->store == NULL) {
        sq_store_bad(req, 503, "Service Unavailable", "storage is off");
        goto done;
    }

    hr.ctx = ctx;
    hr.endpoint = e;
    hr.region = (r && *r && strcmp(r, SQ_ALL) != 0) ? r : NULL;
    hr.segment = (g && strcmp(g, SQ_ALL) != 0) ? g : NULL;
    hr.secs = ctx->windows.slot;
    hr.points = json_array();

    if (sq_store_history(ctx->store, e, hr.region, hr.segment, from, to,
                         sq_store_point, &hr)
        != SQ_STORE_OK)
    {
        sq_log(SQ_LOG_ERROR, "storage: %s", ctx->store->err);
        json_decref(hr.points);
        sq_store_bad(req, 500, "Internal Server Error",
                     "cannot read the history");
        goto done;
    }

    root = json_object();
    json_object_set_new(root, "endpoint", json_string(e));
    json_object_set_new(root, "region", json_string(hr.region ? r : SQ_ALL));
    json_object_set_new(root, "segment",
                        json_string(hr.segment ? g : SQ_ALL));
    json_object_set_new(root, "from", json_integer(from));
    json_object_set_new(root, "to", json_integer(to));
    json_object_set_new(root, "slot", json_integer(hr.secs));
    json_object_set_new(root, "points", hr.points);

    sq_store_reply(req, 200, "OK", root);

done:

    evhttp_clear_headers(&args);
}
