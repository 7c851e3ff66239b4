
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_SERVQUAL_MODULE_H_INCLUDED_
#define _NGX_HTTP_SERVQUAL_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <maxminddb.h>

#include "servqual_hist.h"
#include "servqual_wire.h"
#include "servqual_sign.h"


/*
 * The functions the module's files share are hidden in the shared
 * object: calls between them bind directly, not through the PLT, and
 * only ngx_http_servqual_module and nginx's module tables are exported.
 * Rare paths that need a stack buffer are kept out of the hot ones with
 * NGX_HTTP_SERVQUAL_NOINLINE.
 */

#if defined(__GNUC__) && __GNUC__ >= 4
#define NGX_HTTP_SERVQUAL_HIDDEN_BEGIN  _Pragma("GCC visibility push(hidden)")
#define NGX_HTTP_SERVQUAL_HIDDEN_END    _Pragma("GCC visibility pop")
#define NGX_HTTP_SERVQUAL_NOINLINE      __attribute__((noinline))
#else
#define NGX_HTTP_SERVQUAL_HIDDEN_BEGIN
#define NGX_HTTP_SERVQUAL_HIDDEN_END
#define NGX_HTTP_SERVQUAL_NOINLINE
#endif


#define NGX_HTTP_SERVQUAL_REGION_COUNTRY      0
#define NGX_HTTP_SERVQUAL_REGION_CONTINENT    1
#define NGX_HTTP_SERVQUAL_REGION_SUBDIVISION  2
#define NGX_HTTP_SERVQUAL_REGION_VARIABLE     3

#define NGX_HTTP_SERVQUAL_MAX_SERIES_LIMIT    262144
#define NGX_HTTP_SERVQUAL_MAX_COLLECTORS      4
#define NGX_HTTP_SERVQUAL_OTHER_RESERVE       64

/*
 * A series is keyed by three small numbers, interned once: the endpoint
 * (at configuration time), the region and the segment (per worker), so
 * that the request path compares integers, not strings.
 *
 *   key = endpoint << 21 | region << 7 | segment
 */

#define NGX_HTTP_SERVQUAL_ENDPOINTS           (1 << 20)
#define NGX_HTTP_SERVQUAL_REGIONS             (1 << 14)
#define NGX_HTTP_SERVQUAL_SEGMENTS            64
#define NGX_HTTP_SERVQUAL_SEGMENTS_DEFAULT    16

#define NGX_HTTP_SERVQUAL_ENDPOINT_OTHER      0
#define NGX_HTTP_SERVQUAL_REGION_UNKNOWN      0
#define NGX_HTTP_SERVQUAL_REGION_OTHER        1
#define NGX_HTTP_SERVQUAL_SEGMENT_NONE        0
#define NGX_HTTP_SERVQUAL_SEGMENT_OTHER       (NGX_HTTP_SERVQUAL_SEGMENTS + 1)

#define NGX_HTTP_SERVQUAL_KEY(e, r, s)                                       \
    (((uint64_t) (e) << 21) | ((uint64_t) (r) << 7) | (uint64_t) (s))
#define NGX_HTTP_SERVQUAL_KEY_ENDPOINT(k)     ((ngx_uint_t) ((k) >> 21))
#define NGX_HTTP_SERVQUAL_KEY_REGION(k)       ((ngx_uint_t) ((k) >> 7) & 0x3fff)
#define NGX_HTTP_SERVQUAL_KEY_SEGMENT(k)      ((ngx_uint_t) (k) & 0x7f)


typedef struct ngx_http_servqual_rtable_s  ngx_http_servqual_rtable_t;
typedef struct ngx_http_servqual_browser_s  ngx_http_servqual_browser_t;


/* an endpoint name interned at configuration time, and its id */

typedef struct {
    ngx_str_node_t                 sn;
    ngx_uint_t                     id;
} ngx_http_servqual_endpoint_node_t;


/* one address of servqual_collector */
typedef struct {
    ngx_addr_t                    *addr;
    ngx_str_t                      address;
} ngx_http_servqual_collector_t;


typedef struct {
    ngx_addr_t                    *addr;         /* the first collector's */
    ngx_str_t                      address;
    ngx_http_servqual_collector_t  collectors
                                       [NGX_HTTP_SERVQUAL_MAX_COLLECTORS];
    ngx_uint_t                     ncollectors;
    ngx_str_t                      node;
    sq_sign_key_t                 *key;          /* key=, or NULL */
    ngx_msec_t                     flush;
    size_t                         buffer;
    ngx_uint_t                     max_series;
    MMDB_s                        *mmdb;
    ngx_http_servqual_rtable_t    *rtable;       /* built from mmdb */
    ngx_uint_t                     region_modes; /* 1 << mode, in use */
    ngx_array_t                    endpoints;    /* of ngx_str_t, by id */
    ngx_rbtree_t                   endpoint_tree;  /* names to ids */
    ngx_rbtree_node_t              endpoint_sentinel;
    ngx_flag_t                     used;
} ngx_http_servqual_main_conf_t;


