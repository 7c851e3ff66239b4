
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* The browser's measurements (wire version 3) in the collector: the
   version 3 test vector of docs/wire-format.md decoded, a series of 12
   refused in version 2, the packed slot's browser part round trips and
   is checked, a server-only slot packs as before, and the browser part
   of a dimension judged beside the server's. */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "servqual_hist.h"
#include "sq_decode.h"
#include "sq_score.h"
#include "sq_slot.h"
#include "sq_status.h"


/* docs/wire-format.md, "Version 3" */

static const char  *t_v3 =
    "8ea17603a46e6f6465a76578616d706c65a3706964cd3904a373657102a27773"
    "cf000001a209c2f7cea27765cf000001a209c2fb5aa2646400a2647200a2736f"
    "00a2676f00a2637201a2637301a2637800a173dd000000029ca82f70726f6475"
    "6374a24a50a0dc001702000200000000000000cd06fe02000000000002000000"
    "0000dd00000004cd012c012101dd000000045f01280196020101000000dd0000"
    "0004cd03c9014601dd00000002cd02f501dd00000004cd01ce01cca701dd0000"
    "0004cd0389012401dd00000004cd030901180196a72f736561726368a24a50a0"
    "dc001701000100000000000000cd0200010000000000010000000000dd000000"
    "02ccc801dd000000025a01";


static size_t
unhex(const char *hex, unsigned char *out)
{
    size_t        n;
    unsigned int  v;

    for (n = 0; hex[2 * n] && sscanf(hex + 2 * n, "%2x", &v) == 1; n++) {
        out[n] = (unsigned char) v;
    }

    return n;
}


static void
add(sq_hist_t *h, double v, uint64_t n)
{
    (void) sq_hist_add(h, sq_hist_index((uint64_t) v), n);
}


