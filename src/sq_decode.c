
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <string.h>

#include "servqual_hist.h"
#include "sq_decode.h"


/*
 * Decoding follows include/servqual_wire.h.  A datagram is first walked
 * byte by byte without allocating: truncation, trailing bytes, nesting
 * depth and container sizes are checked against the bytes that remain, so
 * msgpack-c, which then builds the objects in a zone reused from datagram
 * to datagram, never allocates more than a small multiple of the datagram.
 * Then every field is checked before anything is merged: a datagram is
 * taken whole or not at all.
 */

const char  *sq_reject_names[SQ_NREJECTS] = {
    "too_large", "malformed", "truncated", "trailing_bytes", "too_deep",
    "not_a_map", "bad_version", "missing_field", "wrong_type", "oversized",
    "bad_label", "bad_histogram", "absurd_count", "bad_window",
    "inconsistent"
};


static int sq_prescan(const unsigned char *p, size_t len);
static int sq_check_str(const msgpack_object *o, uint32_t max, int empty);
static int sq_check_uint(const msgpack_object *o, uint64_t *v);
static int sq_check_series(const msgpack_object *o, uint64_t *requests);
static int sq_check_hist(const msgpack_object *o);


int
sq_dgram_init(sq_dgram_t *d)
{
    memset(d, 0, sizeof(sq_dgram_t));

    if (!msgpack_zone_init(&d->zone, 16384)) {
        return -1;
    }

    return 0;
}


void
sq_dgram_free(sq_dgram_t *d)
{
    msgpack_zone_destroy(&d->zone);
}


/*
 * Returns -1 if the bytes hold exactly one well-formed object, else the
 * reason.  need counts the objects still expected at each open level.
 */

static int
sq_prescan(const unsigned char *p, size_t len)
{
    int             depth;
    size_t          pos, hdr, body, n;
    uint64_t        need[SQ_DECODE_MAX_DEPTH + 2];
    unsigned char   b;

    depth = 0;
    need[0] = 1;
    pos = 0;

    for ( ;; ) {

        while (depth >= 0 && need[depth] == 0) {
            depth--;
        }

        if (depth < 0) {
            return pos == len ? -1 : SQ_REJ_TRAILING;
        }

        if (pos >= len) {
            return SQ_REJ_TRUNCATED;
        }

        need[depth]--;

        b = p[pos];
        hdr = 1;
        body = 0;
        n = 0;                       /* container elements */

        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */

        } else if (b >= 0x80 && b <= 0x8f) {
            n = 2 * (size_t) (b & 0x0f);

        } else if (b >= 0x90 && b <= 0x9f) {
            n = b & 0x0f;

        } else if (b >= 0xa0 && b <= 0xbf) {
            body = b & 0x1f;

        } else {
            switch (b) {

            case 0xcc: case 0xd0: hdr = 2; break;
            case 0xcd: case 0xd1: hdr = 3; break;
            case 0xce: case 0xd2: case 0xca: hdr = 5; break;
            case 0xcf: case 0xd3: case 0xcb: hdr = 9; break;
            case 0xd4: hdr = 3; break;
            case 0xd5: hdr = 4; break;
            case 0xd6: hdr = 6; break;
            case 0xd7: hdr = 10; break;
            case 0xd8: hdr = 18; break;

            case 0xc4: case 0xd9: hdr = 2; break;
            case 0xc5: case 0xda: case 0xc7: case 0xdc: case 0xde:
                hdr = 3; break;
            case 0xc8: hdr = 4; break;
            case 0xc6: case 0xdb: case 0xdd: case 0xdf: hdr = 5; break;
            case 0xc9: hdr = 6; break;

            default:                 /* 0xc1, never used */
                return SQ_REJ_MALFORMED;
            }

            if (len - pos < hdr) {
                return SQ_REJ_TRUNCATED;
            }

            switch (b) {

            case 0xc4: case 0xd9: case 0xc7:
                body = p[pos + 1];
                break;

            case 0xc5: case 0xda: case 0xc8:
                body = ((size_t) p[pos + 1] << 8) | p[pos + 2];
                break;

            case 0xc6: case 0xdb: case 0xc9:
                body = ((size_t) p[pos + 1] << 24)
                       | ((size_t) p[pos + 2] << 16)
                       | ((size_t) p[pos + 3] << 8) | p[pos + 4];
                break;

            case 0xdc: case 0xde:
                n = ((size_t) p[pos + 1] << 8) | p[pos + 2];
                break;

            case 0xdd: case 0xdf:
                n = ((size_t) p[pos + 1] << 24) | ((size_t) p[pos + 2] << 16)
                    | ((size_t) p[pos + 3] << 8) | p[pos + 4];
                break;
            }

            if (b == 0xde || b == 0xdf) {
                n *= 2;
            }
        }

        if (len - pos < hdr || len - pos - hdr < body) {
            return SQ_REJ_TRUNCATED;
        }

        pos += hdr + body;

        if (n) {
            /* each element takes at least one byte */

            if (n > len - pos) {
                return SQ_REJ_TRUNCATED;
            }

            if (depth + 1 > SQ_DECODE_MAX_DEPTH) {
                return SQ_REJ_TOO_DEEP;
            }

            need[++depth] = n;
        }
    }
}


