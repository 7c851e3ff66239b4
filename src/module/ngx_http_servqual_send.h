
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_SERVQUAL_SEND_H_INCLUDED_
#define _NGX_HTTP_SERVQUAL_SEND_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"


/*
 * Encoding the worker's window into datagrams (docs/wire-format.md) and
 * sending them to each collector, non-blocking; what cannot be sent is
 * dropped and counted, and the count travels in the next datagram.
 */

NGX_HTTP_SERVQUAL_HIDDEN_BEGIN

ngx_int_t ngx_http_servqual_send_init(ngx_http_servqual_worker_t *w,
    ngx_pool_t *pool);
void ngx_http_servqual_flush(ngx_http_servqual_worker_t *w);
void ngx_http_servqual_flush_final(ngx_http_servqual_worker_t *w);
void ngx_http_servqual_send_close(ngx_http_servqual_worker_t *w);

NGX_HTTP_SERVQUAL_HIDDEN_END


#endif /* _NGX_HTTP_SERVQUAL_SEND_H_INCLUDED_ */
