
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_STORE_H_INCLUDED_
#define _SQ_STORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "sq_status.h"
#include "sq_windows.h"


/*
 * The history store: an SQLite database (WAL) with the per-slot rollups
 * of every series (one row per series and fine slot, a minute by
 * default) and every alert transition.  The schema carries its version
 * in PRAGMA user_version and is migrated forward on open.
 *
 * A rollup is the packed slot of sq_slot.h, the bytes the window
 * store's rings hold.  Rollups are written once a slot is over, all
 * series in one transaction (sq_persist.c decides when); at exit the
 * current, partial slot is written too.  Rows are keyed by (series, slot
 * start) and replaced, so a partial slot loaded back at start and
 * completed later is written once, merged.
 *
 * Every function that can fail returns SQ_OK or a status of sq_status.h
 * (SQ_ERR_STORE for the database's own errors, SQ_ERR_CORRUPT for a row
 * that cannot be read back, SQ_ERR_NOMEM); sq_store_strerror() has the
 * reason of the last error, with the file's name.
 */

#define SQ_STORE_SCHEMA  5


typedef struct sq_store_s  sq_store_t;


/* one alert transition */

typedef struct {
    int64_t        time;          /* of the transition, epoch seconds */
    const char    *status;        /* "firing" or "resolved" */
    const char    *severity;      /* "critical" or "warning" */
    const char    *endpoint;      /* the journey's name for a journey */
    const char    *region;
    const char    *segment;
    const char    *journey;       /* NULL unless a journey */
    const char    *dimension;
    const char    *indicator;
    double         value;
    double         adequate;
    double         desired;
    double         msa;
    int64_t        since;         /* firing since, epoch seconds */
    const char    *labels;        /* a JSON object, NULL for {} */
} sq_alert_event_t;


/*
 * Called once per alert event read back, newest first; the strings live
 * until the callback returns.  A non-zero return stops the walk.
 */
typedef int (*sq_store_alert_pt)(void *data, const sq_alert_event_t *ev);


/* one rollup read back: a series of the endpoint asked for, one slot */

typedef struct {
    const char        *region;
    const char        *segment;
    int64_t            start;         /* epoch seconds */
    int64_t            secs;          /* slot length */
    const sq_win_t    *win;
} sq_store_row_t;

/* the row lives until the callback returns; non-zero stops the walk */
typedef int (*sq_store_row_pt)(void *data, const sq_store_row_t *row);


/*
 * Opens (creating it if needed) and migrates the database at path.  On
 * error returns NULL and writes "path: reason" into err.
 */
sq_store_t *sq_store_open(const char *path, char *err, size_t len);
void sq_store_close(sq_store_t *st);

/* checks that path can be opened and migrated, for -t: SQ_OK, or
   SQ_ERR_STORE and the reason in err */
int sq_store_check(const char *path, char *err, size_t len);

const char *sq_store_strerror(sq_store_t *st);
const char *sq_store_path(sq_store_t *st);

/*
 * For the store's other parts (sq_compact.c): the database handle; the
 * database's last error made the store's (returns SQ_ERR_STORE); a row
 * that cannot be read back (returns SQ_ERR_CORRUPT).
 */
struct sqlite3 *sq_store_db(sq_store_t *st);
int sq_store_error(sq_store_t *st, const char *what);
int sq_store_damaged(sq_store_t *st, int64_t series, int64_t t);

/*
 * Writes every series' fine slot that starts at start (complete or not)
 * in one transaction, replacing rows of the same series and slot.
 * *written gets the number of rows, if not NULL.
 */
int sq_store_write_slot(sq_store_t *st, const sq_windows_t *a, int64_t start,
    int complete, size_t *written);

/*
 * A slot's rows made ready on the event loop for the storage thread
 * (sq_writer.h), so that the thread reads nothing the loop changes: each
 * series' key and packed slot (sq_windows_slot_packed()), copied, and the
 * workers' state and loss counters that go with them (as
 * sq_store_write_slot() would write them at that moment).  Only the loop
 * fills a batch, only the thread reads one handed over.
 */

typedef struct {
    int64_t         start;
    int64_t         secs;
    int             complete;
    int             state;        /* the workers' state goes with it */
    const char     *hold;         /* the commit waits while this file
                                     exists (SERVQUAL_TEST_STORE_HOLD,
                                     tests), or NULL */
    size_t          nrows;
    unsigned char  *rows;         /* key and packed slot of each series */
    size_t          len;
    size_t          cap;
    unsigned char  *workers;      /* each worker's state and node name */
    size_t          wlen;
    size_t          wcap;
    uint64_t        lost[SQ_NLOSS];
    uint64_t        counted;
    unsigned char  *packed;       /* work space, SQ_SLOT_PACKED_MAX */
} sq_store_batch_t;

/*
 * Fills b (its memory kept from the last time) with every series' fine
 * slot that starts at start, complete or not: SQ_OK, SQ_ERR_INVALID
 * (start not on a slot) or SQ_ERR_NOMEM.  On the loop.
 */
int sq_store_batch_fill(sq_store_batch_t *b, const sq_windows_t *a,
    int64_t start, int complete);
void sq_store_batch_free(sq_store_batch_t *b);

/*
 * Writes a batch in one transaction, the same rows sq_store_write_slot()
 * writes (empty slots skipped, rows replaced) and the state with them.
 * *written gets the number of rows, if not NULL.  On the storage thread.
 */
int sq_store_write_batch(sq_store_t *st, const sq_store_batch_t *b,
    size_t *written);

/*
 * Loads the rollups of the last long window (slots ending after
 * now - long window, with the configured slot length) into the window
 * store with sq_windows_add_slot().  *loaded gets the number of rows.
 * A row that cannot be read back stops the load: SQ_ERR_CORRUPT.
 */
int sq_store_load(sq_store_t *st, sq_windows_t *a, int64_t now, size_t *loaded);

/* deletes rollups of both tiers and alert events older than before */
int sq_store_expire(sq_store_t *st, int64_t before, size_t *deleted);

/*
 * The rollups of every series of endpoint with start in [from, to), of
 * both tiers (row->secs tells them apart), oldest first and at one start
 * the longer rows first, one callback per row (the history API,
 * sq_history.c).
 * A row that cannot be read back stops the walk: SQ_ERR_CORRUPT.
 */
int sq_store_rollups(sq_store_t *st, const char *endpoint, int64_t from,
    int64_t to, sq_store_row_pt cb, void *data);

/* records one alert transition */
int sq_store_alert_event(sq_store_t *st, const sq_alert_event_t *ev);

/*
 * Records ev[0 .. n - 1] in one transaction (an evaluation's transitions:
 * at 100k rows, one commit instead of one each); all or none.
 */
int sq_store_alert_events(sq_store_t *st, const sq_alert_event_t *ev,
    size_t n);

/*
 * The alert transitions at or after since, newest first, at most max
 * (0: no limit), one callback each.
 */
int sq_store_alert_history(sq_store_t *st, int64_t since, size_t max,
    sq_store_alert_pt cb, void *data);


#endif /* _SQ_STORE_H_INCLUDED_ */
