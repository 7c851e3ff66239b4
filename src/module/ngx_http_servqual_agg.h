
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_SERVQUAL_AGG_H_INCLUDED_
#define _NGX_HTTP_SERVQUAL_AGG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"


/*
 * The per-worker aggregate of one flush window: series by key, their
 * counters and histogram cells; and the region and segment labels the
 * worker has seen, interned to small ids for its lifetime.
 */

NGX_HTTP_SERVQUAL_HIDDEN_BEGIN

size_t ngx_http_servqual_agg_size(ngx_http_servqual_main_conf_t *mcf);
ngx_int_t ngx_http_servqual_agg_init(ngx_http_servqual_worker_t *w,
    ngx_pool_t *pool);
ngx_http_servqual_series_t *ngx_http_servqual_agg_series(
    ngx_http_servqual_worker_t *w, uint64_t key);
void ngx_http_servqual_agg_times(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t *s, uint64_t rt, uint64_t ttfb);
ngx_uint_t ngx_http_servqual_agg_sort(ngx_http_servqual_worker_t *w);
void ngx_http_servqual_agg_reset(ngx_http_servqual_worker_t *w);

/* the window starts: its first request, at the cached time */
void ngx_http_servqual_agg_start(ngx_http_servqual_worker_t *w);

/* a region label's id, interned on first sight */
ngx_uint_t ngx_http_servqual_region_id(ngx_http_servqual_worker_t *w,
    u_char *data, size_t len);

/* the request's segment id from servqual_segment's variable */
ngx_uint_t ngx_http_servqual_segment(ngx_http_request_t *r,
    ngx_http_servqual_worker_t *w, ngx_http_servqual_loc_conf_t *lcf);

/* a variable's value as a label of at most size bytes; 0: none */
size_t ngx_http_servqual_label(ngx_http_variable_value_t *v, u_char *buf,
    size_t size);

NGX_HTTP_SERVQUAL_HIDDEN_END


#endif /* _NGX_HTTP_SERVQUAL_AGG_H_INCLUDED_ */
