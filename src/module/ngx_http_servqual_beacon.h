
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_SERVQUAL_BEACON_H_INCLUDED_
#define _NGX_HTTP_SERVQUAL_BEACON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"


/*
 * The browser's side: servqual_beacon takes the measurements the script
 * sends (navigator.sendBeacon) and adds them to the worker's aggregate
 * under the page's series; servqual_beacon_script serves the script.
 */

#define NGX_HTTP_SERVQUAL_BEACON_MAX_BODY   2048
#define NGX_HTTP_SERVQUAL_BEACON_PAGES_MAX  1024

NGX_HTTP_SERVQUAL_HIDDEN_BEGIN

char *ngx_http_servqual_beacon(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_servqual_beacon_max_body(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_servqual_beacon_pages(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_servqual_beacon_script(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* parses a beacon body and adds it to the aggregate: NGX_OK or a status */
ngx_int_t ngx_http_servqual_beacon_add(ngx_http_request_t *r, u_char *p,
    size_t len);

NGX_HTTP_SERVQUAL_HIDDEN_END


#endif /* _NGX_HTTP_SERVQUAL_BEACON_H_INCLUDED_ */
