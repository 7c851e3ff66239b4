
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>

#include "servqual_hist.h"
#include "servqual_wire.h"
#include "sq_status.h"
#include "sq_decode.h"


/*
 * Decoding follows include/servqual_wire.h.  A datagram is first walked
 * byte by byte without allocating: truncation, trailing bytes, nesting
 * depth and container sizes are checked against the bytes that remain.
 * Then every field is checked before anything is merged: a datagram is
 * taken whole or not at all.
 *
 * The second pass reads the msgpack bytes in place rather than asking
 * msgpack-c's msgpack_unpack() for an object tree.  The tree cost about
 * 2300 msgpack_object of 24 bytes a datagram (one per counter and per
 * histogram number), built in a zone and then read once: about half of
 * the collector's time.  The pre-scan has already proven the bytes well
 * formed, so the reader below only has to look at the type byte of each
 * value it expects, as msgpack-c's unpacker would, and it keeps msgpack-c's
 * typing: a signed integer that is not negative is a positive integer,
 * bin is not str.  The series and their histograms are decoded once, into
 * arrays reused from datagram to datagram and sized for the largest
 * datagram, so nothing is allocated per datagram.
 */

/* a series takes at least 32 bytes, a histogram pair 2 */
#define SQ_DECODE_MAX_DSERIES  (SQ_WIRE_MAX_DATAGRAM / 32 + 1)
#define SQ_DECODE_MAX_BINS     (SQ_WIRE_MAX_DATAGRAM / 2 + 1)


typedef const unsigned char  sq_byte_t;

/* the keys of the datagram map seen, a bit per SQ_K_* */
#define SQ_KEY_BIT(k)     (1u << (k))
#define SQ_KEYS_REQUIRED                                                     \
    (SQ_KEY_BIT(SQ_K_NODE) | SQ_KEY_BIT(SQ_K_PID) | SQ_KEY_BIT(SQ_K_SEQ)      \
     | SQ_KEY_BIT(SQ_K_WS) | SQ_KEY_BIT(SQ_K_WE) | SQ_KEY_BIT(SQ_K_SERIES))

/* and those of version 2 */
#define SQ_KEYS_REQUIRED_V2                                                  \
    (SQ_KEY_BIT(SQ_K_CR) | SQ_KEY_BIT(SQ_K_CS) | SQ_KEY_BIT(SQ_K_CX))

/* the fast path's readers, inlined into the loop over the series */
#define sq_fast_inline  inline __attribute__((always_inline))

/* the fast path did not take the datagram: the full check decides */
#define SQ_DECODE_FULL    (-1)


const char  *sq_reject_names[SQ_NREJECTS] = {
    NULL,
    "too_large", "malformed", "truncated", "trailing_bytes", "too_deep",
    "not_a_map", "bad_version", "missing_field", "wrong_type", "oversized",
    "bad_label", "bad_histogram", "absurd_count", "bad_window",
    "inconsistent",
    "unsigned", "bad_mac", "stale", "replay"
};

static const char  *sq_decode_errors[SQ_NREJECTS] = {
    "a good datagram",
    "larger than the largest datagram",
    "not well-formed msgpack, or a key given twice",
    "truncated",
    "bytes after the datagram's map",
    "nested too deeply",
    "not a msgpack map",
    "a format version this collector does not read",
    "a required field is missing",
    "a field of the wrong type",
    "more elements than the format allows",
    "a label that is empty, too long or not printable UTF-8",
    "a histogram that is not ascending (bucket, count) pairs",
    "a count or an id out of range",
    "a window that ends before it starts or spans over an hour",
    "counters that contradict each other",
    "not signed, and keys are set",
    "a signature that is not good for its key, or an unknown key",
    "signed longer ago (or further ahead) than auth.max_age",
    "a signed datagram received before"
};

/* the datagram map's keys, by SQ_K_*, NUL-padded */
static const char  sq_key_names[SQ_WIRE_NKEYS][SQ_WIRE_KEY_MAX + 1] = {
    SQ_WIRE_KEY_NAMES
};


/*
 * Label bytes: 1 printable ASCII (no quotes or backslashes), 2-4 the
 * lead byte of a UTF-8 sequence of that length, 0 not allowed.
 */
