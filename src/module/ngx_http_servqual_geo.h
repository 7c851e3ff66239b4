
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_SERVQUAL_GEO_H_INCLUDED_
#define _NGX_HTTP_SERVQUAL_GEO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <maxminddb.h>

#include "ngx_http_servqual_module.h"
#include "ngx_http_servqual_rtable.h"


/*
 * The request's region: a label from a variable, or the client address
 * (after realip) looked up in the region table built from the MaxMind
 * DB (ngx_http_servqual_rtable.h).
 */

NGX_HTTP_SERVQUAL_HIDDEN_BEGIN

/* servqual_region's keywords and their NGX_HTTP_SERVQUAL_REGION_* */
extern ngx_conf_enum_t  ngx_http_servqual_region_modes[];

/* opens a MaxMind DB for the cycle's life; NULL after an error is logged */
MMDB_s *ngx_http_servqual_geo_open(ngx_conf_t *cf, ngx_str_t *file);

/* builds the region table of the modes in the mask (1 << mode) */
ngx_int_t ngx_http_servqual_geo_build(ngx_conf_t *cf,
    ngx_http_servqual_main_conf_t *mcf, ngx_uint_t modes);

size_t ngx_http_servqual_geo_size(ngx_http_servqual_main_conf_t *mcf);
ngx_int_t ngx_http_servqual_geo_init(ngx_http_servqual_worker_t *w,
    ngx_pool_t *pool);

/* at the worker's start, after the aggregate's: the table's labels */
void ngx_http_servqual_geo_intern_all(ngx_http_servqual_worker_t *w);

/* out of line: a label first seen in this worker; a region variable */
ngx_uint_t ngx_http_servqual_geo_intern(ngx_http_servqual_worker_t *w,
    ngx_uint_t label);
ngx_uint_t ngx_http_servqual_region_variable(ngx_http_request_t *r,
    ngx_http_servqual_worker_t *w, ngx_http_servqual_loc_conf_t *lcf);

NGX_HTTP_SERVQUAL_HIDDEN_END


/*
 * The request path, inline in the log handler: a table lookup (a few
 * memory reads) and the label's id in this worker.
 */

static ngx_inline ngx_uint_t
ngx_http_servqual_region(ngx_http_request_t *r, ngx_http_servqual_worker_t *w,
    ngx_http_servqual_loc_conf_t *lcf)
{
    ngx_uint_t                   label, id;
    ngx_http_servqual_rtable_t  *rt;

    if (lcf->region == NGX_HTTP_SERVQUAL_REGION_VARIABLE) {
        return ngx_http_servqual_region_variable(r, w, lcf);
    }

    rt = w->conf->rtable;

    if (rt == NULL || !(rt->modes & (1 << lcf->region))) {
        return NGX_HTTP_SERVQUAL_REGION_UNKNOWN;
    }

    label = ngx_http_servqual_rtable_find(rt, lcf->region,
                                          r->connection->sockaddr);

    if (label == NGX_HTTP_SERVQUAL_RT_UNKNOWN) {
        return NGX_HTTP_SERVQUAL_REGION_UNKNOWN;
    }

    id = w->geo[label];

    if (id) {
        return id - 1;
    }

    return ngx_http_servqual_geo_intern(w, label);
}


#endif /* _NGX_HTTP_SERVQUAL_GEO_H_INCLUDED_ */
