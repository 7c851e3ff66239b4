
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_SERVQUAL_RTABLE_H_INCLUDED_
#define _NGX_HTTP_SERVQUAL_RTABLE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <maxminddb.h>

#include "ngx_http_servqual_module.h"


/*
 * The region table: what a MaxMind DB answers for every address, as
 * region labels, built once from the database's search tree when the
 * configuration is read and looked up in a few memory reads.
 *
 * Per address family and region mode, the networks of the tree become
 * sorted ranges (start, label), adjacent networks with the same label
 * merged.  A multibit trie indexes them: a root of 2^16 entries on the
 * first 16 bits, then nodes on 4 more bits each (16 entries, one cache
 * line), except from bit 16 to 24 in IPv4 (one read where a /16 holds
 * many networks) and 16 to 40 in IPv6, where registries allocate
 * densely, on 8 (256 entries), down to where at most
 * NGX_HTTP_SERVQUAL_RT_LEAF ranges remain; those are scanned.  An entry
 * is either a child node or (first range, count - 1).  The IPv6 tree's
 * aliases of the IPv4 subtree (::/96, ::ffff:0:0/96, 2002::/16,
 * 2001::/32) are ranges that
 * send the lookup to the IPv4 table with the 32 bits at their depth.
 * See docs/geo.md for the layout, its memory and its cost.
 *
 * The whole table is one anonymous mapping written in the master and
 * only read after the workers fork, so they share its pages.
 */

NGX_HTTP_SERVQUAL_HIDDEN_BEGIN


#define NGX_HTTP_SERVQUAL_RT_MODES      3         /* country ... subdivision */
#define NGX_HTTP_SERVQUAL_RT_LEAF       4         /* ranges scanned at most */
#define NGX_HTTP_SERVQUAL_RT_WIDE4      24        /* IPv4: 256 up to bit */
#define NGX_HTTP_SERVQUAL_RT_WIDE6      40        /* IPv6: 256 up to bit */
#define NGX_HTTP_SERVQUAL_RT_LABELS     0x7fff
#define NGX_HTTP_SERVQUAL_RT_UNKNOWN    0         /* label: not in the DB */

/* a trie entry: a child node (at 16 * n), or ranges (first, count - 1) */
#define NGX_HTTP_SERVQUAL_RT_CHILD      0x80000000
#define NGX_HTTP_SERVQUAL_RT_FIRST      0x1fffffff
#define NGX_HTTP_SERVQUAL_RT_ALIAS      0x8000    /* label: go to IPv4 */


typedef struct {
    u_char                          len;
    u_char                          data[SQ_WIRE_MAX_REGION];
} ngx_http_servqual_rt_label_t;


typedef struct {
    uint32_t                       *root;       /* 65536 entries */
    uint32_t                       *nodes;      /* 2^bits entries each */
    uint32_t                       *start4;     /* IPv4: range starts */
    uint64_t                       *start_hi;   /* IPv6: range starts */
    uint64_t                       *start_lo;
    uint16_t                       *label;      /* of each range */
    ngx_uint_t                      nranges;
    ngx_uint_t                      nnodes;     /* entries */
} ngx_http_servqual_rt_tree_t;


struct ngx_http_servqual_rtable_s {
    ngx_http_servqual_rt_tree_t     v4[NGX_HTTP_SERVQUAL_RT_MODES];
    ngx_http_servqual_rt_tree_t     v6[NGX_HTTP_SERVQUAL_RT_MODES];
    ngx_uint_t                      ipv6;       /* the DB has IPv6 */
    ngx_http_servqual_rt_label_t   *labels;     /* by label id */
    ngx_uint_t                      nlabels;

    /* what the build saw and made, for the log and the benchmarks */
    ngx_uint_t                      modes;      /* bit per mode built */
    ngx_uint_t                      leaves;     /* data records decoded */
    ngx_uint_t                      networks;   /* tree leaves walked */
    size_t                          size;       /* bytes mapped */
    void                           *mem;
};


/*
 * Builds the table of the modes in the bit mask (1 << mode, mode one of
 * NGX_HTTP_SERVQUAL_REGION_COUNTRY, _CONTINENT, _SUBDIVISION).  NULL on
 * failure, with a message in err (at least 128 bytes).
 */
ngx_http_servqual_rtable_t *ngx_http_servqual_rtable_build(MMDB_s *mmdb,
    ngx_uint_t modes, ngx_log_t *log, u_char *err, size_t errlen);
void ngx_http_servqual_rtable_free(ngx_http_servqual_rtable_t *rt);


/*
 * The label of a data record in a mode, as the request path had it:
 * the country's or continent's code, or "CC-SUB" for subdivisions;
 * 0 when the record has none.  buf holds SQ_WIRE_MAX_REGION bytes.
 */
size_t ngx_http_servqual_rtable_label(MMDB_entry_s *entry, ngx_uint_t mode,
    u_char *buf);




