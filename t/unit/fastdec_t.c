
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * The decoder's one-pass fast path against its full check: on tens of
 * thousands of random datagrams (every integer form, labels with quotes,
 * control bytes and UTF-8, counters that contradict each other,
 * histograms out of order or out of range, browser series, unknown and
 * missing keys) and mutations of them (bytes changed, cut, added),
 * sq_decode() gives the verdict sq_decode_checked() gives, and for a
 * good datagram the same decoded values, field by field.
 */

#include <msgpack.h>

#include "tap.h"
#include "servqual_hist.h"
#include "servqual_wire.h"
#include "sq_decode.h"


#define T_DATAGRAMS  30000


static uint64_t  t_rng = 0x9e3779b97f4a7c15ULL;
static int       t_noisy;           /* errors sown too, not only odd forms */
static int       t_plain;           /* only the forms a module writes */

static const char  *t_keys[SQ_WIRE_NKEYS] = { SQ_WIRE_KEY_NAMES };

#define diag(...)                                                            \
    (printf("# "), printf(__VA_ARGS__), printf("\n"))


static uint64_t t_rand(void);
static uint32_t t_below(uint32_t n);
static int t_bad(uint32_t n);
static void t_uint(msgpack_packer *pk, uint64_t v);
static void t_label(msgpack_packer *pk, uint32_t max, int empty);
static void t_hist(msgpack_packer *pk);
static void t_counters(msgpack_packer *pk, uint32_t n);
static void t_series(msgpack_packer *pk, uint32_t version);
static void t_datagram(msgpack_sbuffer *sb);
static void t_mutate(char *buf, size_t *len);
static int t_same_str(const sq_str_t *a, const sq_str_t *b);
static int t_same_hist(const sq_dhist_t *a, const sq_dhist_t *b);
static int t_same(const sq_dgram_t *a, const sq_dgram_t *b);


static uint64_t
t_rand(void)
{
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;

    return t_rng;
}


static uint32_t
t_below(uint32_t n)
{
    return (uint32_t) (t_rand() % n);
}


/* an error, one time in n, in a noisy datagram */

static int
t_bad(uint32_t n)
{
    return t_noisy && t_below(n) == 0;
}


/* v in the smallest form mostly, sometimes a wider or a signed one */

static void
t_uint(msgpack_packer *pk, uint64_t v)
{
    switch (t_bad(10) ? 4 : t_plain ? 5 : t_below(24)) {
    case 0:
        msgpack_pack_fix_uint64(pk, v);
        break;
    case 1:
        if (v <= UINT32_MAX) {
            msgpack_pack_fix_uint32(pk, (uint32_t) v);
        } else {
            msgpack_pack_uint64(pk, v);
        }
        break;
    case 2:
        if (v <= UINT16_MAX) {
            msgpack_pack_fix_uint16(pk, (uint16_t) v);
        } else {
            msgpack_pack_uint64(pk, v);
        }
        break;
    case 3:
        if (v <= INT8_MAX) {
            msgpack_pack_fix_int8(pk, (int8_t) v);
        } else if (v <= INT32_MAX) {
            msgpack_pack_fix_int32(pk, (int32_t) v);
        } else {
            msgpack_pack_fix_int64(pk, (int64_t) v);
        }
        break;
    case 4:
        if (!t_noisy) {
            msgpack_pack_uint64(pk, v);
            break;
        }

        /* not an unsigned integer */
        switch (t_below(4)) {
        case 0: msgpack_pack_int64(pk, -1 - (int64_t) t_below(300)); break;
        case 1: msgpack_pack_nil(pk); break;
        case 2: msgpack_pack_double(pk, (double) v); break;
        default: msgpack_pack_str_with_body(pk, "7", 1); break;
        }
        break;
    default:
        msgpack_pack_uint64(pk, v);
    }
}


