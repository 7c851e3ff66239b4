
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * The series table under the merge: every series found again through
 * forced hash collisions (a table where only four hashes exist), across
 * the table's growth and after series in the middle of a probe run are
 * removed, with the same counts as a store with the full hash; a
 * datagram that names one series twice, or a series new to the store
 * next to one it knows.
 *
 * With SQ_MERGE_SERIES=N set (bench/scale.pl's shape: 100 series a
 * datagram, endpoints of 8 regions, four latency buckets) it also times
 * the merge alone at N live series and prints what the store and a
 * view hold: a steadier figure than a whole collector under load.
 */

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tap.h"
#include "feed.h"
#include "sq_status.h"
#include "sq_windows.h"
#include "sq_view.h"


#define T_PER  100                      /* series a datagram */

#define diag(...)                                                            \
    (printf("# "), printf(__VA_ARGS__), printf("\n"))


static sq_windows_t  b;                /* the store with the full hash */
static char          names[T_PER][32];
static const char   *regions[8] = {
    "US", "BR", "DE", "FR", "JP", "IN", "GB", "AU"
};


static void t_batch(t_series_t *s, uint32_t first, uint32_t universe);
static int t_feed_both(uint64_t pid, uint64_t seq, t_series_t *s,
    uint32_t n, int64_t now);
static int t_same(uint32_t universe);
static void t_bench(uint32_t universe);
static double t_now(void);
static long t_hwm_kb(void);


/* series first .. first + T_PER - 1 (mod universe) as loadgen names them */

static void
t_batch(t_series_t *s, uint32_t first, uint32_t universe)
{
    uint32_t  i, sid;

    for (i = 0; i < T_PER; i++) {
        sid = (first + i) % universe;
        snprintf(names[i], sizeof(names[i]), "/api/e%u", sid / 8);
        mk(&s[i], names[i], regions[sid % 8], 20, sid % 1000 == 0, 0);
        s[i].segment = (sid % 3 == 0) ? "" : "free";
        s[i].nbuckets = 3;
        s[i].bucket[0] = sq_hist_index(2000);
        s[i].bucket[1] = sq_hist_index(15000 + (sid % 7) * 1000);
        s[i].bucket[2] = sq_hist_index(200000);
        s[i].count[0] = 10;
        s[i].count[1] = 6;
        s[i].count[2] = 4;
    }
}


/* the same datagram to a (collisions forced) and b (the full hash) */

static int
t_feed_both(uint64_t pid, uint64_t seq, t_series_t *s, uint32_t n,
    int64_t now)
{
    int  rc;

    t_pack(&sb, "n1", pid, seq, s, n);

    if (sq_decode(&d, sb.data, sb.size) != SQ_DECODE_OK) {
        return -1;
    }

    sq_windows_hash_mask = 3;
    rc = sq_windows_ingest(&a, &d, now);
    sq_windows_hash_mask = ~UINT64_C(0);

    if (rc != SQ_OK || sq_windows_ingest(&b, &d, now) != SQ_OK) {
        return -1;
    }

    return 0;
}


/*
 * Every series of b is in a with the same totals and histograms, and a
 * lookup of it (through sq_windows_add_slot() with an empty minute, which
 * creates a series it does not find) creates nothing new.
 */

static int
t_same(uint32_t universe)
{
    int           k;
    uint32_t      i, j, n;
    sq_slot_t     empty;
    sq_series_t  *x, *y;

    if (a.n != b.n || a.n != universe) {
        diag("%u series against %u, %u expected", a.n, b.n, universe);
        return 0;
    }

    for (i = 0; i < b.n; i++) {
        y = b.all[i];

        for (j = 0; j < a.n; j++) {
            x = a.all[j];

            if (strcmp(x->endpoint, y->endpoint) == 0
                && strcmp(x->region, y->region) == 0
                && strcmp(x->segment, y->segment) == 0)
            {
                break;
            }
        }

        if (j == a.n) {
            diag("%s %s %s missing", y->endpoint, y->region, y->segment);
            return 0;
        }

        for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
            if (x->total[k] != y->total[k]) {
                diag("%s %s: counter %d %llu against %llu", y->endpoint,
                     y->region, k, (unsigned long long) x->total[k],
                     (unsigned long long) y->total[k]);
                return 0;
            }
        }

        if (x->metrics.h[0].count != y->metrics.h[0].count
            || x->cur->h[0].total != y->cur->h[0].total
            || x->cur->h[0].n != y->cur->h[0].n)
        {
            diag("%s %s: histograms differ", y->endpoint, y->region);
            return 0;
        }
    }

    /* found again, not created: a's count stays */

    n = a.n;
    sq_slot_init(&empty, a.minute);
    sq_windows_hash_mask = 3;

    for (i = 0; i < b.n; i++) {
        y = b.all[i];
        (void) sq_windows_add_slot(&a, y->endpoint, y->region, y->segment,
                                   &empty, a.minute);
    }

    sq_windows_hash_mask = ~UINT64_C(0);
    sq_slot_free(&empty);

    if (a.n != n) {
        diag("%u series created by lookups", a.n - n);
        return 0;
    }

    return 1;
}


