
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* The window store: sequence loss and duplicates, windows that roll,
   the series limit, expiry; and the scored view with its rollups,
   empathy and journeys. */

#include <math.h>

#include "tap.h"
#include "feed.h"
#include "sq_status.h"
#include "sq_windows.h"
#include "sq_score.h"
#include "sq_view.h"


int
main(void)
{
    int64_t          t0;
    sq_win_t         w;
    sq_slot_t        sl;
    t_series_t       s[3];
    sq_conf_t       *conf;
    sq_view_t       *v;
    const sq_row_t  *row;
    uint32_t         fast, slow;

    sq_dgram_init(&d);
    msgpack_sbuffer_init(&sb);
    sq_win_init(&w);
    sq_slot_init(&sl, 0);

    /* slot 60 s, short 5 min, long 1 h */
    is_int(sq_windows_init(&a, 60, 30, 3600, 5, 7200, 100), SQ_ERR_INVALID,
           "a short window shorter than a slot is refused");
    ok(sq_windows_init(&a, 60, 300, 3600, 5, 7200, 100) == SQ_OK,
       "store created");
    is_int(a.nfine, 5, "5 fine slots");
    is_int(a.cslot, 300, "coarse slots of 5 min");
    is_int(a.ncoarse, 12, "12 coarse slots");

    t0 = 1800000000;
    mk(&s[0], "checkout", "BR", 100, 1, 500);

    /* sequence: 1, 2, 4 (3 lost), 4 again (duplicate), 3 late */

    is_int(feed("n1", 7, 1, s, 1, t0), SQ_OK, "seq 1");
    is_int(feed("n1", 7, 2, s, 1, t0), SQ_OK, "seq 2");
    is_int(feed("n1", 7, 4, s, 1, t0), SQ_OK, "seq 4");
    is_int(a.workers.lost, 1, "seq 3 counted lost");
    is_int(feed("n1", 7, 4, s, 1, t0), SQ_ERR_DUPLICATE, "seq 4 again");
    is_int(a.stats.duplicate, 1, "duplicate counted");
    is_int(feed("n1", 7, 3, s, 1, t0), SQ_OK, "seq 3 late");
    is_int(a.workers.reordered, 1, "counted reordered");
    is_int(feed("n1", 7, 3, s, 1, t0), SQ_ERR_DUPLICATE, "seq 3 again");
    is_int(feed("n2", 7, 1, s, 1, t0), SQ_OK,
           "same pid on another node is another worker");
    is_int(feed("n1", 7, 1, s, 1, t0), SQ_ERR_DUPLICATE,
           "seq 1 again, within the window: a duplicate");
    is_int(a.workers.restarts, 0, "within the window it is not a restart");
    is_int(feed("n1", 8, 100, s, 1, t0), SQ_OK, "new worker");
    is_int(feed("n1", 8, 300, s, 1, t0), SQ_OK, "big gap");
    is_int(a.workers.lost, 1 + 199, "199 more lost");
    is_int(feed("n1", 8, 2, s, 1, t0), SQ_OK, "restart");
    is_int(a.workers.restarts, 1, "restart counted");

    is_int(a.n, 1, "one series");
    is_int(a.all[0]->total[SQ_C_REQUESTS], 800, "8 datagrams of 100 taken");

    /* windows */

    sq_windows_window(&a, a.all[0], SQ_WIN_SHORT, t0, &w);
    is_int(w.c[SQ_C_REQUESTS], 800, "short window has them");
    is_int(w.h[SQ_H_RT].total, 800, "and their histogram");

    feed("n1", 7, 10, s, 1, t0 + 240);
    sq_win_reset(&w);
    sq_windows_window(&a, a.all[0], SQ_WIN_SHORT, t0 + 240, &w);
    is_int(w.c[SQ_C_REQUESTS], 900, "4 min later: both in the short window");

    sq_win_reset(&w);
    sq_windows_window(&a, a.all[0], SQ_WIN_SHORT, t0 + 360, &w);
    is_int(w.c[SQ_C_REQUESTS], 100, "6 min later: the first minute left it");
    sq_win_reset(&w);
    sq_windows_window(&a, a.all[0], SQ_WIN_LONG, t0 + 360, &w);
    is_int(w.c[SQ_C_REQUESTS], 900, "long window still has all");

    sq_win_reset(&w);
    sq_windows_window(&a, a.all[0], SQ_WIN_LONG, t0 + 3600 + 300, &w);
    is_int(w.c[SQ_C_REQUESTS], 0, "65 min later the long window is empty");

    /* minutes for the history store */

    ok(sq_windows_slot(&a, a.all[0], t0 + 240 - (t0 + 240) % 60, &sl)
       == SQ_OK && !sq_slot_empty(&sl), "the minute at +4 min is there");
    is_int(sl.c[SQ_C_REQUESTS], 100, "with its 100 requests");
    ok(sq_windows_slot(&a, a.all[0], t0 + 120 - (t0 + 120) % 60, &sl)
       == SQ_OK && sq_slot_empty(&sl),
       "no slot for a minute without traffic");
    ok(sq_windows_slot(&a, a.all[0], t0 + 121, &sl) == SQ_ERR_INVALID,
       "a start not on a slot is refused");

    /* a slot is recycled: the old minute does not leak into the new one */

    feed("n1", 7, 11, s, 1, t0 + 600);
    sq_win_reset(&w);
    sq_windows_window(&a, a.all[0], SQ_WIN_SHORT, t0 + 600, &w);
    is_int(w.c[SQ_C_REQUESTS], 100, "recycled slot holds only its minute");

    /* the series limit folds new series into _other */

    mk(&s[0], "a", "BR", 1, 0, 10);
    mk(&s[1], "b", "BR", 1, 0, 10);
    mk(&s[2], "c", "BR", 1, 0, 10);
    feed("n1", 7, 12, s, 3, t0 + 600);
    mk(&s[0], "d", "BR", 1, 0, 10);
    mk(&s[1], "e", "BR", 2, 0, 10);
    feed("n1", 7, 13, s, 2, t0 + 600);
    is_int(a.n, 5, "5 series at the limit");
    ok(a.other != NULL, "overflow series exists");
    is_int(a.stats.overflow_requests, 2, "2 requests folded");
    is_str(a.other ? a.other->endpoint : "", "_other", "named _other");

    /* expiry: everything idle longer than 2 h goes */

    sq_windows_expire(&a, t0 + 600 + 7201);
    is_int(a.n, 0, "idle series expired");
    is_int(a.workers.n, 0, "idle workers expired");
    is_int(a.stats.series_expired, 5, "5 expired");

    /* an hour and more of minutes: finished slots are packed, and the
       windows and minutes read back from them are exact */

    sq_windows_free(&a);
    sq_windows_init(&a, 60, 300, 3600, 1000, 7200, 100);

    {
        int64_t   m, base;
        uint64_t  seq;

        base = t0 + 7200 - (t0 + 7200) % 3600;
        seq = 100;

        for (m = 0; m < 70; m++) {
            mk(s, "/pack", "JP", (uint64_t) m + 1, m % 7 == 0, 500 + m);
            feed("n1", 7, seq++, s, 1, base + m * 60 + 5);
            feed("n1", 7, seq++, s, 1, base + m * 60 + 35);
        }

        sq_win_reset(&w);
        sq_windows_window(&a, a.all[a.n - 1], SQ_WIN_SHORT, base + 69 * 60 + 40,
                          &w);
        is_int(w.c[SQ_C_REQUESTS], 2 * (66 + 67 + 68 + 69 + 70),
               "packed: the short window is the last five minutes");
        is_int(w.h[SQ_H_RT].total, 2 * (66 + 67 + 68 + 69 + 70),
               "packed: and their histogram");
        is_int(w.h[SQ_H_RT].n, 5, "packed: five buckets");

        sq_win_reset(&w);
        sq_windows_window(&a, a.all[a.n - 1], SQ_WIN_LONG, base + 69 * 60 + 40,
                          &w);
        /* coarse slots of 5 min: minutes 10..69 */
        is_int(w.c[SQ_C_REQUESTS], 2 * (11 + 70) * 60 / 2,
               "packed: the long window is the last twelve coarse slots");
        is_int(w.h[SQ_H_TTFB].total, w.h[SQ_H_RT].total,
               "packed: ttfb too");
        is_int(w.c[SQ_C_5XX], 2 * 8, "packed: errors of minutes 14..63");

        ok(sq_windows_slot(&a, a.all[a.n - 1], base + 66 * 60, &sl) == SQ_OK
           && sl.c[SQ_C_REQUESTS] == 2 * 67 && sl.h[0].n == 1,
           "packed: a finished minute read back whole");
        ok(sq_windows_slot(&a, a.all[a.n - 1], base + 69 * 60, &sl) == SQ_OK
           && sl.c[SQ_C_REQUESTS] == 2 * 70,
           "packed: the minute being written");

        /* a stored minute older than the one being written */

        sq_slot_reset(&sl, base + 67 * 60);
        sl.c[SQ_C_REQUESTS] = 1000;
        (void) sq_hist_add(&sl.h[0], 900, 1000);
        ok(sq_windows_add_slot(&a, "/pack", "JP", "", &sl,
                               base + 69 * 60 + 40) == SQ_OK,
           "packed: add_slot");
        sq_windows_slot(&a, a.all[a.n - 1], base + 67 * 60, &sl);
        is_int(sl.c[SQ_C_REQUESTS], 1000 + 2 * 68,
               "packed: merged into its minute");
        sq_win_reset(&w);
        sq_windows_window(&a, a.all[a.n - 1], SQ_WIN_LONG, base + 69 * 60 + 40,
                          &w);
        is_int(w.c[SQ_C_REQUESTS], 1000 + 2 * (11 + 70) * 60 / 2,
               "packed: and into its coarse slot");
        is_int(w.h[SQ_H_RT].total, 1000 + 2 * (11 + 70) * 60 / 2,
               "packed: histogram too");
    }

    sq_windows_free(&a);

    /* the view: a fast, a slow and a failing region */

    conf = sq_conf_default();
    conf->njourneys = 1;
    conf->journeys = calloc(1, sizeof(sq_journey_t));
    conf->journeys[0].name = strdup("buy");
    conf->journeys[0].nsteps = 2;
    conf->journeys[0].steps = calloc(2, sizeof(char *));
    conf->journeys[0].steps[0] = strdup("cart");
    conf->journeys[0].steps[1] = strdup("checkout");

    sq_windows_init(&a, 60, 300, 3600, 1000, 7200, 100);

    fast = sq_hist_index(50000);        /* 50 ms */
    slow = sq_hist_index(2500000);      /* 2.5 s: frustrated */

    mk(&s[0], "checkout", "US", 1000, 0, fast);
    mk(&s[1], "checkout", "BR", 200, 0, slow);
    mk(&s[2], "checkout", "DE", 1000, 50, fast);
    feed("n1", 1, 1, s, 3, t0);
    mk(&s[0], "cart", "US", 1000, 10, fast);
    mk(&s[1], "cart", "BR", 1000, 0, fast);
    feed("n1", 1, 2, s, 2, t0);

    v = sq_view_build(&a, conf, t0 + 1);
    ok(v != NULL, "view built");

    row = find(v, SQ_SCOPE_SERIES, "checkout", "US");
    ok(row && rw(row, 0)->dim[SQ_DIM_RESPONSIVENESS].state == SQ_STATE_ABOVE,
       "fast region: responsiveness above");
    ok(row && rw(row, 0)->dim[SQ_DIM_RELIABILITY].state == SQ_STATE_ABOVE,
       "fast region: reliability above");

    row = find(v, SQ_SCOPE_SERIES, "checkout", "BR");
    ok(row && rw(row, 0)->dim[SQ_DIM_RESPONSIVENESS].state == SQ_STATE_BELOW,
       "slow region: responsiveness below");
    is_num(row ? rw(row, 0)->dim[SQ_DIM_RESPONSIVENESS].value : -1, 0, 1e-12,
           "Apdex 0 when everything takes 2.5 s");
    ok(row && rw(row, 0)->dim[SQ_DIM_EMPATHY].state == SQ_STATE_BELOW,
       "slow region: empathy below (p75 %.1fx the endpoint's)",
       row ? rw(row, 0)->dim[SQ_DIM_EMPATHY].value : -1);

    row = find(v, SQ_SCOPE_SERIES, "checkout", "DE");
    ok(row && rw(row, 0)->dim[SQ_DIM_RELIABILITY].state == SQ_STATE_BELOW,
       "failing region: reliability below");
    is_num(row ? rw(row, 0)->dim[SQ_DIM_RELIABILITY].value : -1, 0.95, 1e-12,
           "success ratio 0.95");

    row = find(v, SQ_SCOPE_ENDPOINT, "checkout", "*");
    is_int(row ? rw(row, 0)->requests : 0, 2200, "endpoint rollup: 2200");
    is_int(row ? rw(row, 1)->requests : 0, 2200, "long window too");
    is_num(row ? rw(row, 0)->dim[SQ_DIM_RELIABILITY].value : -1,
           1 - 50.0 / 2200, 1e-12, "endpoint success ratio merged exactly");
    ok(row && rw(row, 0)->dim[SQ_DIM_EMPATHY].value > 2,
       "endpoint empathy: its worst region (%.2fx)",
       row ? rw(row, 0)->dim[SQ_DIM_EMPATHY].value : -1);

    row = find(v, SQ_SCOPE_REGION, "*", "BR");
    is_int(row ? rw(row, 0)->requests : 0, 1200, "region rollup: BR 1200");

    row = find(v, SQ_SCOPE_JOURNEY, "buy", "*");
    ok(row != NULL, "journey row");
    is_num(row ? rw(row, 0)->dim[SQ_DIM_RELIABILITY].value : -1,
           (1 - 10.0 / 2000) * (1 - 50.0 / 2200), 1e-12,
           "journey reliability: product of the steps'");
    is_int(row ? rw(row, 0)->requests : 0, 4200, "journey requests");

    row = find(v, SQ_SCOPE_JOURNEY, "buy", "US");
    is_num(row ? rw(row, 0)->dim[SQ_DIM_RELIABILITY].value : -1,
           (1 - 10.0 / 1000) * 1.0, 1e-12, "journey in US: 0.99 x 1");
    is_num(row ? rw(row, 0)->dim[SQ_DIM_RESPONSIVENESS].value : -1, 1,
           1e-12, "journey in US: merged Apdex 1");

    row = find(v, SQ_SCOPE_JOURNEY, "buy", "DE");
    ok(row && rw(row, 0)->dim[SQ_DIM_RELIABILITY].state
              == SQ_STATE_INSUFFICIENT,
       "journey in DE: a step never seen there is insufficient");

    row = find(v, SQ_SCOPE_JOURNEY, "buy", "BR");
    is_num(row ? rw(row, 0)->dim[SQ_DIM_RESPONSIVENESS].value : -1,
           1000.0 / 1200, 1e-12,
           "journey in BR: Apdex of merged steps (1000 + 0) / 1200");

    sq_view_release(v);

    sq_windows_free(&a);
    sq_conf_free(conf);
    sq_win_free(&w);
    sq_slot_free(&sl);
    msgpack_sbuffer_destroy(&sb);
    sq_dgram_free(&d);

    /* a long window under 12 slots: coarse slots of one slot */

    ok(sq_windows_init(&a, 1, 3, 6, 5, 7200, 100) == SQ_OK,
       "slot 1s, short 3s, long 6s");
    is_int(a.cslot, 1, "coarse slot 1s");
    is_int(a.ncoarse, 6, "6 coarse slots");
    sq_windows_free(&a);

    return done_testing();
}
