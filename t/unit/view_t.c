
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* The view's hand-off: a tick builds only when the windows changed, a
   held view outlives the next one and the configuration it was built
   with; the history's scoring (sq_history_score) agrees with the view's;
   a build that yields takes merges between its reads and stays whole. */

#include <math.h>
#include <stdint.h>

#include "tap.h"
#include "feed.h"
#include "sq_windows.h"
#include "sq_score.h"
#include "sq_status.h"
#include "sq_history.h"
#include "sq_view.h"


/*
 * The yield of a build (sq_view_build_yielding): every call merges what
 * a collector would while the build runs, into series already read, not
 * yet read, and new ones (enough of them to move the store's table of
 * series).  The view must hold the series live when it began, each once,
 * its rollups the exact sums of its rows.
 */

#define Y_NE      40
#define Y_NR      50
#define Y_NEW     300             /* new series a yield adds */
#define Y_POOL    64              /* yields with names of their own */

static uint64_t   y_seq;
static unsigned   y_calls;
static int64_t    y_now;
static char       y_names[Y_NE + Y_NR][16];
static char       y_new[Y_POOL * Y_NEW][16];


static void
y_merge(void *data)
{
    char        *n;
    uint32_t     i;
    t_series_t   s[100];

    y_calls++;

    /* the first series and one from the end of the store: 7 requests */

    mk(&s[0], y_names[0], y_names[Y_NE], 7, 0, sq_hist_index(50000));
    mk(&s[1], y_names[Y_NE - 1], y_names[Y_NE + Y_NR - 1], 7, 0,
       sq_hist_index(50000));
    (void) feed("y1", 1, ++y_seq, s, 2, y_now);

    /* new series: appended, the table of series grows and moves */

    for (i = 0; i < Y_NEW; i++) {
        n = &y_new[(y_calls - 1) % Y_POOL * Y_NEW + i][0];
        snprintf(n, 16, "N%u", (unsigned) ((y_calls - 1) * Y_NEW + i));
        mk(&s[i % 100], "late", n, 1, 0, sq_hist_index(50000));

        if (i % 100 == 99) {
            (void) feed("y1", 1, ++y_seq, s, 100, y_now);
        }
    }
}


static void
y_test(void)
{
    size_t           k, rows, bad;
    uint32_t         e, r, n0;
    uint64_t         ep[Y_NE], rg[Y_NR];
    sq_conf_t       *conf;
    sq_view_t       *v;
    t_series_t       s[Y_NR];
    const sq_row_t  *row;

    conf = sq_conf_default();
    sq_windows_free(&a);
    sq_windows_init(&a, 60, 300, 3600, 100000, 7200, 100);

    y_now = 1800000000;

    for (e = 0; e < Y_NE + Y_NR; e++) {
        snprintf(y_names[e], sizeof(y_names[e]), e < Y_NE ? "e%u" : "R%u",
                 e < Y_NE ? e : e - Y_NE);
    }

    for (e = 0; e < Y_NE; e++) {
        for (r = 0; r < Y_NR; r++) {
            mk(&s[r], y_names[e], y_names[Y_NE + r], 100 + e + r, 0,
               sq_hist_index(50000));
        }

        (void) feed("y0", 1, e + 1, s, Y_NR, y_now);
    }

    n0 = a.n;
    v = sq_view_build_yielding(&a, conf, y_now, y_merge, NULL);

    ok(v != NULL && y_calls >= 10, "a build of %u series yielded %u times",
       (unsigned) n0, y_calls);
    is_int(a.n, n0 + y_calls * Y_NEW, "the store grew meanwhile");

    rows = 0;
    bad = 0;
    memset(ep, 0, sizeof(ep));
    memset(rg, 0, sizeof(rg));

    for (k = 0; v && k < v->n; k++) {
        row = &v->rows[k];

        if (row->scope != SQ_SCOPE_SERIES) {
            continue;
        }

        if (strcmp(row->endpoint, "late") == 0) {
            bad++;
            continue;
        }

        rows++;
        e = (uint32_t) atoi(row->endpoint + 1);
        r = (uint32_t) atoi(row->region + 1);
        ep[e] += row->m[SQ_WIN_SHORT].requests;
        rg[r] += row->m[SQ_WIN_SHORT].requests;

        /* as it was, or with what the yields merged into it */

        if ((e == 0 && r == 0) || (e == Y_NE - 1 && r == Y_NR - 1)) {
            bad += (row->m[SQ_WIN_SHORT].requests - (100 + e + r)) % 7 != 0;

        } else {
            bad += row->m[SQ_WIN_SHORT].requests != 100 + e + r;
        }
    }

    is_int(rows, n0, "the view has the series live when it began");
    is_int(bad, 0, "none added since, every count as it was or merged");

    for (e = 0, bad = 0; v && e < Y_NE; e++) {
        row = find(v, SQ_SCOPE_ENDPOINT, y_names[e], SQ_ALL);
        bad += row == NULL || row->m[SQ_WIN_SHORT].requests != ep[e];
    }

    is_int(bad, 0, "every endpoint row is the sum of its series rows");

    for (r = 0, bad = 0; v && r < Y_NR; r++) {
        row = find(v, SQ_SCOPE_REGION, SQ_ALL, y_names[Y_NE + r]);
        bad += row == NULL || row->m[SQ_WIN_SHORT].requests != rg[r];
    }

    is_int(bad, 0, "and every region row of its");
    ok(v && v->seconds <= v->wall, "the build's own time leaves out the "
       "merges (%.4f of %.4f s)", v ? v->seconds : 0, v ? v->wall : 0);

    sq_view_release(v);

    /* the next build has them */

    v = sq_view_build(&a, conf, y_now);
    row = v ? find(v, SQ_SCOPE_SERIES, "late", "N7") : NULL;
    ok(row != NULL && row->m[SQ_WIN_SHORT].requests == 1,
       "the next build has the series added meanwhile");

    sq_view_release(v);
    sq_conf_free(conf);
}