static int
sq_check_str(const msgpack_object *o, uint32_t max, int empty)
{
    uint32_t              i, len, need;
    const unsigned char  *p;

    if (o->type != MSGPACK_OBJECT_STR) {
        return SQ_REJ_TYPE;
    }

    len = o->via.str.size;

    if (len > max) {
        return SQ_REJ_OVERSIZED;
    }

    if (len == 0 && !empty) {
        return SQ_REJ_LABEL;
    }

    /* printable UTF-8, no control characters, no quotes or backslashes */

    p = (const unsigned char *) o->via.str.ptr;

    for (i = 0; i < len; /* void */ ) {
        if (p[i] < 0x80) {
            if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '"' || p[i] == '\\') {
                return SQ_REJ_LABEL;
            }

            i++;
            continue;
        }

        if (p[i] >= 0xc2 && p[i] <= 0xdf) {
            need = 1;

        } else if (p[i] >= 0xe0 && p[i] <= 0xef) {
            need = 2;

        } else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
            need = 3;

        } else {
            return SQ_REJ_LABEL;
        }

        if (len - i <= need) {
            return SQ_REJ_LABEL;
        }

        for (i++; need; need--, i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return SQ_REJ_LABEL;
            }
        }
    }

    return -1;
}


static int
sq_check_uint(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return SQ_REJ_TYPE;
    }

    *v = o->via.u64;

    return -1;
}


