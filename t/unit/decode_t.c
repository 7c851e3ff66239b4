
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* The decoder: a good datagram, each rejection reason, and random and
   mutated input that must never crash or be half-taken. */

#include "tap.h"
#include "wire.h"
#include "servqual_hist.h"
#include "sq_decode.h"


static sq_dgram_t       d;
static msgpack_sbuffer  sb;


static int
dec(const void *p, size_t len)
{
    return sq_decode(&d, p, len);
}


/* packs a map from a tiny description: keys with uint or str values */

static int
dec_map(int nkeys, const char **keys, const char **svals,
    const uint64_t *uvals, int series_type)
{
    int             i;
    msgpack_packer  pk;

    msgpack_sbuffer_clear(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, nkeys + 1);

    for (i = 0; i < nkeys; i++) {
        t_str(&pk, keys[i]);

        if (svals[i]) {
            t_str(&pk, svals[i]);

        } else {
            msgpack_pack_uint64(&pk, uvals[i]);
        }
    }

    t_str(&pk, t_keys[SQ_K_SERIES]);

    if (series_type) {
        msgpack_pack_str_with_body(&pk, "x", 1);

    } else {
        msgpack_pack_array(&pk, 0);
    }

    return dec(sb.data, sb.size);
}


/*
 * The header with every key, go = 5, and an unknown key "x" before the
 * series holding an array (the fast path leaves those to the full check)
 * or a scalar; dup repeats "pid".
 */

static int
dec_keys(int unknown_array, int dup)
{
    int             k;
    msgpack_packer  pk;

    msgpack_sbuffer_clear(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, SQ_WIRE_NKEYS + 1 + (dup ? 1 : 0));

    for (k = 0; k < SQ_WIRE_NKEYS; k++) {
        if (k == SQ_K_SERIES) {
            t_str(&pk, "x");

            if (unknown_array) {
                msgpack_pack_array(&pk, 1);
                msgpack_pack_uint64(&pk, 1);

            } else {
                msgpack_pack_uint64(&pk, 1);
            }

            if (dup) {
                t_str(&pk, t_keys[SQ_K_PID]);
                msgpack_pack_uint64(&pk, 43);
            }
        }

        t_str(&pk, t_keys[k]);

        switch (k) {

        case SQ_K_NODE:
            t_str(&pk, "web1");
            break;

        case SQ_K_SERIES:
            msgpack_pack_array(&pk, 0);
            break;

        case SQ_K_WS:
            msgpack_pack_uint64(&pk, 1000);
            break;

        case SQ_K_WE:
            msgpack_pack_uint64(&pk, 2000);
            break;

        case SQ_K_GO:
            msgpack_pack_uint64(&pk, 5);
            break;

        default:
            msgpack_pack_uint64(&pk, 1 + k);
            break;
        }
    }

    return dec(sb.data, sb.size);
}


static const char *
reason(int rc)
{
    return rc == SQ_DECODE_OK ? "accepted" : sq_reject_names[rc];
}