static void
t_label(msgpack_packer *pk, uint32_t max, int empty)
{
    char      s[300];
    uint32_t  i, len, r;

    static const char  *utf8[] = {
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xe2\x82",
        "\xc0\xaf", "\xed\xa0\x80", "\xf5\x80\x80\x80", "\x80"
    };

    r = t_noisy ? t_below(40) : 3 + t_below(40);
    len = (r == 0) ? max + 1 + t_below(3)
          : (r == 1) ? 0
          : (r == 3) ? max
          : 1 + t_below(max < 24 ? max : 24);

    if (len == 0 && empty && t_below(2)) {
        msgpack_pack_str_with_body(pk, "", 0);
        return;
    }

    for (i = 0; i < len; /* void */ ) {
        r = t_below(t_noisy ? 200 : 100);

        if (r == 0 && t_noisy) {
            s[i++] = (char) t_below(0x20);

        } else if (r == 1 && t_noisy) {
            s[i++] = "\"\\\x7f"[t_below(3)];

        } else if (r == 2 && i + 4 < sizeof(s)) {
            const char  *u = utf8[t_noisy ? t_below(9) : t_below(3)];
            size_t       ul = strlen(u);

            memcpy(s + i, u, ul);
            i += (uint32_t) ul;

        } else {
            s[i++] = "abcdefghijklmnopqrstuvwxyz/_-.0123456789ABC"
                     [t_below(43)];
        }
    }

    if (!t_noisy && len && t_below(60) == 0) {
        /* one byte a label may not hold, in a datagram good otherwise */
        s[t_below(len)] = "\"\\\x7f\x01\x1f\x80\xff\xc0"[t_below(8)];
    }

    if (t_bad(60)) {
        msgpack_pack_bin_with_body(pk, s, len);
        return;
    }

    msgpack_pack_str_with_body(pk, s, len);
}


static void
t_hist(msgpack_packer *pk)
{
    uint32_t  i, n, r;

    r = t_below(50);
    n = (r == 0) ? 20 + t_below(20) : t_below(6);

    if (t_bad(80)) {
        /* an odd number of elements */
        msgpack_pack_array(pk, 2 * n + 1);

        for (i = 0; i < 2 * n + 1; i++) {
            t_uint(pk, 1);
        }

        return;
    }

    msgpack_pack_array(pk, 2 * n);

    for (i = 0; i < n; i++) {
        r = t_noisy ? t_below(100) : 2 + t_below(100);

        if (i == 0) {
            t_uint(pk, r == 0 ? SQ_HIST_BUCKETS - t_below(3)
                       : r == 1 ? (uint64_t) 1 << 40
                       : t_below(900));
        } else {
            t_uint(pk, r == 0 ? 0 : r == 1 ? 900 : 1 + t_below(40));
        }

        r = t_noisy ? t_below(100) : 2 + t_below(100);
        t_uint(pk, r == 0 ? 0 : r == 1 ? ((uint64_t) 1 << 41)
                   : r == 2 ? 70000 + t_below(100000) : 1 + t_below(200));
    }
}


/* n counters, requests first: the rest mostly within them */

static void
t_counters(msgpack_packer *pk, uint32_t n)
{
    uint32_t  k, r;
    uint64_t  req, v;

    msgpack_pack_array(pk, t_bad(60) ? n - 1 + t_below(3) : n);

    r = t_noisy ? t_below(20) : 1 + t_below(20);
    req = (r == 0) ? ((uint64_t) 1 << 41) : (r == 1) ? 70000 + t_below(9)
          : t_below(300);

    for (k = 0; k < n; k++) {
        if (k == 0) {
            v = req;

        } else if (n == SQ_WIRE_NCOUNTERS && k == SQ_C_BYTES) {
            v = t_bad(10) ? (uint64_t) 1 << 57 : req * 5000;

        } else if (!t_noisy && n == SQ_WIRE_NCOUNTERS) {
            /* within the requests, the sums too */
            v = (k == SQ_C_2XX || k == SQ_C_TLS_13 || k == SQ_C_HTTP_2)
                ? req - req / 8
                : (k == SQ_C_5XX || k == SQ_C_TLS_12 || k == SQ_C_COMPRESSIBLE
                   || k == SQ_C_ABORTED)
                ? req / 8 : (k == SQ_C_COMPRESSED) ? req / 16 : 0;

        } else if (!t_noisy) {
            v = (k == SQ_BC_NAV_NAVIGATE) ? req / 2 : t_below(2);
            v = v > req ? req : v;

        } else {
            r = t_below(100);
            v = (r == 0) ? req + 1 + t_below(3)
                : (r < 60) ? 0 : t_below((uint32_t) (req / 4 + 1));
        }

        t_uint(pk, v);
    }
}


static void
t_series(msgpack_packer *pk, uint32_t version)
{
    int  browser, k;

    browser = (version >= 3 || t_below(20) == 0) && t_below(4) == 0;

    if (t_bad(100)) {
        msgpack_pack_array(pk, 5 + t_below(3));

    } else {
        msgpack_pack_array(pk, browser ? SQ_WIRE_SERIES_FIELDS_BROWSER
                                       : SQ_WIRE_SERIES_FIELDS);
    }

    t_label(pk, SQ_WIRE_MAX_ENDPOINT, 0);
    t_label(pk, SQ_WIRE_MAX_REGION, 0);
    t_label(pk, SQ_WIRE_MAX_SEGMENT, 1);
    t_counters(pk, SQ_WIRE_NCOUNTERS);
    t_hist(pk);
    t_hist(pk);

    if (browser) {
        t_counters(pk, SQ_WIRE_NBCOUNTERS);

        for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
            t_hist(pk);
        }
    }
}