static int
sq_check_hist(const msgpack_object *o)
{
    uint32_t               i, n;
    uint64_t               idx, d, c;
    const msgpack_object  *e;

    if (o->type != MSGPACK_OBJECT_ARRAY) {
        return SQ_REJ_TYPE;
    }

    n = o->via.array.size;

    if (n % 2) {
        return SQ_REJ_HISTOGRAM;
    }

    if (n > 2 * SQ_HIST_BUCKETS) {
        return SQ_REJ_OVERSIZED;
    }

    e = o->via.array.ptr;
    idx = 0;

    for (i = 0; i < n; i += 2) {
        if (e[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER
            || e[i + 1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        {
            return SQ_REJ_TYPE;
        }

        d = e[i].via.u64;
        c = e[i + 1].via.u64;

        if (i > 0 && d == 0) {
            return SQ_REJ_HISTOGRAM;
        }

        if (d >= SQ_HIST_BUCKETS || idx + d >= SQ_HIST_BUCKETS) {
            return SQ_REJ_HISTOGRAM;
        }

        idx += d;

        if (c == 0) {
            return SQ_REJ_HISTOGRAM;
        }

        if (c > SQ_DECODE_MAX_COUNT) {
            return SQ_REJ_ABSURD;
        }
    }

    return -1;
}


static int
sq_check_series(const msgpack_object *o, uint64_t *requests)
{
    int                    rc, k;
    uint64_t               c[SQ_WIRE_NCOUNTERS], classes;
    const msgpack_object  *f, *cnt;

    if (o->type != MSGPACK_OBJECT_ARRAY) {
        return SQ_REJ_TYPE;
    }

    if (o->via.array.size != SQ_WIRE_SERIES_FIELDS) {
        return SQ_REJ_TYPE;
    }

    f = o->via.array.ptr;

    rc = sq_check_str(&f[0], SQ_WIRE_MAX_ENDPOINT, 0);
    if (rc >= 0) {
        return rc;
    }

    rc = sq_check_str(&f[1], SQ_WIRE_MAX_REGION, 0);
    if (rc >= 0) {
        return rc;
    }

    rc = sq_check_str(&f[2], SQ_WIRE_MAX_SEGMENT, 1);
    if (rc >= 0) {
        return rc;
    }

    if (f[3].type != MSGPACK_OBJECT_ARRAY) {
        return SQ_REJ_TYPE;
    }

    if (f[3].via.array.size != SQ_WIRE_NCOUNTERS) {
        return SQ_REJ_TYPE;
    }

    cnt = f[3].via.array.ptr;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        if (cnt[k].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            return SQ_REJ_TYPE;
        }

        c[k] = cnt[k].via.u64;

        if (c[k] > (k == SQ_C_BYTES ? SQ_DECODE_MAX_COUNT << 16
                                    : SQ_DECODE_MAX_COUNT))
        {
            return SQ_REJ_ABSURD;
        }
    }

    /* the classes of a request never outnumber the requests */

    classes = c[SQ_C_1XX] + c[SQ_C_2XX] + c[SQ_C_3XX] + c[SQ_C_4XX]
              + c[SQ_C_5XX];

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        if (k != SQ_C_BYTES && c[k] > c[SQ_C_REQUESTS]) {
            return SQ_REJ_INCONSISTENT;
        }
    }

    if (classes > c[SQ_C_REQUESTS]
        || c[SQ_C_TLS_NONE] + c[SQ_C_TLS_10] + c[SQ_C_TLS_11] + c[SQ_C_TLS_12]
           + c[SQ_C_TLS_13] > c[SQ_C_REQUESTS]
        || c[SQ_C_COMPRESSED] > c[SQ_C_COMPRESSIBLE])
    {
        return SQ_REJ_INCONSISTENT;
    }

    rc = sq_check_hist(&f[4]);
    if (rc >= 0) {
        return rc;
    }

    rc = sq_check_hist(&f[5]);
    if (rc >= 0) {
        return rc;
    }

    *requests += c[SQ_C_REQUESTS];

    return -1;
}


int
sq_decode(sq_dgram_t *d, const char *buf, size_t len)
{
    int                    rc, have_v;
    uint32_t               i, seen;
    uint64_t               v, *dst;
    size_t                 off;
    const char            *key;
    msgpack_object_kv     *kv;
    msgpack_unpack_return  ret;

    enum {
        F_NODE = 1, F_PID = 2, F_SEQ = 4, F_WS = 8, F_WE = 16, F_S = 32,
        F_DD = 64, F_DR = 128, F_SO = 256, F_GO = 512
    };

    if (len > SQ_WIRE_MAX_DATAGRAM) {
        return SQ_REJ_TOO_LARGE;
    }

    if (len == 0) {
        return SQ_REJ_TRUNCATED;
    }

    rc = sq_prescan((const unsigned char *) buf, len);
    if (rc >= 0) {
        return rc;
    }

    msgpack_zone_clear(&d->zone);

    off = 0;
    ret = msgpack_unpack(buf, len, &off, &d->zone, &d->root);

    if (ret == MSGPACK_UNPACK_CONTINUE) {
        return SQ_REJ_TRUNCATED;
    }

    if (ret == MSGPACK_UNPACK_EXTRA_BYTES) {
        return SQ_REJ_TRAILING;
    }

    if (ret != MSGPACK_UNPACK_SUCCESS) {
        return SQ_REJ_MALFORMED;
    }

    if (d->root.type != MSGPACK_OBJECT_MAP) {
        return SQ_REJ_NOT_MAP;
    }

    d->dd = 0;
    d->dr = 0;
    d->so = 0;
    d->go = 0;
    d->series = NULL;
    d->nseries = 0;
    d->requests = 0;

    /* the version first: a newer format is "bad_version", not a type */

    have_v = 0;

    for (i = 0; i < d->root.via.map.size; i++) {
        kv = &d->root.via.map.ptr[i];

        if (kv->key.type == MSGPACK_OBJECT_STR
            && kv->key.via.str.size == 1 && kv->key.via.str.ptr[0] == 'v')
        {
            if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER
                || kv->val.via.u64 != SQ_WIRE_VERSION || have_v)
            {
                return SQ_REJ_VERSION;
            }

            have_v = 1;
        }
    }

    if (!have_v) {
        return SQ_REJ_MISSING;
    }

    seen = 0;

    for (i = 0; i < d->root.via.map.size; i++) {
        kv = &d->root.via.map.ptr[i];

        if (kv->key.type != MSGPACK_OBJECT_STR) {
            return SQ_REJ_TYPE;
        }

        key = kv->key.via.str.ptr;
        dst = NULL;

#define SQ_KEY(name) (kv->key.via.str.size == sizeof(name) - 1              \
                      && memcmp(key, name, sizeof(name) - 1) == 0)

        if (SQ_KEY("v")) {
            continue;

        } else if (SQ_KEY("node")) {
            if (seen & F_NODE) {
                return SQ_REJ_MALFORMED;
            }

            seen |= F_NODE;

            rc = sq_check_str(&kv->val, SQ_WIRE_MAX_NODE, 0);
            if (rc >= 0) {
                return rc;
            }

            d->node.ptr = kv->val.via.str.ptr;
            d->node.len = kv->val.via.str.size;
            continue;

        } else if (SQ_KEY("s")) {
            if (seen & F_S) {
                return SQ_REJ_MALFORMED;
            }

            seen |= F_S;

            if (kv->val.type != MSGPACK_OBJECT_ARRAY) {
                return SQ_REJ_TYPE;
            }

            if (kv->val.via.array.size > SQ_WIRE_MAX_SERIES) {
                return SQ_REJ_OVERSIZED;
            }

            d->series = &kv->val;
            d->nseries = kv->val.via.array.size;
            continue;

        } else if (SQ_KEY("pid")) {
            rc = F_PID;
            dst = &d->pid;

        } else if (SQ_KEY("seq")) {
            rc = F_SEQ;
            dst = &d->seq;

        } else if (SQ_KEY("ws")) {
            rc = F_WS;
            dst = &d->ws;

        } else if (SQ_KEY("we")) {
            rc = F_WE;
            dst = &d->we;

        } else if (SQ_KEY("dd")) {
            rc = F_DD;
            dst = &d->dd;

        } else if (SQ_KEY("dr")) {
            rc = F_DR;
            dst = &d->dr;

        } else if (SQ_KEY("so")) {
            rc = F_SO;
            dst = &d->so;

        } else if (SQ_KEY("go")) {
            rc = F_GO;
            dst = &d->go;

        } else {
            /* unknown keys are skipped, for additions within a version */
            continue;
        }

#undef SQ_KEY

        if (seen & (uint32_t) rc) {
            return SQ_REJ_MALFORMED;
        }

        seen |= (uint32_t) rc;

        rc = sq_check_uint(&kv->val, &v);
        if (rc >= 0) {
            return rc;
        }

        *dst = v;
    }

    if ((seen & (F_NODE | F_PID | F_SEQ | F_WS | F_WE | F_S))
        != (F_NODE | F_PID | F_SEQ | F_WS | F_WE | F_S))
    {
        return SQ_REJ_MISSING;
    }

    if (d->pid == 0 || d->pid > UINT32_MAX || d->seq == 0
        || d->dd > SQ_DECODE_MAX_COUNT || d->dr > SQ_DECODE_MAX_COUNT
        || d->so > SQ_DECODE_MAX_COUNT || d->go > SQ_DECODE_MAX_COUNT)
    {
        return SQ_REJ_ABSURD;
    }

    if (d->we < d->ws || d->we - d->ws > SQ_DECODE_MAX_SPAN) {
        return SQ_REJ_WINDOW;
    }

    for (i = 0; i < d->nseries; i++) {
        rc = sq_check_series(&d->series->via.array.ptr[i], &d->requests);
        if (rc >= 0) {
            return rc;
        }
    }

    return -1;
}


void
sq_decode_series(const sq_dgram_t *d, uint32_t i, sq_dseries_t *s)
{
    int                    k;
    const msgpack_object  *f;

    f = d->series->via.array.ptr[i].via.array.ptr;

    s->endpoint.ptr = f[0].via.str.ptr;
    s->endpoint.len = f[0].via.str.size;
    s->region.ptr = f[1].via.str.ptr;
    s->region.len = f[1].via.str.size;
    s->segment.ptr = f[2].via.str.ptr;
    s->segment.len = f[2].via.str.size;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        s->c[k] = f[3].via.array.ptr[k].via.u64;
    }

    s->hist[0] = &f[4];
    s->hist[1] = &f[5];
}
