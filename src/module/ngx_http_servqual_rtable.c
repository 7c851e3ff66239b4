
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <maxminddb.h>
#include <sys/mman.h>

#include "ngx_http_servqual_module.h"
#include "ngx_http_servqual_rtable.h"


#define NGX_HTTP_SERVQUAL_RT_ROOT       65536
#define NGX_HTTP_SERVQUAL_RT_NODES      (1 << 28)  /* entries, all nodes */
#define NGX_HTTP_SERVQUAL_RT_ALIGN      64

/* MaxMind DB format: a data record's offset is its value - nodes - 16 */
#define NGX_HTTP_SERVQUAL_RT_SEPARATOR  16

#define ngx_http_servqual_rt_align(n)                                        \
    (((n) + NGX_HTTP_SERVQUAL_RT_ALIGN - 1)                                 \
     & ~((size_t) NGX_HTTP_SERVQUAL_RT_ALIGN - 1))


/* one tree being built: its ranges, then its trie */

typedef struct {
    uint64_t                       *hi;
    uint64_t                       *lo;
    uint16_t                       *label;
    ngx_uint_t                      n;
    ngx_uint_t                      cap;
    uint32_t                       *root;
    uint32_t                       *nodes;
    ngx_uint_t                      nnodes;
    ngx_uint_t                      nodes_cap;
    ngx_uint_t                      v4;        /* 32-bit keys */
} ngx_http_servqual_rt_work_t;


typedef struct {
    MMDB_s                         *mmdb;
    ngx_log_t                      *log;
    ngx_uint_t                      mode;
    uint64_t                        node_count;
    uint64_t                        data_end;
    uint64_t                        v4node;    /* the IPv4 subtree */
    ngx_uint_t                      alias;     /* v4node goes to IPv4 */
    ngx_uint_t                      deep;      /* IPv4 runs past 32 bits */
    ngx_uint_t                      depth;     /* of the walk: 32, 128 */
    ngx_uint_t                      visits;
    ngx_uint_t                      max_visits;
    ngx_uint_t                      networks;
    ngx_uint_t                      leaves;

    ngx_http_servqual_rt_work_t    *work;

    /* data record -> label id + 1, for the mode being walked */
    uint32_t                       *cache_key;
    uint16_t                       *cache_val;
    ngx_uint_t                      cache_n;
    ngx_uint_t                      cache_mask;

    /* the labels, ids shared by all modes; 0 is "unknown" */
    ngx_http_servqual_rt_label_t   *labels;
    ngx_uint_t                      nlabels;
    uint16_t                       *label_hash;  /* id + 1 */

    u_char                         *err;
    u_char                         *err_last;
} ngx_http_servqual_rt_build_t;


static ngx_int_t ngx_http_servqual_rt_walk(ngx_http_servqual_rt_build_t *b,
    uint64_t rec, ngx_uint_t d, uint64_t hi, uint64_t lo);
static ngx_int_t ngx_http_servqual_rt_emit(ngx_http_servqual_rt_build_t *b,
    uint64_t hi, uint64_t lo, ngx_uint_t label);
static ngx_int_t ngx_http_servqual_rt_leaf(ngx_http_servqual_rt_build_t *b,
    uint64_t rec);
static ngx_int_t ngx_http_servqual_rt_intern(
    ngx_http_servqual_rt_build_t *b, u_char *data, size_t len);
static ngx_int_t ngx_http_servqual_rt_trie(ngx_http_servqual_rt_build_t *b,
    ngx_http_servqual_rt_work_t *w);
static ngx_int_t ngx_http_servqual_rt_bucket(
    ngx_http_servqual_rt_build_t *b, ngx_http_servqual_rt_work_t *w,
    ngx_uint_t first, ngx_uint_t last, ngx_uint_t d, uint64_t hi,
    uint64_t lo, uint32_t *entry);
static ngx_uint_t ngx_http_servqual_rt_last_le(ngx_http_servqual_rt_work_t *w,
    ngx_uint_t from, ngx_uint_t to, uint64_t hi, uint64_t lo);
