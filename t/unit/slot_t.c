
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* The slot's one packed form: round trips, widest values, damaged input
   refused by the check; and a series' Prometheus histograms. */

#include <stdint.h>

#include "tap.h"
#include "sq_status.h"
#include "sq_slot.h"
#include "sq_metrics.h"


static int
same(const sq_slot_t *a, const sq_slot_t *b)
{
    uint32_t  i;

    if (a->bytes != b->bytes || memcmp(a->c, b->c, sizeof(a->c)) != 0) {
        return 0;
    }

    for (i = 0; i < 2; i++) {
        if (a->h[i].n != b->h[i].n || a->h[i].total != b->h[i].total
            || (a->h[i].n
                && memcmp(a->h[i].bins, b->h[i].bins,
                          a->h[i].n * sizeof(sq_hbin_t)) != 0))
        {
            return 0;
        }
    }

    return 1;
}


int
main(void)
{
    int             k, bad;
    size_t          len, i, n;
    uint32_t        b;
    uint64_t        c[SQ_WIRE_NCOUNTERS];
    sq_win_t        w;
    sq_slot_t       sl, back;
    sq_metrics_t    m;
    uint64_t        mle[SQ_WIRE_NHISTS * SQ_METRICS_MAXLE];
    unsigned char  *buf, dmg[64];

    buf = malloc(SQ_SLOT_PACKED_MAX);
    sq_slot_init(&sl, 60);
    sq_slot_init(&back, 60);
    sq_win_init(&w);

    /* empty */

    len = sq_slot_pack(&sl, buf);
    is_int(len, 3, "an empty slot packs to 3 bytes");
    ok(sq_slot_empty(&sl), "and is empty");
    ok(sq_slot_unpack(buf, len, &back) == SQ_OK && same(&sl, &back),
       "and reads back empty");

    /* a typical minute */

    memset(c, 0, sizeof(c));
    c[SQ_C_REQUESTS] = 1200;
    c[SQ_C_2XX] = 1190;
    c[SQ_C_5XX] = 10;
    c[SQ_C_BYTES] = UINT64_C(5) << 33;
    c[SQ_C_TLS_13] = 1200;
    c[SQ_C_HSTS] = 1200;
    sq_slot_add_counters(&sl, c);
    sq_hist_add(&sl.h[SQ_H_RT], sq_hist_index(40000), 1000);
    sq_hist_add(&sl.h[SQ_H_RT], sq_hist_index(90000), 190);
    sq_hist_add(&sl.h[SQ_H_RT], sq_hist_index(2500000), 10);
    sq_hist_add(&sl.h[SQ_H_TTFB], sq_hist_index(20000), 1200);

    len = sq_slot_pack(&sl, buf);
    printf("# a minute of 6 counters and 4 bins packs to %zu bytes\n", len);
    ok(len < 40, "a minute packs to a few dozen bytes (%zu)", len);
    ok(!sq_slot_empty(&sl), "not empty");
    ok(sq_slot_unpack(buf, len, &back) == SQ_OK, "unpacked");
    ok(same(&sl, &back), "the same slot read back");

    ok(sq_slot_unpack(buf, len, &back) == SQ_OK
       && back.c[SQ_C_REQUESTS] == 2400 && back.bytes == (UINT64_C(5) << 34)
       && back.h[SQ_H_RT].total == 2400 && back.h[SQ_H_RT].n == 3,
       "unpacking adds to what the slot holds");

    ok(sq_slot_unpack_win(buf, len, &w) == SQ_OK
       && sq_slot_unpack_win(buf, len, &w) == SQ_OK
       && w.c[SQ_C_REQUESTS] == 2400 && w.c[SQ_C_BYTES] == (UINT64_C(5) << 34)
       && w.h[SQ_H_TTFB].total == 2400,
       "into a window as well");

    /* damaged: every truncation, a trailing byte, unknown counters,
       buckets out of the scheme or out of order */

    ok(sq_slot_check(buf, len) == SQ_OK, "a packed slot passes the check");

    bad = 0;

    for (i = 0; i < len; i++) {
        bad += sq_slot_check(buf, i) != SQ_ERR_CORRUPT;
    }

    is_int(bad, 0, "every truncation is refused");

    memcpy(dmg, buf, len);
    dmg[len] = 0;
    ok(sq_slot_check(dmg, len + 1) == SQ_ERR_CORRUPT,
       "a trailing byte is refused");
    sq_slot_reset(&back, 60);
    ok(sq_slot_unpack(dmg, len + 1, &back) == SQ_ERR_CORRUPT,
       "and unpacking notices it too");

    dmg[0] = 0x80;
    dmg[1] = 0x80;
    dmg[2] = 0x80;
    dmg[3] = 0x40;              /* bit 27: no such counter */
    dmg[4] = 0;
    dmg[5] = 0;
    ok(sq_slot_check(dmg, 6) == SQ_ERR_CORRUPT,
       "an unknown counter is refused");

    dmg[0] = 0;                 /* no counters */
    dmg[1] = 1;                 /* one bin */
    dmg[2] = 0x80 | (SQ_HIST_BUCKETS & 0x7f);
    dmg[3] = SQ_HIST_BUCKETS >> 7;
    dmg[4] = 1;
    dmg[5] = 0;
    ok(sq_slot_check(dmg, 6) == SQ_ERR_CORRUPT,
       "a bucket past the scheme is refused");

    dmg[1] = 2;                 /* two bins, the second at the same index */
    dmg[2] = 5;
    dmg[3] = 1;
    dmg[4] = 0;
    dmg[5] = 1;
    dmg[6] = 0;
    ok(sq_slot_check(dmg, 7) == SQ_ERR_CORRUPT,
       "a bucket twice is refused");

    memset(dmg, 0xff, 12);      /* a varint longer than 64 bits */
    ok(sq_slot_check(dmg, 12) == SQ_ERR_CORRUPT,
       "a runaway varint is refused");

    /* the widest slot fits SQ_SLOT_PACKED_MAX */

    sq_slot_reset(&sl, 60);

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        c[k] = UINT64_MAX;
    }

    sq_slot_add_counters(&sl, c);

    for (b = 0; b < SQ_HIST_BUCKETS; b++) {
        sq_hist_add(&sl.h[0], b, SQ_HBIN_COUNT_MAX);
        sq_hist_add(&sl.h[1], b, SQ_HBIN_COUNT_MAX);
    }

    is_int(sl.c[SQ_C_REQUESTS], UINT32_MAX, "slot counters saturate");

    len = sq_slot_pack(&sl, buf);
    ok(len <= SQ_SLOT_PACKED_MAX, "the widest slot fits (%zu of %d)", len,
       (int) SQ_SLOT_PACKED_MAX);
    sq_slot_reset(&back, 60);
    ok(sq_slot_check(buf, len) == SQ_OK
       && sq_slot_unpack(buf, len, &back) == SQ_OK && same(&sl, &back),
       "and passes the check and reads back whole");

    /* Prometheus histograms: le buckets, count, sum */

    sq_metrics_init(&m, mle);
    sq_slot_reset(&sl, 60);
    sq_hist_add(&sl.h[0], sq_hist_index(3000), 5);       /* le 0.005 */
    sq_hist_add(&sl.h[0], sq_hist_index(700000), 2);     /* le 1 */
    sq_hist_add(&sl.h[0], sq_hist_index(60000000), 1);   /* +Inf */
    sq_metrics_add(&m, SQ_H_RT, &sl.h[0]);
    sq_metrics_add(&m, SQ_H_RT, &sl.h[0]);

    is_int(m.h[SQ_H_RT].le[0], 10, "le 0.005");
    is_int(m.h[SQ_H_RT].le[7], 4, "le 1");

    for (n = 0, i = 0; i < SQ_PROM_NLE; i++) {
        n += m.h[SQ_H_RT].le[i];
    }

    is_int(n, 14, "the one past 10 s only in +Inf");
    is_int(m.h[SQ_H_RT].count, 16, "count");
    is_num(m.h[SQ_H_RT].sum, 2 * (5 * sq_hist_mid(sq_hist_index(3000))
                                     + 2 * sq_hist_mid(sq_hist_index(700000))
                                     + sq_hist_mid(sq_hist_index(60000000)))
                                / 1e6, 1e-6, "sum of midpoints, seconds");
    is_int(m.h[SQ_H_TTFB].count, 0, "the other histogram untouched");

    sq_slot_free(&sl);
    sq_slot_free(&back);
    sq_win_free(&w);
    free(buf);

    return done_testing();
}