static const unsigned char  sq_label_class[256] = {
    [0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
    [0xc2 ... 0xdf] = 2, [0xe0 ... 0xef] = 3, [0xf0 ... 0xf4] = 4
};


static inline int sq_decode_key(const sq_str_t *key, int hint);
static int sq_decode_key_scan(const sq_str_t *key);
static inline int sq_decode_key_is(const sq_str_t *key, const char *name);
static uint64_t *sq_decode_uint_field(sq_dgram_t *d, int k);
static int sq_prescan(const unsigned char *p, size_t len, uint32_t *top);
static void sq_mp_skip(sq_byte_t **pp);
static int sq_mp_uint(sq_byte_t **pp, sq_byte_t *end, uint64_t *v);
static int sq_mp_str(sq_byte_t **pp, sq_byte_t *end, sq_str_t *s);
static int sq_mp_array(sq_byte_t **pp, sq_byte_t *end, uint32_t *n);
static int sq_mp_skip_scalar(sq_byte_t **pp, sq_byte_t *end);
static int sq_check_str(sq_byte_t **pp, sq_byte_t *end, sq_str_t *s,
    uint32_t max, int empty);
static int sq_check_series(sq_dgram_t *d, sq_byte_t **pp, sq_byte_t *end,
    sq_dseries_t *ds, sq_hbin_t **bins);
static int sq_check_browser(sq_byte_t **pp, sq_byte_t *end,
    sq_dseries_t *ds, sq_hbin_t **bins);
static int sq_check_hist(sq_byte_t **pp, sq_byte_t *end, sq_dhist_t *h,
    sq_hbin_t **bins);
static inline int sq_fast_uint(sq_byte_t *p, sq_byte_t *end, uint64_t *v);
static inline int sq_fast_read(sq_byte_t **pp, uint64_t *v);
static inline uint32_t sq_fast_word_bad(sq_byte_t *p);
static sq_fast_inline int sq_fast_str(sq_byte_t **pp, sq_byte_t *end,
    sq_str_t *s, uint32_t max, int empty);
static sq_fast_inline int sq_fast_counters(sq_byte_t **pp, sq_byte_t *end,
    sq_dseries_t *ds);
static int sq_fast_counters_end(sq_byte_t **pp, sq_byte_t *end,
    sq_dseries_t *ds);
static inline int sq_fast_sums(const uint64_t *c);
static sq_fast_inline int sq_fast_hist(sq_byte_t **pp, sq_byte_t *end,
    sq_dhist_t *h, sq_hbin_t **bins);
static int sq_fast_series(sq_dgram_t *d, sq_byte_t **pp, sq_byte_t *end,
    sq_dseries_t *ds, sq_hbin_t **bins);
static int sq_check_header(sq_dgram_t *d);
static int sq_check_totals(sq_dgram_t *d);
static int sq_decode_fast(sq_dgram_t *d, sq_byte_t *p, sq_byte_t *end);
static int sq_decode_full(sq_dgram_t *d, const char *buf, size_t len);


int
sq_dgram_init(sq_dgram_t *d)
{
    memset(d, 0, sizeof(sq_dgram_t));

    d->series = malloc(SQ_DECODE_MAX_DSERIES * sizeof(sq_dseries_t));
    d->bins = malloc(SQ_DECODE_MAX_BINS * sizeof(sq_hbin_t));

    if (d->series == NULL || d->bins == NULL) {
        sq_dgram_free(d);
        return SQ_ERR_NOMEM;
    }

    return SQ_OK;
}


void
sq_dgram_free(sq_dgram_t *d)
{
    free(d->series);
    free(d->bins);
    d->series = NULL;
    d->bins = NULL;
}


const char *
sq_decode_strerror(int reason)
{
    if (reason < 0 || reason >= SQ_NREJECTS) {
        return "an unknown decoding result";
    }

    return sq_decode_errors[reason];
}


/*
 * The SQ_K_* of a key; SQ_WIRE_NKEYS for a key this version does not
 * know.  The module writes the keys in SQ_K_* order, so the key after the
 * previous one (hint) is tried first.
 */

static inline int
sq_decode_key(const sq_str_t *key, int hint)
{
    /* no name is empty, longer than SQ_WIRE_KEY_MAX or ends in a NUL */

    if (key->len == 0 || key->len > SQ_WIRE_KEY_MAX
        || key->ptr[key->len - 1] == '\0')
    {
        return SQ_WIRE_NKEYS;
    }

    if (hint < SQ_WIRE_NKEYS && sq_decode_key_is(key, sq_key_names[hint])) {
        return hint;
    }

    return sq_decode_key_scan(key);
}


static int
sq_decode_key_scan(const sq_str_t *key)
{
    int  k;

    for (k = 0; k < SQ_WIRE_NKEYS; k++) {
        if (sq_decode_key_is(key, sq_key_names[k])) {
            return k;
        }
    }

    return SQ_WIRE_NKEYS;
}


/* name (NUL-padded) is the key: a key's last byte is not a NUL */

static inline int
sq_decode_key_is(const sq_str_t *key, const char *name)
{
    uint32_t  i;

    for (i = 0; i < key->len; i++) {
        if (name[i] != key->ptr[i]) {
            return 0;
        }
    }

    return name[i] == '\0';
}


/* where the header's unsigned integer of key k goes; NULL: not one */

static uint64_t *
sq_decode_uint_field(sq_dgram_t *d, int k)
{
    switch (k) {
    case SQ_K_PID: return &d->pid;
    case SQ_K_SEQ: return &d->seq;
    case SQ_K_WS:  return &d->ws;
    case SQ_K_WE:  return &d->we;
    case SQ_K_DD:  return &d->dd;
    case SQ_K_DR:  return &d->dr;
    case SQ_K_SO:  return &d->so;
    case SQ_K_GO:  return &d->go;
    case SQ_K_CR:  return &d->cr;
    case SQ_K_CS:  return &d->cs;
    case SQ_K_CX:  return &d->cx;
    default:       return NULL;
    }
}


/*
 * Returns SQ_DECODE_OK if the bytes hold exactly one well-formed object,
 * else the reason.  need counts the objects still expected at each open level.
 * The offsets of the first SQ_DECODE_TOP elements of the root container
 * (keys and values of the datagram's map) go to top[], so that the
 * decoder does not walk the series array to find the keys after it.
 */

#define SQ_DECODE_TOP  64

static int
sq_prescan(const unsigned char *p, size_t len, uint32_t *top)
{
    int             depth;
    uint32_t        ntop;
    size_t          pos, hdr, body, n;
    uint64_t        need[SQ_DECODE_MAX_DEPTH + 2];
    unsigned char   b;

    depth = 0;
    need[0] = 1;
    pos = 0;
    ntop = 0;

    for ( ;; ) {

        while (depth >= 0 && need[depth] == 0) {
            depth--;
        }

        if (depth < 0) {
            return pos == len ? SQ_DECODE_OK : SQ_REJ_TRAILING;
        }

        if (pos >= len) {
            return SQ_REJ_TRUNCATED;
        }

        need[depth]--;

        b = p[pos];

        if (depth == 1 && ntop < SQ_DECODE_TOP) {
            top[ntop++] = (uint32_t) pos;
        }

        if (b <= 0x7f) {
            /* a positive fixint, most of a datagram */
            pos++;
            continue;
        }

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


/*
 * The readers below run only over bytes sq_prescan() accepted: every
 * header and body is known to be inside the datagram.
 */

static void
sq_mp_skip(sq_byte_t **pp)
{
    size_t        need, n, hdr, body;
    sq_byte_t    *p;
    unsigned char b;

    p = *pp;

    for (need = 1; need; need--) {
        b = *p;
        hdr = 1;
        body = 0;
        n = 0;

        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* void */

        } else if (b <= 0x8f) {
            n = 2 * (size_t) (b & 0x0f);

        } else if (b <= 0x9f) {
            n = b & 0x0f;

        } else if (b <= 0xbf) {
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
            case 0xc4: case 0xd9: case 0xc7:
                hdr = b == 0xc7 ? 3 : 2;
                body = p[1];
                break;
            case 0xc5: case 0xda: case 0xc8:
                hdr = b == 0xc8 ? 4 : 3;
                body = ((size_t) p[1] << 8) | p[2];
                break;
            case 0xc6: case 0xdb: case 0xc9:
                hdr = b == 0xc9 ? 6 : 5;
                body = ((size_t) p[1] << 24) | ((size_t) p[2] << 16)
                       | ((size_t) p[3] << 8) | p[4];
                break;
            case 0xdc: case 0xde:
                hdr = 3;
                n = ((size_t) p[1] << 8) | p[2];
                break;
            default:                 /* 0xdd, 0xdf */
                hdr = 5;
                n = ((size_t) p[1] << 24) | ((size_t) p[2] << 16)
                    | ((size_t) p[3] << 8) | p[4];
                break;
            }

            if (b == 0xde || b == 0xdf) {
                n *= 2;
            }
        }

        p += hdr + body;
        need += n;
    }

    *pp = p;
}


/*
 * The typed readers check that what they read lies before end: the fast
 * path reads datagrams no pre-scan has seen.  Out of bounds is
 * "truncated"; after the pre-scan it cannot happen.
 */

/* a positive integer in msgpack-c's sense: any integer that is >= 0 */

static int
sq_mp_uint(sq_byte_t **pp, sq_byte_t *end, uint64_t *v)
{
    size_t         w;
    sq_byte_t     *p;
    unsigned char  b;

    p = *pp;

    if (p == end) {
        return SQ_REJ_TRUNCATED;
    }

    b = *p;

    if (b <= 0x7f) {
        *v = b;
        *pp = p + 1;
        return SQ_DECODE_OK;
    }

    switch (b) {
    case 0xcc: case 0xd0: w = 1; break;
    case 0xcd: case 0xd1: w = 2; break;
    case 0xce: case 0xd2: w = 4; break;
    case 0xcf: case 0xd3: w = 8; break;
    default:
        return SQ_REJ_TYPE;
    }

    if ((size_t) (end - p) <= w) {
        return SQ_REJ_TRUNCATED;
    }

    if (b >= 0xd0 && (p[1] & 0x80)) {
        return SQ_REJ_TYPE;
    }

    switch (w) {

    case 1:
        *v = p[1];
        break;

    case 2:
        *v = ((uint64_t) p[1] << 8) | p[2];
        break;

    case 4:
        *v = ((uint64_t) p[1] << 24) | ((uint64_t) p[2] << 16)
             | ((uint64_t) p[3] << 8) | p[4];
        break;

    default:
        *v = ((uint64_t) p[1] << 56) | ((uint64_t) p[2] << 48)
             | ((uint64_t) p[3] << 40) | ((uint64_t) p[4] << 32)
             | ((uint64_t) p[5] << 24) | ((uint64_t) p[6] << 16)
             | ((uint64_t) p[7] << 8) | p[8];
        break;
    }

    *pp = p + 1 + w;

    return SQ_DECODE_OK;
}


/* the integers of counters and histograms: the short forms inline */

static inline int
sq_mp_uint_short(sq_byte_t **pp, sq_byte_t *end, uint64_t *v)
{
    sq_byte_t  *p;

    p = *pp;

    if (end - p >= 3) {
        if (*p <= 0x7f) {
            *v = *p;
            *pp = p + 1;
            return SQ_DECODE_OK;
        }

        if (*p == 0xcc) {
            *v = p[1];
            *pp = p + 2;
            return SQ_DECODE_OK;
        }

        if (*p == 0xcd) {
            *v = ((uint64_t) p[1] << 8) | p[2];
            *pp = p + 3;
            return SQ_DECODE_OK;
        }
    }

    return sq_mp_uint(pp, end, v);
}


static int
sq_mp_str(sq_byte_t **pp, sq_byte_t *end, sq_str_t *s)
{
    size_t      hdr, left;
    sq_byte_t  *p;

    p = *pp;
    left = (size_t) (end - p);

    if (left == 0) {
        return SQ_REJ_TRUNCATED;
    }

    if (*p >= 0xa0 && *p <= 0xbf) {
        hdr = 1;
        s->len = *p & 0x1f;

    } else if (*p == 0xd9) {
        hdr = 2;

        if (left < hdr) {
            return SQ_REJ_TRUNCATED;
        }

        s->len = p[1];

    } else if (*p == 0xda) {
        hdr = 3;

        if (left < hdr) {
            return SQ_REJ_TRUNCATED;
        }

        s->len = ((uint32_t) p[1] << 8) | p[2];

    } else if (*p == 0xdb) {
        hdr = 5;

        if (left < hdr) {
            return SQ_REJ_TRUNCATED;
        }

        s->len = ((uint32_t) p[1] << 24) | ((uint32_t) p[2] << 16)
                 | ((uint32_t) p[3] << 8) | p[4];

    } else {
        return SQ_REJ_TYPE;
    }

    if (left - hdr < s->len) {
        return SQ_REJ_TRUNCATED;
    }

    s->ptr = (const char *) p + hdr;
    *pp = p + hdr + s->len;

    return SQ_DECODE_OK;
}


static int
sq_mp_array(sq_byte_t **pp, sq_byte_t *end, uint32_t *n)
{
    size_t      left;
    sq_byte_t  *p;

    p = *pp;
    left = (size_t) (end - p);

    if (left == 0) {
        return SQ_REJ_TRUNCATED;
    }

    if (*p >= 0x90 && *p <= 0x9f) {
        *n = *p & 0x0f;
        *pp = p + 1;

    } else if (*p == 0xdc) {
        if (left < 3) {
            return SQ_REJ_TRUNCATED;
        }

        *n = ((uint32_t) p[1] << 8) | p[2];
        *pp = p + 3;

    } else if (*p == 0xdd) {
        if (left < 5) {
            return SQ_REJ_TRUNCATED;
        }

        *n = ((uint32_t) p[1] << 24) | ((uint32_t) p[2] << 16)
             | ((uint32_t) p[3] << 8) | p[4];
        *pp = p + 5;

    } else {
        return SQ_REJ_TYPE;
    }

    return SQ_DECODE_OK;
}


/*
 * Skips a scalar for the fast path (an unknown key's value); 0 when the
 * value is not one it knows, a container included: the full check
 * decides then.
 */

static int
sq_mp_skip_scalar(sq_byte_t **pp, sq_byte_t *end)
{
    size_t         left, hdr, body;
    sq_byte_t     *p;
    unsigned char  b;

    p = *pp;
    left = (size_t) (end - p);

    if (left == 0) {
        return 0;
    }

    b = *p;
    body = 0;

    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        hdr = 1;

    } else if (b >= 0xa0 && b <= 0xbf) {
        hdr = 1;
        body = b & 0x1f;

    } else {
        switch (b) {
        case 0xcc: case 0xd0: hdr = 2; break;
        case 0xcd: case 0xd1: hdr = 3; break;
        case 0xce: case 0xd2: case 0xca: hdr = 5; break;
        case 0xcf: case 0xd3: case 0xcb: hdr = 9; break;
        case 0xc4: case 0xd9: hdr = 2; break;
        case 0xc5: case 0xda: hdr = 3; break;
        default:
            return 0;
        }

        if (left < hdr) {
            return 0;
        }

        if (b == 0xc4 || b == 0xd9) {
            body = p[1];

        } else if (b == 0xc5 || b == 0xda) {
            body = ((size_t) p[1] << 8) | p[2];
        }
    }

    if (left < hdr || left - hdr < body) {
        return 0;
    }

    *pp = p + hdr + body;

    return 1;
}


