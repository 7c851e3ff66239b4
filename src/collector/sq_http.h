
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_HTTP_H_INCLUDED_
#define _SQ_HTTP_H_INCLUDED_


#include <jansson.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "sq_collector.h"


/*
 * The HTTP API: /metrics, /api/v1/quality, /api/v1/series,
 * /api/v1/alerts, /api/v1/history, /healthz and the dashboard.  The
 * scores come from the latest view (ctx->views): no request scores.
 */

/* listens on addr ("host:port", "[v6]:port"); SQ_OK or SQ_ERR_IO */
int sq_http_open(sq_ctx_t *ctx, const char *addr);
void sq_http_close(sq_ctx_t *ctx);

/* 1 when HTTP work waits for the loop (a scrape under way, a request) */
int sq_http_waiting(sq_ctx_t *ctx);

/* a query string of the API, parsed (sq_http_query() in sq_http.c) */

typedef struct {
    const char         *endpoint;   /* NULL: any */
    const char         *region;
    const char         *segment;
    int                 dim;        /* SQ_DIM_*, -1: all */
    int                 scope;      /* SQ_SCOPE_*, -1: all */
    int                 win;        /* 0 short, 1 long, -1: both */
    size_t              offset;
    size_t              limit;
    struct evkeyvalq    args;       /* owns the strings */
} sq_http_query_t;


int sq_http_query(sq_http_query_t *q, const char *query);
void sq_http_query_free(sq_http_query_t *q);

/* answers with json (taken over) as application/json, status code */
void sq_http_json(struct evhttp_request *req, int code, json_t *json);


#endif /* _SQ_HTTP_H_INCLUDED_ */
