
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_T_WIRE_H_INCLUDED_
#define _SQ_T_WIRE_H_INCLUDED_


/* Builds datagrams as include/servqual_wire.h defines them, for tests. */

#include <msgpack.h>

#include "servqual_wire.h"


typedef struct {
    const char  *endpoint;
    const char  *region;
    const char  *segment;
    uint64_t     c[SQ_WIRE_NCOUNTERS];
    uint32_t     nbuckets;
    uint32_t     bucket[8];       /* indexes, ascending */
    uint64_t     count[8];
} t_series_t;


/* the datagram map's keys, by SQ_K_* */
static const char  *t_keys[SQ_WIRE_NKEYS] = { SQ_WIRE_KEY_NAMES };


static void
t_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}


/* a datagram of n series; header fields not given here are 0 */

static void
t_pack(msgpack_sbuffer *sb, const char *node, uint64_t pid, uint64_t seq,
    const t_series_t *s, uint32_t n)
{
    uint32_t        i, k, b, prev;
    msgpack_packer  pk;

    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);

    msgpack_pack_map(&pk, SQ_WIRE_NKEYS);

    for (k = 0; k < SQ_WIRE_NKEYS; k++) {
        t_str(&pk, t_keys[k]);

        switch (k) {

        case SQ_K_VERSION:
            msgpack_pack_uint64(&pk, SQ_WIRE_VERSION);
            break;

        case SQ_K_NODE:
            t_str(&pk, node);
            break;

        case SQ_K_PID:
            msgpack_pack_uint64(&pk, pid);
            break;

        case SQ_K_SEQ:
            msgpack_pack_uint64(&pk, seq);
            break;

        case SQ_K_WS:
            msgpack_pack_uint64(&pk, 1700000000000ULL);
            break;

        case SQ_K_WE:
            msgpack_pack_uint64(&pk, 1700000001000ULL);
            break;

        case SQ_K_SERIES:
            msgpack_pack_array(&pk, n);
            break;

        default:
            msgpack_pack_uint64(&pk, 0);
            break;
        }
    }

    /* the series array is the map's last value */

    for (i = 0; i < n; i++) {
        msgpack_pack_array(&pk, SQ_WIRE_SERIES_FIELDS);
        t_str(&pk, s[i].endpoint);
        t_str(&pk, s[i].region);
        t_str(&pk, s[i].segment);
        msgpack_pack_array(&pk, SQ_WIRE_NCOUNTERS);

        for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
            msgpack_pack_uint64(&pk, s[i].c[k]);
        }

        for (k = 0; k < SQ_WIRE_NHISTS; k++) {
            msgpack_pack_array(&pk, 2 * s[i].nbuckets);
            prev = 0;

            for (b = 0; b < s[i].nbuckets; b++) {
                msgpack_pack_uint32(&pk, b ? s[i].bucket[b] - prev
                                           : s[i].bucket[b]);
                msgpack_pack_uint64(&pk, s[i].count[b]);
                prev = s[i].bucket[b];
            }
        }
    }
}


#endif /* _SQ_T_WIRE_H_INCLUDED_ */