static int
sq_check_str(sq_byte_t **pp, sq_byte_t *end, sq_str_t *s, uint32_t max,
    int empty)
{
    int                   rc;
    uint32_t              i, len, need, cls;
    const unsigned char  *p;

    rc = sq_mp_str(pp, end, s);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    len = s->len;

    if (len > max) {
        return SQ_REJ_OVERSIZED;
    }

    if (len == 0 && !empty) {
        return SQ_REJ_LABEL;
    }

    /* printable UTF-8, no control characters, no quotes or backslashes */

    p = (const unsigned char *) s->ptr;

    for (i = 0; i < len; /* void */ ) {
        cls = sq_label_class[p[i]];

        if (cls == 1) {
            i++;
            continue;
        }

        if (cls == 0) {
            return SQ_REJ_LABEL;
        }

        need = cls - 1;

        if (len - i <= need) {
            return SQ_REJ_LABEL;
        }

        for (i++; need; need--, i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return SQ_REJ_LABEL;
            }
        }
    }

    return SQ_DECODE_OK;
}


/* a flat [d, c, ...] array into absolute bins at *bins */

static int
sq_check_hist(sq_byte_t **pp, sq_byte_t *end, sq_dhist_t *h,
    sq_hbin_t **bins)
{
    int         rc;
    uint32_t    i, n;
    uint64_t    idx, d, c, total;
    sq_hbin_t  *b;
    sq_byte_t  *p;

    rc = sq_mp_array(pp, end, &n);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    if (n % 2) {
        return SQ_REJ_HISTOGRAM;
    }

    if (n > 2 * SQ_HIST_BUCKETS) {
        return SQ_REJ_OVERSIZED;
    }

    b = *bins;
    p = *pp;
    idx = 0;
    total = 0;

    for (i = 0; i < n; i += 2) {
        if (sq_mp_uint_short(&p, end, &d) != SQ_DECODE_OK
            || sq_mp_uint_short(&p, end, &c) != SQ_DECODE_OK)
        {
            return SQ_REJ_TYPE;
        }

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

        b[i / 2] = sq_hbin(idx, c);
        total += c;
    }

    *pp = p;
    h->bins = b;
    h->n = n / 2;
    h->total = total;
    *bins = b + n / 2;

    return SQ_DECODE_OK;
}