int
main(void)
{
    int          i, j, rc, crashed, counts[SQ_NREJECTS];
    char        *buf;
    size_t       len;
    uint64_t     seed;
    t_series_t   s[2];
    sq_dseries_t ds;

    const char         *keys[6];
    const char         *svals[6] = { NULL, "web1", NULL, NULL, NULL, NULL };
    uint64_t            uvals[6] = { 1, 0, 42, 7, 1000, 2000 };

    /* the minimal map's keys, in the order SQ_K_* has them */
    for (i = 0; i < 6; i++) {
        keys[i] = t_keys[SQ_K_VERSION + i];
    }

    is_int(sq_dgram_init(&d), SQ_OK, "sq_dgram_init: SQ_OK");
    msgpack_sbuffer_init(&sb);

    memset(s, 0, sizeof(s));
    s[0].endpoint = "checkout";
    s[0].region = "BR";
    s[0].segment = "";
    s[0].c[SQ_C_REQUESTS] = 10;
    s[0].c[SQ_C_2XX] = 9;
    s[0].c[SQ_C_5XX] = 1;
    s[0].c[SQ_C_BYTES] = 12345;
    s[0].nbuckets = 2;
    s[0].bucket[0] = 100;
    s[0].count[0] = 4;
    s[0].bucket[1] = 900;
    s[0].count[1] = 6;
    s[1] = s[0];
    s[1].region = "US";
    s[1].segment = "premium";

    t_pack(&sb, "web1", 4242, 9, s, 2);
    rc = dec(sb.data, sb.size);
    is_str(reason(rc), "accepted", "a valid datagram is accepted");
    is_int(d.nseries, 2, "two series");
    is_int(d.seq, 9, "seq");
    is_int(d.pid, 4242, "pid");
    is_int(d.requests, 20, "requests summed");
    sq_decode_series(&d, 1, &ds);
    ok(ds.region.len == 2 && memcmp(ds.region.ptr, "US", 2) == 0, "region");
    is_int(ds.c[SQ_C_BYTES], 12345, "bytes counter");
    is_int(ds.hist[0].n, 2, "histogram pairs");
    is_int(ds.hist[0].total, 10, "histogram total");
    is_int(sq_hbin_idx(ds.hist[0].bins[1]), 900, "absolute bucket");

    /* the minimal valid map */

    rc = dec_map(6, keys, svals, uvals, 0);
    is_str(reason(rc), "accepted", "minimal map accepted");

    /* each rejection reason */

    buf = malloc(SQ_WIRE_MAX_DATAGRAM + 2);
    memset(buf, 0xc0, SQ_WIRE_MAX_DATAGRAM + 2);
    is_str(reason(dec(buf, SQ_WIRE_MAX_DATAGRAM + 1)), "too_large",
           "over 65507 bytes");

    is_str(reason(dec("\xc1", 1)), "malformed", "byte 0xc1");
    is_str(reason(dec("", 0)), "truncated", "empty datagram");

    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_str(reason(dec(sb.data, sb.size - 3)), "truncated", "cut short");

    memcpy(buf, sb.data, sb.size);
    buf[sb.size] = 0x01;
    is_str(reason(dec(buf, sb.size + 1)), "trailing_bytes", "a byte extra");

    memset(buf, 0x91, 40);
    buf[40] = 0x01;
    is_str(reason(dec(buf, 41)), "too_deep", "40 nested arrays");

    /* an array32 claiming 4 billion elements: no allocation attempted */
    is_str(reason(dec("\xdd\xff\xff\xff\xff\x01", 6)), "truncated",
           "huge array header with no elements");
    is_str(reason(dec("\xdb\xff\xff\xff\xf0" "abc", 8)), "truncated",
           "huge string header");

    is_str(reason(dec("\x93\x01\x02\x03", 4)), "not_a_map", "an array");

    uvals[0] = SQ_WIRE_VERSION + 1;
    is_str(reason(dec_map(6, keys, svals, uvals, 0)), "bad_version",
           "a version past SQ_WIRE_VERSION");
    uvals[0] = 0;
    is_str(reason(dec_map(6, keys, svals, uvals, 0)), "bad_version",
           "version 0");
    uvals[0] = SQ_WIRE_VERSION;
    is_str(reason(dec_map(6, keys, svals, uvals, 0)), "missing_field",
           "version 2 without its running totals");
    uvals[0] = 1;

    is_str(reason(dec_map(5, keys, svals, uvals, 0)), "missing_field",
           "no \"we\"");

    is_str(reason(dec_map(6, keys, svals, uvals, 1)), "wrong_type",
           "\"s\" is a string");

    svals[2] = "42";
    is_str(reason(dec_map(6, keys, svals, uvals, 0)), "wrong_type",
           "pid as a string");
    svals[2] = NULL;

    svals[1] = "0123456789012345678901234567890123456789"
               "012345678901234567890123456789";
    is_str(reason(dec_map(6, keys, svals, uvals, 0)), "oversized",
           "node of 70 bytes");
    svals[1] = "bad\nnode";
    is_str(reason(dec_map(6, keys, svals, uvals, 0)), "bad_label",
           "node with a newline");
    svals[1] = "web1";

    uvals[4] = 5000;
    is_str(reason(dec_map(6, keys, svals, uvals, 0)), "bad_window",
           "window ends before it starts");
    uvals[4] = 1000;

    uvals[2] = 0;
    is_str(reason(dec_map(6, keys, svals, uvals, 0)), "absurd_count",
           "pid 0");
    uvals[2] = 42;

    s[1].bucket[1] = SQ_HIST_BUCKETS + 5;
    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_str(reason(dec(sb.data, sb.size)), "bad_histogram",
           "unknown histogram bucket");
    s[1].bucket[1] = 100;
    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_str(reason(dec(sb.data, sb.size)), "bad_histogram",
           "distance 0 between buckets");
    s[1].bucket[1] = 900;
    s[1].count[1] = 0;
    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_str(reason(dec(sb.data, sb.size)), "bad_histogram", "count 0");
    s[1].count[1] = UINT64_C(1) << 50;
    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_str(reason(dec(sb.data, sb.size)), "absurd_count", "count 2^50");
    s[1].count[1] = 6;

    s[1].c[SQ_C_5XX] = 11;
    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_str(reason(dec(sb.data, sb.size)), "inconsistent",
           "more 5xx than requests");
    s[1].c[SQ_C_5XX] = 1;

    s[1].endpoint = "";
    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_str(reason(dec(sb.data, sb.size)), "bad_label", "empty endpoint");
    s[1].endpoint = "x\"y";
    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_str(reason(dec(sb.data, sb.size)), "bad_label", "quote in endpoint");
    s[1].endpoint = "caf\xc3\xa9";
    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_str(reason(dec(sb.data, sb.size)), "accepted", "UTF-8 endpoint");
    s[1].endpoint = "caf\xc3";
    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_str(reason(dec(sb.data, sb.size)), "bad_label", "broken UTF-8");
    s[1].endpoint = "checkout";

    /* the return convention: 0 for good, a named reason from 1 */

    t_pack(&sb, "web1", 4242, 9, s, 2);
    is_int(dec(sb.data, sb.size), SQ_DECODE_OK, "a good datagram: 0");
    is_int(SQ_DECODE_OK, 0, "SQ_DECODE_OK is 0");
    is_int(SQ_REJ_FIRST, 1, "reasons start at 1");
    is_int(dec("", 0), SQ_REJ_TRUNCATED, "a rejection: its reason");

    {
        static const char  *labels[] = {
            "too_large", "malformed", "truncated", "trailing_bytes",
            "too_deep", "not_a_map", "bad_version", "missing_field",
            "wrong_type", "oversized", "bad_label", "bad_histogram",
            "absurd_count", "bad_window", "inconsistent",
            "unsigned", "bad_mac", "stale", "replay"
        };

        is_int(SQ_NREJECTS - SQ_REJ_FIRST,
               (int) (sizeof(labels) / sizeof(labels[0])),
               "19 rejection reasons");

        for (i = SQ_REJ_FIRST; i < SQ_NREJECTS; i++) {
            is_str(sq_reject_names[i], labels[i - SQ_REJ_FIRST],
                   "metric label of reason %d", i);
        }
    }

    for (i = 0, j = 0; i < SQ_NREJECTS; i++) {
        if (sq_decode_strerror(i) == NULL || sq_decode_strerror(i)[0] == '\0'
            || (i > 0 && strcmp(sq_decode_strerror(i),
                                sq_decode_strerror(i - 1)) == 0))
        {
            j++;
        }
    }

    is_int(j, 0, "sq_decode_strerror: words for each result");
    is_str(sq_decode_strerror(SQ_NREJECTS), "an unknown decoding result",
           "sq_decode_strerror: out of range");
    is_str(sq_decode_strerror(-1), "an unknown decoding result",
           "sq_decode_strerror: negative");

    /* every key of the header, by both paths; unknown keys skipped */

    d.go = 0;
    is_str(reason(dec_keys(0, 0)), "accepted", "every key (fast path)");
    is_int(d.go, 5, "\"go\" decoded (fast path)");
    is_int(d.pid, 1 + SQ_K_PID, "\"pid\" decoded (fast path)");
    is_int(d.so, 1 + SQ_K_SO, "\"so\" decoded (fast path)");

    d.go = 0;
    is_str(reason(dec_keys(1, 0)), "accepted", "every key (full check)");
    is_int(d.go, 5, "\"go\" decoded (full check)");
    is_int(d.dr, 1 + SQ_K_DR, "\"dr\" decoded (full check)");

    is_str(reason(dec_keys(0, 1)), "malformed", "a key twice (fast path)");
    is_str(reason(dec_keys(1, 1)), "malformed", "a key twice (full check)");

    /* random bytes and mutations of a valid datagram */

    t_pack(&sb, "web1", 4242, 9, s, 2);
    memset(counts, 0, sizeof(counts));
    seed = 2463534242ULL;
    crashed = 0;

    for (i = 0; i < 200000; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;

        if (i % 4 == 0) {
            len = seed % 512;

            for (j = 0; j < (int) len; j++) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                buf[j] = (char) seed;
            }

        } else {
            len = sb.size;
            memcpy(buf, sb.data, len);

            for (j = 0; j < 1 + (int) (seed % 4); j++) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                buf[seed % len] = (char) (seed >> 32);
            }

            if (i % 7 == 0) {
                len = seed % (len + 1);
            }
        }

        rc = dec(buf, len);

        if (rc < SQ_DECODE_OK || rc >= SQ_NREJECTS) {
            crashed++;
            continue;
        }

        counts[rc]++;

        if (rc == SQ_DECODE_OK) {
            /* what is accepted is fully readable */
            for (j = 0; j < (int) d.nseries; j++) {
                sq_decode_series(&d, (uint32_t) j, &ds);
            }
        }
    }

    is_int(crashed, 0, "200000 hostile inputs: a reason for each");
    ok(counts[SQ_DECODE_OK] > 0, "some mutations still valid (%d)",
       counts[SQ_DECODE_OK]);

    for (i = SQ_REJ_FIRST; i < SQ_NREJECTS; i++) {
        printf("# %-16s %d\n", sq_reject_names[i], counts[i]);
    }

    free(buf);
    msgpack_sbuffer_destroy(&sb);
    sq_dgram_free(&d);

    return done_testing();
}
