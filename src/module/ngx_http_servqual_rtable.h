
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
 * first 16 bits, then nodes of 16 entries (one cache line) on 4 more
 * bits each, down to where at most NGX_HTTP_SERVQUAL_RT_LEAF ranges
 * remain; those are scanned.  An entry is either a child node or
 * (first range, count - 1).  The IPv6 tree's aliases of the IPv4
 * subtree (::/96, ::ffff:0:0/96, 2002::/16, 2001::/32) are ranges that
 * send the lookup to the IPv4 table with the 32 bits at their depth.
 * See docs/geo.md for the layout, its memory and its cost.
 *
 * The whole table is one anonymous mapping written in the master and
 * only read after the workers fork, so they share its pages.
 */

NGX_HTTP_SERVQUAL_HIDDEN_BEGIN


#define NGX_HTTP_SERVQUAL_RT_MODES      3         /* country ... subdivision */
#define NGX_HTTP_SERVQUAL_RT_LEAF       4         /* ranges scanned at most */
#define NGX_HTTP_SERVQUAL_RT_LABELS     0x7fff
#define NGX_HTTP_SERVQUAL_RT_UNKNOWN    0         /* label: not in the DB */


typedef struct {
    u_char                          len;
    u_char                          data[SQ_WIRE_MAX_REGION];
} ngx_http_servqual_rt_label_t;


typedef struct {
    uint32_t                       *root;       /* 65536 entries */
    uint32_t                       *nodes;      /* 16 entries each */
    uint32_t                       *start4;     /* IPv4: range starts */
    uint64_t                       *start_hi;   /* IPv6: range starts */
    uint64_t                       *start_lo;
    uint16_t                       *label;      /* of each range */
    ngx_uint_t                      nranges;
    ngx_uint_t                      nnodes;
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

/* the label id of an address (NGX_HTTP_SERVQUAL_RT_UNKNOWN: none) */
ngx_uint_t ngx_http_servqual_rtable_find(ngx_http_servqual_rtable_t *rt,
    ngx_uint_t mode, struct sockaddr *sa);

/*
 * The label of a data record in a mode, as the request path had it:
 * the country's or continent's code, or "CC-SUB" for subdivisions;
 * 0 when the record has none.  buf holds SQ_WIRE_MAX_REGION bytes.
 */
size_t ngx_http_servqual_rtable_label(MMDB_entry_s *entry, ngx_uint_t mode,
    u_char *buf);


NGX_HTTP_SERVQUAL_HIDDEN_END


#endif /* _NGX_HTTP_SERVQUAL_RTABLE_H_INCLUDED_ */