static int
sq_check_series(sq_dgram_t *d, sq_byte_t **pp, sq_byte_t *end,
    sq_dseries_t *ds, sq_hbin_t **bins)
{
    int         rc, k;
    uint32_t    n;
    uint64_t   *c, classes;
    sq_byte_t  *p;

    rc = sq_mp_array(pp, end, &n);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    /* version 3: the browser's fields may follow the server's */

    if (n != SQ_WIRE_SERIES_FIELDS
        && (n != SQ_WIRE_SERIES_FIELDS_BROWSER || d->version < 3))
    {
        return SQ_REJ_TYPE;
    }

    ds->browser = (n == SQ_WIRE_SERIES_FIELDS_BROWSER);

    rc = sq_check_str(pp, end, &ds->endpoint, SQ_WIRE_MAX_ENDPOINT, 0);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    rc = sq_check_str(pp, end, &ds->region, SQ_WIRE_MAX_REGION, 0);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    rc = sq_check_str(pp, end, &ds->segment, SQ_WIRE_MAX_SEGMENT, 1);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    rc = sq_mp_array(pp, end, &n);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    if (n != SQ_WIRE_NCOUNTERS) {
        return SQ_REJ_TYPE;
    }

    c = ds->c;
    p = *pp;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        if (sq_mp_uint_short(&p, end, &c[k]) != SQ_DECODE_OK) {
            return SQ_REJ_TYPE;
        }

        if (c[k] > (k == SQ_C_BYTES ? SQ_DECODE_MAX_COUNT << 16
                                    : SQ_DECODE_MAX_COUNT))
        {
            return SQ_REJ_ABSURD;
        }
    }

    *pp = p;

    ds->nz = 0;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        ds->nz |= (uint32_t) (c[k] != 0) << k;
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

    rc = sq_check_hist(pp, end, &ds->hist[SQ_H_RT], bins);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    rc = sq_check_hist(pp, end, &ds->hist[SQ_H_TTFB], bins);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    if (ds->browser) {
        rc = sq_check_browser(pp, end, ds, bins);
        if (rc != SQ_DECODE_OK) {
            return rc;
        }
    }

    d->requests += c[SQ_C_REQUESTS];

    return SQ_DECODE_OK;
}


/*
 * Version 3: a series' browser counters and its five histograms.  The
 * navigation types and the clamped beacons never outnumber the beacons;
 * a histogram may hold more samples than the beacons of its entry (one
 * continued from an earlier entry has none), never an absurd count.
 */

static int
sq_check_browser(sq_byte_t **pp, sq_byte_t *end, sq_dseries_t *ds,
    sq_hbin_t **bins)
{
    int         rc, k;
    uint32_t    n;
    uint64_t   *c, navs;
    sq_byte_t  *p;

    rc = sq_mp_array(pp, end, &n);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    if (n != SQ_WIRE_NBCOUNTERS) {
        return SQ_REJ_TYPE;
    }

    c = ds->bc;
    p = *pp;

    for (k = 0; k < SQ_WIRE_NBCOUNTERS; k++) {
        if (sq_mp_uint_short(&p, end, &c[k]) != SQ_DECODE_OK) {
            return SQ_REJ_TYPE;
        }

        if (c[k] > SQ_DECODE_MAX_COUNT) {
            return SQ_REJ_ABSURD;
        }
    }

    *pp = p;

    navs = c[SQ_BC_NAV_NAVIGATE] + c[SQ_BC_NAV_RELOAD]
           + c[SQ_BC_NAV_BACK_FORWARD] + c[SQ_BC_NAV_OTHER];

    if (navs > c[SQ_BC_BEACONS] || c[SQ_BC_CLAMPED] > c[SQ_BC_BEACONS]) {
        return SQ_REJ_INCONSISTENT;
    }

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        rc = sq_check_hist(pp, end, &ds->bhist[k], bins);
        if (rc != SQ_DECODE_OK) {
            return rc;
        }
    }

    return SQ_DECODE_OK;
}