static void
t_datagram(msgpack_sbuffer *sb)
{
    int             k, order[SQ_WIRE_NKEYS + 2], nk, i, j, tmp;
    uint32_t        version, n, r;
    msgpack_packer  pk;

    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);

    t_noisy = (t_below(3) == 0);
    t_plain = !t_noisy && t_below(2);
    r = t_noisy ? t_below(40) : 2 + t_below(38);
    version = (r == 0) ? 0 : (r == 1) ? 4 : (r < 6) ? 1 : (r < 10) ? 2 : 3;

    nk = 0;

    for (k = 0; k < SQ_WIRE_NKEYS; k++) {
        if (t_bad(150)) {
            continue;                        /* missing */
        }

        order[nk++] = k;
    }

    if (t_below(30) == 0) {
        order[nk++] = SQ_WIRE_NKEYS;         /* an unknown key */
    }

    if (t_bad(100)) {
        i = (int) t_below((uint32_t) nk);
        order[nk++] = order[i];              /* twice */
    }

    if (t_below(20) == 0) {
        i = (int) t_below((uint32_t) nk);
        j = (int) t_below((uint32_t) nk);
        tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }

    if (t_bad(200)) {
        msgpack_pack_array(&pk, (size_t) nk);

    } else if (t_below(100) == 0) {
        /* map 16 for a small map */
        msgpack_sbuffer_write(sb, "\xde\x00", 2);
        msgpack_sbuffer_write(sb, (char *) &(unsigned char) { nk }, 1);

    } else {
        msgpack_pack_map(&pk, (size_t) nk);
    }

    for (i = 0; i < nk; i++) {
        k = order[i];

        if (k == SQ_WIRE_NKEYS) {
            msgpack_pack_str_with_body(&pk, "zz", 2);

            if (t_below(3) == 0) {
                /* a container: the fast path leaves it to the full check */
                msgpack_pack_array(&pk, 1);
                msgpack_pack_uint8(&pk, 1);

            } else {
                t_uint(&pk, t_below(1000));
            }

            continue;
        }

        msgpack_pack_str_with_body(&pk, t_keys[k], strlen(t_keys[k]));

        switch (k) {

        case SQ_K_VERSION:
            t_uint(&pk, version);
            break;

        case SQ_K_NODE:
            t_label(&pk, SQ_WIRE_MAX_NODE, 0);
            break;

        case SQ_K_PID:
            t_uint(&pk, t_bad(50) ? 0 : 1 + t_below(70000));
            break;

        case SQ_K_SEQ:
            t_uint(&pk, t_bad(50) ? 0 : 1 + t_below(1000000));
            break;

        case SQ_K_WS:
            t_uint(&pk, 1700000000000ULL);
            break;

        case SQ_K_WE:
            r = t_noisy ? t_below(50) : 2;
            t_uint(&pk, r == 0 ? 1699999999999ULL
                        : r == 1 ? 1700003600001ULL : 1700000001000ULL);
            break;

        case SQ_K_SERIES:
            r = t_below(30);
            n = (r == 0) ? 0 : (r == 1) ? 100 + t_below(60) : t_below(12);

            if (t_bad(100)) {
                msgpack_pack_str_with_body(&pk, "s", 1);
                break;
            }

            msgpack_pack_array(&pk, n);

            for (j = 0; j < (int) n; j++) {
                t_series(&pk, version);
            }

            break;

        case SQ_K_CR:
        case SQ_K_CX:
            r = t_noisy ? t_below(40) : 2 + t_below(40);
            t_uint(&pk, r == 0 ? ((uint64_t) 1 << 57)
                        : (k == SQ_K_CX && r == 1) ? 5000 : t_below(4000));
            break;

        default:
            t_uint(&pk, t_bad(40) ? ((uint64_t) 1 << 41) : t_below(100));
        }
    }
}


/* a few bytes changed, the datagram cut or grown */

static void
t_mutate(char *buf, size_t *len)
{
    uint32_t  i, n;

    n = 1 + t_below(3);

    for (i = 0; i < n && *len > 0; i++) {
        switch (t_below(5)) {
        case 0:
            *len = t_below((uint32_t) *len);
            break;
        case 1:
            if (*len < SQ_WIRE_MAX_DATAGRAM) {
                buf[(*len)++] = (char) t_below(256);
            }
            break;
        case 2:
            buf[t_below((uint32_t) *len)] ^= (char) (1u << t_below(8));
            break;
        default:
            buf[t_below((uint32_t) *len)] = (char) t_below(256);
        }
    }
}


