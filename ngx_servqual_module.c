
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"
#include "ngx_http_servqual_agg.h"
#include "ngx_http_servqual_beacon.h"
#include "ngx_http_servqual_geo.h"
#include "ngx_http_servqual_outcome.h"
#include "ngx_http_servqual_send.h"
#include "ngx_http_servqual_sign.h"


#define NGX_HTTP_SERVQUAL_DEFAULT_PORT     5170
#define NGX_HTTP_SERVQUAL_BOUNDS_LEN       sizeof("value must be between " \
                                                  "-9223372036854775808 and " \
                                                  "-9223372036854775808")

#define ngx_http_servqual_in_bounds(b, n)                                    \
    ((n) >= (b)->low && ((b)->high == -1 || (n) <= (b)->high))


/*
 * room in the worker's mapping beyond what agg and geo say they need and
 * the send buffer: the send queue (1 MiB) and the rest; pages never
 * touched cost nothing
 */
#define NGX_HTTP_SERVQUAL_POOL_SLACK       (4 * 1024 * 1024)


/* the worker's own mapping */

typedef struct {
    ngx_pool_t                    *pool;
    size_t                         size;
} ngx_http_servqual_map_t;


static ngx_int_t ngx_http_servqual_post_read_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_servqual_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_servqual_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_servqual_log_handler(ngx_http_request_t *r);
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
static char *ngx_http_servqual_region_conf(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_servqual_segment_conf(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_servqual_check_bounds(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_servqual_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_servqual_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_servqual_init_process(ngx_cycle_t *cycle);
static ngx_pool_t *ngx_http_servqual_worker_pool(ngx_cycle_t *cycle,
    size_t size);
static void ngx_http_servqual_worker_pool_free(void *data);
static void ngx_http_servqual_exit_process(ngx_cycle_t *cycle);


/* the numeric bounds of the directives and their parameters */

static ngx_conf_num_bounds_t  ngx_http_servqual_max_series_bounds = {
    ngx_http_servqual_check_bounds, 1, NGX_HTTP_SERVQUAL_MAX_SERIES_LIMIT
};

static ngx_conf_num_bounds_t  ngx_http_servqual_flush_bounds = {
    ngx_http_servqual_check_bounds, 1, -1
};

static ngx_conf_num_bounds_t  ngx_http_servqual_buffer_bounds = {
    ngx_http_servqual_check_bounds, 1024, 65536
};

static ngx_conf_num_bounds_t  ngx_http_servqual_segment_bounds = {
    ngx_http_servqual_check_bounds, 1, NGX_HTTP_SERVQUAL_SEGMENTS
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
      &ngx_http_servqual_max_series_bounds },

    { ngx_string("servqual_beacon"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_servqual_beacon,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("servqual_beacon_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_servqual_beacon_max_body,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("servqual_beacon_pages"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_servqual_beacon_pages,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("servqual_beacon_script"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_servqual_beacon_script,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

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
ngx_http_servqual_worker_t              *ngx_http_servqual_worker;

static ngx_str_t  ngx_http_servqual_other = ngx_string(SQ_WIRE_OTHER);
static ngx_str_t  ngx_http_servqual_default = ngx_string("_default");

/*
 * The request's start and first-byte times live in two slots of the
 * request's own variables array, which nginx allocates with the request
 * and keeps across internal redirects: no allocation per request, and
 * microsecond timing survives error_page and try_files.  Each slot's data
 * pointer holds a reading of CLOCK_MONOTONIC in ns (0: not yet).  The
 * names have a hyphen, so no configuration can refer to them.
 *
 * The clock is read three times a request (start, first byte, end), as
 * nanoseconds: no division where the time is taken, two where the
 * durations are made.  The functions that read it have no stack
 * protector: their only stack object is the timespec the vDSO fills.
 *
 * The start is taken by a POST_READ handler.  A phase handler of its own
 * would cost a step of the phase engine (about 36 instructions a request
 * under callgrind): when the phase already has a handler (realip's, in
 * every nginx built with it), ours takes that handler's place in the
 * phase and calls it, as header filters chain.
 */

#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define NGX_HTTP_SERVQUAL_NO_SSP    __attribute__((no_stack_protector))
#endif
#endif

#ifndef NGX_HTTP_SERVQUAL_NO_SSP
#define NGX_HTTP_SERVQUAL_NO_SSP
#endif

static ngx_str_t  ngx_http_servqual_time_name = ngx_string("servqual-time");
static ngx_str_t  ngx_http_servqual_ttfb_name = ngx_string("servqual-ttfb");
static ngx_int_t  ngx_http_servqual_time_index = NGX_ERROR;
static ngx_int_t  ngx_http_servqual_ttfb_index = NGX_ERROR;

static ngx_http_handler_pt  ngx_http_servqual_next_post_read;


static ngx_inline uint64_t
ngx_http_servqual_now(void)
{
    struct timespec  ts;

    /* served by the vDSO: no system call */
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}


static NGX_HTTP_SERVQUAL_NO_SSP ngx_int_t
ngx_http_servqual_post_read_handler(ngx_http_request_t *r)
{
    ngx_http_variable_value_t  *v;

    v = &r->variables[ngx_http_servqual_time_index];

    if (v->data == NULL) {
        v->data = (u_char *) (uintptr_t) ngx_http_servqual_now();
    }

    if (ngx_http_servqual_next_post_read) {
        return ngx_http_servqual_next_post_read(r);
    }

    return NGX_DECLINED;
}


static NGX_HTTP_SERVQUAL_NO_SSP ngx_int_t
ngx_http_servqual_header_filter(ngx_http_request_t *r)
{
    ngx_http_variable_value_t  *v;

    if (r == r->main) {
        v = &r->variables[ngx_http_servqual_ttfb_index];

        if (v->data == NULL) {
            v->data = (u_char *) (uintptr_t) ngx_http_servqual_now();
        }
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


static NGX_HTTP_SERVQUAL_NO_SSP ngx_int_t
ngx_http_servqual_log_handler(ngx_http_request_t *r)
{
    uint64_t                       start, rt, ttfb, first;
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
        rt = (ngx_http_servqual_now() - start) / 1000;
        first = (uintptr_t) r->variables[ngx_http_servqual_ttfb_index].data;
        ttfb = (first > start) ? (first - start) / 1000 : rt;

    } else {
        /* not through the phases (a bad request line): milliseconds */
        tp = ngx_timeofday();
        ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                               + (tp->msec - r->start_msec));
        rt = (uint64_t) ngx_max(ms, 0) * 1000;
        ttfb = rt;
    }

    /* without a database or a variable, every region is unknown */

    region = (w->conf->rtable
              || lcf->region == NGX_HTTP_SERVQUAL_REGION_VARIABLE)
             ? ngx_http_servqual_region(r, w, lcf)
             : NGX_HTTP_SERVQUAL_REGION_UNKNOWN;

    segment = (lcf->segment_index == NGX_CONF_UNSET)
              ? NGX_HTTP_SERVQUAL_SEGMENT_NONE
              : ngx_http_servqual_segment(r, w, lcf);

    s = ngx_http_servqual_agg_series(w, NGX_HTTP_SERVQUAL_KEY(lcf->endpoint,
                                                              region,
                                                              segment));

    ngx_http_servqual_outcome(r, s->counters);

    ngx_http_servqual_agg_times(w, s, rt, ttfb);

    if (w->requests++ == 0) {
        ngx_http_servqual_agg_start(w);

        if (!w->timer.timer_set) {
            ngx_add_timer(&w->timer, w->conf->flush);
        }
    }

    return NGX_OK;
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
     *     mcf->ncollectors = 0;
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

    /* a signed datagram's trailer is within buffer= too */

    if (mcf->key) {
        mcf->buffer -= SQ_SIGN_TRAILER;
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
     *     conf->beacon_script = { 0, NULL };
     *     conf->beacon_etag = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->region = NGX_CONF_UNSET;
    conf->region_index = NGX_CONF_UNSET;
    conf->segment_index = NGX_CONF_UNSET;
    conf->segment_max = NGX_CONF_UNSET_UINT;
    conf->beacon_max_body = NGX_CONF_UNSET_SIZE;
    conf->beacon_pages = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_servqual_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_servqual_loc_conf_t *prev = parent;
    ngx_http_servqual_loc_conf_t *conf = child;

    ngx_str_t                       name;
    ngx_uint_t                      i;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_servqual_main_conf_t  *mcf;

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

    ngx_conf_merge_size_value(conf->beacon_max_body, prev->beacon_max_body,
                              NGX_HTTP_SERVQUAL_BEACON_MAX_BODY);
    ngx_conf_merge_ptr_value(conf->beacon_pages, prev->beacon_pages, NULL);

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

    i = ngx_http_servqual_endpoint_id(cf, mcf, &name);
    if (i == (ngx_uint_t) NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    conf->endpoint = i;

    if (conf->enable) {
        mcf->used = 1;

        if (conf->region != NGX_HTTP_SERVQUAL_REGION_VARIABLE) {
            mcf->region_modes |= 1 << conf->region;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_servqual_collector(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_servqual_main_conf_t *mcf = conf;

    ngx_int_t                       n;
    ngx_str_t                      *value, s;
    ngx_url_t                       u;
    ngx_uint_t                      i, j;
    ngx_conf_num_bounds_t          *b;
    ngx_http_servqual_collector_t  *c;

    if (mcf->addr) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /*
     * The addresses come first: the first one always, each further one
     * when it is a unix: path or names a port (host:port, [::1]:port),
     * so that a misspelt parameter is not taken for a host name.
     */

    for (i = 1; i < cf->args->nelts; i++) {

        if (i > 1
            && (ngx_strlchr(value[i].data, value[i].data + value[i].len, '=')
                || (ngx_strncmp(value[i].data, "unix:", 5) != 0
                    && ngx_strlchr(value[i].data,
                                   value[i].data + value[i].len, ':')
                       == NULL)))
        {
            break;
        }

        if (mcf->ncollectors == NGX_HTTP_SERVQUAL_MAX_COLLECTORS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "too many servqual collectors \"%V\", "
                               "at most %d can be named",
                               &value[i], NGX_HTTP_SERVQUAL_MAX_COLLECTORS);
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = value[i];
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

        for (j = 0; j < mcf->ncollectors; j++) {
            c = &mcf->collectors[j];

            if (ngx_cmp_sockaddr(c->addr->sockaddr, c->addr->socklen,
                                 u.addrs[0].sockaddr, u.addrs[0].socklen, 1)
                == NGX_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate servqual collector \"%V\", "
                                   "the same as \"%V\"",
                                   &value[i], &c->address);
                return NGX_CONF_ERROR;
            }
        }

        c = &mcf->collectors[mcf->ncollectors++];
        c->addr = &u.addrs[0];
        c->address = value[i];
    }

    mcf->addr = mcf->collectors[0].addr;
    mcf->address = mcf->collectors[0].address;

    for ( /* void */ ; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "flush=", 6) == 0) {

            s.len = value[i].len - 6;
            s.data = value[i].data + 6;

            n = ngx_parse_time(&s, 0);
            b = &ngx_http_servqual_flush_bounds;

            if (n == NGX_ERROR || !ngx_http_servqual_in_bounds(b, n)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid flush time \"%V\"", &s);
                return NGX_CONF_ERROR;
            }

            mcf->flush = (ngx_msec_t) n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "buffer=", 7) == 0) {

            s.len = value[i].len - 7;
            s.data = value[i].data + 7;

            n = ngx_parse_size(&s);
            b = &ngx_http_servqual_buffer_bounds;

            if (n == NGX_ERROR || !ngx_http_servqual_in_bounds(b, n)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid buffer size \"%V\", "
                                   "it must be between %ik and %ik",
                                   &s, b->low / 1024, b->high / 1024);
                return NGX_CONF_ERROR;
            }

            mcf->buffer = (size_t) n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {

            s.len = value[i].len - 4;
            s.data = value[i].data + 4;

            if (ngx_http_servqual_sign_key(cf, &s, &mcf->key)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

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

    ngx_str_t  *value;

    if (mcf->mmdb) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mcf->mmdb = ngx_http_servqual_geo_open(cf, &value[1]);
    if (mcf->mmdb == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_servqual_region_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_servqual_loc_conf_t *lcf = conf;

    ngx_str_t        *value, name;
    ngx_conf_enum_t  *m;

    if (lcf->region != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (m = ngx_http_servqual_region_modes; m->name.len; m++) {
        if (m->name.len == value[1].len
            && ngx_strcmp(m->name.data, value[1].data) == 0)
        {
            lcf->region = m->value;
            return NGX_CONF_OK;
        }
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

        if (max == NGX_ERROR
            || !ngx_http_servqual_in_bounds(&ngx_http_servqual_segment_bounds,
                                            max))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid segment limit \"%V\", "
                               "it must be between %i and %i", &value[2],
                               ngx_http_servqual_segment_bounds.low,
                               ngx_http_servqual_segment_bounds.high);
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


/*
 * The post handler of every numeric bound (ngx_conf_num_bounds_t, as
 * gzip_comp_level's).  Unlike ngx_conf_check_num_bounds(), which logs
 * the message itself, it returns it, so that nginx puts the directive's
 * name before it.  The parameters of servqual_collector and
 * servqual_segment are checked against their bounds where they are
 * parsed, and the message names the parameter.
 */

static char *
ngx_http_servqual_check_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_conf_num_bounds_t  *bounds = post;
    ngx_int_t              *np = data;

    u_char  *p;

    if (ngx_http_servqual_in_bounds(bounds, *np)) {
        return NGX_CONF_OK;
    }

    p = ngx_pnalloc(cf->pool, NGX_HTTP_SERVQUAL_BOUNDS_LEN);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    if (bounds->high == -1) {
        (void) ngx_sprintf(p, "value must be equal to or greater than %i%Z",
                           bounds->low);

    } else {
        (void) ngx_sprintf(p, "value must be between %i and %i%Z",
                           bounds->low, bounds->high);
    }

    return (char *) p;
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

    var = ngx_http_add_variable(cf, &ngx_http_servqual_ttfb_name,
                                NGX_HTTP_VAR_NOHASH|NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_servqual_time_variable;

    ngx_http_servqual_ttfb_index =
        ngx_http_get_variable_index(cf, &ngx_http_servqual_ttfb_name);

    if (ngx_http_servqual_ttfb_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_servqual_init(ngx_conf_t *cf)
{
    ngx_array_t                    *handlers;
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

    if (mcf->mmdb
        && ngx_http_servqual_geo_build(cf, mcf, mcf->region_modes) != NGX_OK)
    {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* the phase runs its handlers from the last to the first */

    handlers = &cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers;

    if (handlers->nelts) {
        h = handlers->elts;
        h += handlers->nelts - 1;
        ngx_http_servqual_next_post_read = *h;

    } else {
        h = ngx_array_push(handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        ngx_http_servqual_next_post_read = NULL;
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
    size_t                          size;
    ngx_pool_t                     *pool;
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

    /* the worker's memory, sized for what the three parts allocate */

    size = sizeof(ngx_http_servqual_worker_t)
           + ngx_http_servqual_agg_size(mcf)
           + ngx_http_servqual_geo_size(mcf)
           + mcf->buffer + SQ_SIGN_TRAILER
           + NGX_HTTP_SERVQUAL_POOL_SLACK;

    pool = ngx_http_servqual_worker_pool(cycle, size);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    w = ngx_pcalloc(pool, sizeof(ngx_http_servqual_worker_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->conf = mcf;
    w->log = cycle->log;

    if (ngx_http_servqual_geo_init(w, pool) != NGX_OK
        || ngx_http_servqual_agg_init(w, pool) != NGX_OK
        || ngx_http_servqual_send_init(w, pool) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_servqual_geo_intern_all(w);

    w->timer.handler = ngx_http_servqual_flush_handler;
    w->timer.data = w;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;

    w->posted.handler = ngx_http_servqual_flush_handler;
    w->posted.data = w;
    w->posted.log = cycle->log;

    ngx_http_servqual_worker = w;

    /* the first flush: a spool an exited worker left is sent from there */
    ngx_add_timer(&w->timer, w->conf->flush);

    return NGX_OK;
}


/*
 * The worker's long-lived memory (series, histogram cells, labels, send
 * buffers) in one anonymous mapping of its own, a pool whose single
 * block takes allocations of any size.  Taken from the malloc heap, these
 * few megabytes would sit between the blocks nginx allocates and frees on
 * every request (request pools, buffers) and change the path malloc
 * takes for them: callgrind showed the same requests costing 80 to 100
 * instructions more or less in malloc and free depending on where the
 * module's blocks landed.  Outside the heap they change nothing there.
 * Should the estimate fall short, the pool grows as any nginx pool does.
 */

static ngx_pool_t *
ngx_http_servqual_worker_pool(ngx_cycle_t *cycle, size_t size)
{
    u_char              *p;
    ngx_pool_t          *pool;
    ngx_pool_cleanup_t  *cln;

    size = ngx_align(size + sizeof(ngx_pool_t), ngx_pagesize);

    cln = ngx_pool_cleanup_add(cycle->pool, sizeof(ngx_http_servqual_map_t));
    if (cln == NULL) {
        return NULL;
    }

    p = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS,
             -1, 0);

    if (p == MAP_FAILED) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "servqual: mmap(%uz) failed", size);
        return NULL;
    }

    pool = (ngx_pool_t *) p;

    pool->d.last = p + sizeof(ngx_pool_t);
    pool->d.end = p + size;
    pool->d.next = NULL;
    pool->d.failed = 0;
    pool->max = size - sizeof(ngx_pool_t);
    pool->current = pool;
    pool->chain = NULL;
    pool->large = NULL;
    pool->cleanup = NULL;
    pool->log = cycle->log;

    ((ngx_http_servqual_map_t *) cln->data)->pool = pool;
    ((ngx_http_servqual_map_t *) cln->data)->size = size;
    cln->handler = ngx_http_servqual_worker_pool_free;

    return pool;
}


static void
ngx_http_servqual_worker_pool_free(void *data)
{
    ngx_http_servqual_map_t  *map = data;

    ngx_pool_t          *pool, *n, *next;
    ngx_pool_large_t    *l;
    ngx_pool_cleanup_t  *c;

    pool = map->pool;

    for (c = pool->cleanup; c; c = c->next) {
        if (c->handler) {
            c->handler(c->data);
        }
    }

    /* what was added when the estimate fell short came from malloc */

    for (l = pool->large; l; l = l->next) {
        if (l->alloc) {
            ngx_free(l->alloc);
        }
    }

    for (n = pool->d.next; n; n = next) {
        next = n->d.next;
        ngx_free(n);
    }

    (void) munmap(pool, map->size);
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

    ngx_http_servqual_flush_final(w);
    ngx_http_servqual_send_close(w);

    ngx_http_servqual_worker = NULL;
}


/*
 * An endpoint name's id, interned at configuration time: the same name
 * (servqual_endpoint, a location's, a beacon page's) is the same series
 * endpoint.  NGX_ERROR past NGX_HTTP_SERVQUAL_ENDPOINTS names.
 */

ngx_uint_t
ngx_http_servqual_endpoint_id(ngx_conf_t *cf,
    ngx_http_servqual_main_conf_t *mcf, ngx_str_t *name)
{
    uint32_t                            hash;
    ngx_str_t                          *e;
    ngx_http_servqual_endpoint_node_t  *node;

    hash = ngx_crc32_short(name->data, name->len);
    node = (ngx_http_servqual_endpoint_node_t *)
               ngx_str_rbtree_lookup(&mcf->endpoint_tree, name, hash);

    if (node) {
        return node->id;
    }

    if (mcf->endpoints.nelts == NGX_HTTP_SERVQUAL_ENDPOINTS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many servqual endpoints");
        return (ngx_uint_t) NGX_ERROR;
    }

    e = ngx_array_push(&mcf->endpoints);
    if (e == NULL) {
        return (ngx_uint_t) NGX_ERROR;
    }

    *e = *name;

    node = ngx_palloc(cf->pool, sizeof(ngx_http_servqual_endpoint_node_t));
    if (node == NULL) {
        return (ngx_uint_t) NGX_ERROR;
    }

    node->sn.node.key = hash;
    node->sn.str = *name;
    node->id = mcf->endpoints.nelts - 1;

    ngx_rbtree_insert(&mcf->endpoint_tree, &node->sn.node);

    return node->id;
}