/*
 * The fast path's series.  It reads each byte once and decides only
 * "good" (SQ_DECODE_OK, decoded into ds) or "not sure" (SQ_DECODE_FULL:
 * the full check reads the datagram again and finds the reason), so its
 * checks need no order and few branches: each is folded into one flag
 * tested at the end.  It takes the integers a module writes (positive
 * fixint, uint 8, 16 and 32: none of them can be absurd) and leaves the
 * wider and the signed forms to the full check, like anything else it
 * does not expect.
 */

/* the longest short form */
#define SQ_FAST_UINT_MAX  5


/* the integer at p, when of a short unsigned form before end: its
   length, else 0 */

static inline int
sq_fast_uint(sq_byte_t *p, sq_byte_t *end, uint64_t *v)
{
    size_t  left;

    left = (size_t) (end - p);

    if (left >= 1 && p[0] <= 0x7f) {
        *v = p[0];
        return 1;
    }

    if (left >= 2 && p[0] == 0xcc) {
        *v = p[1];
        return 2;
    }

    if (left >= 3 && p[0] == 0xcd) {
        *v = ((uint64_t) p[1] << 8) | p[2];
        return 3;
    }

    if (left >= 5 && p[0] == 0xce) {
        *v = ((uint64_t) p[1] << 24) | ((uint64_t) p[2] << 16)
             | ((uint64_t) p[3] << 8) | p[4];
        return 5;
    }

    return 0;
}


/* the same, with SQ_FAST_UINT_MAX bytes known to be there: 0 if not of
   a short form */

static inline int
sq_fast_read(sq_byte_t **pp, uint64_t *v)
{
    sq_byte_t  *p;

    p = *pp;

    if (p[0] <= 0x7f) {
        *v = p[0];
        *pp = p + 1;
        return 1;
    }

    if (p[0] == 0xcc) {
        *v = p[1];
        *pp = p + 2;
        return 1;
    }

    if (p[0] == 0xcd) {
        *v = ((uint64_t) p[1] << 8) | p[2];
        *pp = p + 3;
        return 1;
    }

    if (p[0] == 0xce) {
        *v = ((uint64_t) p[1] << 24) | ((uint64_t) p[2] << 16)
             | ((uint64_t) p[3] << 8) | p[4];
        *pp = p + 5;
        return 1;
    }

    return 0;
}


/*
 * Not 0 when one of the eight bytes at p is not printable ASCII or is a
 * quote or a backslash (sq_label_class[] not 1).  A byte below n shows
 * in (x - n * 0x01...) & ~x & 0x80..., a byte equal to v as one below
 * 1 in x ^ v * 0x01...: exact for whether there is one (a borrow can
 * only mark bytes above one that is).
 */

#define SQ_ONES   UINT64_C(0x0101010101010101)
#define SQ_HIGHS  UINT64_C(0x8080808080808080)
#define sq_fast_below(x, n)  (((x) - SQ_ONES * (n)) & ~(x) & SQ_HIGHS)

static inline uint32_t
sq_fast_word_bad(sq_byte_t *p)
{
    uint64_t  x;

    memcpy(&x, p, 8);

    return ((x & SQ_HIGHS) | sq_fast_below(x, 0x20)
            | sq_fast_below(x ^ (SQ_ONES * 0x7f), 1)
            | sq_fast_below(x ^ (SQ_ONES * 0x22), 1)
            | sq_fast_below(x ^ (SQ_ONES * 0x5c), 1)) != 0;
}


/*
 * A label of printable ASCII, as sq_check_str() takes it; any other
 * byte (UTF-8 included) and the full check decides.
 */

static sq_fast_inline int
sq_fast_str(sq_byte_t **pp, sq_byte_t *end, sq_str_t *s, uint32_t max,
    int empty)
{
    uint32_t    i, len, bad;
    sq_byte_t  *p;

    p = *pp;

    if (p < end && *p >= 0xa0 && *p <= 0xbf) {
        len = *p & 0x1f;
        p += 1;

    } else if (end - p >= 2 && *p == 0xd9) {
        len = p[1];
        p += 2;

    } else {
        return SQ_DECODE_FULL;
    }

    if ((size_t) (end - p) < len || len > max || (len == 0 && !empty)) {
        return SQ_DECODE_FULL;
    }

    bad = 0;

    if (len >= 8 && (size_t) (end - p) >= len + 8) {
        /* eight bytes at a time; the last word ends at the last byte */

        for (i = 0; i + 8 < len; i += 8) {
            bad |= sq_fast_word_bad(p + i);
        }

        bad |= sq_fast_word_bad(p + len - 8);

    } else {
        for (i = 0; i < len; i++) {
            bad |= sq_label_class[p[i]] ^ 1;
        }
    }

    if (bad) {
        return SQ_DECODE_FULL;
    }

    s->ptr = (const char *) p;
    s->len = len;
    *pp = p + len;

    return SQ_DECODE_OK;
}


