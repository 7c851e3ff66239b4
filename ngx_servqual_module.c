
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <maxminddb.h>

#include "ngx_http_servqual_module.h"


#define NGX_HTTP_SERVQUAL_DEFAULT_PORT     5170
#define NGX_HTTP_SERVQUAL_MIN_BUFFER       1024
#define NGX_HTTP_SERVQUAL_MAX_BUFFER       65536
#define NGX_HTTP_SERVQUAL_COMPRESS_MIN     1024


/* an endpoint name interned at configuration time, and its id */

typedef struct {
    ngx_str_node_t                 sn;
    ngx_uint_t                     id;
} ngx_http_servqual_endpoint_node_t;


static ngx_int_t ngx_http_servqual_post_read_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_servqual_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_servqual_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_servqual_log_handler(ngx_http_request_t *r);
static void ngx_http_servqual_count(ngx_http_request_t *r,
    ngx_http_servqual_series_t *s);
static ngx_uint_t ngx_http_servqual_region(ngx_http_request_t *r,
    ngx_http_servqual_worker_t *w, ngx_http_servqual_loc_conf_t *lcf);
static size_t ngx_http_servqual_geo_lookup(MMDB_s *mmdb,
    struct sockaddr *sa, ngx_int_t kind, u_char *buf);
static ngx_uint_t ngx_http_servqual_segment(ngx_http_request_t *r,
    ngx_http_servqual_worker_t *w, ngx_http_servqual_loc_conf_t *lcf);
static size_t ngx_http_servqual_label(ngx_http_variable_value_t *v,
    u_char *buf, size_t size);
static ngx_uint_t ngx_http_servqual_compressible(ngx_str_t *type);
static void ngx_http_servqual_flush_handler(ngx_event_t *ev);