static void *ngx_http_servqual_rt_grow(ngx_http_servqual_rt_build_t *b,
    void *p, size_t old, size_t size);
static void ngx_http_servqual_rt_work_free(ngx_http_servqual_rt_work_t *w);
static ngx_http_servqual_rtable_t *ngx_http_servqual_rt_pack(
    ngx_http_servqual_rt_build_t *b, ngx_http_servqual_rt_work_t *work,
    ngx_uint_t modes, ngx_uint_t ipv6);


/* lookup paths as arrays: MMDB_get_value() would allocate one per call */

static const char  *ngx_http_servqual_rt_country[] =
    { "country", "iso_code", NULL };
static const char  *ngx_http_servqual_rt_continent[] =
    { "continent", "code", NULL };
static const char  *ngx_http_servqual_rt_subdivision[] =
    { "subdivisions", "0", "iso_code", NULL };


ngx_http_servqual_rtable_t *
ngx_http_servqual_rtable_build(MMDB_s *mmdb, ngx_uint_t modes,
    ngx_log_t *log, u_char *err, size_t errlen)
{
    uint64_t                       rec;
    ngx_uint_t                     mode, fam, d, ipv6;
    ngx_http_servqual_rtable_t    *rt;
    ngx_http_servqual_rt_work_t   *w, work[2 * NGX_HTTP_SERVQUAL_RT_MODES];
    ngx_http_servqual_rt_build_t   b;
    MMDB_search_node_s             node;

    ngx_memzero(&b, sizeof(ngx_http_servqual_rt_build_t));
    ngx_memzero(work, sizeof(work));

    rt = NULL;

    b.mmdb = mmdb;
    b.log = log;
    b.err = err;
    b.err_last = err + errlen;
    b.node_count = mmdb->metadata.node_count;
    b.data_end = b.node_count + mmdb->data_section_size;

    /*
     * a tree is walked once per node; with the IPv4 aliases not taken
     * (see "deep") their subtree is walked once per alias
     */
    b.max_visits = 8 * (b.node_count + 1024);

    ipv6 = (mmdb->metadata.ip_version == 6);

    (void) ngx_cpystrn(err, (u_char *) "out of memory", errlen);

    b.labels = ngx_alloc((NGX_HTTP_SERVQUAL_RT_LABELS + 1)
                         * sizeof(ngx_http_servqual_rt_label_t), log);
    b.label_hash = ngx_alloc(2 * (NGX_HTTP_SERVQUAL_RT_LABELS + 1)
                             * sizeof(uint16_t), log);

    if (b.labels == NULL || b.label_hash == NULL) {
        goto cleanup;
    }

    ngx_memzero(b.label_hash,
                2 * (NGX_HTTP_SERVQUAL_RT_LABELS + 1) * sizeof(uint16_t));

    b.labels[0].len = 0;
    b.nlabels = 1;

    /* the IPv4 subtree: where ::/96 leads, as libmaxminddb finds it */

    rec = 0;

    if (ipv6) {
        for (d = 0; d < 96 && rec < b.node_count; d++) {
            if (MMDB_read_node(mmdb, (uint32_t) rec, &node) != MMDB_SUCCESS) {
                (void) ngx_snprintf(err, errlen, "node %uL unreadable%Z",
                                    rec);
                goto cleanup;
            }

            rec = node.left_record;
        }
    }

    b.v4node = rec;

    for (mode = 0; mode < NGX_HTTP_SERVQUAL_RT_MODES; mode++) {

        if (!(modes & (1 << mode))) {
            continue;
        }

        b.mode = mode;
        b.cache_n = 0;

        if (b.cache_key) {
            ngx_memzero(b.cache_key, (b.cache_mask + 1) * sizeof(uint32_t));
        }

        for (fam = 0; fam < 2; fam++) {

            if (fam == 1 && !ipv6) {
                break;
            }

            w = &work[2 * mode + fam];
            w->v4 = (fam == 0);

            b.work = w;
            b.visits = 0;

            if (w->v4) {
                b.depth = 32;
                b.alias = 0;
                rec = b.v4node;

            } else {
                b.depth = 128;
                b.alias = !b.deep && b.v4node < b.node_count;
                rec = 0;
            }

            if (ngx_http_servqual_rt_walk(&b, rec, 0, 0, 0) != NGX_OK
                || ngx_http_servqual_rt_trie(&b, w) != NGX_OK)
            {
                goto cleanup;
            }
        }
    }

    /* every mode walks the same tree */
    b.networks /= (modes & 1) + (modes >> 1 & 1) + (modes >> 2 & 1);

    rt = ngx_http_servqual_rt_pack(&b, work, modes, ipv6);

cleanup:

    for (fam = 0; fam < 2 * NGX_HTTP_SERVQUAL_RT_MODES; fam++) {
        ngx_http_servqual_rt_work_free(&work[fam]);
    }

    if (b.cache_key) {
        ngx_free(b.cache_key);
        ngx_free(b.cache_val);
    }

    if (b.labels) {
        ngx_free(b.labels);
    }

    if (b.label_hash) {
        ngx_free(b.label_hash);
    }

    return rt;
}