static sq_fast_inline int
sq_fast_counters(sq_byte_t **pp, sq_byte_t *end, sq_dseries_t *ds)
{
    int         k;
    uint32_t    nz;
    uint64_t   *c, v, req;
    int64_t     neg;
    sq_byte_t  *p;

    p = *pp;

    if (end - p < 3 || p[0] != 0xdc || p[1] != 0
        || p[2] != SQ_WIRE_NCOUNTERS)
    {
        return SQ_DECODE_FULL;
    }

    p += 3;

    if (end - p < SQ_WIRE_NCOUNTERS * SQ_FAST_UINT_MAX) {
        /* the last series of a datagram, often: each read bounded */
        return sq_fast_counters_end(pp, end, ds);
    }

    c = ds->c;

    /*
     * Every counter but bytes at most the requests: req - c[k] is
     * negative otherwise (all are below 2^32 here); nz, the counters
     * that are not 0.
     */

    if (!sq_fast_read(&p, &req)) {
        return SQ_DECODE_FULL;
    }

    c[SQ_C_REQUESTS] = req;
    nz = (req != 0);
    neg = 0;

#pragma GCC unroll 16
    for (k = 1; k < SQ_C_BYTES; k++) {
        if (!sq_fast_read(&p, &v)) {
            return SQ_DECODE_FULL;
        }

        c[k] = v;
        nz |= (uint32_t) (v != 0) << k;
        neg |= (int64_t) (req - v);
    }

    if (!sq_fast_read(&p, &v)) {
        return SQ_DECODE_FULL;
    }

    c[SQ_C_BYTES] = v;
    nz |= (uint32_t) (v != 0) << SQ_C_BYTES;

#pragma GCC unroll 16
    for (k = SQ_C_BYTES + 1; k < SQ_WIRE_NCOUNTERS; k++) {
        if (!sq_fast_read(&p, &v)) {
            return SQ_DECODE_FULL;
        }

        c[k] = v;
        nz |= (uint32_t) (v != 0) << k;
        neg |= (int64_t) (req - v);
    }

    if (neg < 0 || sq_fast_sums(c)) {
        return SQ_DECODE_FULL;
    }

    ds->nz = nz;
    *pp = p;

    return SQ_DECODE_OK;
}


/* the classes, TLS versions and compressed responses: 1 if too many */

static inline int
sq_fast_sums(const uint64_t *c)
{
    uint64_t  req;

    req = c[SQ_C_REQUESTS];

    return (c[SQ_C_1XX] + c[SQ_C_2XX] + c[SQ_C_3XX] + c[SQ_C_4XX]
            + c[SQ_C_5XX] > req)
           | (c[SQ_C_TLS_NONE] + c[SQ_C_TLS_10] + c[SQ_C_TLS_11]
              + c[SQ_C_TLS_12] + c[SQ_C_TLS_13] > req)
           | (c[SQ_C_COMPRESSED] > c[SQ_C_COMPRESSIBLE]);
}


static int
sq_fast_counters_end(sq_byte_t **pp, sq_byte_t *end, sq_dseries_t *ds)
{
    int         k, w;
    uint32_t    nz;
    uint64_t   *c, v, bad;
    sq_byte_t  *p;

    p = *pp + 3;
    c = ds->c;
    nz = 0;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        w = sq_fast_uint(p, end, &v);

        if (w == 0) {
            return SQ_DECODE_FULL;
        }

        p += w;
        c[k] = v;
        nz |= (uint32_t) (v != 0) << k;
    }

    bad = 0;

    for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
        bad |= (k != SQ_C_BYTES) & (c[k] > c[SQ_C_REQUESTS]);
    }

    if (bad || sq_fast_sums(c)) {
        return SQ_DECODE_FULL;
    }

    ds->nz = nz;
    *pp = p;

    return SQ_DECODE_OK;
}


/*
 * A histogram: every distance after the first > 0, every count > 0, the
 * last bucket (the largest: the distances are not negative) within the
 * scheme.
 */

static sq_fast_inline int
sq_fast_hist(sq_byte_t **pp, sq_byte_t *end, sq_dhist_t *h,
    sq_hbin_t **bins)
{
    int         w1, w2;
    uint32_t    i, n;
    uint64_t    idx, dd, cc, total, bad;
    sq_hbin_t  *b;
    sq_byte_t  *p;

    p = *pp;

    if (p < end && *p >= 0x90 && *p <= 0x9f) {
        n = *p & 0x0f;
        p += 1;

    } else if (end - p >= 3 && *p == 0xdc) {
        n = ((uint32_t) p[1] << 8) | p[2];
        p += 3;

    } else {
        return SQ_DECODE_FULL;
    }

    if ((n & 1) || n > 2 * SQ_HIST_BUCKETS) {
        return SQ_DECODE_FULL;
    }

    n /= 2;
    b = *bins;
    idx = 0;
    total = 0;
    bad = 0;

    if (n && (size_t) (end - p) >= (size_t) n * 2 * SQ_FAST_UINT_MAX) {

        /*
         * No read can pass end; idx cannot wrap: at most 1728 distances
         * below 2^32.  A value less one has its top bit set only when
         * the value is 0: a count, or a distance after the first.
         */

        if (!sq_fast_read(&p, &dd) || !sq_fast_read(&p, &cc)) {
            return SQ_DECODE_FULL;
        }

        idx = dd;
        bad = cc - 1;
        b[0] = sq_hbin(idx, cc);
        total = cc;

        for (i = 1; i < n; i++) {
            if (!sq_fast_read(&p, &dd) || !sq_fast_read(&p, &cc)) {
                return SQ_DECODE_FULL;
            }

            idx += dd;
            bad |= (dd - 1) | (cc - 1);
            b[i] = sq_hbin(idx, cc);
            total += cc;
        }

        bad >>= 63;

    } else {
        for (i = 0; i < n; i++) {
            w1 = sq_fast_uint(p, end, &dd);

            if (w1 == 0) {
                return SQ_DECODE_FULL;
            }

            w2 = sq_fast_uint(p + w1, end, &cc);

            if (w2 == 0) {
                return SQ_DECODE_FULL;
            }

            p += w1 + w2;
            idx += dd;
            bad |= (cc == 0) | ((dd == 0) & (i != 0));
            b[i] = sq_hbin(idx, cc);
            total += cc;
        }
    }

    if (bad | (idx >= SQ_HIST_BUCKETS)) {
        return SQ_DECODE_FULL;
    }

    *pp = p;
    h->bins = b;
    h->n = n;
    h->total = total;
    *bins = b + n;

    return SQ_DECODE_OK;
}


static int
sq_fast_series(sq_dgram_t *d, sq_byte_t **pp, sq_byte_t *end,
    sq_dseries_t *ds, sq_hbin_t **bins)
{
    sq_byte_t  *p;

    p = *pp;

    if (p == end) {
        return SQ_DECODE_FULL;
    }

    if (*p == 0x90 + SQ_WIRE_SERIES_FIELDS) {
        ds->browser = 0;

    } else if (*p == 0x90 + SQ_WIRE_SERIES_FIELDS_BROWSER && d->version >= 3)
    {
        ds->browser = 1;

    } else {
        return SQ_DECODE_FULL;
    }

    p++;

    if (sq_fast_str(&p, end, &ds->endpoint, SQ_WIRE_MAX_ENDPOINT, 0)
        || sq_fast_str(&p, end, &ds->region, SQ_WIRE_MAX_REGION, 0)
        || sq_fast_str(&p, end, &ds->segment, SQ_WIRE_MAX_SEGMENT, 1)
        || sq_fast_counters(&p, end, ds)
        || sq_fast_hist(&p, end, &ds->hist[SQ_H_RT], bins)
        || sq_fast_hist(&p, end, &ds->hist[SQ_H_TTFB], bins))
    {
        return SQ_DECODE_FULL;
    }

    if (ds->browser && sq_check_browser(&p, end, ds, bins) != SQ_DECODE_OK)
    {
        return SQ_DECODE_FULL;
    }

    *pp = p;
    d->requests += ds->c[SQ_C_REQUESTS];

    return SQ_DECODE_OK;
}