int
main(void)
{
    size_t          len, plen;
    sq_win_t        w;
    sq_slot_t       sl, back;
    sq_dgram_t      d;
    sq_dim_conf_t   dc;
    sq_dim_score_t  ds;
    unsigned char   buf[1024], *packed, *p;

    /* the vector */

    ok(sq_dgram_init(&d) == SQ_OK, "decoder arrays");
    len = unhex(t_v3, buf);
    is_int(len, 267, "the vector's 267 bytes");
    is_int(sq_decode(&d, (const char *) buf, len), SQ_DECODE_OK,
           "version 3 vector decoded");
    is_int(d.version, 3, "version 3");
    is_int(d.nseries, 2, "two series");
    ok(d.series[0].browser, "/product carries the browser's fields");
    ok(!d.series[1].browser, "/search does not");
    is_int(d.series[0].bc[SQ_BC_BEACONS], 2, "two beacons");
    is_int(d.series[0].bc[SQ_BC_NAV_RELOAD], 1, "one reload");
    is_int(d.series[0].bhist[SQ_B_CLS].n, 2, "two CLS buckets");
    is_int(sq_hbin_idx(d.series[0].bhist[SQ_B_CLS].bins[1]), 629,
           "CLS 0.3 in bucket 629");
    is_int(sq_hbin_idx(d.series[0].bhist[SQ_B_LCP].bins[0]), 969,
           "LCP 1.2 s in bucket 969");
    is_int(d.series[0].bhist[SQ_B_TTFB].total, 2, "two browser TTFBs");
    is_int(d.requests, 3, "three requests");

    /* the same bytes as version 2: a series of 12 is not one */

    buf[3] = 0x02;
    is_int(sq_decode(&d, (const char *) buf, len), SQ_REJ_TYPE,
           "12 fields in version 2: wrong_type");
    buf[3] = 0x04;
    is_int(sq_decode(&d, (const char *) buf, len), SQ_REJ_VERSION,
           "version 4: bad_version");
    sq_dgram_free(&d);

    /* the packed slot */

    packed = malloc(SQ_SLOT_PACKED_MAX);
    ok(packed != NULL, "pack buffer");

    sq_slot_init(&sl, 60);
    sq_slot_init(&back, 60);
    sl.c[SQ_C_REQUESTS] = 3;
    add(&sl.h[SQ_H_RT], 5000, 3);

    plen = sq_slot_pack(&sl, packed);
    ok(packed[0] < 0x80 && sq_slot_check(packed, plen) == SQ_OK,
       "a server-only slot: one map byte, no browser bit");
    ok(sq_slot_unpack(packed, plen, &back) == SQ_OK && back.b == NULL,
       "and unpacks without a browser part");

    ok(sq_browser_get(&sl.b) == SQ_OK, "a browser part");
    sl.b->c[SQ_BC_BEACONS] = 30;
    sl.b->c[SQ_BC_NAV_NAVIGATE] = 30;
    add(&sl.b->h[SQ_B_CLS], 0.3 * SQ_WIRE_CLS_SCALE, 30);
    add(&sl.b->h[SQ_B_LCP], 3.2e6, 30);

    len = plen;
    plen = sq_slot_pack(&sl, packed);
    ok(plen > len, "a slot with beacons packs longer");
    is_int(sq_slot_check(packed, plen), SQ_OK, "and passes the check");
    is_int(sq_slot_check(packed, plen - 1), SQ_ERR_CORRUPT,
           "cut short: corrupt");

    sq_slot_reset(&back, 60);
    ok(sq_slot_unpack(packed, plen, &back) == SQ_OK && back.b != NULL,
       "unpacked with its browser part");
    ok(back.b && back.b->c[SQ_BC_BEACONS] == 30
       && back.b->h[SQ_B_CLS].total == 30
       && back.b->h[SQ_B_LCP].total == 30, "the same counts");
    ok(back.c[SQ_C_REQUESTS] == 3 && back.h[SQ_H_RT].total == 3,
       "and the server's part");

    /* a map bit between the counters and the browser's: refused */

    p = sq_varint_put(packed, UINT64_C(1) << 40);
    p = sq_varint_put(p, 1);
    *p++ = 0;
    *p++ = 0;
    is_int(sq_slot_check(packed, (size_t) (p - packed)), SQ_ERR_CORRUPT,
           "a map bit past the counters: corrupt");

    /* scoring: the worse placed part decides */

    sq_win_init(&w);
    ok(sq_win_merge_slot(&w, &sl) == SQ_OK && w.b != NULL,
       "a window of the slot");
    is_num(sq_browser_quantile(&w, SQ_B_CLS, 0.75), 0.3, 0.005,
           "CLS p75 0.3");

    sq_dim_defaults(SQ_DIM_TANGIBLES, &dc);
    dc.min_requests = 1;
    is_int(dc.browser, SQ_IND_CLS_QUANTILE, "tangibles: CLS by default");

    sq_score_dim(&dc, &w, NAN, &ds);
    is_int(ds.indicator, SQ_IND_INTACT_SHARE, "the server's indicator");
    sq_score_browser(&dc, &w, &ds);
    is_int(ds.indicator, SQ_IND_CLS_QUANTILE, "the browser's decides");
    is_int(ds.state, SQ_STATE_BELOW, "CLS 0.3: below the zone");
    is_int(ds.requests, 30, "on 30 beacons");

    dc.min_beacons = 31;
    sq_score_dim(&dc, &w, NAN, &ds);
    sq_score_browser(&dc, &w, &ds);
    is_int(ds.indicator, SQ_IND_INTACT_SHARE,
           "too few beacons: the server's alone");

    dc.min_beacons = 20;
    dc.browser = SQ_IND_NONE;
    sq_score_dim(&dc, &w, NAN, &ds);
    sq_score_browser(&dc, &w, &ds);
    is_int(ds.indicator, SQ_IND_INTACT_SHARE, "browser: none");

    sq_win_free(&w);
    sq_slot_free(&sl);
    sq_slot_free(&back);
    free(packed);

    return done_testing();
}
