
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include <sqlite3.h>

#include "sq_history.h"
#include "sq_store.h"


/* the history store: schema, rollups round trip, replace, retention,
   alert events, errors */

typedef struct {
    size_t     n;
    uint64_t   requests;
    uint64_t   rt;
    uint64_t   c5xx;
    size_t     nregions;
} hsum_t;


static int
on_point(void *data, const sq_history_point_t *p)
{
    hsum_t  *h = data;

    h->n++;
    h->requests += p->win->c[SQ_C_REQUESTS];
    h->rt += p->win->h[0].total;
    h->c5xx += p->win->c[SQ_C_5XX];
    h->nregions = p->nregions;

    return 0;
}


static int
on_alert(void *data, const sq_alert_event_t *ev)
{
    char  *out = data;

    strcat(out, ev->status);
    strcat(out, ev->journey ? "+j" : "");
    strcat(out, isnan(ev->value) ? "+nan" : "");
    strcat(out, ";");

    return 0;
}


static void
mkslot(sq_slot_t *sl, int64_t start, uint64_t n, uint64_t c5xx,
    uint32_t idx)
{
    sq_slot_reset(sl, start);
    sl->c[SQ_C_REQUESTS] = n;
    sl->c[SQ_C_5XX] = c5xx;
    sl->bytes = n * 1000;
    sq_hist_add(&sl->h[0], idx, n);
    sq_hist_add(&sl->h[0], idx + 300, 1);
    sq_hist_add(&sl->h[1], idx, n);
}


