
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_LG_GEN_H_INCLUDED_
#define _SQ_LG_GEN_H_INCLUDED_


#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "servqual_hist.h"
#include "servqual_wire.h"


/*
 * The load generator's datagram, shared by sq-loadgen and the unit
 * benchmarks that time what it sends (t/unit/ingest_t.c): worker id's
 * nseries series out of universe (endpoint /api/eN, N the series' number
 * over 8, in one of eight regions, no segment), 20 requests each, four
 * latency buckets in both histograms.  A series is unhealthy (a 5xx and
 * a slow tail) when good is 0, or when every is not 0 and divides its
 * number.  salt (tests) varies the latencies, the bytes and the counts;
 * 0 is what sq-loadgen sends.  The sequence number is a fixed-width
 * uint32 at *seq_off in sb, patched before each send; sb is initialised
 * here.
 */

static const char  *sq_lg_keys[SQ_WIRE_NKEYS] = { SQ_WIRE_KEY_NAMES };
static const char  *sq_lg_regions[8] = {
    "US", "BR", "DE", "FR", "JP", "IN", "GB", "AU"
};


static inline void
sq_lg_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}


static inline void
sq_lg_gen(msgpack_sbuffer *sb, size_t *seq_off, uint32_t id,
    uint32_t nseries, uint32_t universe, int good, uint32_t every,
    uint32_t salt)
{
    char            name[32];
    uint32_t        i, k, sid, b, prev, bad, bucket[4], cnt;
    msgpack_packer  pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);

    msgpack_pack_map(&pk, SQ_WIRE_NKEYS);

    for (k = 0; k < SQ_WIRE_NKEYS; k++) {
        sq_lg_str(&pk, sq_lg_keys[k]);

        switch (k) {

        case SQ_K_VERSION:
            msgpack_pack_uint8(&pk, SQ_WIRE_VERSION);
            break;

        case SQ_K_NODE:
            snprintf(name, sizeof(name), "load%u", id / 64);
            sq_lg_str(&pk, name);
            break;

        case SQ_K_PID:
            msgpack_pack_uint32(&pk, 1000 + id % 64);
            break;

        case SQ_K_SEQ:
            *seq_off = sb->size + 1;
            msgpack_sbuffer_write(sb, "\xce\0\0\0\0", 5);
            break;

        case SQ_K_WS:
            msgpack_pack_uint64(&pk, 1700000000000ULL);
            break;

        case SQ_K_WE:
            msgpack_pack_uint64(&pk, 1700000001000ULL);
            break;

        case SQ_K_SERIES:
            msgpack_pack_array(&pk, nseries);
            break;

        default:
            msgpack_pack_uint8(&pk, 0);
            break;
        }
    }

    /* the series array is the map's last value */

    bucket[0] = sq_hist_index(2000 + salt * 700);
    bucket[1] = sq_hist_index(15000 + salt * 3000);
    bucket[2] = sq_hist_index(80000 + salt * 9000);

    for (i = 0; i < nseries; i++) {
        sid = (id * nseries + i) % universe;
        bad = !good || (every && sid % every == 0);
        bucket[3] = sq_hist_index(bad ? 600000 : 200000 + salt * 40000);
        cnt = 5 + (salt ? (sid + salt) % 7 : 0);

        msgpack_pack_array(&pk, SQ_WIRE_SERIES_FIELDS);
        snprintf(name, sizeof(name), "/api/e%u", sid / 8);
        sq_lg_str(&pk, name);
        sq_lg_str(&pk, sq_lg_regions[sid % 8]);
        sq_lg_str(&pk, "");

        msgpack_pack_array(&pk, SQ_WIRE_NCOUNTERS);

        for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
            switch (k) {
            case SQ_C_REQUESTS: case SQ_C_TLS_13: case SQ_C_HTTP_2:
                msgpack_pack_uint8(&pk, 20);
                break;
            case SQ_C_2XX:
                msgpack_pack_uint8(&pk, bad ? 19 : 20);
                break;
            case SQ_C_5XX:
                msgpack_pack_uint8(&pk, bad ? 1 : 0);
                break;
            case SQ_C_BYTES:
                msgpack_pack_uint32(&pk, 20 * 5120 + salt);
                break;
            default:
                msgpack_pack_uint8(&pk, 0);
            }
        }

        for (k = 0; k < SQ_WIRE_NHISTS; k++) {
            msgpack_pack_array(&pk, 8);
            prev = 0;

            for (b = 0; b < 4; b++) {
                msgpack_pack_uint32(&pk, b ? bucket[b] - prev : bucket[b]);
                msgpack_pack_uint8(&pk, salt ? cnt + b + k : cnt);
                prev = bucket[b];
            }
        }
    }
}


#endif /* _SQ_LG_GEN_H_INCLUDED_ */