static void *ngx_http_servqual_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_servqual_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_servqual_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_servqual_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_servqual_collector(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_servqual_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_servqual_geoip2(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_servqual_mmdb_cleanup(void *data);
static char *ngx_http_servqual_region_conf(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_servqual_segment_conf(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_servqual_max_series(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_servqual_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_servqual_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_servqual_init_process(ngx_cycle_t *cycle);
static void ngx_http_servqual_exit_process(ngx_cycle_t *cycle);


static ngx_conf_post_t  ngx_http_servqual_max_series_post = {
    ngx_http_servqual_max_series
};


static ngx_command_t  ngx_http_servqual_commands[] = {

    { ngx_string("servqual"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_servqual_loc_conf_t, enable),
      NULL },

    { ngx_string("servqual_collector"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_servqual_collector,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("servqual_endpoint"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_servqual_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("servqual_geoip2"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_servqual_geoip2,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("servqual_region"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_servqual_region_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("servqual_segment"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_servqual_segment_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("servqual_max_series"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_servqual_main_conf_t, max_series),
      &ngx_http_servqual_max_series_post },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_servqual_module_ctx = {
    ngx_http_servqual_add_variables,       /* preconfiguration */
    ngx_http_servqual_init,                /* postconfiguration */

    ngx_http_servqual_create_main_conf,    /* create main configuration */
    ngx_http_servqual_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_servqual_create_loc_conf,     /* create location configuration */
    ngx_http_servqual_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_servqual_module = {
    NGX_MODULE_V1,
    &ngx_http_servqual_module_ctx,         /* module context */
    ngx_http_servqual_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_servqual_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_servqual_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;

/* this worker's aggregate; NULL where the module is idle */
static ngx_http_servqual_worker_t       *ngx_http_servqual_worker;

static ngx_str_t  ngx_http_servqual_other = ngx_string(SQ_WIRE_OTHER);
static ngx_str_t  ngx_http_servqual_default = ngx_string("_default");
static ngx_str_t  ngx_http_servqual_hsts =
    ngx_string("Strict-Transport-Security");

/* lookup paths as arrays: MMDB_get_value() would allocate one per call */

static const char  *ngx_http_servqual_country_path[] =
    { "country", "iso_code", NULL };
static const char  *ngx_http_servqual_continent_path[] =
    { "continent", "code", NULL };
static const char  *ngx_http_servqual_subdivision_path[] =
    { "subdivisions", "0", "iso_code", NULL };

/*
 * The request's start and first-byte times live in one slot of the
 * request's own variables array, which nginx allocates with the request
 * and keeps across internal redirects: no allocation per request, and
 * microsecond timing survives error_page and try_files.  The slot's data
 * pointer holds the start (us), its 28-bit length the first byte's offset
 * from it plus one (0: not yet; capped at 268 s).  The name has a hyphen,
 * so no configuration can refer to it.
 */

#define NGX_HTTP_SERVQUAL_TTFB_MAX  ((1 << 28) - 1)

static ngx_str_t  ngx_http_servqual_time_name = ngx_string("servqual-time");
static ngx_int_t  ngx_http_servqual_time_index = NGX_ERROR;


static ngx_inline uint64_t
ngx_http_servqual_now(void)
{
    struct timespec  ts;

    /* served by the vDSO: no system call */
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


static ngx_int_t
ngx_http_servqual_post_read_handler(ngx_http_request_t *r)
{
    ngx_http_variable_value_t  *v;

    v = &r->variables[ngx_http_servqual_time_index];

    if (v->data == NULL) {
        v->data = (u_char *) (uintptr_t) ngx_http_servqual_now();
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_servqual_header_filter(ngx_http_request_t *r)
{
    uint64_t                    ttfb;
    ngx_http_variable_value_t  *v;

    v = &r->main->variables[ngx_http_servqual_time_index];

    if (r == r->main && v->data && v->len == 0) {
        ttfb = ngx_http_servqual_now() - (uintptr_t) v->data + 1;
        v->len = (unsigned) ngx_min(ttfb, NGX_HTTP_SERVQUAL_TTFB_MAX);
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_servqual_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    /* never evaluated: the slot is only read and written directly */

    v->not_found = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_servqual_log_handler(ngx_http_request_t *r)
{
    uint64_t                       start, rt, ttfb;
    ngx_uint_t                     region, segment;
    ngx_msec_int_t                 ms;
    ngx_time_t                    *tp;
    ngx_http_servqual_worker_t    *w;
    ngx_http_servqual_series_t    *s;
    ngx_http_servqual_loc_conf_t  *lcf;
    ngx_http_variable_value_t     *v;

    w = ngx_http_servqual_worker;

    if (w == NULL) {
        return NGX_OK;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_servqual_module);

    if (!lcf->enable) {
        return NGX_OK;
    }

    v = &r->variables[ngx_http_servqual_time_index];
    start = (uintptr_t) v->data;

    if (start) {
        rt = ngx_http_servqual_now() - start;
        ttfb = v->len ? (uint64_t) v->len - 1 : rt;

    } else {
        /* not through the phases (a bad request line): milliseconds */
        tp = ngx_timeofday();
        ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                               + (tp->msec - r->start_msec));
        rt = (uint64_t) ngx_max(ms, 0) * 1000;
        ttfb = rt;
    }

    region = ngx_http_servqual_region(r, w, lcf);
    segment = ngx_http_servqual_segment(r, w, lcf);

    s = ngx_http_servqual_agg_series(w, NGX_HTTP_SERVQUAL_KEY(lcf->endpoint,
                                                              region,
                                                              segment));

    ngx_http_servqual_count(r, s);

    ngx_http_servqual_agg_sample(w, s, NGX_HTTP_SERVQUAL_HIST_RT, rt);
    ngx_http_servqual_agg_sample(w, s, NGX_HTTP_SERVQUAL_HIST_TTFB, ttfb);

    if (w->requests++ == 0 && !w->timer.timer_set) {
        ngx_add_timer(&w->timer, w->conf->flush);
    }

    return NGX_OK;
}


static void
ngx_http_servqual_count(ngx_http_request_t *r, ngx_http_servqual_series_t *s)
{
    off_t                       body;
    uint64_t                   *c;
    ngx_uint_t                  status, i;
    ngx_list_part_t            *part;
    ngx_table_elt_t            *h;
    ngx_connection_t           *conn;
    ngx_http_upstream_state_t  *us;

    c = s->counters;
    conn = r->connection;

    if (r->err_status) {
        status = r->err_status;

    } else if (r->headers_out.status) {
        status = r->headers_out.status;

    } else {
        /* the client went away before a response was chosen */
        status = NGX_HTTP_CLIENT_CLOSED_REQUEST;
    }

    c[SQ_C_REQUESTS]++;

    if (status >= 100 && status < 600) {
        c[SQ_C_1XX + status / 100 - 1]++;
    }

    if (status == NGX_HTTP_CLIENT_CLOSED_REQUEST || conn->error) {
        c[SQ_C_ABORTED]++;
    }

    body = conn->sent - (off_t) r->header_size;

    if (!r->header_only
        && r->headers_out.content_length_n >= 0
        && body < r->headers_out.content_length_n)
    {
        c[SQ_C_INCOMPLETE]++;
    }

    if (r->upstream_states) {
        us = r->upstream_states->elts;

        for (i = 0; i < r->upstream_states->nelts; i++) {
            if (us[i].status == NGX_HTTP_GATEWAY_TIME_OUT) {
                c[SQ_C_UPSTREAM_TIMEOUT]++;
                break;
            }

            if (us[i].status == NGX_HTTP_BAD_GATEWAY) {
                c[SQ_C_UPSTREAM_ERROR]++;
                break;
            }
        }
    }

    c[SQ_C_BYTES] += (uint64_t) ngx_max(conn->sent, 0);

    switch (r->http_version) {

#ifdef NGX_HTTP_VERSION_30
    case NGX_HTTP_VERSION_30:
        c[SQ_C_HTTP_3]++;
        break;
#endif

    case NGX_HTTP_VERSION_20:
        c[SQ_C_HTTP_2]++;
        break;

    case NGX_HTTP_VERSION_11:
        c[SQ_C_HTTP_11]++;
        break;

    default:
        c[SQ_C_HTTP_10]++;
        break;
    }

#if (NGX_HTTP_SSL)

    if (conn->ssl) {

        switch (SSL_version(conn->ssl->connection)) {

#ifdef TLS1_3_VERSION
        case TLS1_3_VERSION:
            c[SQ_C_TLS_13]++;
            break;
#endif

        case TLS1_2_VERSION:
            c[SQ_C_TLS_12]++;
            break;

        case TLS1_1_VERSION:
            c[SQ_C_TLS_11]++;
            break;

        default:
            c[SQ_C_TLS_10]++;
            break;
        }

        part = &r->headers_out.headers.part;
        h = part->elts;

        for (i = 0; /* void */ ; i++) {

            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                h = part->elts;
                i = 0;
            }

            if (h[i].hash
                && h[i].key.len == ngx_http_servqual_hsts.len
                && ngx_strncasecmp(h[i].key.data,
                                   ngx_http_servqual_hsts.data,
                                   ngx_http_servqual_hsts.len) == 0)
            {
                c[SQ_C_HSTS]++;
                break;
            }
        }

    } else {
        c[SQ_C_TLS_NONE]++;
    }

#else

    (void) part;
    (void) h;
    c[SQ_C_TLS_NONE]++;

#endif

    /*
     * compressible: a 2xx of a compressible type that was sent compressed
     * or had at least 1 KiB of body to compress; the type is looked at
     * last, when the cheap tests pass
     */

    if (status < 200 || status >= 300) {
        return;
    }

    if (r->headers_out.content_encoding
        && r->headers_out.content_encoding->hash
        && r->headers_out.content_encoding->value.len)
    {
        if (ngx_http_servqual_compressible(&r->headers_out.content_type)) {
            c[SQ_C_COMPRESSIBLE]++;
            c[SQ_C_COMPRESSED]++;
        }

    } else if (ngx_max(body, r->headers_out.content_length_n)
               >= NGX_HTTP_SERVQUAL_COMPRESS_MIN
               && ngx_http_servqual_compressible(&r->headers_out.content_type))
    {
        c[SQ_C_COMPRESSIBLE]++;
    }
}


static ngx_uint_t
ngx_http_servqual_compressible(ngx_str_t *type)
{
    u_char  *p, *last;

    /* text/..., */
    if (type->len >= 5 && ngx_strncasecmp(type->data, (u_char *) "text/", 5)
                          == 0)
    {
        return 1;
    }

    /* application/json, +json, +xml, javascript, image/svg+xml, ... */

    last = type->data + type->len;

    for (p = type->data; p < last && *p != ';'; p++) {

        switch (*p | 0x20) {

        case 'j':
            if (last - p >= 4
                && (ngx_strncasecmp(p, (u_char *) "json", 4) == 0
                    || (last - p >= 10
                        && ngx_strncasecmp(p, (u_char *) "javascript", 10)
                           == 0)))
            {
                return 1;
            }
            break;

        case 'x':
            if (last - p >= 3 && ngx_strncasecmp(p, (u_char *) "xml", 3) == 0)
            {
                return 1;
            }
            break;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_servqual_region(ngx_http_request_t *r, ngx_http_servqual_worker_t *w,
    ngx_http_servqual_loc_conf_t *lcf)
{
    u_char                     *addr;
    size_t                      alen, len;
    uint32_t                    h;
    uint64_t                    a[2];
    struct sockaddr            *sa;
    ngx_http_servqual_geo_t    *e;
    ngx_http_variable_value_t  *v;
    u_char                      buf[SQ_WIRE_MAX_REGION];

    if (lcf->region == NGX_HTTP_SERVQUAL_REGION_VARIABLE) {
        v = ngx_http_get_indexed_variable(r, lcf->region_index);

        len = ngx_http_servqual_label(v, buf, SQ_WIRE_MAX_REGION);
        if (len == 0) {
            return NGX_HTTP_SERVQUAL_REGION_UNKNOWN;
        }

        return ngx_http_servqual_region_id(w, buf, len);
    }

    if (w->conf->mmdb == NULL) {
        return NGX_HTTP_SERVQUAL_REGION_UNKNOWN;
    }

    /* the client address as realip left it */

    sa = r->connection->sockaddr;

    switch (sa->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        addr = ((struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;
        alen = 16;
        break;
#endif

    case AF_INET:
        addr = (u_char *) &((struct sockaddr_in *) sa)->sin_addr;
        alen = 4;
        break;

    default:
        return NGX_HTTP_SERVQUAL_REGION_UNKNOWN;
    }

    /*
     * a per-worker cache of lookups, direct mapped on the address, which
     * is hashed and compared as two 64-bit words
     */

    a[0] = 0;
    a[1] = 0;
    ngx_memcpy(a, addr, alen);

    h = (uint32_t) (((a[0] ^ (a[1] * 0x9e3779b97f4a7c15ULL)) + lcf->region)
                    * 0x9e3779b97f4a7c15ULL >> 40);

    e = &w->geo[h & (NGX_HTTP_SERVQUAL_GEO_CACHE - 1)];

    if (e->kind != lcf->region + 1
        || e->addr_len != alen
        || e->addr[0] != a[0]
        || e->addr[1] != a[1])
    {
        len = ngx_http_servqual_geo_lookup(w->conf->mmdb, sa, lcf->region,
                                           buf);

        e->region = (uint16_t) (len ? ngx_http_servqual_region_id(w, buf, len)
                                    : NGX_HTTP_SERVQUAL_REGION_UNKNOWN);
        e->kind = (u_char) (lcf->region + 1);
        e->addr_len = (u_char) alen;
        e->addr[0] = a[0];
        e->addr[1] = a[1];
    }

    return e->region;
}


static size_t
ngx_http_servqual_geo_lookup(MMDB_s *mmdb, struct sockaddr *sa,
    ngx_int_t kind, u_char *buf)
{
    int                    rc;
    u_char                *p;
    size_t                 len;
    MMDB_entry_data_s      data;
    MMDB_lookup_result_s   res;

    res = MMDB_lookup_sockaddr(mmdb, sa, &rc);

    if (rc != MMDB_SUCCESS || !res.found_entry) {
        return 0;
    }

    if (kind == NGX_HTTP_SERVQUAL_REGION_CONTINENT) {
        rc = MMDB_aget_value(&res.entry, &data,
                             ngx_http_servqual_continent_path);

    } else {
        rc = MMDB_aget_value(&res.entry, &data,
                             ngx_http_servqual_country_path);
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

    if (kind != NGX_HTTP_SERVQUAL_REGION_SUBDIVISION) {
        return data.data_size;
    }

    /* ISO 3166-2: country, hyphen, subdivision code ("US-CA") */

    rc = MMDB_aget_value(&res.entry, &data,
                         ngx_http_servqual_subdivision_path);

    if (rc == MMDB_SUCCESS
        && data.has_data
        && data.type == MMDB_DATA_TYPE_UTF8_STRING
        && data.data_size > 0
        && data.data_size <= 3)
    {
        *p++ = '-';
        p = ngx_cpymem(p, data.utf8_string, data.data_size);
    }

    len = p - buf;

    return len;
}


static ngx_uint_t
ngx_http_servqual_segment(ngx_http_request_t *r,
    ngx_http_servqual_worker_t *w, ngx_http_servqual_loc_conf_t *lcf)
{
    size_t                      len;
    ngx_uint_t                  i;
    ngx_http_variable_value_t  *v;
    u_char                      buf[SQ_WIRE_MAX_SEGMENT];

    if (lcf->segment_index == NGX_CONF_UNSET) {
        return NGX_HTTP_SERVQUAL_SEGMENT_NONE;
    }

    v = ngx_http_get_indexed_variable(r, lcf->segment_index);

    len = ngx_http_servqual_label(v, buf, SQ_WIRE_MAX_SEGMENT);
    if (len == 0) {
        return NGX_HTTP_SERVQUAL_SEGMENT_NONE;
    }

    for (i = 0; i < w->nsegments; i++) {
        if (w->segment_len[i] == len
            && ngx_memcmp(w->segments[i], buf, len) == 0)
        {
            return i + 1;
        }
    }

    if (w->nsegments < lcf->segment_max) {
        ngx_memcpy(w->segments[w->nsegments], buf, len);
        w->segment_len[w->nsegments] = (u_char) len;
        return ++w->nsegments;
    }

    w->segment_overflow++;

    return NGX_HTTP_SERVQUAL_SEGMENT_OTHER;
}


/*
 * A region or segment label: at most size bytes, anything outside
 * [A-Za-z0-9_.:-] replaced by "_", so label values stay printable.
 */

static size_t
ngx_http_servqual_label(ngx_http_variable_value_t *v, u_char *buf,
    size_t size)
{
    u_char  ch;
    size_t  i, len;

    if (v == NULL || v->not_found || v->len == 0) {
        return 0;
    }

    len = ngx_min(v->len, size);

    for (i = 0; i < len; i++) {
        ch = v->data[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9')
            || ch == '_' || ch == '.' || ch == ':' || ch == '-')
        {
            buf[i] = ch;

        } else {
            buf[i] = '_';
        }
    }

    return len;
}


static void
ngx_http_servqual_flush_handler(ngx_event_t *ev)
{
    ngx_http_servqual_worker_t  *w = ev->data;

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    ngx_http_servqual_flush(w);
}


static void *
ngx_http_servqual_create_main_conf(ngx_conf_t *cf)
{
    ngx_str_t                      *e;
    ngx_http_servqual_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_servqual_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->addr = NULL;
     *     mcf->address = { 0, NULL };
     *     mcf->node = { 0, NULL };
     *     mcf->mmdb = NULL;
     *     mcf->used = 0;
     */

    mcf->flush = NGX_CONF_UNSET_MSEC;
    mcf->buffer = NGX_CONF_UNSET_SIZE;
    mcf->max_series = NGX_CONF_UNSET_UINT;

    /* endpoint names by id; id 0 is "_other" */

    if (ngx_array_init(&mcf->endpoints, cf->pool, 16, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NULL;
    }

    e = ngx_array_push(&mcf->endpoints);
    if (e == NULL) {
        return NULL;
    }

    *e = ngx_http_servqual_other;

    ngx_rbtree_init(&mcf->endpoint_tree, &mcf->endpoint_sentinel,
                    ngx_str_rbtree_insert_value);

    return mcf;
}


static char *
ngx_http_servqual_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_servqual_main_conf_t  *mcf = conf;

    ngx_conf_init_msec_value(mcf->flush, 1000);
    ngx_conf_init_size_value(mcf->buffer, 65536);
    ngx_conf_init_uint_value(mcf->max_series, 4096);

    if (mcf->node.len == 0) {
        mcf->node = cf->cycle->hostname;

        if (mcf->node.len > SQ_WIRE_MAX_NODE) {
            mcf->node.len = SQ_WIRE_MAX_NODE;
        }
    }

    /* the largest UDP payload */

    if (mcf->buffer > SQ_WIRE_MAX_DATAGRAM) {
        mcf->buffer = SQ_WIRE_MAX_DATAGRAM;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_servqual_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_servqual_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_servqual_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->endpoint = { 0, NULL };
     *     conf->configured = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->region = NGX_CONF_UNSET;
    conf->region_index = NGX_CONF_UNSET;
    conf->segment_index = NGX_CONF_UNSET;
    conf->segment_max = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_servqual_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_servqual_loc_conf_t *prev = parent;
    ngx_http_servqual_loc_conf_t *conf = child;

    uint32_t                            hash;
    ngx_str_t                          *e, name;
    ngx_uint_t                          i;
    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_servqual_main_conf_t      *mcf;
    ngx_http_servqual_endpoint_node_t  *node;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->configured, prev->configured, "");

    if (conf->region == NGX_CONF_UNSET) {
        conf->region = (prev->region == NGX_CONF_UNSET)
                       ? NGX_HTTP_SERVQUAL_REGION_COUNTRY : prev->region;
        conf->region_index = prev->region_index;
    }

    if (conf->segment_index == NGX_CONF_UNSET) {
        conf->segment_index = prev->segment_index;
        conf->segment_max = prev->segment_max;
    }

    ngx_conf_merge_uint_value(conf->segment_max, prev->segment_max,
                              NGX_HTTP_SERVQUAL_SEGMENTS_DEFAULT);

    /*
     * the endpoint is servqual_endpoint where one is set here or above,
     * else the location's own name; interned here, once
     */

    if (conf->configured.len) {
        name = conf->configured;

    } else {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        name = clcf->name.len ? clcf->name : ngx_http_servqual_default;

        if (name.len > SQ_WIRE_MAX_ENDPOINT) {
            name.len = SQ_WIRE_MAX_ENDPOINT;
        }
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_servqual_module);

    hash = ngx_crc32_short(name.data, name.len);
    node = (ngx_http_servqual_endpoint_node_t *)
               ngx_str_rbtree_lookup(&mcf->endpoint_tree, &name, hash);

    if (node) {
        i = node->id;

    } else {
        i = mcf->endpoints.nelts;

        if (i == NGX_HTTP_SERVQUAL_ENDPOINTS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "too many servqual endpoints");
            return NGX_CONF_ERROR;
        }

        e = ngx_array_push(&mcf->endpoints);
        if (e == NULL) {
            return NGX_CONF_ERROR;
        }

        *e = name;

        node = ngx_palloc(cf->pool,
                          sizeof(ngx_http_servqual_endpoint_node_t));
        if (node == NULL) {
            return NGX_CONF_ERROR;
        }

        node->sn.node.key = hash;
        node->sn.str = name;
        node->id = i;

        ngx_rbtree_insert(&mcf->endpoint_tree, &node->sn.node);
    }

    conf->endpoint = i;

    if (conf->enable) {
        mcf->used = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_servqual_collector(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_servqual_main_conf_t *mcf = conf;

    ssize_t     size;
    ngx_str_t  *value, s;
    ngx_url_t   u;
    ngx_msec_t  flush;
    ngx_uint_t  i;

    if (mcf->addr) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = NGX_HTTP_SERVQUAL_DEFAULT_PORT;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in servqual collector \"%V\"",
                               u.err, &u.url);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "servqual collector \"%V\" has no address",
                           &u.url);
        return NGX_CONF_ERROR;
    }

    mcf->addr = &u.addrs[0];
    mcf->address = value[1];

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "flush=", 6) == 0) {

            s.len = value[i].len - 6;
            s.data = value[i].data + 6;

            flush = ngx_parse_time(&s, 0);
            if (flush == (ngx_msec_t) NGX_ERROR || flush == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid flush time \"%V\"", &s);
                return NGX_CONF_ERROR;
            }

            mcf->flush = flush;
            continue;
        }

        if (ngx_strncmp(value[i].data, "buffer=", 7) == 0) {

            s.len = value[i].len - 7;
            s.data = value[i].data + 7;

            size = ngx_parse_size(&s);
            if (size == NGX_ERROR
                || size < NGX_HTTP_SERVQUAL_MIN_BUFFER
                || size > NGX_HTTP_SERVQUAL_MAX_BUFFER)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid buffer size \"%V\", "
                                   "it must be between 1k and 64k", &s);
                return NGX_CONF_ERROR;
            }

            mcf->buffer = size;
            continue;
        }

        if (ngx_strncmp(value[i].data, "node=", 5) == 0) {

            s.len = value[i].len - 5;
            s.data = value[i].data + 5;

            if (s.len == 0 || s.len > SQ_WIRE_MAX_NODE) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid node name \"%V\", "
                                   "it must be 1 to %d bytes long",
                                   &s, SQ_WIRE_MAX_NODE);
                return NGX_CONF_ERROR;
            }

            mcf->node = s;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_servqual_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_servqual_loc_conf_t *lcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (lcf->configured.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > SQ_WIRE_MAX_ENDPOINT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid endpoint name \"%V\", "
                           "it must be 1 to %d bytes long",
                           &value[1], SQ_WIRE_MAX_ENDPOINT);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[1].len; i++) {
        if (value[1].data[i] < 0x20 || value[1].data[i] == 0x7f
            || value[1].data[i] == '"' || value[1].data[i] == '\\')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid endpoint name \"%V\", it must not "
                               "contain control characters, quotes or "
                               "backslashes", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    lcf->configured = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_servqual_geoip2(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_servqual_main_conf_t *mcf = conf;

    int                  rc;
    ngx_err_t            err;
    ngx_str_t           *value, file;
    ngx_pool_cleanup_t  *cln;

    if (mcf->mmdb) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    mcf->mmdb = ngx_pcalloc(cf->pool, sizeof(MMDB_s));
    if (mcf->mmdb == NULL) {
        return NGX_CONF_ERROR;
    }

    rc = MMDB_open((char *) file.data, MMDB_MODE_MMAP, mcf->mmdb);

    if (rc != MMDB_SUCCESS) {
        err = (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR)
              ? ngx_errno : 0;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           "MMDB_open(\"%V\") failed: %s",
                           &file, MMDB_strerror(rc));
        mcf->mmdb = NULL;
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        MMDB_close(mcf->mmdb);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_servqual_mmdb_cleanup;
    cln->data = mcf->mmdb;

    if (ngx_strstr(mcf->mmdb->metadata.database_type, "Country") == NULL
        && ngx_strstr(mcf->mmdb->metadata.database_type, "City") == NULL
        && ngx_strstr(mcf->mmdb->metadata.database_type, "Enterprise")
           == NULL)
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\" is a \"%s\" database, not a Country or "
                           "City one: regions may come out \"unknown\"",
                           &file, mcf->mmdb->metadata.database_type);
    }

    return NGX_CONF_OK;
}


static void
ngx_http_servqual_mmdb_cleanup(void *data)
{
    MMDB_s  *mmdb = data;

    MMDB_close(mmdb);
}


static char *
ngx_http_servqual_region_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_servqual_loc_conf_t *lcf = conf;

    ngx_str_t  *value, name;

    if (lcf->region != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "country") == 0) {
        lcf->region = NGX_HTTP_SERVQUAL_REGION_COUNTRY;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "continent") == 0) {
        lcf->region = NGX_HTTP_SERVQUAL_REGION_CONTINENT;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "subdivision") == 0) {
        lcf->region = NGX_HTTP_SERVQUAL_REGION_SUBDIVISION;
        return NGX_CONF_OK;
    }

    if (value[1].len < 2 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid region \"%V\", it must be \"country\", "
                           "\"continent\", \"subdivision\" or a variable",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.len = value[1].len - 1;
    name.data = value[1].data + 1;

    lcf->region_index = ngx_http_get_variable_index(cf, &name);
    if (lcf->region_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    lcf->region = NGX_HTTP_SERVQUAL_REGION_VARIABLE;

    return NGX_CONF_OK;
}


static char *
ngx_http_servqual_segment_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_servqual_loc_conf_t *lcf = conf;

    ngx_int_t   max;
    ngx_str_t  *value, name;

    if (lcf->segment_index != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid segment \"%V\", it must be a variable",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "max=", 4) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        max = ngx_atoi(value[2].data + 4, value[2].len - 4);

        if (max < 1 || max > NGX_HTTP_SERVQUAL_SEGMENTS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid segment limit \"%V\", "
                               "it must be between 1 and %d",
                               &value[2], NGX_HTTP_SERVQUAL_SEGMENTS);
            return NGX_CONF_ERROR;
        }

        lcf->segment_max = max;
    }

    name.len = value[1].len - 1;
    name.data = value[1].data + 1;

    lcf->segment_index = ngx_http_get_variable_index(cf, &name);
    if (lcf->segment_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_servqual_max_series(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *np = data;

    if (*np < 1 || *np > NGX_HTTP_SERVQUAL_MAX_SERIES_LIMIT) {
        return "value must be between 1 and 262144";
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_servqual_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_servqual_time_name,
                                NGX_HTTP_VAR_NOHASH|NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_servqual_time_variable;

    ngx_http_servqual_time_index =
        ngx_http_get_variable_index(cf, &ngx_http_servqual_time_name);

    if (ngx_http_servqual_time_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_servqual_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_servqual_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_servqual_module);

    if (!mcf->used) {
        return NGX_OK;
    }

    if (mcf->addr == NULL) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"servqual\" is on but \"servqual_collector\" "
                           "is not set: nothing will be measured");
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_servqual_post_read_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_servqual_log_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_servqual_header_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_servqual_init_process(ngx_cycle_t *cycle)
{
    ngx_http_servqual_worker_t     *w;
    ngx_http_servqual_main_conf_t  *mcf;

    ngx_http_servqual_worker = NULL;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_servqual_module);

    if (mcf == NULL || mcf->addr == NULL || !mcf->used) {
        return NGX_OK;
    }

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_http_servqual_worker_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->conf = mcf;
    w->log = cycle->log;

    w->geo = ngx_pcalloc(cycle->pool, NGX_HTTP_SERVQUAL_GEO_CACHE
                                      * sizeof(ngx_http_servqual_geo_t));
    if (w->geo == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_servqual_agg_init(w, cycle->pool) != NGX_OK
        || ngx_http_servqual_send_init(w, cycle->pool) != NGX_OK)
    {
        return NGX_ERROR;
    }

    w->timer.handler = ngx_http_servqual_flush_handler;
    w->timer.data = w;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;

    w->posted.handler = ngx_http_servqual_flush_handler;
    w->posted.data = w;
    w->posted.log = cycle->log;

    ngx_http_servqual_worker = w;

    return NGX_OK;
}


static void
ngx_http_servqual_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_servqual_worker_t  *w;

    w = ngx_http_servqual_worker;

    if (w == NULL) {
        return;
    }

    /* a reload or a stop loses nothing: send what this worker has */

    ngx_http_servqual_flush(w);
    ngx_http_servqual_send_close(w);

    ngx_http_servqual_worker = NULL;
}
