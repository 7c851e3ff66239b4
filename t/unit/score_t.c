
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* Each indicator and the z / MSA / MSS placement on hand-computed cases. */

#include <math.h>

#include "tap.h"
#include "sq_score.h"


static void
dc_set(sq_dim_conf_t *dc, int ind, double a, double d, uint64_t min)
{
    memset(dc, 0, sizeof(*dc));
    dc->indicator = ind;
    dc->adequate = a;
    dc->desired = d;
    dc->weight = 1;
    dc->min_requests = min;
    dc->apdex_t = 0.5;
    dc->quantile = 0.75;
}


static void
add_lat(sq_win_t *w, double seconds, uint64_t n)
{
    sq_hist_add(&w->h[SQ_H_RT], sq_hist_index((uint64_t) (seconds * 1e6)),
                n);
    sq_hist_add(&w->h[SQ_H_TTFB],
                sq_hist_index((uint64_t) (seconds * 1e6 / 2)), n);
}


int
main(void)
{
    double          r;
    uint64_t        req;
    sq_win_t        w, steps[3];
    sq_dim_conf_t   dc;
    sq_dim_score_t  s;
    sq_win_score_t  ws;
    int             i;

    sq_win_init(&w);

    /* reliability: 3 failures in 1000 */

    w.c[SQ_C_REQUESTS] = 1000;
    w.c[SQ_C_5XX] = 3;
    dc_set(&dc, SQ_IND_SUCCESS_RATIO, 0.995, 0.999, 100);
    sq_score_dim(&dc, &w, NAN, &s);
    is_num(s.value, 0.997, 1e-12, "success ratio 997/1000");
    is_num(s.z, 0.5, 1e-9, "z = (0.997 - 0.995) / (0.999 - 0.995)");
    is_num(s.msa, 0.002, 1e-12, "MSA = value - adequate");
    is_num(s.mss, -0.002, 1e-12, "MSS = value - desired");
    is_str(sq_state_names[s.state], "within", "within the zone");

    /* upstream failures counted, not twice */

    w.c[SQ_C_5XX] = 2;
    w.c[SQ_C_UPSTREAM_ERROR] = 3;
    w.c[SQ_C_UPSTREAM_TIMEOUT] = 2;
    sq_score_dim(&dc, &w, NAN, &s);
    is_num(s.value, 0.995, 1e-12, "5 upstream failures > 2 5xx: 995/1000");
    is_num(s.z, 0, 1e-9, "at adequate: z = 0");
    is_str(sq_state_names[s.state], "within", "adequate is within");

    w.c[SQ_C_5XX] = 20;
    sq_score_dim(&dc, &w, NAN, &s);
    is_num(s.z, -3.75, 1e-9, "980/1000: z = -0.015 / 0.004");
    is_str(sq_state_names[s.state], "below", "below the zone");

    w.c[SQ_C_5XX] = 0;
    w.c[SQ_C_UPSTREAM_ERROR] = 0;
    w.c[SQ_C_UPSTREAM_TIMEOUT] = 0;
    sq_score_dim(&dc, &w, NAN, &s);
    is_num(s.z, 1.25, 1e-9, "no failures: z = 0.005 / 0.004");
    is_str(sq_state_names[s.state], "above", "above the zone");

    dc.min_requests = 1001;
    sq_score_dim(&dc, &w, NAN, &s);
    is_str(sq_state_names[s.state], "insufficient",
           "1000 requests under a minimum of 1001");

    /* responsiveness: Apdex T = 0.5 s; 60 at 0.1 s, 30 at 1 s, 10 at 3 s */

    sq_win_reset(&w);
    add_lat(&w, 0.1, 60);
    add_lat(&w, 1.0, 30);
    add_lat(&w, 3.0, 10);
    w.c[SQ_C_REQUESTS] = 100;

    is_num(sq_apdex(&w.h[SQ_H_RT], 0.5, 0), 0.75, 1e-12,
           "Apdex (60 + 30 / 2) / 100");
    is_num(sq_apdex(&w.h[SQ_H_RT], 0.5, 15), 0.725, 1e-12,
           "15 aborts: 5 more frustrated, taken from tolerating");
    is_num(sq_apdex(&w.h[SQ_H_RT], 0.5, 50), 0.5, 1e-12,
           "50 aborts: all tolerating and 10 satisfied frustrated");
    is_num(sq_apdex(&w.h[SQ_H_RT], 0.5, 5), 0.75, 1e-12,
           "aborts fewer than the frustrated change nothing");
    is_num(sq_apdex(&w.h[SQ_H_RT], 0.3, 0), 0.6 + 0.15, 1e-12,
           "T = 0.3 s: 1 s is tolerating (<= 4T)");

    dc_set(&dc, SQ_IND_APDEX, 0.85, 0.94, 100);
    sq_score_dim(&dc, &w, NAN, &s);
    is_num(s.z, (0.75 - 0.85) / 0.09, 1e-9, "Apdex 0.75 placed below");
    is_num(s.msa, -0.1, 1e-12, "MSA -0.1");
    is_str(sq_state_names[s.state], "below", "Apdex below");

    /* TTFB p75 (half the latencies above): 75th of 100 is at 0.5 s */

    dc_set(&dc, SQ_IND_TTFB_QUANTILE, 1.8, 0.8, 100);
    sq_score_dim(&dc, &w, NAN, &s);
    ok(fabs(s.value - 0.5) < 0.5 / 64, "TTFB p75 %.4f s ~ 0.5 s", s.value);
    is_num(s.z, (s.value - 1.8) / (0.8 - 1.8), 1e-12, "z, lower is better");
    is_str(sq_state_names[s.state], "above", "0.5 s is better than 0.8 s");
    ok(s.msa > 1.29 && s.msa < 1.31, "MSA %.4f: 1.3 s better than adequate",
       s.msa);

    /* assurance */

    sq_win_reset(&w);
    w.c[SQ_C_REQUESTS] = 1000;
    w.c[SQ_C_TLS_12] = 500;
    w.c[SQ_C_TLS_13] = 495;
    w.c[SQ_C_TLS_11] = 5;
    dc_set(&dc, SQ_IND_TLS_SHARE, 0.99, 1.0, 100);
    sq_score_dim(&dc, &w, NAN, &s);
    is_num(s.value, 0.995, 1e-12, "TLS >= 1.2 share 995/1000");
    is_num(s.z, 0.5, 1e-9, "z 0.5");

    w.c[SQ_C_HSTS] = 900;
    dc_set(&dc, SQ_IND_HSTS_SHARE, 0.99, 1.0, 100);
    sq_score_dim(&dc, &w, NAN, &s);
    is_num(s.value, 0.9, 1e-12, "HSTS share 900/1000");
    is_str(sq_state_names[s.state], "below", "HSTS share below");

    /* tangibles: 2 incomplete, 1 error page, 2 not compressed */

    sq_win_reset(&w);
    w.c[SQ_C_REQUESTS] = 1000;
    w.c[SQ_C_INCOMPLETE] = 2;
    w.c[SQ_C_5XX] = 1;
    w.c[SQ_C_COMPRESSIBLE] = 100;
    w.c[SQ_C_COMPRESSED] = 98;
    dc_set(&dc, SQ_IND_INTACT_SHARE, 0.99, 0.999, 100);
    sq_score_dim(&dc, &w, NAN, &s);
    is_num(s.value, 0.995, 1e-12, "intact share 995/1000");
    is_num(s.z, 0.005 / 0.009, 1e-9, "z 0.556");

    /* empathy: the ratio the view computes, lower is better */

    sq_hist_add(&w.h[SQ_H_RT], 100, 1000);
    dc_set(&dc, SQ_IND_LATENCY_RATIO, 2.0, 1.25, 100);
    sq_score_dim(&dc, &w, 1.5, &s);
    is_num(s.z, 2.0 / 3, 1e-9, "ratio 1.5: z = (1.5 - 2) / (1.25 - 2)");
    is_num(s.msa, 0.5, 1e-12, "MSA +0.5: better than adequate by 0.5x");
    is_num(s.mss, -0.25, 1e-12, "MSS -0.25: worse than desired by 0.25x");
    sq_score_dim(&dc, &w, 3.0, &s);
    is_str(sq_state_names[s.state], "below", "ratio 3 below");
    sq_score_dim(&dc, &w, 1.0, &s);
    is_str(sq_state_names[s.state], "above", "ratio 1 above");
    sq_score_dim(&dc, &w, NAN, &s);
    is_str(sq_state_names[s.state], "insufficient", "no ratio: insufficient");

    /* the empathy floor: below min_latency a difference is invisible */

    {
        double     r, lat, base;
        sq_hist_t  h, all, self;

        sq_hist_init(&h);
        sq_hist_init(&all);
        sq_hist_add(&h, sq_hist_index(3000), 200);          /* 3 ms */
        sq_hist_add(&all, sq_hist_index(3000), 200);
        sq_hist_add(&all, sq_hist_index(150), 800);         /* 150 us */
        self = h;

        r = sq_score_ratio(&h, &all, &self, 0.75, 100, 0.1, &lat, &base);
        is_num(r, 1.0, 1e-12, "3 ms vs 150 us under a 100 ms floor: 1x");
        is_num(lat, 0.003, 0.003 * 0.02, "the row's p75 kept: 3 ms");
        is_num(base, 0.00015, 0.00015 * 0.02, "the rest's p75: 150 us");

        sq_hist_free(&h);
        sq_hist_free(&all);
        sq_hist_init(&h);
        sq_hist_init(&all);
        sq_hist_add(&h, sq_hist_index(3000000), 200);       /* 3 s */
        sq_hist_add(&all, sq_hist_index(3000000), 200);
        sq_hist_add(&all, sq_hist_index(150), 800);
        self = h;

        r = sq_score_ratio(&h, &all, &self, 0.75, 100, 0.1, &lat, &base);
        is_num(r, 30, 30 * 0.02, "3 s vs 150 us: 30x, not 20000x");
        is_num(lat, 3.0, 3.0 * 0.02, "p75 3 s");

        r = sq_score_ratio(&h, &all, &self, 0.75, 1000, 0.1, &lat, &base);
        ok(isnan(r) && isnan(lat), "too few requests: no ratio");

        sq_hist_free(&h);
        sq_hist_free(&all);
    }

    /* the index: weights, clamping, insufficient dimensions left out */

    memset(&ws, 0, sizeof(ws));
    ws.dim[0].state = SQ_STATE_WITHIN;
    ws.dim[0].z = 0.5;
    ws.dim[0].weight = 32;
    ws.dim[1].state = SQ_STATE_BELOW;
    ws.dim[1].z = -3;
    ws.dim[1].weight = 22;

    for (i = 2; i < SQ_NDIMS; i++) {
        ws.dim[i].state = SQ_STATE_INSUFFICIENT;
        ws.dim[i].weight = 10;
    }

    sq_score_index(&ws);
    is_num(ws.index, (32 * 0.5 + 22 * -2.0) / 54, 1e-12,
           "index: weighted mean, z clamped to -2");
    is_str(sq_state_names[ws.state], "below", "index below");

    ws.dim[1].z = 0.9;
    ws.dim[1].state = SQ_STATE_WITHIN;
    sq_score_index(&ws);
    is_num(ws.index, (32 * 0.5 + 22 * 0.9) / 54, 1e-12, "index within");
    is_str(sq_state_names[ws.state], "within", "index state within");

    ws.dim[0].state = SQ_STATE_INSUFFICIENT;
    ws.dim[1].state = SQ_STATE_INSUFFICIENT;
    sq_score_index(&ws);
    is_str(sq_state_names[ws.state], "insufficient", "nothing scored");

    /* journeys: reliability is the product of the steps' */

    for (i = 0; i < 3; i++) {
        sq_win_init(&steps[i]);
        steps[i].c[SQ_C_REQUESTS] = 1000;
    }

    steps[0].c[SQ_C_5XX] = 10;
    steps[1].c[SQ_C_5XX] = 20;
    steps[2].c[SQ_C_5XX] = 0;
    steps[2].c[SQ_C_REQUESTS] = 500;

    r = sq_journey_reliability(steps, 3, 100, &req);
    is_num(r, 0.99 * 0.98 * 1.0, 1e-12, "journey 0.99 x 0.98 x 1");
    is_int(req, 500, "judged on its smallest step");

    steps[2].c[SQ_C_REQUESTS] = 0;
    r = sq_journey_reliability(steps, 3, 100, &req);
    ok(isnan(r), "a step with no requests: no journey value");
    is_int(req, 0, "smallest step 0");

    /* placement on its own */

    memset(&s, 0, sizeof(s));
    s.adequate = 10;
    s.desired = 20;
    s.value = 25;
    sq_place(&s);
    is_num(s.z, 1.5, 1e-12, "z 1.5");
    is_num(s.mss, 5, 1e-12, "MSS 5");
    is_str(sq_state_names[s.state], "above", "above");

    for (i = 0; i < 3; i++) {
        sq_win_free(&steps[i]);
    }

    sq_win_free(&w);

    return done_testing();
}
