
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
ngx_uint_t ngx_http_servqual_region(ngx_http_request_t *r,
    ngx_http_servqual_worker_t *w, ngx_http_servqual_loc_conf_t *lcf);

NGX_HTTP_SERVQUAL_HIDDEN_END


#endif /* _NGX_HTTP_SERVQUAL_GEO_H_INCLUDED_ */