/*
 * The walk: left before right, so networks come in address order; a
 * network's label is that of its data record, decoded once per record
 * and mode.  It follows libmaxminddb's lookup: an empty record, a
 * pointer past the data section and a path that runs out of address
 * bits at a node all answer "not found".
 */

static ngx_int_t
ngx_http_servqual_rt_walk(ngx_http_servqual_rt_build_t *b, uint64_t rec,
    ngx_uint_t d, uint64_t hi, uint64_t lo)
{
    ngx_int_t           label;
    MMDB_search_node_s  node;

    if (rec >= b->node_count) {
        b->networks++;

        if (rec == b->node_count || rec >= b->data_end) {
            return ngx_http_servqual_rt_emit(b, hi, lo,
                                             NGX_HTTP_SERVQUAL_RT_UNKNOWN);
        }

        label = ngx_http_servqual_rt_leaf(b, rec);
        if (label == NGX_ERROR) {
            return NGX_ERROR;
        }

        return ngx_http_servqual_rt_emit(b, hi, lo, label);
    }

    if (b->alias && rec == b->v4node && d > 0 && d <= 96) {
        return ngx_http_servqual_rt_emit(b, hi, lo,
                                         NGX_HTTP_SERVQUAL_RT_ALIAS | d);
    }

    if (d == b->depth) {
        if (b->work->v4) {
            b->deep = 1;
        }

        return ngx_http_servqual_rt_emit(b, hi, lo,
                                         NGX_HTTP_SERVQUAL_RT_UNKNOWN);
    }

    if (++b->visits > b->max_visits) {
        (void) ngx_snprintf(b->err, b->err_last - b->err,
                            "the search tree has loops or shared "
                            "subtrees (over %ui nodes walked)%Z",
                            b->max_visits);
        return NGX_ERROR;
    }

    if (MMDB_read_node(b->mmdb, (uint32_t) rec, &node) != MMDB_SUCCESS) {
        (void) ngx_snprintf(b->err, b->err_last - b->err,
                            "node %uL unreadable%Z", rec);
        return NGX_ERROR;
    }

    if (ngx_http_servqual_rt_walk(b, node.left_record, d + 1, hi, lo)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (d < 64) {
        hi |= (uint64_t) 1 << (63 - d);

    } else {
        lo |= (uint64_t) 1 << (127 - d);
    }

    return ngx_http_servqual_rt_walk(b, node.right_record, d + 1, hi, lo);
}


/* a range from (hi, lo) on, unless it continues the one before */

static ngx_int_t
ngx_http_servqual_rt_emit(ngx_http_servqual_rt_build_t *b, uint64_t hi,
    uint64_t lo, ngx_uint_t label)
{
    ngx_uint_t                    cap;
    ngx_http_servqual_rt_work_t  *w;

    w = b->work;

    if (w->n && w->label[w->n - 1] == label) {
        return NGX_OK;
    }

    if (w->n == w->cap) {
        cap = w->cap ? 2 * w->cap : 4096;

        if (cap > NGX_HTTP_SERVQUAL_RT_FIRST) {
            (void) ngx_snprintf(b->err, b->err_last - b->err,
                                "more than %ui networks%Z",
                                (ngx_uint_t) NGX_HTTP_SERVQUAL_RT_FIRST);
            return NGX_ERROR;
        }

        w->hi = ngx_http_servqual_rt_grow(b, w->hi, w->cap * 8, cap * 8);
        w->lo = ngx_http_servqual_rt_grow(b, w->lo, w->cap * 8, cap * 8);
        w->label = ngx_http_servqual_rt_grow(b, w->label, w->cap * 2,
                                             cap * 2);

        if (w->hi == NULL || w->lo == NULL || w->label == NULL) {
            return NGX_ERROR;
        }

        w->cap = cap;
    }

    w->hi[w->n] = hi;
    w->lo[w->n] = lo;
    w->label[w->n] = (uint16_t) label;
    w->n++;

    return NGX_OK;
}


/* the label id of a data record, decoded on first sight */

static ngx_int_t
ngx_http_servqual_rt_leaf(ngx_http_servqual_rt_build_t *b, uint64_t rec)
{
    size_t         len;
    uint32_t       key, *keys;
    uint16_t      *vals;
    ngx_int_t      label;
    ngx_uint_t     i, j, n, mask;
    MMDB_entry_s   entry;
    u_char         buf[SQ_WIRE_MAX_REGION];

    key = (uint32_t) rec;          /* > node_count, so never 0 */

    if (b->cache_n * 2 >= b->cache_mask) {

        /* grow the cache (or make it) and rehash */

        n = b->cache_mask ? 2 * (b->cache_mask + 1) : 65536;

        keys = ngx_alloc(n * sizeof(uint32_t), b->log);
        vals = ngx_alloc(n * sizeof(uint16_t), b->log);

        if (keys == NULL || vals == NULL) {
            if (keys) {
                ngx_free(keys);
            }

            return NGX_ERROR;
        }

        ngx_memzero(keys, n * sizeof(uint32_t));
        mask = n - 1;

        for (i = 0; b->cache_key && i <= b->cache_mask; i++) {
            if (b->cache_key[i] == 0) {
                continue;
            }

            for (j = (b->cache_key[i] * 2654435761u) & mask;
                 keys[j];
                 j = (j + 1) & mask)
            { /* void */ }

            keys[j] = b->cache_key[i];
            vals[j] = b->cache_val[i];
        }

        if (b->cache_key) {
            ngx_free(b->cache_key);
            ngx_free(b->cache_val);
        }

        b->cache_key = keys;
        b->cache_val = vals;
        b->cache_mask = mask;
    }

    for (i = (key * 2654435761u) & b->cache_mask;
         b->cache_key[i];
         i = (i + 1) & b->cache_mask)
    {
        if (b->cache_key[i] == key) {
            return b->cache_val[i];
        }
    }

    b->leaves++;

    entry.mmdb = b->mmdb;
    entry.offset = (uint32_t) (rec - b->node_count
                               - NGX_HTTP_SERVQUAL_RT_SEPARATOR);

    len = ngx_http_servqual_rtable_label(&entry, b->mode, buf);

    label = (len == 0) ? NGX_HTTP_SERVQUAL_RT_UNKNOWN
                       : ngx_http_servqual_rt_intern(b, buf, len);

    if (label == NGX_ERROR) {
        return NGX_ERROR;
    }

    b->cache_key[i] = key;
    b->cache_val[i] = (uint16_t) label;
    b->cache_n++;

    return label;
}


size_t
ngx_http_servqual_rtable_label(MMDB_entry_s *entry, ngx_uint_t mode,
    u_char *buf)
{
    int                 rc;
    u_char             *p;
    MMDB_entry_data_s   data;

    if (mode == NGX_HTTP_SERVQUAL_REGION_CONTINENT) {
        rc = MMDB_aget_value(entry, &data, ngx_http_servqual_rt_continent);

    } else {
        rc = MMDB_aget_value(entry, &data, ngx_http_servqual_rt_country);
    }

    if (rc != MMDB_SUCCESS
        || !data.has_data
        || data.type != MMDB_DATA_TYPE_UTF8_STRING
        || data.data_size == 0
        || data.data_size > 3)
    {
        return 0;
    }

    p = ngx_cpymem(buf, data.utf8_string, data.data_size);

    if (mode != NGX_HTTP_SERVQUAL_REGION_SUBDIVISION) {
        return p - buf;
    }

    /* ISO 3166-2: country, hyphen, subdivision code ("US-CA") */

    rc = MMDB_aget_value(entry, &data, ngx_http_servqual_rt_subdivision);

    if (rc == MMDB_SUCCESS
        && data.has_data
        && data.type == MMDB_DATA_TYPE_UTF8_STRING
        && data.data_size > 0
        && data.data_size <= 3)
    {
        *p++ = '-';
        p = ngx_cpymem(p, data.utf8_string, data.data_size);
    }

    return p - buf;
}


static ngx_int_t
ngx_http_servqual_rt_intern(ngx_http_servqual_rt_build_t *b, u_char *data,
    size_t len)
{
    uint32_t                       h;
    ngx_uint_t                     i, mask;
    ngx_http_servqual_rt_label_t  *l;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h = (h ^ data[i]) * 16777619u;
    }

    mask = 2 * (NGX_HTTP_SERVQUAL_RT_LABELS + 1) - 1;

    for (i = h & mask; b->label_hash[i]; i = (i + 1) & mask) {
        l = &b->labels[b->label_hash[i] - 1];

        if (l->len == len && ngx_memcmp(l->data, data, len) == 0) {
            return b->label_hash[i] - 1;
        }
    }

    if (b->nlabels > NGX_HTTP_SERVQUAL_RT_LABELS) {
        (void) ngx_snprintf(b->err, b->err_last - b->err,
                            "more than %ui distinct regions%Z",
                            (ngx_uint_t) NGX_HTTP_SERVQUAL_RT_LABELS);
        return NGX_ERROR;
    }

    l = &b->labels[b->nlabels++];
    l->len = (u_char) len;
    ngx_memcpy(l->data, data, len);
    b->label_hash[i] = (uint16_t) b->nlabels;

    return b->nlabels - 1;
}