static double
t_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


/* the process' peak RSS so far, kB */

static long
t_hwm_kb(void)
{
    char   line[256];
    long   kb;
    FILE  *f;

    kb = 0;
    f = fopen("/proc/self/status", "r");

    if (f == NULL) {
        return 0;
    }

    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmHWM: %ld", &kb) == 1) {
            break;
        }
    }

    fclose(f);

    return kb;
}


/* the merge alone at universe live series, and what the store holds */

static void
t_bench(uint32_t universe)
{
    int               rounds;
    double            t, merge, create;
    uint32_t          w, nworkers;
    uint64_t          updates;
    size_t            heap0, heap1, heap2;
    int64_t           now;
    sq_view_t        *v;
    sq_conf_t        *conf;
    t_series_t        s[T_PER];
    struct mallinfo2  mi;

    nworkers = universe / T_PER;
    mi = mallinfo2();
    heap0 = mi.uordblks + mi.hblkhd;

    sq_windows_init(&b, 10, 60, 600, 2 * (uint64_t) universe, 3600, 100000);
    now = 1800000000;

    merge = 0;
    updates = 0;
    create = 0;

    /*
     * 30 rounds of every datagram, a 10 s slot every 10 rounds: the first
     * creates the series (timed apart), each series moves on to a new
     * slot twice.  (At 20,000 datagrams/s a series takes about 200
     * updates a 10 s slot; here 10: the slot changes weigh more.)
     */

    for (rounds = 0; rounds < 30; rounds++) {
        for (w = 0; w < nworkers; w++) {
            t_batch(s, w * T_PER, universe);
            t_pack(&sb, "bench", w + 1, 1 + (uint64_t) rounds, s, T_PER);

            if (sq_decode(&d, sb.data, sb.size) != SQ_DECODE_OK) {
                continue;
            }

            t = t_now();
            (void) sq_windows_ingest(&b, &d, now);
            t = t_now() - t;

            if (rounds == 0) {
                create += t;

            } else {
                merge += t;
                updates += d.nseries;
            }
        }

        if (rounds % 10 == 9) {
            now += 10;
        }
    }

    diag("create: %u series in %.3f s", b.n, create);

    mi = mallinfo2();
    heap1 = mi.uordblks + mi.hblkhd;

    diag("merge: %u live series, %llu series updates in %.3f s: "
         "%.0f ns an update, %.2fM updates/s on one core",
         b.n, (unsigned long long) updates, merge, merge * 1e9 / updates,
         updates / merge / 1e6);
    diag("store: sq_windows_memory %.0f bytes a series; heap %.0f bytes "
         "a series (malloc's own overhead included)",
         (double) sq_windows_memory(&b) / b.n,
         (double) (heap1 - heap0) / b.n);

    diag("peak RSS with the store: %ld MB", t_hwm_kb() / 1024);

    conf = sq_conf_default();

    if (conf) {
        t = t_now();
        v = sq_view_build(&b, conf, now);
        t = t_now() - t;
        mi = mallinfo2();
        heap2 = mi.uordblks + mi.hblkhd;

        if (v) {
            diag("view: %zu rows of %zu bytes built in %.2f s; the view "
                 "holds %.0f bytes a series", v->n, sizeof(sq_row_t), t,
                 (double) (heap2 - heap1) / b.n);
            diag("peak RSS with the store, one view and its build: %ld MB",
                 t_hwm_kb() / 1024);
            sq_view_release(v);
        }

        sq_conf_free(conf);
    }

    sq_windows_free(&b);
}


