
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_SERVQUAL_OUTCOME_H_INCLUDED_
#define _NGX_HTTP_SERVQUAL_OUTCOME_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"


/*
 * What the server observed of a finished request, added to a series'
 * counters (SQ_WIRE_NCOUNTERS of them, indexed by SQ_C_*): the status
 * class, client aborts, incomplete bodies, upstream errors and timeouts,
 * bytes sent, TLS protocol, HTTP version, compression and HSTS.
 */

NGX_HTTP_SERVQUAL_HIDDEN_BEGIN

#define NGX_HTTP_SERVQUAL_COMPRESS_MIN     1024

/* a content type worth compressing: text/, json, javascript, xml */
ngx_uint_t ngx_http_servqual_compressible(ngx_str_t *type);

#if (NGX_HTTP_SSL)
/* a Strict-Transport-Security response header */
ngx_uint_t ngx_http_servqual_hsts_sent(ngx_http_request_t *r);
#endif

NGX_HTTP_SERVQUAL_HIDDEN_END


static ngx_inline void
ngx_http_servqual_outcome(ngx_http_request_t *r, uint64_t *c)
{
    off_t                       body;
    ngx_uint_t                  status, i;
    ngx_connection_t           *conn;
    ngx_http_upstream_state_t  *us;

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

    if (status - 200 < 100) {
        /* the common class without a division */
        c[SQ_C_2XX]++;

    } else if (status >= 100 && status < 600) {
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

        if (ngx_http_servqual_hsts_sent(r)) {
            c[SQ_C_HSTS]++;
        }

    } else {
        c[SQ_C_TLS_NONE]++;
    }

#else

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


#endif /* _NGX_HTTP_SERVQUAL_OUTCOME_H_INCLUDED_ */