/*
 * The trie over a tree's ranges: the root's 2^16 buckets, and for each
 * bucket with more than NGX_HTTP_SERVQUAL_RT_LEAF ranges in it, a node
 * of 16 buckets on the next 4 bits (256 on 8 where RT_WIDE4/6 say), and
 * so on.
 */

static ngx_int_t
ngx_http_servqual_rt_trie(ngx_http_servqual_rt_build_t *b,
    ngx_http_servqual_rt_work_t *w)
{
    uint64_t    hi;
    ngx_uint_t  i, first, last;

    w->root = ngx_alloc(NGX_HTTP_SERVQUAL_RT_ROOT * sizeof(uint32_t), b->log);
    if (w->root == NULL) {
        return NGX_ERROR;
    }

    first = 0;

    for (i = 0; i < NGX_HTTP_SERVQUAL_RT_ROOT; i++) {
        hi = (uint64_t) i << 48;

        first = ngx_http_servqual_rt_last_le(w, first, w->n - 1, hi, 0);
        last = ngx_http_servqual_rt_last_le(w, first, w->n - 1,
                                            hi | 0xffffffffffffULL,
                                            (uint64_t) -1);

        if (ngx_http_servqual_rt_bucket(b, w, first, last, 16, hi, 0,
                                        &w->root[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_servqual_rt_bucket(ngx_http_servqual_rt_build_t *b,
    ngx_http_servqual_rt_work_t *w, ngx_uint_t first, ngx_uint_t last,
    ngx_uint_t d, uint64_t hi, uint64_t lo, uint32_t *entry)
{
    uint32_t    e;
    uint64_t    shi, slo, ehi, elo, span;
    ngx_uint_t  j, k, n, cap, f, l, s, bits;

    if (last - first < NGX_HTTP_SERVQUAL_RT_LEAF
        || d >= (w->v4 ? 32 : 128))
    {
        *entry = (uint32_t) (first | (last - first) << 29);
        return NGX_OK;
    }

    /*
     * a node: 16 entries, or 256 from bit 16 to 24 in IPv4 and 16 to 32
     * in IPv6 (where registries allocate, densely); its place counted in
     * units of 16 entries
     */

    bits = (d < (w->v4 ? NGX_HTTP_SERVQUAL_RT_WIDE4
                       : NGX_HTTP_SERVQUAL_RT_WIDE6)) ? 8 : 4;
    n = (ngx_uint_t) 1 << bits;

    if (w->nnodes + n > w->nodes_cap) {
        cap = w->nodes_cap ? 2 * w->nodes_cap : 65536;

        if (cap > NGX_HTTP_SERVQUAL_RT_NODES) {
            (void) ngx_snprintf(b->err, b->err_last - b->err,
                                "too many trie nodes%Z");
            return NGX_ERROR;
        }

        w->nodes = ngx_http_servqual_rt_grow(b, w->nodes,
                                             w->nodes_cap * 4, cap * 4);
        if (w->nodes == NULL) {
            return NGX_ERROR;
        }

        w->nodes_cap = cap;
    }

    k = w->nnodes;
    w->nnodes += n;
    f = first;

    /* the sub-buckets: bits d .. d + bits - 1 are j */

    s = (d < 64) ? 64 - d - bits : 128 - d - bits;
    span = ((uint64_t) 1 << s) - 1;

    for (j = 0; j < n; j++) {

        if (d < 64) {
            shi = hi | (uint64_t) j << s;
            slo = lo;
            ehi = shi | span;
            elo = (uint64_t) -1;

        } else {
            shi = hi;
            slo = lo | (uint64_t) j << s;
            ehi = hi;
            elo = slo | span;
        }

        f = ngx_http_servqual_rt_last_le(w, f, last, shi, slo);
        l = ngx_http_servqual_rt_last_le(w, f, last, ehi, elo);

        if (ngx_http_servqual_rt_bucket(b, w, f, l, d + bits, shi, slo, &e)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        w->nodes[k + j] = e;
    }

    *entry = (uint32_t) (NGX_HTTP_SERVQUAL_RT_CHILD | k >> 4);

    return NGX_OK;
}


/* the last range in from .. to that starts at or before (hi, lo) */

static ngx_uint_t
ngx_http_servqual_rt_last_le(ngx_http_servqual_rt_work_t *w, ngx_uint_t from,
    ngx_uint_t to, uint64_t hi, uint64_t lo)
{
    ngx_uint_t  i;

    for (i = from;
         i < to
         && (w->hi[i + 1] < hi || (w->hi[i + 1] == hi && w->lo[i + 1] <= lo));
         i++)
    { /* void */ }

    return i;
}


static void *
ngx_http_servqual_rt_grow(ngx_http_servqual_rt_build_t *b, void *p,
    size_t old, size_t size)
{
    void  *n;

    n = ngx_alloc(size, b->log);

    if (n != NULL && p != NULL) {
        ngx_memcpy(n, p, old);
    }

    if (p != NULL) {
        ngx_free(p);
    }

    return n;
}


static void
ngx_http_servqual_rt_work_free(ngx_http_servqual_rt_work_t *w)
{
    if (w->hi) {
        ngx_free(w->hi);
    }

    if (w->lo) {
        ngx_free(w->lo);
    }

    if (w->label) {
        ngx_free(w->label);
    }

    if (w->root) {
        ngx_free(w->root);
    }

    if (w->nodes) {
        ngx_free(w->nodes);
    }
}


/*
 * The finished table in one anonymous mapping, every array on a cache
 * line, made read-only: the master writes it before the workers fork,
 * and no worker writes it after, so its pages stay shared.
 */

static ngx_http_servqual_rtable_t *
ngx_http_servqual_rt_pack(ngx_http_servqual_rt_build_t *b,
    ngx_http_servqual_rt_work_t *work, ngx_uint_t modes, ngx_uint_t ipv6)
{
    u_char                        *p;
    size_t                         size;
    ngx_uint_t                     i, k;
    ngx_http_servqual_rtable_t    *rt;
    ngx_http_servqual_rt_tree_t   *t;
    ngx_http_servqual_rt_work_t   *w;

    size = ngx_http_servqual_rt_align(sizeof(ngx_http_servqual_rtable_t))
           + ngx_http_servqual_rt_align(b->nlabels
                                     * sizeof(ngx_http_servqual_rt_label_t));

    for (i = 0; i < 2 * NGX_HTTP_SERVQUAL_RT_MODES; i++) {
        w = &work[i];

        if (w->root == NULL) {
            continue;
        }

        size += ngx_http_servqual_rt_align(NGX_HTTP_SERVQUAL_RT_ROOT * 4)
                + ngx_http_servqual_rt_align(w->nnodes * 4)
                + ngx_http_servqual_rt_align(w->n * (w->v4 ? 4 : 16))
                + ngx_http_servqual_rt_align(w->n * 2);
    }

    p = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS,
             -1, 0);

    if (p == MAP_FAILED) {
        (void) ngx_snprintf(b->err, b->err_last - b->err,
                            "mmap(%uz) failed (%d)%Z", size, ngx_errno);
        return NULL;
    }

    rt = (ngx_http_servqual_rtable_t *) p;
    p += ngx_http_servqual_rt_align(sizeof(ngx_http_servqual_rtable_t));

    rt->mem = rt;
    rt->size = size;
    rt->modes = modes;
    rt->ipv6 = ipv6;
    rt->leaves = b->leaves;
    rt->networks = b->networks;

    rt->labels = (ngx_http_servqual_rt_label_t *) p;
    rt->nlabels = b->nlabels;
    ngx_memcpy(p, b->labels,
               b->nlabels * sizeof(ngx_http_servqual_rt_label_t));
    p += ngx_http_servqual_rt_align(b->nlabels
                                    * sizeof(ngx_http_servqual_rt_label_t));

    for (i = 0; i < 2 * NGX_HTTP_SERVQUAL_RT_MODES; i++) {
        w = &work[i];

        if (w->root == NULL) {
            continue;
        }

        t = w->v4 ? &rt->v4[i / 2] : &rt->v6[i / 2];

        t->nranges = w->n;
        t->nnodes = w->nnodes;

        t->root = (uint32_t *) p;
        ngx_memcpy(p, w->root, NGX_HTTP_SERVQUAL_RT_ROOT * 4);
        p += ngx_http_servqual_rt_align(NGX_HTTP_SERVQUAL_RT_ROOT * 4);

        t->nodes = (uint32_t *) p;
        if (w->nnodes) {
            ngx_memcpy(p, w->nodes, w->nnodes * 4);
        }
        p += ngx_http_servqual_rt_align(w->nnodes * 4);

        if (w->v4) {
            t->start4 = (uint32_t *) p;

            for (k = 0; k < w->n; k++) {
                t->start4[k] = (uint32_t) (w->hi[k] >> 32);
            }

            p += ngx_http_servqual_rt_align(w->n * 4);

        } else {
            t->start_hi = (uint64_t *) p;
            t->start_lo = t->start_hi + w->n;
            ngx_memcpy(t->start_hi, w->hi, w->n * 8);
            ngx_memcpy(t->start_lo, w->lo, w->n * 8);
            p += ngx_http_servqual_rt_align(w->n * 16);
        }

        t->label = (uint16_t *) p;
        ngx_memcpy(p, w->label, w->n * 2);
        p += ngx_http_servqual_rt_align(w->n * 2);
    }

    if (mprotect(rt->mem, size, PROT_READ) == -1) {
        (void) ngx_snprintf(b->err, b->err_last - b->err,
                            "mprotect() failed (%d)%Z", ngx_errno);
        (void) munmap(rt->mem, size);
        return NULL;
    }

    return rt;
}


void
ngx_http_servqual_rtable_free(ngx_http_servqual_rtable_t *rt)
{
    (void) munmap(rt->mem, rt->size);
}