int
main(void)
{
    int               fd, rc;
    char              path[64], err[512], out[256];
    FILE             *f;
    size_t            n;
    int64_t           t0, now;
    hsum_t            h;
    sq_slot_t         sl;
    sq_windows_t      a, b;
    sq_win_t          w, lw;
    sq_store_t       *st;
    sq_alert_event_t  ev;

    strcpy(path, "/tmp/servqual-store-XXXXXX");
    fd = mkstemp(path);
    close(fd);
    unlink(path);

    st = sq_store_open(path, err, sizeof(err));
    ok(st != NULL, "a new database is created (%s)", st ? "" : err);
    if (st == NULL) {
        return done_testing();
    }

    /* two series with data in the slot at t0 */

    t0 = 1700000040;             /* a multiple of 60 */
    now = t0 + 30;

    sq_windows_init(&a, 60, 300, 3600, 100, 7200, 100);
    sq_slot_init(&sl, 0);
    mkslot(&sl, t0, 100, 3, 500);
    ok(sq_windows_add_slot(&a, "checkout", "US", "", &sl, now) == SQ_OK,
       "a slot in the window store");
    mkslot(&sl, t0, 50, 0, 600);
    sq_windows_add_slot(&a, "checkout", "BR", "premium", &sl, now);

    ok(sq_store_write_slot(st, &a, t0, 0, &n) == SQ_OK,
       "the partial slot written");
    is_int(n, 2, "two rollups");

    /* more of the same slot: written again, replaced, not added */

    mkslot(&sl, t0, 10, 1, 500);
    sq_windows_add_slot(&a, "checkout", "US", "", &sl, now);
    ok(sq_store_write_slot(st, &a, t0, 1, &n) == SQ_OK,
       "the complete slot written");

    memset(&h, 0, sizeof(h));
    ok(sq_history_points(st, "checkout", NULL, NULL, t0, t0 + 60, on_point,
                        &h) == SQ_OK, "history read");
    is_int(h.n, 1, "one point");
    is_int(h.requests, 160, "160 requests: the slot replaced, not added");
    is_int(h.rt, 163, "histogram counts round trip");
    is_int(h.c5xx, 4, "counters round trip");
    is_int(h.nregions, 2, "two regions for empathy");

    memset(&h, 0, sizeof(h));
    sq_history_points(st, "checkout", "BR", "*", 0, t0 + 60, on_point, &h);
    is_int(h.requests, 50, "one region selected");

    memset(&h, 0, sizeof(h));
    sq_history_points(st, "checkout", "US", "premium", 0, t0 + 60, on_point,
                     &h);
    is_int(h.n, 0, "no such segment: no points");

    /* reload into a fresh window store */

    sq_windows_init(&b, 60, 300, 3600, 100, 7200, 100);
    ok(sq_store_load(st, &b, now, &n) == SQ_OK, "loaded");
    is_int(n, 2, "two rollups loaded");
    is_int(b.n, 2, "two series");

    sq_win_init(&w);
    sq_win_init(&lw);

    if (b.n == 2 && a.n == 2) {
        sq_windows_window(&b, b.all[0], SQ_WIN_SHORT, now, &w);
        sq_windows_window(&a, a.all[0], SQ_WIN_SHORT, now, &lw);
        is_int(w.c[SQ_C_REQUESTS], lw.c[SQ_C_REQUESTS],
               "the same short window after a reload");
        is_int(w.c[SQ_C_BYTES], lw.c[SQ_C_BYTES], "bytes too");
        is_int(w.h[0].n, lw.h[0].n, "the same histogram bins");
        sq_win_reset(&w);
        sq_windows_window(&b, b.all[0], SQ_WIN_LONG, now, &w);
        is_int(w.c[SQ_C_REQUESTS], lw.c[SQ_C_REQUESTS], "and long window");
    }

    sq_win_free(&w);
    sq_win_free(&lw);
    sq_windows_free(&b);

    /* slots past the long window are not loaded */

    sq_windows_init(&b, 60, 300, 3600, 100, 7200, 100);
    sq_store_load(st, &b, t0 + 7200, &n);
    is_int(n, 0, "nothing older than the long window");
    sq_windows_free(&b);
    sq_windows_free(&a);
    sq_slot_free(&sl);

    /* alert events */

    memset(&ev, 0, sizeof(ev));
    ev.time = t0;
    ev.status = "firing";
    ev.severity = "critical";
    ev.endpoint = "checkout";
    ev.region = "BR";
    ev.segment = "";
    ev.dimension = "responsiveness";
    ev.indicator = "apdex";
    ev.value = 0.5;
    ev.adequate = 0.85;
    ev.desired = 0.94;
    ev.msa = -0.35;
    ev.since = t0;
    ev.labels = "{\"team\":\"payments\"}";

    ok(sq_store_alert_event(st, &ev) == SQ_OK, "alert recorded");
    ev.time = t0 + 60;
    ev.journey = "purchase";
    ev.value = NAN;
    sq_store_alert_event(st, &ev);
    ev.time = t0 + 120;
    ev.status = "resolved";
    ev.journey = NULL;
    ev.value = 0.9;
    sq_store_alert_event(st, &ev);

    out[0] = '\0';
    sq_store_alert_history(st, 0, 0, on_alert, out);
    is_str(out, "resolved;firing+j+nan;firing;", "newest first, as written");

    out[0] = '\0';
    sq_store_alert_history(st, t0 + 60, 1, on_alert, out);
    is_str(out, "resolved;", "since and max");

    /* retention */

    ok(sq_store_expire(st, t0 + 61, &n) == SQ_OK, "expired");
    is_int(n, 4, "two rollups and two alerts deleted");

    memset(&h, 0, sizeof(h));
    sq_history_points(st, "checkout", NULL, NULL, 0, t0 + 600, on_point, &h);
    is_int(h.n, 0, "no rollups left");

    sq_store_close(st);

    /* open again: the schema is there, nothing to migrate */

    st = sq_store_open(path, err, sizeof(err));
    ok(st != NULL, "opened again");
    sq_store_close(st);
    ok(sq_store_check(path, err, sizeof(err)) == SQ_OK,
       "-t: the database is usable");

    /* a file that is not a database */

    f = fopen(path, "w");
    fputs("garbage garbage garbage garbage garbage garbage garbage\n", f);
    fclose(f);
    strcat(path, "-wal");
    unlink(path);
    path[strlen(path) - 4] = '\0';

    st = sq_store_open(path, err, sizeof(err));
    ok(st == NULL, "garbage: not opened");
    ok(strstr(err, path) && strstr(err, "not a database"),
       "the file and the reason: %s", err);
    ok(sq_store_check(path, err, sizeof(err)) == SQ_ERR_STORE,
       "-t: not usable");
    sq_store_close(st);
    unlink(path);

    st = sq_store_open("/nonexistent-dir/x.db", err, sizeof(err));
    ok(st == NULL && strstr(err, "/nonexistent-dir/x.db"),
       "a missing directory: %s", err);
    ok(sq_store_check("/nonexistent-dir/x.db", err, sizeof(err))
       == SQ_ERR_STORE && strstr(err, "\"/nonexistent-dir\""),
       "-t: a missing directory is named: %s", err);
    ok(sq_store_check("x.db", err, sizeof(err)) == SQ_OK,
       "-t: a new database in the current directory");

    /* an empty path is a file in the current directory, read safely */

    rc = sq_store_check("", err, sizeof(err));
    ok(rc == SQ_OK || rc == SQ_ERR_STORE, "-t: an empty path: %s",
       rc == SQ_OK ? "usable" : err);

    return done_testing();
}