int
main(void)
{
    int           ok1;
    int64_t       now;
    uint32_t      i, universe, seq;
    t_series_t    s[T_PER], twice[3];
    const char   *env;

    sq_dgram_init(&d);
    msgpack_sbuffer_init(&sb);
    (void) feed;
    (void) find;

    /* a: 1024 buckets to start with, four hashes: every lookup a probe
       run, every insertion a collision; b: the full hash */

    ok(sq_windows_init(&a, 60, 300, 3600, 100000, 7200, 100) == SQ_OK
       && sq_windows_init(&b, 60, 300, 3600, 100000, 7200, 100) == SQ_OK,
       "two stores");

    universe = 3000;
    now = 1800000000;
    seq = 1;
    ok1 = 1;

    /* every series three times: created, found, found after the table
       grew (1024 buckets at most three quarters full: grown twice by
       3000) */

    for (i = 0; i < 3 * universe; i += T_PER) {
        t_batch(s, i, universe);

        if (t_feed_both(1, seq++, s, T_PER, now) != 0) {
            ok1 = 0;
        }
    }

    ok(ok1, "9000 series updates merged into both stores");
    ok(a.nbuckets >= 4096 && 4 * a.n <= 3 * a.nbuckets
       && a.nbuckets == b.nbuckets,
       "the table grew twice, at most three quarters full");
    ok(t_same(universe), "forced collisions: the same series, counts and "
       "histograms as the full hash");
    is_int(a.all[0]->total[SQ_C_REQUESTS], 60, "a series seen three times "
           "across two growths has its three datagrams");

    /* removal from the middle of probe runs: the ones after it stay found
       (expire a third of the series, then every series again) */

    for (i = 0; i < a.n; i++) {
        if (strcmp(a.all[i]->segment, "") == 0) {
            a.all[i]->last_seen = now - 10000;
        }
    }

    for (i = 0; i < b.n; i++) {
        if (strcmp(b.all[i]->segment, "") == 0) {
            b.all[i]->last_seen = now - 10000;
        }
    }

    sq_windows_hash_mask = 3;
    sq_windows_expire(&a, now);
    sq_windows_hash_mask = ~UINT64_C(0);
    sq_windows_expire(&b, now);
    is_int(a.n, 2000, "1000 series expired");
    is_int(a.stats.series_expired, 1000, "and counted");

    ok1 = 1;

    /* the last series first: their lookups cross the holes before any
       expired series comes back to fill one */

    for (i = universe; i > 0; i -= T_PER) {
        t_batch(s, i - T_PER, universe);

        if (t_feed_both(1, seq++, s, T_PER, now + 1) != 0) {
            ok1 = 0;
        }
    }

    ok(ok1 && t_same(universe), "after removals in the probe runs: every "
       "series found again, the expired ones anew");

    for (i = 0; i < a.n; i++) {
        if (strcmp(a.all[i]->endpoint, "/api/e1") == 0
            && strcmp(a.all[i]->region, "DE") == 0)
        {
            break;
        }
    }

    ok(i < a.n && a.all[i]->total[SQ_C_REQUESTS] == 80,
       "a series kept through the removals has its four datagrams");

    for (i = 0; i < a.n; i++) {
        if (strcmp(a.all[i]->endpoint, "/api/e0") == 0
            && strcmp(a.all[i]->region, "US") == 0)
        {
            break;
        }
    }

    ok(i < a.n && a.all[i]->total[SQ_C_REQUESTS] == 20,
       "an expired series starts over");

    /* one datagram: a new series twice, with one the store knows between:
       the second finds the one the first created */

    mk(&twice[0], "/new", "ZZ", 5, 0, 100);
    mk(&twice[1], "/api/e1", "BR", 5, 0, 100);
    mk(&twice[2], "/new", "ZZ", 7, 0, 100);

    ok(t_feed_both(1, seq++, twice, 3, now + 1) == 0 && t_same(universe + 1),
       "a series new to the store named twice in a datagram: one series");

    for (i = 0; i < a.n; i++) {
        if (strcmp(a.all[i]->endpoint, "/new") == 0) {
            break;
        }
    }

    ok(i < a.n && a.all[i]->total[SQ_C_REQUESTS] == 12, "with both counts");

    /* the hash: lengths matter, not only the bytes */

    ok(sq_windows_hash("ab", 2, "c", 1, "", 0)
       != sq_windows_hash("a", 1, "bc", 2, "", 0)
       && sq_windows_hash("abcdefgh", 8, "", 0, "", 0)
          != sq_windows_hash("abcdefg", 7, "h", 1, "", 0),
       "where the strings split changes the hash");

    sq_windows_hash_mask = 3;
    sq_windows_free(&a);
    sq_windows_hash_mask = ~UINT64_C(0);
    sq_windows_free(&b);

    env = getenv("SQ_MERGE_SERIES");

    if (env && atoi(env) >= T_PER) {
        t_bench((uint32_t) atoi(env));
    }

    sq_dgram_free(&d);
    msgpack_sbuffer_destroy(&sb);

    return done_testing();
}