int
main(void)
{
    int              built, rc;
    int64_t          t0;
    uint32_t         i;
    sq_win_t         regs[2], ep;
    sq_conf_t       *conf;
    sq_view_t       *held, *v, *h2, *h3;
    t_series_t       s[2];
    const char      *names[2];
    sq_view_pub_t    pub;
    sq_win_score_t   ws;
    const sq_row_t  *row;

    msgpack_sbuffer_init(&sb);
    sq_dgram_init(&d);
    memset(&pub, 0, sizeof(pub));

    t0 = 1800000000;

    conf = sq_conf_default();
    conf->noverrides = 1;
    conf->overrides = calloc(1, sizeof(sq_override_t));
    conf->overrides[0].endpoint = strdup("checkout");
    conf->overrides[0].nlabels = 1;
    conf->overrides[0].labels = calloc(1, sizeof(sq_label_t));
    conf->overrides[0].labels[0].key = strdup("team");
    conf->overrides[0].labels[0].value = strdup("payments");

    sq_windows_init(&a, 60, 300, 3600, 1000, 7200, 100);

    mk(&s[0], "checkout", "US", 1000, 0, sq_hist_index(50000));
    mk(&s[1], "checkout", "BR", 200, 0, sq_hist_index(2500000));
    feed("n1", 1, 1, s, 2, t0);

    /* the tick builds when something changed, and only then */

    rc = sq_view_tick(&pub, &a, conf, t0, 0, &built);
    ok(rc == SQ_OK && built && pub.builds == 1, "the first tick builds");
    ok(sq_view_latest(&pub) && sq_view_latest(&pub)->gen == 1,
       "the latest view is build 1");

    rc = sq_view_tick(&pub, &a, conf, t0, 0, &built);
    ok(rc == SQ_OK && !built && pub.builds == 1, "nothing changed: no build");

    rc = sq_view_tick(&pub, &a, conf, t0 + 1, 1, &built);
    ok(!built && pub.builds == 1, "nor when forced, within the slot");

    held = sq_view_retain(sq_view_latest(&pub));

    mk(&s[0], "checkout", "US", 10, 0, sq_hist_index(50000));
    feed("n1", 1, 2, s, 1, t0 + 2);

    pub.next_ms = 0;     /* the cost guard of the wall clock: below */
    pub.held_ms = 1;     /* the reader has held it for long: below */
    rc = sq_view_tick(&pub, &a, conf, t0 + 2, 0, &built);
    ok(rc == SQ_OK && built && pub.builds == 2, "a datagram: a new view");
    ok(sq_view_latest(&pub) != held, "handed over");

    pub.next_ms = 0;
    rc = sq_view_tick(&pub, &a, conf, t0 + 60, 0, &built);
    ok(built && pub.builds == 3, "a slot rolled over: a new view");

    sq_view_stale(&pub);
    pub.next_ms = 0;
    rc = sq_view_tick(&pub, &a, conf, t0 + 61, 0, &built);
    ok(built && pub.builds == 4, "made stale (a reload): a new view");

    /* the cost guard holds a change back; an alert evaluation does not
       wait for it */

    pub.next_ms = INT64_MAX;
    mk(&s[0], "checkout", "US", 10, 0, sq_hist_index(50000));
    feed("n1", 1, 3, s, 1, t0 + 62);

    rc = sq_view_tick(&pub, &a, conf, t0 + 62, 0, &built);
    ok(!built && pub.builds == 4, "within the guard: no build yet");
    rc = sq_view_tick(&pub, &a, conf, t0 + 62, 1, &built);
    ok(built && pub.builds == 5, "forced: built");

    /* a scrape streams the latest view: the build waits, 2 s at most */

    h2 = sq_view_retain(sq_view_latest(&pub));
    mk(&s[0], "checkout", "US", 10, 0, sq_hist_index(50000));
    feed("n1", 1, 4, s, 1, t0 + 63);

    rc = sq_view_tick(&pub, &a, conf, t0 + 63, 1, &built);
    ok(!built && pub.waits == 1 && sq_view_latest(&pub) == h2,
       "a scrape holds the latest view: even a forced build waits");
    pub.held_ms -= 2001;
    rc = sq_view_tick(&pub, &a, conf, t0 + 63, 1, &built);
    ok(built && pub.builds == 6 && pub.held_ms == 0,
       "for 2 s at most, then it builds");

    h3 = sq_view_retain(sq_view_latest(&pub));
    sq_view_stale(&pub);
    pub.next_ms = 0;
    rc = sq_view_tick(&pub, &a, conf, t0 + 63, 0, &built);
    ok(built && pub.builds == 7, "a reload's build does not wait");
    sq_view_release(h2);
    sq_view_release(h3);

    /* a wait is over once the scrape let go: the next one waits anew */

    pub.held_ms = 1;
    rc = sq_view_tick(&pub, &a, conf, t0 + 63, 0, &built);
    h2 = sq_view_retain(sq_view_latest(&pub));
    mk(&s[0], "checkout", "US", 10, 0, sq_hist_index(50000));
    feed("n1", 1, 5, s, 1, t0 + 63);
    rc = sq_view_tick(&pub, &a, conf, t0 + 63, 1, &built);
    ok(!built && pub.waits == 2,
       "a later scrape's hold waits its own 2 s, not what is left of one "
       "before");
    sq_view_release(h2);

    /* the held view is whole, also once its configuration is gone */

    v = sq_view_build(&a, conf, t0 + 2);
    sq_conf_free(conf);
    conf = sq_conf_default();

    row = find(held, SQ_SCOPE_SERIES, "checkout", "US");
    is_int(row ? rw(row, SQ_WIN_SHORT)->requests : 0, 1000,
           "the held view still has its counts");
    ok(row && row->levels->nlabels == 1
       && strcmp(row->levels->labels[0].key, "team") == 0
       && strcmp(row->levels->labels[0].value, "payments") == 0,
       "and its own copy of the override's labels");
    is_int(held->store.stats.accepted, 1, "and the store's counters then");
    sq_view_release(held);

    row = find(v, SQ_SCOPE_ENDPOINT, "checkout", SQ_ALL);
    ok(row && row->levels->nlabels == 1,
       "the endpoint row has the labels too");

    /* the history's entry point scores as the view does */

    names[0] = "US";
    names[1] = "BR";
    sq_win_init(&ep);

    for (i = 0; i < 2; i++) {
        sq_win_init(&regs[i]);
    }

    for (i = 0; i < a.n; i++) {
        sq_windows_window(&a, a.all[i], SQ_WIN_SHORT, t0 + 2,
                          &regs[strcmp(a.all[i]->region, "US") ? 1 : 0]);
        sq_windows_window(&a, a.all[i], SQ_WIN_SHORT, t0 + 2, &ep);
    }

    sq_history_score(conf, "checkout", NULL, NULL, &ep, &ep, regs, names, 2,
                  &ws);

    ok(row && ws.dim[SQ_DIM_EMPATHY].state == SQ_STATE_BELOW,
       "history: the endpoint's worst region is served far worse");
    is_num(ws.dim[SQ_DIM_EMPATHY].value,
           row ? rw(row, SQ_WIN_SHORT)->dim[SQ_DIM_EMPATHY].value : -1,
           1e-12,
           "history and view: the same empathy");
    is_num(ws.index, row ? rw(row, SQ_WIN_SHORT)->index : -1, 1e-12,
           "and the same index");

    sq_history_score(conf, "checkout", "BR", NULL, &regs[1], &ep, regs, names,
                  2, &ws);
    row = find(v, SQ_SCOPE_SERIES, "checkout", "BR");
    is_num(ws.dim[SQ_DIM_EMPATHY].value,
           row ? rw(row, SQ_WIN_SHORT)->dim[SQ_DIM_EMPATHY].value : -1,
           1e-12,
           "a region: the same empathy as its series row");

    sq_view_release(v);
    y_test();
    sq_win_free(&ep);
    sq_win_free(&regs[0]);
    sq_win_free(&regs[1]);
    sq_view_pub_free(&pub);
    sq_conf_free(conf);
    sq_windows_free(&a);
    sq_dgram_free(&d);
    msgpack_sbuffer_destroy(&sb);

    return done_testing();
}