/*
 * The request path, inlined where it is called.  The key is consumed
 * from the top: the entry of a child node shifted left by 4 is the
 * node's place (the flag bits fall off), the key's top bits the index.
 */

static ngx_inline ngx_uint_t
ngx_http_servqual_rt_find4(ngx_http_servqual_rt_tree_t *t, uint32_t a)
{
    uint32_t    e, k;
    ngx_uint_t  i, n;

    e = t->root[a >> 16];

    /* bits 16 to 23 in one node of 256, then by 4 */

    if (e & NGX_HTTP_SERVQUAL_RT_CHILD) {
        e = t->nodes[(uint32_t) (e << 4) + (a >> 8 & 0xff)];

        for (k = a << 24; e & NGX_HTTP_SERVQUAL_RT_CHILD; k <<= 4) {
            e = t->nodes[(uint32_t) (e << 4) + (k >> 28)];
        }
    }

    i = e & NGX_HTTP_SERVQUAL_RT_FIRST;

    for (n = e >> 29; n && t->start4[i + 1] <= a; n--) {
        i++;
    }

    return t->label[i];
}


static ngx_inline ngx_uint_t
ngx_http_servqual_rt_find6(ngx_http_servqual_rt_tree_t *t, uint64_t hi,
    uint64_t lo)
{
    uint32_t    e;
    uint64_t    k;
    ngx_uint_t  i, n;

    e = t->root[hi >> 48];

    /*
     * bits 16 to 39 by 8 (nodes of 256, unrolled), the rest of hi by 4,
     * then lo by 4
     */

    k = hi << 16;

    if (e & NGX_HTTP_SERVQUAL_RT_CHILD) {
        e = t->nodes[(uint32_t) (e << 4) + (k >> 56)];

        if (e & NGX_HTTP_SERVQUAL_RT_CHILD) {
            e = t->nodes[(uint32_t) (e << 4) + (k >> 48 & 0xff)];

            if (e & NGX_HTTP_SERVQUAL_RT_CHILD) {
                e = t->nodes[(uint32_t) (e << 4) + (k >> 40 & 0xff)];
            }
        }
    }

    k = hi << 40;

    for (n = 6; n && (e & NGX_HTTP_SERVQUAL_RT_CHILD); k <<= 4, n--) {
        e = t->nodes[(uint32_t) (e << 4) + (k >> 60)];
    }

    for (k = lo; e & NGX_HTTP_SERVQUAL_RT_CHILD; k <<= 4) {
        e = t->nodes[(uint32_t) (e << 4) + (k >> 60)];
    }

    i = e & NGX_HTTP_SERVQUAL_RT_FIRST;

    for (n = e >> 29;
         n && (t->start_hi[i + 1] < hi
               || (t->start_hi[i + 1] == hi && t->start_lo[i + 1] <= lo));
         n--)
    {
        i++;
    }

    return t->label[i];
}


/* the label id of an address (NGX_HTTP_SERVQUAL_RT_UNKNOWN: none) */

static ngx_inline ngx_uint_t
ngx_http_servqual_rtable_find(ngx_http_servqual_rtable_t *rt,
    ngx_uint_t mode, struct sockaddr *sa)
{
    u_char      *p;
    uint64_t     hi, lo, a;
    ngx_uint_t   label, d;

    if (sa->sa_family == AF_INET) {
        return ngx_http_servqual_rt_find4(&rt->v4[mode],
                   ntohl(((struct sockaddr_in *) sa)->sin_addr.s_addr));
    }

#if (NGX_HAVE_INET6)

    if (sa->sa_family == AF_INET6 && rt->ipv6) {

        p = ((struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;

        ngx_memcpy(&hi, p, 8);
        ngx_memcpy(&lo, p + 8, 8);

#if (NGX_HAVE_LITTLE_ENDIAN)
        hi = __builtin_bswap64(hi);
        lo = __builtin_bswap64(lo);
#endif

        label = ngx_http_servqual_rt_find6(&rt->v6[mode], hi, lo);

        if (!(label & NGX_HTTP_SERVQUAL_RT_ALIAS)) {
            return label;
        }

        /* an alias of the IPv4 subtree: the 32 bits from depth d */

        d = label & ~NGX_HTTP_SERVQUAL_RT_ALIAS;

        if (d <= 32) {
            a = hi >> (32 - d);

        } else if (d < 64) {
            a = hi << (d - 32) | lo >> (96 - d);

        } else {
            a = lo >> (96 - d);
        }

        return ngx_http_servqual_rt_find4(&rt->v4[mode], (uint32_t) a);
    }

#endif

    return NGX_HTTP_SERVQUAL_RT_UNKNOWN;
}


NGX_HTTP_SERVQUAL_HIDDEN_END


#endif /* _NGX_HTTP_SERVQUAL_RTABLE_H_INCLUDED_ */