static int
t_same_str(const sq_str_t *a, const sq_str_t *b)
{
    return a->len == b->len && a->ptr == b->ptr;
}


static int
t_same_hist(const sq_dhist_t *a, const sq_dhist_t *b)
{
    return a->n == b->n && a->total == b->total
           && memcmp(a->bins, b->bins, a->n * sizeof(sq_hbin_t)) == 0;
}


static int
t_same(const sq_dgram_t *a, const sq_dgram_t *b)
{
    int                  k;
    uint32_t             i, nz;
    const sq_dseries_t  *x, *y;

    if (a->version != b->version || !t_same_str(&a->node, &b->node)
        || a->pid != b->pid || a->seq != b->seq || a->ws != b->ws
        || a->we != b->we || a->dd != b->dd || a->dr != b->dr
        || a->so != b->so || a->go != b->go || a->cr != b->cr
        || a->cs != b->cs || a->cx != b->cx || a->nseries != b->nseries
        || a->requests != b->requests)
    {
        diag("the headers differ");
        return 0;
    }

    for (i = 0; i < a->nseries; i++) {
        x = &a->series[i];
        y = &b->series[i];

        for (nz = 0, k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
            nz |= (uint32_t) (x->c[k] != 0) << k;
        }

        if (!t_same_str(&x->endpoint, &y->endpoint)
            || !t_same_str(&x->region, &y->region)
            || !t_same_str(&x->segment, &y->segment)
            || memcmp(x->c, y->c, sizeof(x->c)) != 0
            || x->nz != nz || y->nz != nz
            || x->browser != y->browser
            || !t_same_hist(&x->hist[0], &y->hist[0])
            || !t_same_hist(&x->hist[1], &y->hist[1]))
        {
            diag("series %u differs", i);
            return 0;
        }

        if (x->browser) {
            if (memcmp(x->bc, y->bc, sizeof(x->bc)) != 0) {
                diag("series %u: browser counters differ", i);
                return 0;
            }

            for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
                if (!t_same_hist(&x->bhist[k], &y->bhist[k])) {
                    diag("series %u: browser histogram %d differs", i, k);
                    return 0;
                }
            }
        }
    }

    return 1;
}


int
main(void)
{
    int              r1, r2, same, good, mutated_good, seen[SQ_NREJECTS];
    char            *buf;
    size_t           len;
    uint32_t         i, kinds;
    sq_dgram_t       d1, d2;
    msgpack_sbuffer  sb;

    if (sq_dgram_init(&d1) != 0 || sq_dgram_init(&d2) != 0) {
        return 1;
    }

    msgpack_sbuffer_init(&sb);
    buf = malloc(SQ_WIRE_MAX_DATAGRAM + 64);
    memset(seen, 0, sizeof(seen));
    same = 1;
    good = 0;
    mutated_good = 0;

    for (i = 0; i < T_DATAGRAMS; i++) {
        t_datagram(&sb);

        len = sb.size > SQ_WIRE_MAX_DATAGRAM + 8 ? SQ_WIRE_MAX_DATAGRAM + 8
                                                 : sb.size;
        memcpy(buf, sb.data, len);

        if (i % 2) {
            t_mutate(buf, &len);
        }

        r1 = sq_decode(&d1, buf, len);
        r2 = sq_decode_checked(&d2, buf, len);

        if (r1 != r2) {
            diag("datagram %u (%zu bytes%s): %s, the full check %s", i, len,
                 i % 2 ? ", mutated" : "", sq_reject_names[r1]
                 ? sq_reject_names[r1] : "good",
                 sq_reject_names[r2] ? sq_reject_names[r2] : "good");
            same = 0;
            break;
        }

        seen[r1]++;

        if (r1 == SQ_DECODE_OK) {
            good++;
            mutated_good += i % 2;

            if (!t_same(&d1, &d2)) {
                diag("datagram %u: decoded values differ", i);
                same = 0;
                break;
            }
        }
    }

    ok(same, "%u random and mutated datagrams: the fast path's verdict "
       "and decoded values are the full check's", i);

    for (kinds = 0, r1 = SQ_REJ_FIRST; r1 < SQ_NREJECTS; r1++) {
        if (seen[r1]) {
            kinds++;
            diag("%-14s %d", sq_reject_names[r1], seen[r1]);
        }
    }

    diag("good           %d (%d of them mutated)", good, mutated_good);

    ok(good > T_DATAGRAMS / 10 && kinds >= 10,
       "both good datagrams (%d) and rejections of %u kinds", good, kinds);

    free(buf);
    msgpack_sbuffer_destroy(&sb);
    sq_dgram_free(&d1);
    sq_dgram_free(&d2);

    return done_testing();
}
