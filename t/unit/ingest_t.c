
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * The cost of an update: the decoder and the merge together, over
 * datagrams of the shape bench/sq-loadgen.c makes (its generator, -g:
 * 100 series a datagram, endpoints of 8 regions, four latency buckets,
 * a fixed-width seq patched before each datagram).
 *
 * As a test (always): a store fed 3,000 series over three slots holds
 * what a naive sum of the datagrams says, counter by counter, bucket by
 * bucket, in the series' totals, its slot, its rings and its Prometheus
 * histograms; and the one pass that adds a datagram's histogram to both
 * a slot and the Prometheus histograms gives what the two functions it
 * stands for give.
 *
 * With SQ_INGEST_SERIES=N it also times decode + merge at N live series
 * (N / 100 workers, SQ_INGEST_ROUNDS rounds of every worker's datagram,
 * default 30, a 10 s slot every 10 rounds), thread CPU time, and prints
 * the store's bytes a series.  Under valgrind --tool=callgrind
 * --toggle-collect=t_steady the instructions of the timed rounds alone
 * are counted: divide by the updates it prints.
 */

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tap.h"
#include "wire.h"
#include "servqual_hist.h"
#include "sq_decode.h"
#include "sq_metrics.h"
#include "sq_status.h"
#include "sq_windows.h"
#include "../../bench/sq_lg_gen.h"


#define T_PER     100                   /* series a datagram */
#define T_SLOT    10


typedef struct {
    msgpack_sbuffer  sb;
    size_t           seq_off;          /* where the uint32 seq is */
} t_worker_t;


static uint64_t     t_rng = 88172645463325252ULL;
#define t_regions  sq_lg_regions


static void t_build(t_worker_t *w, uint32_t id, uint32_t nseries,
    uint32_t universe, uint32_t salt);
static void t_seq(t_worker_t *w, uint32_t seq);
static int t_check_sums(void);
static uint32_t t_below(uint32_t n);
static void t_random_hist(sq_hist_t *h, const sq_hist_t *like);
static int t_check_add_slot(void);
static void t_bench(uint32_t universe, int rounds);
static void t_create(sq_windows_t *a, sq_dgram_t *d, t_worker_t *w,
    uint32_t nworkers, uint32_t seq, int64_t now);
static double t_steady(sq_windows_t *a, sq_dgram_t *d, t_worker_t *w,
    uint32_t nworkers, uint32_t seq, int64_t now);
static double t_decode(sq_dgram_t *d, t_worker_t *w, uint32_t nworkers);
static double t_cpu(void);

#define diag(...)                                                            \
    (printf("# "), printf(__VA_ARGS__), printf("\n"))


/*
 * sq-loadgen's datagram of worker id (bench/sq_lg_gen.h, as -g sends);
 * salt varies the latencies and counts for the sums test (0: sq-loadgen's).
 */

static void
t_build(t_worker_t *w, uint32_t id, uint32_t nseries, uint32_t universe,
    uint32_t salt)
{
    sq_lg_gen(&w->sb, &w->seq_off, id, nseries, universe, 1, 1000, salt);
}


static void
t_seq(t_worker_t *w, uint32_t seq)
{
    unsigned char  *p;

    p = (unsigned char *) w->sb.data + w->seq_off;
    p[0] = (unsigned char) (seq >> 24);
    p[1] = (unsigned char) (seq >> 16);
    p[2] = (unsigned char) (seq >> 8);
    p[3] = (unsigned char) seq;
}


/*
 * 3,000 series, 30 workers, 9 rounds with latencies and counts that
 * change from round to round, three slots: each series' totals, its
 * slot being written, its packed rings (the short window) and its
 * Prometheus histograms against a naive sum of what was sent.
 */

#define T_SUM_UNIVERSE  3000
#define T_SUM_ROUNDS    9