int
sq_decode(sq_dgram_t *d, const char *buf, size_t len)
{
    if (len > SQ_WIRE_MAX_DATAGRAM) {
        return SQ_REJ_TOO_LARGE;
    }

    if (len == 0) {
        return SQ_REJ_TRUNCATED;
    }

    if (sq_decode_fast(d, (sq_byte_t *) buf, (sq_byte_t *) buf + len)
        == SQ_DECODE_OK)
    {
        return SQ_DECODE_OK;
    }

    return sq_decode_full(d, buf, len);
}


int
sq_decode_checked(sq_dgram_t *d, const char *buf, size_t len)
{
    if (len > SQ_WIRE_MAX_DATAGRAM) {
        return SQ_REJ_TOO_LARGE;
    }

    if (len == 0) {
        return SQ_REJ_TRUNCATED;
    }

    return sq_decode_full(d, buf, len);
}


/* the header's values, once every field has been read */

static int
sq_check_header(sq_dgram_t *d)
{
    if (d->pid == 0 || d->pid > UINT32_MAX || d->seq == 0
        || d->dd > SQ_DECODE_MAX_COUNT || d->dr > SQ_DECODE_MAX_COUNT
        || d->so > SQ_DECODE_MAX_COUNT || d->go > SQ_DECODE_MAX_COUNT)
    {
        return SQ_REJ_ABSURD;
    }

    if (d->we < d->ws || d->we - d->ws > SQ_DECODE_MAX_SPAN) {
        return SQ_REJ_WINDOW;
    }

    return SQ_DECODE_OK;
}


/*
 * The fast path: one pass over the bytes, in order, every read bounded
 * by end, the series decoded where they stand.  It takes only what the
 * full check below would take, with the same result: the header's
 * values are read by the typed readers the full check uses, the series
 * by sq_fast_series() (the integer forms a module writes, the checks
 * folded into flags; t/unit/fastdec_t.c holds it to the full check),
 * unknown keys may only hold scalars (so the nesting stays within
 * SQ_DECODE_MAX_DEPTH), and the map must end at the last byte.
 * Anything else, a rejection included, returns SQ_DECODE_FULL and the
 * full check decides, so that the reason reported is the one the
 * pre-scan and the checks in their order find.
 */

static int
sq_decode_fast(sq_dgram_t *d, sq_byte_t *p, sq_byte_t *end)
{
    int         k, hint;
    uint32_t    i, j, nmap, seen, n;
    uint64_t    v, *dst;
    sq_str_t    key;
    sq_hbin_t  *bins;

    if (*p >= 0x80 && *p <= 0x8f) {
        nmap = *p & 0x0f;
        p += 1;

    } else {
        /* a datagram's map has 10 keys or so; the rest, the full check */
        return SQ_DECODE_FULL;
    }

    d->dd = 0;
    d->dr = 0;
    d->so = 0;
    d->go = 0;
    d->cr = 0;
    d->cs = 0;
    d->cx = 0;
    d->nseries = 0;
    d->requests = 0;

    /* a series of 12 before "v" is not taken here: the full check reads
       the version first */
    d->version = 0;

    seen = 0;
    hint = SQ_K_VERSION;
    bins = d->bins;

    for (i = 0; i < nmap; i++) {
        if (sq_mp_str(&p, end, &key) != SQ_DECODE_OK) {
            return SQ_DECODE_FULL;
        }

        k = sq_decode_key(&key, hint);

        if (k == SQ_WIRE_NKEYS) {
            /* an unknown key */

            if (sq_mp_skip_scalar(&p, end) == 0) {
                return SQ_DECODE_FULL;
            }

            continue;
        }

        if (seen & SQ_KEY_BIT(k)) {
            return SQ_DECODE_FULL;
        }

        seen |= SQ_KEY_BIT(k);
        hint = k + 1;

        switch (k) {

        case SQ_K_VERSION:
            if (sq_mp_uint(&p, end, &v) != SQ_DECODE_OK
                || v < SQ_WIRE_VERSION_MIN || v > SQ_WIRE_VERSION)
            {
                return SQ_DECODE_FULL;
            }

            d->version = (uint32_t) v;
            break;

        case SQ_K_NODE:
            if (sq_check_str(&p, end, &d->node, SQ_WIRE_MAX_NODE, 0)
                != SQ_DECODE_OK)
            {
                return SQ_DECODE_FULL;
            }

            break;

        case SQ_K_SERIES:
            if (sq_mp_array(&p, end, &n) != SQ_DECODE_OK
                || n > SQ_WIRE_MAX_SERIES || n > SQ_DECODE_MAX_DSERIES)
            {
                return SQ_DECODE_FULL;
            }

            d->nseries = n;

            for (j = 0; j < n; j++) {
                if (sq_fast_series(d, &p, end, &d->series[j], &bins)
                    != SQ_DECODE_OK)
                {
                    return SQ_DECODE_FULL;
                }
            }

            break;

        default:
            dst = sq_decode_uint_field(d, k);

            if (dst == NULL || sq_mp_uint(&p, end, dst) != SQ_DECODE_OK) {
                return SQ_DECODE_FULL;
            }
        }
    }

    if (p != end
        || (seen & (SQ_KEYS_REQUIRED | SQ_KEY_BIT(SQ_K_VERSION)))
           != (SQ_KEYS_REQUIRED | SQ_KEY_BIT(SQ_K_VERSION))
        || (d->version >= 2
            && (seen & SQ_KEYS_REQUIRED_V2) != SQ_KEYS_REQUIRED_V2)
        || sq_check_header(d) != SQ_DECODE_OK
        || sq_check_totals(d) != SQ_DECODE_OK)
    {
        return SQ_DECODE_FULL;
    }

    return SQ_DECODE_OK;
}