typedef struct {
    ngx_flag_t                     enable;
    ngx_str_t                      configured;   /* servqual_endpoint */
    ngx_uint_t                     endpoint;     /* id of what is reported */
    ngx_int_t                      region;
    ngx_int_t                      region_index;
    ngx_int_t                      segment_index;
    ngx_uint_t                     segment_max;

    /* servqual_beacon (ngx_http_servqual_beacon.c) */
    size_t                         beacon_max_body;
    ngx_array_t                   *beacon_pages;  /* page -> endpoint id */
    ngx_str_t                      beacon_script; /* the file's bytes */
    ngx_str_t                      beacon_etag;
} ngx_http_servqual_loc_conf_t;


typedef struct {
    uint64_t                       key;
    uint32_t                       pos;        /* in the index */
    uint32_t                       cell;       /* (slot + 1) << 12 */
    uint64_t                       counters[SQ_WIRE_NCOUNTERS];
} ngx_http_servqual_series_t;


typedef struct {
    uint32_t                       key;        /* 0: empty slot */
    uint32_t                       count;
} ngx_http_servqual_cell_t;


typedef struct {
    u_char                         len;
    u_char                         data[SQ_WIRE_MAX_REGION];
} ngx_http_servqual_label_t;


/* a region table label's id in a worker, + 1; 0: not seen yet */
typedef uint16_t  ngx_http_servqual_geo_t;


/*
 * The delivery state of one collector (ngx_http_servqual_send.c): each
 * has its own socket, queue and counts, so that one that is down gets
 * its backlog later or its loss reported, whatever the others do.
 */
typedef struct {
    ngx_http_servqual_collector_t *collector;
    ngx_uint_t                     index;        /* in servqual_collector */
    ngx_socket_t                   fd;
    uint64_t                       dropped;       /* datagrams */
    uint64_t                       dropped_requests;
    uint64_t                       sent;           /* "cs" */
    uint64_t                       unsent_requests;  /* "cx" */
    uint64_t                       last_sent;      /* since the last flush */
    uint64_t                       last_requests;

    /* datagrams not yet known delivered */
    u_char                        *queue;
    size_t                         qlen;           /* bytes queued */
    size_t                         qsent;          /* of those, sent since
                                                      the last flush */
    time_t                         error_logged;
} ngx_http_servqual_dest_t;


typedef struct {
    ngx_http_servqual_main_conf_t *conf;
    ngx_log_t                     *log;

    /* the window being aggregated */
    ngx_http_servqual_series_t    *series;
    ngx_uint_t                     nseries;
    ngx_uint_t                     series_cap;   /* max_series + reserve */
    uint32_t                      *index;        /* series slot + 1 */
    uint32_t                       index_mask;
    ngx_http_servqual_cell_t      *cells;
    uint32_t                       cells_mask;
    ngx_uint_t                     ncells;
    uint64_t                      *sorted;
    uint64_t                       requests;
    uint64_t                       series_overflow;
    uint64_t                       segment_overflow;
    uint64_t                       window_start;  /* ms since the epoch */

    /* regions and segments seen, interned for this worker's lifetime */
    ngx_http_servqual_label_t     *regions;
    uint16_t                      *region_index;
    ngx_uint_t                     nregions;
    ngx_uint_t                     nsegments;
    u_char                         segment_len[NGX_HTTP_SERVQUAL_SEGMENTS];
    u_char                         segments[NGX_HTTP_SERVQUAL_SEGMENTS]
                                           [SQ_WIRE_MAX_SEGMENT];

    ngx_http_servqual_geo_t       *geo;

    /* sending */
    u_char                        *buf;
    size_t                         size;
    uint64_t                       seq;
    uint64_t                       made_requests;  /* "cr" */

    /* one per collector (ngx_http_servqual_send.c) */
    ngx_http_servqual_dest_t      *dests;
    ngx_uint_t                     ndests;

    u_char                        *spool;          /* the spool directory,
                                                      NUL-terminated */
    time_t                         error_logged;
    ngx_event_t                    timer;
    ngx_event_t                    posted;

    /* the browser's measurements, allocated on the first beacon */
    ngx_http_servqual_browser_t   *browser;
} ngx_http_servqual_worker_t;


extern ngx_module_t  ngx_http_servqual_module;

NGX_HTTP_SERVQUAL_HIDDEN_BEGIN

/* this worker's aggregate; NULL where the module is idle */
extern ngx_http_servqual_worker_t  *ngx_http_servqual_worker;

ngx_uint_t ngx_http_servqual_endpoint_id(ngx_conf_t *cf,
    ngx_http_servqual_main_conf_t *mcf, ngx_str_t *name);

NGX_HTTP_SERVQUAL_HIDDEN_END


#endif /* _NGX_HTTP_SERVQUAL_MODULE_H_INCLUDED_ */