static int
t_check_sums(void)
{
    int            r, k, ok1;
    int64_t        now;
    uint32_t       w, i, j, e, nw, idx, le;
    uint64_t       want[SQ_WIRE_NCOUNTERS], hc[SQ_WIRE_NHISTS][4];
    uint64_t       cnt, lec[SQ_METRICS_MAXLE + 1];
    double         sum;
    sq_win_t       win;
    sq_dgram_t     d;
    t_worker_t     wk;
    sq_windows_t   a;
    sq_series_t   *s;
    const sq_dseries_t  *ds;

    /* every (series, round) update, decoded once more to sum it */

    static uint64_t  tot[T_SUM_UNIVERSE][SQ_WIRE_NCOUNTERS];
    static uint64_t  bins[T_SUM_UNIVERSE][SQ_WIRE_NHISTS][SQ_HIST_BUCKETS];

    memset(tot, 0, sizeof(tot));
    memset(bins, 0, sizeof(bins));

    if (sq_dgram_init(&d) != SQ_OK
        || sq_windows_init(&a, T_SLOT, 60, 600, 100000, 3600, 1000)
           != SQ_OK)
    {
        return 0;
    }

    nw = T_SUM_UNIVERSE / T_PER;
    now = 1700000000;
    ok1 = 1;

    for (r = 0; r < T_SUM_ROUNDS; r++) {
        for (w = 0; w < nw; w++) {
            t_build(&wk, w, T_PER, T_SUM_UNIVERSE, (uint32_t) (r + w) % 5);
            t_seq(&wk, (uint32_t) r + 1);

            if (sq_decode(&d, wk.sb.data, wk.sb.size) != SQ_DECODE_OK) {
                ok1 = 0;
                msgpack_sbuffer_destroy(&wk.sb);
                continue;
            }

            for (i = 0; i < d.nseries; i++) {
                ds = &d.series[i];
                e = (uint32_t) atoi(ds->endpoint.ptr + 6);
                for (j = 0; j < 8; j++) {
                    if (memcmp(ds->region.ptr, t_regions[j], 2) == 0) {
                        break;
                    }
                }
                e = e * 8 + j;

                for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
                    tot[e][k] += ds->c[k];
                }

                for (k = 0; k < SQ_WIRE_NHISTS; k++) {
                    for (j = 0; j < ds->hist[k].n; j++) {
                        bins[e][k][sq_hbin_idx(ds->hist[k].bins[j])]
                            += sq_hbin_count(ds->hist[k].bins[j]);
                    }
                }
            }

            if (sq_windows_ingest(&a, &d, now) != SQ_OK) {
                ok1 = 0;
            }

            msgpack_sbuffer_destroy(&wk.sb);
        }

        if (r % 3 == 2) {
            now += T_SLOT;
        }
    }

    if (!ok1 || a.n != T_SUM_UNIVERSE) {
        diag("%u series, %d", a.n, ok1);
        return 0;
    }

    sq_win_init(&win);

    for (i = 0; ok1 && i < a.n; i++) {
        s = a.all[i];
        e = (uint32_t) atoi(s->endpoint + 6);

        for (j = 0; j < 8; j++) {
            if (strcmp(s->region, t_regions[j]) == 0) {
                break;
            }
        }

        e = e * 8 + j;

        for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
            want[k] = tot[e][k];

            if (s->total[k] != want[k]) {
                diag("%s %s: total %d is %llu, sent %llu", s->endpoint,
                     s->region, k, (unsigned long long) s->total[k],
                     (unsigned long long) want[k]);
                ok1 = 0;
            }
        }

        /* the short window (60 s) holds all three slots */

        sq_win_reset(&win);

        if (sq_windows_window(&a, s, SQ_WIN_SHORT, now, &win) != SQ_OK) {
            ok1 = 0;
            break;
        }

        for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
            if (win.c[k] != want[k]) {
                diag("%s %s: window counter %d is %llu, sent %llu",
                     s->endpoint, s->region, k,
                     (unsigned long long) win.c[k],
                     (unsigned long long) want[k]);
                ok1 = 0;
            }
        }

        for (k = 0; k < SQ_WIRE_NHISTS; k++) {
            memset(hc[k], 0, sizeof(hc[k]));
            memset(lec, 0, sizeof(lec));
            sum = 0;
            cnt = 0;

            for (idx = 0, j = 0; idx < SQ_HIST_BUCKETS; idx++) {
                if (bins[e][k][idx] == 0) {
                    continue;
                }

                while (j < win.h[k].n
                       && sq_hbin_idx(win.h[k].bins[j]) < idx)
                {
                    j++;
                }

                if (j == win.h[k].n || sq_hbin_idx(win.h[k].bins[j]) != idx
                    || sq_hbin_count(win.h[k].bins[j]) != bins[e][k][idx])
                {
                    diag("%s %s: histogram %d bucket %u differs",
                         s->endpoint, s->region, k, idx);
                    ok1 = 0;
                }

                for (le = 0; le < (uint32_t) sq_metrics_nle; le++) {
                    if (sq_hist_mid(idx) <= sq_metrics_le[le] * 1e6) {
                        break;
                    }
                }

                lec[le] += bins[e][k][idx];
                sum += sq_hist_mid(idx) * 1e-6 * (double) bins[e][k][idx];
                cnt += bins[e][k][idx];
            }

            if (win.h[k].total != cnt) {
                ok1 = 0;
            }

            if (sq_metrics_count(&s->metrics, k) != cnt
                || fabs(sq_metrics_sum(&s->metrics, k) - sum)
                   > 1e-9 * (sum + 1))
            {
                diag("%s %s: Prometheus histogram %d: count %llu sum %g, "
                     "sent %llu %g", s->endpoint, s->region, k,
                     (unsigned long long) sq_metrics_count(&s->metrics, k),
                     sq_metrics_sum(&s->metrics, k),
                     (unsigned long long) cnt, sum);
                ok1 = 0;
            }

            for (le = 0; le < (uint32_t) sq_metrics_nle; le++) {
                if (sq_metrics_bucket(&s->metrics, k, le) != lec[le]) {
                    diag("%s %s: Prometheus histogram %d le %g: %llu, "
                         "sent %llu", s->endpoint, s->region, k,
                         sq_metrics_le[le],
                         (unsigned long long)
                             sq_metrics_bucket(&s->metrics, k, le),
                         (unsigned long long) lec[le]);
                    ok1 = 0;
                }
            }
        }
    }

    sq_win_free(&win);
    sq_windows_free(&a);
    sq_dgram_free(&d);

    return ok1;
}