/*
 * The full check: the pre-scan, then the version, the fields in their
 * order and the series; each rejection with its reason.
 */

static int
sq_decode_full(sq_dgram_t *d, const char *buf, size_t len)
{
    int         rc, k, hint, have_v, fast;
    uint32_t    i, j, nmap, seen, n, top[SQ_DECODE_TOP];
    uint64_t    v, *dst;
    sq_str_t    key;
    sq_byte_t  *p, *end, *body, *series;
    sq_hbin_t  *bins;

    end = (sq_byte_t *) buf + len;

    rc = sq_prescan((const unsigned char *) buf, len, top);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    p = (sq_byte_t *) buf;

    if (*p >= 0x80 && *p <= 0x8f) {
        nmap = *p & 0x0f;
        p += 1;

    } else if (*p == 0xde) {
        nmap = ((uint32_t) p[1] << 8) | p[2];
        p += 3;

    } else if (*p == 0xdf) {
        nmap = ((uint32_t) p[1] << 24) | ((uint32_t) p[2] << 16)
               | ((uint32_t) p[3] << 8) | p[4];
        p += 5;

    } else {
        return SQ_REJ_NOT_MAP;
    }

    body = p;

    d->dd = 0;
    d->dr = 0;
    d->so = 0;
    d->go = 0;
    d->cr = 0;
    d->cs = 0;
    d->cx = 0;
    d->nseries = 0;
    d->requests = 0;

    /* the version first: a newer format is "bad_version", not a type */

    have_v = 0;

    fast = (2 * nmap <= SQ_DECODE_TOP);

    for (i = 0; i < nmap; i++) {
        if (fast) {
            p = (sq_byte_t *) buf + top[2 * i];
        }

        if (sq_mp_str(&p, end, &key) != SQ_DECODE_OK) {
            sq_mp_skip(&p);                  /* a key of another type */

        } else if (sq_decode_key(&key, SQ_K_VERSION) == SQ_K_VERSION) {
            if (sq_mp_uint(&p, end, &v) != SQ_DECODE_OK
                || v < SQ_WIRE_VERSION_MIN || v > SQ_WIRE_VERSION || have_v)
            {
                return SQ_REJ_VERSION;
            }

            d->version = (uint32_t) v;
            have_v = 1;
            continue;
        }

        if (!fast) {
            sq_mp_skip(&p);
        }
    }

    if (!have_v) {
        return SQ_REJ_MISSING;
    }

    seen = 0;
    hint = SQ_K_VERSION;
    series = NULL;
    p = body;

    for (i = 0; i < nmap; i++) {
        if (fast) {
            p = (sq_byte_t *) buf + top[2 * i];
        }

        if (sq_mp_str(&p, end, &key) != SQ_DECODE_OK) {
            return SQ_REJ_TYPE;
        }

        k = sq_decode_key(&key, hint);

        if (k < SQ_WIRE_NKEYS) {
            hint = k + 1;
        }

        switch (k) {

        case SQ_K_VERSION:
            if (!fast) {
                sq_mp_skip(&p);
            }

            continue;

        case SQ_K_NODE:
            if (seen & SQ_KEY_BIT(k)) {
                return SQ_REJ_MALFORMED;
            }

            seen |= SQ_KEY_BIT(k);

            rc = sq_check_str(&p, end, &d->node, SQ_WIRE_MAX_NODE, 0);
            if (rc != SQ_DECODE_OK) {
                return rc;
            }

            continue;

        case SQ_K_SERIES:
            if (seen & SQ_KEY_BIT(k)) {
                return SQ_REJ_MALFORMED;
            }

            seen |= SQ_KEY_BIT(k);
            series = p;

            rc = sq_mp_array(&p, end, &n);
            if (rc != SQ_DECODE_OK) {
                return rc;
            }

            if (n > SQ_WIRE_MAX_SERIES) {
                return SQ_REJ_OVERSIZED;
            }

            d->nseries = n;

            if (!fast) {
                p = series;
                sq_mp_skip(&p);
            }

            continue;

        case SQ_WIRE_NKEYS:
            /* unknown keys are skipped, for additions within a version */
            if (!fast) {
                sq_mp_skip(&p);
            }

            continue;
        }

        dst = sq_decode_uint_field(d, k);

        if (dst == NULL || (seen & SQ_KEY_BIT(k))) {
            return SQ_REJ_MALFORMED;
        }

        seen |= SQ_KEY_BIT(k);

        rc = sq_mp_uint(&p, end, &v);
        if (rc != SQ_DECODE_OK) {
            return rc;
        }

        *dst = v;
    }

    if ((seen & SQ_KEYS_REQUIRED) != SQ_KEYS_REQUIRED
        || (d->version >= 2
            && (seen & SQ_KEYS_REQUIRED_V2) != SQ_KEYS_REQUIRED_V2))
    {
        return SQ_REJ_MISSING;
    }

    rc = sq_check_header(d);
    if (rc != SQ_DECODE_OK) {
        return rc;
    }

    p = series;
    (void) sq_mp_array(&p, end, &n);
    bins = d->bins;

    for (j = 0; j < d->nseries; j++) {
        if (j >= SQ_DECODE_MAX_DSERIES) {
            /* cannot be: the pre-scan bounds the count by the length */
            return SQ_REJ_OVERSIZED;
        }

        rc = sq_check_series(d, &p, end, &d->series[j], &bins);
        if (rc != SQ_DECODE_OK) {
            return rc;
        }
    }

    return sq_check_totals(d);
}


/*
 * Version 2's running totals, of the datagrams the worker made before
 * this one: the unsent requests ("cx") are part of all ("cr").  "cs" is
 * not checked: it also counts datagrams forwarded for exited workers.  A
 * version 1 datagram has none: its "cr", "cs" and "cx", if any, are taken
 * as 0.
 */

static int
sq_check_totals(sq_dgram_t *d)
{
    if (d->version < 2) {
        d->cr = 0;
        d->cs = 0;
        d->cx = 0;
        return SQ_DECODE_OK;
    }

    if (d->cr > SQ_DECODE_MAX_TOTAL || d->cs > SQ_DECODE_MAX_TOTAL) {
        return SQ_REJ_ABSURD;
    }

    if (d->cx > d->cr)
    {
        return SQ_REJ_INCONSISTENT;
    }

    return SQ_DECODE_OK;
}


void
sq_decode_series(const sq_dgram_t *d, uint32_t i, sq_dseries_t *s)
{
    *s = d->series[i];
}