static uint32_t
t_below(uint32_t n)
{
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;

    return (uint32_t) (t_rng % n);
}


/*
 * sq_metrics_add_slot() against sq_metrics_add() and sq_hist_merge() on
 * random histograms: slots of the same buckets, of the same count of
 * others, of some in common, near saturation, empty.
 */

static void
t_random_hist(sq_hist_t *h, const sq_hist_t *like)
{
    uint32_t  i, n, idx;
    uint64_t  c;

    sq_hist_reset(h);

    if (like && t_below(2)) {
        /* like's buckets, maybe one moved */
        for (i = 0; i < like->n; i++) {
            idx = sq_hbin_idx(like->bins[i]);

            if (t_below(8) == 0 && idx + 1 < SQ_HIST_BUCKETS
                && (i + 1 == like->n
                    || sq_hbin_idx(like->bins[i + 1]) > idx + 1))
            {
                idx++;
            }

            sq_hist_add(h, idx, 1 + t_below(50));
        }

        return;
    }

    n = t_below(7);
    idx = t_below(300);

    for (i = 0; i < n; i++) {
        c = (t_below(30) == 0) ? SQ_HBIN_COUNT_MAX - t_below(3)
                               : 1 + t_below(1000);
        sq_hist_add(h, idx, c);
        idx += 1 + t_below(20);
    }
}


static int
t_check_add_slot(void)
{
    int            k, r, ok1;
    uint32_t       use;
    uint64_t       mle[2][SQ_WIRE_NHISTS * SQ_METRICS_MAXLE];
    sq_hist_t      src, slot, ref;
    sq_metrics_t   m[2];

    sq_hist_init(&src);
    sq_hist_init(&slot);
    sq_hist_init(&ref);
    sq_metrics_init(&m[0], mle[0]);
    sq_metrics_init(&m[1], mle[1]);
    ok1 = 1;

    for (r = 0; r < 20000 && ok1; r++) {
        t_random_hist(&slot, NULL);
        t_random_hist(&src, t_below(4) ? &slot : NULL);
        (void) sq_hist_copy(&ref, &slot);

        k = (int) t_below(2);
        use = t_below(10);
        sq_metrics_add(&m[0], k, &src);

        if (use) {
            (void) sq_hist_merge(&ref, &src);
        }

        if (sq_metrics_add_slot(&m[1], k, &src, use ? &slot : NULL)
            != SQ_OK)
        {
            ok1 = 0;
        }

        /* merged as sq_hist_merge() merges; left out, as it was */

        if (slot.n != ref.n || slot.total != ref.total
            || memcmp(slot.bins, ref.bins, ref.n * sizeof(sq_hbin_t)) != 0)
        {
            diag("round %d: the slot's histogram differs", r);
            ok1 = 0;
        }

        if (m[0].h[k].count != m[1].h[k].count
            || m[0].h[k].sum != m[1].h[k].sum
            || memcmp(m[0].h[k].le, m[1].h[k].le,
                      (size_t) sq_metrics_nle * sizeof(uint64_t)) != 0)
        {
            diag("round %d: the Prometheus histograms differ", r);
            ok1 = 0;
        }
    }

    sq_hist_free(&src);
    sq_hist_free(&slot);
    sq_hist_free(&ref);

    return ok1;
}


static double
t_cpu(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


/* the first round: every series created */

__attribute__((noinline)) static void
t_create(sq_windows_t *a, sq_dgram_t *d, t_worker_t *w, uint32_t nworkers,
    uint32_t seq, int64_t now)
{
    uint32_t  i;

    for (i = 0; i < nworkers; i++) {
        t_seq(&w[i], seq);

        if (sq_decode(d, w[i].sb.data, w[i].sb.size) == SQ_DECODE_OK) {
            (void) sq_windows_ingest(a, d, now);
        }
    }
}


/* a round of every worker's datagram: decode + merge, timed */

__attribute__((noinline)) static double
t_steady(sq_windows_t *a, sq_dgram_t *d, t_worker_t *w, uint32_t nworkers,
    uint32_t seq, int64_t now)
{
    double    t0;
    uint32_t  i;

    t0 = t_cpu();

    for (i = 0; i < nworkers; i++) {
        t_seq(&w[i], seq);

        if (sq_decode(d, w[i].sb.data, w[i].sb.size) == SQ_DECODE_OK) {
            (void) sq_windows_ingest(a, d, now);
        }
    }

    return t_cpu() - t0;
}


/* the decoder alone, on the same bytes */

__attribute__((noinline)) static double
t_decode(sq_dgram_t *d, t_worker_t *w, uint32_t nworkers)
{
    double    t0;
    uint32_t  i;

    t0 = t_cpu();

    for (i = 0; i < nworkers; i++) {
        (void) sq_decode(d, w[i].sb.data, w[i].sb.size);
    }

    return t_cpu() - t0;
}


static void
t_bench(uint32_t universe, int rounds)
{
    int               r;
    double            t, dec, tr, dr, best, dbest;
    size_t            heap0, heap1, bytes;
    int64_t           now;
    uint32_t          i, nworkers;
    uint64_t          updates;
    sq_dgram_t        d;
    t_worker_t       *w;
    sq_windows_t      a;
    struct mallinfo2  mi;

    nworkers = universe / T_PER;
    w = calloc(nworkers, sizeof(t_worker_t));
    bytes = 0;

    for (i = 0; i < nworkers; i++) {
        t_build(&w[i], i, T_PER, universe, 0);
        bytes += w[i].sb.size;
    }

    sq_dgram_init(&d);
    mi = mallinfo2();
    heap0 = mi.uordblks + mi.hblkhd;

    sq_windows_init(&a, T_SLOT, 60, 600, 2 * (uint64_t) universe, 3600,
                    100000);
    now = 1700000000;

    t_create(&a, &d, w, nworkers, 1, now);

    t = 0;
    dec = 0;
    best = 0;
    dbest = 0;
    updates = 0;

    for (r = 1; r < rounds; r++) {
        if (r % 10 == 0) {
            now += T_SLOT;
        }

        tr = t_steady(&a, &d, w, nworkers, (uint32_t) r + 1, now);
        t += tr;
        dr = t_decode(&d, w, nworkers);
        dec += dr;

        if (r == 1 || tr < best) {
            best = tr;
        }

        if (r == 1 || dr < dbest) {
            dbest = dr;
        }

        updates += (uint64_t) nworkers * T_PER;
    }

    mi = mallinfo2();
    heap1 = mi.uordblks + mi.hblkhd;

    diag("%u live series, datagrams of %zu bytes, %llu updates timed",
         a.n, bytes / nworkers, (unsigned long long) updates);
    diag("decode + merge: %.1f ns an update (%.2fM updates a CPU second); "
         "decode alone: %.1f ns an update", t * 1e9 / updates,
         updates / t / 1e6, dec * 1e9 / updates);
    diag("the fastest round (the least disturbed on a busy machine): "
         "decode + merge %.1f ns an update, decode alone %.1f ns",
         best * 1e9 / ((uint64_t) nworkers * T_PER),
         dbest * 1e9 / ((uint64_t) nworkers * T_PER));
    diag("store: sq_windows_memory %.0f bytes a series; heap %.0f bytes "
         "a series (malloc's own overhead included)",
         (double) sq_windows_memory(&a) / a.n,
         (double) (heap1 - heap0) / a.n);

    sq_windows_free(&a);
    sq_dgram_free(&d);

    for (i = 0; i < nworkers; i++) {
        msgpack_sbuffer_destroy(&w[i].sb);
    }

    free(w);
}


int
main(void)
{
    const char  *env;

    (void) t_pack;

    ok(t_check_sums(), "3000 series over 9 rounds and 3 slots: totals, "
       "windows and Prometheus histograms equal a naive sum of the "
       "datagrams");

    ok(t_check_add_slot(), "20000 random histograms into a slot and the "
       "Prometheus histograms in one pass: as sq_hist_merge() and "
       "sq_metrics_add() make them");

    env = getenv("SQ_INGEST_SERIES");

    if (env && atoi(env) >= T_PER) {
        t_bench((uint32_t) atoi(env), getenv("SQ_INGEST_ROUNDS")
                                      ? atoi(getenv("SQ_INGEST_ROUNDS"))
                                      : 30);
    }

    return done_testing();
}
