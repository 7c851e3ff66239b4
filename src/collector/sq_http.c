
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "sq_collector.h"
#include "sq_alert.h"
#include "sq_gzip.h"
#include "sq_http.h"
#include "sq_json.h"
#include "sq_prom.h"
#include "sq_status.h"
#include "sq_view.h"
#include "sq_web.h"


/*
 * The HTTP API: routes and request handling.  docs/api.md documents the
 * JSON; sq_json.c encodes it.
 */

#define SQ_HTTP_LIMIT      1000
#define SQ_HTTP_LIMIT_MAX  10000      /* rows in one answer */

#define SQ_HTTP_HEADERS    8192       /* bytes of request line and headers */
#define SQ_HTTP_LOG_EVERY  60000      /* ms between accept error lines */
#define SQ_HTTP_SWEEP      200        /* ms between sweeps of connections */


/*
 * /metrics is sent in chunks, the next one produced when the last one is
 * written, so that a scrape of many series neither holds the whole text
 * in memory nor stops ingest while it is formatted.  A chunk is parts of
 * SQ_HTTP_PART series or rows, formatted (and compressed) until it holds
 * SQ_HTTP_CHUNK bytes or SQ_HTTP_SLICE ns have passed: between two
 * chunks the loop merges for about 2 ms (sq_ingest.c), so a scrape gets
 * most of the loop while datagrams flow, and a 100000-series scrape is a
 * few hundred turns, not thousands.  A chunk is written to the socket in
 * as few calls as its buffer takes (SQ_HTTP_WRITE a write, not
 * libevent's 16 KB).
 */

#define SQ_HTTP_PART   500
#define SQ_HTTP_CHUNK  (4 << 20)      /* bytes sent: plain or gzip */
#define SQ_HTTP_SLICE  8000000        /* ns of formatting a chunk, about */
#define SQ_HTTP_WRITE  (4 << 20)      /* bytes a write() may take */
#define SQ_HTTP_POLL   64             /* sockets sq_http_waiting() polls */


/*
 * Every connection is tracked from its bufferevent (made here: plain or
 * TLS) until libevent lets go of it, so the server knows how many are
 * open and how long each has waited for a whole request.  A connection
 * is cut (shutdown) when a request has not arrived within the request
 * timeout of the connection's start or of its last answer, however
 * slowly it trickles in; at the connection limit the listener stops
 * accepting until one closes.
 */

typedef struct sq_http_conn_s  sq_http_conn_t;

struct sq_http_conn_s {
    struct bufferevent         *bev;     /* one reference is ours */
    int64_t                     since;   /* ms: waiting for a request */
    unsigned                    busy:1;  /* a request is being answered */
    sq_http_conn_t             *next;
};


typedef struct sq_http_srv_s {
    sq_ctx_t                   *ctx;
    sq_http_conn_t             *conns;
    size_t                      nconns;
    struct event               *sweep;
    struct evconnlistener      *listener;
    unsigned                    paused:1;
    unsigned                    streams;  /* /metrics answers under way */
    int64_t                     accept_logged;
    uint64_t                    accept_errors;
} sq_http_srv_t;


typedef void (*sq_http_handler_pt)(struct evhttp_request *req, void *data);

typedef struct {
    const char                 *path;
    sq_http_handler_pt          handler;
    unsigned                    open:1;  /* no credentials needed */
} sq_http_route_t;


typedef struct {
    sq_prom_t                  *prom;
    sq_gzip_t                  *gz;      /* NULL: sent as it is */
    struct evhttp_request      *req;
    struct evhttp_connection   *evcon;
} sq_http_stream_t;


static void sq_http_metrics(struct evhttp_request *req, void *data);
static void sq_http_metrics_part(struct evhttp_connection *evcon,
    void *data);
static void sq_http_metrics_closed(struct evhttp_connection *evcon,
    void *data);
static void sq_http_stream_free(sq_http_stream_t *st);
static void sq_http_quality(struct evhttp_request *req, void *data);
static void sq_http_series(struct evhttp_request *req, void *data);
static void sq_http_healthz(struct evhttp_request *req, void *data);
static void sq_http_nodes(struct evhttp_request *req, void *data);
static void sq_http_alerts(struct evhttp_request *req, void *data);
static void sq_http_incidents(struct evhttp_request *req, void *data);
static void sq_http_dashboard(struct evhttp_request *req, void *data);
static void sq_http_other(struct evhttp_request *req, void *data);
static void sq_http_dispatch(struct evhttp_request *req, void *data);
static void sq_http_complete(struct evhttp_request *req, void *data);
static struct bufferevent *sq_http_bev(struct event_base *base, void *data);
static void sq_http_sweep(evutil_socket_t fd, short what, void *data);
static void sq_http_accept_error(struct evconnlistener *l, void *data);
static void sq_http_srv_free(sq_http_srv_t *srv);
static int64_t sq_http_ms(void);
static int sq_http_get(struct evhttp_request *req);
static int sq_http_regions(sq_ctx_t *ctx, const char ***regions, size_t *n);
static int sq_http_strcmp(const void *a, const void *b);
static int sq_http_page(struct evkeyvalq *args, size_t *offset,
    size_t *limit);


static const sq_http_route_t  sq_http_routes[] = {
    { "/metrics", sq_http_metrics, 0 },
    { "/api/v1/quality", sq_http_quality, 0 },
    { "/api/v1/series", sq_http_series, 0 },
    { "/api/v1/history", sq_store_http_history, 0 },
    { "/api/v1/alerts", sq_http_alerts, 0 },
    { "/api/v1/incidents", sq_http_incidents, 0 },
    { "/api/v1/nodes", sq_http_nodes, 0 },
    { "/healthz", sq_http_healthz, 1 },
    { "/", sq_http_dashboard, 0 },
    { NULL, sq_http_other, 0 }
};


/*
 * The accept error callback gets the listener's argument, which libevent
 * keeps for itself: the one HTTP side of the process is found here.
 */

static sq_http_srv_t  *sq_http_srv;


/* ?offset=N&limit=M: pages of rows, so a big table never has to be
   built as one JSON document */

static int
sq_http_page(struct evkeyvalq *args, size_t *offset, size_t *limit)
{
    char        *end;
    const char  *v;

    *offset = 0;
    *limit = SQ_HTTP_LIMIT;

    v = evhttp_find_header(args, "offset");

    if (v) {
        *offset = strtoul(v, &end, 10);

        if (*v == '\0' || *end != '\0' || *v == '-') {
            return SQ_ERR_INVALID;
        }
    }

    v = evhttp_find_header(args, "limit");

    if (v) {
        *limit = strtoul(v, &end, 10);

        if (*v == '\0' || *end != '\0' || *v == '-' || *limit == 0
            || *limit > SQ_HTTP_LIMIT_MAX)
        {
            return SQ_ERR_INVALID;
        }
    }

    return SQ_OK;
}


/*
 * A query string of the API: the filters (endpoint, region, segment),
 * the dimension, scope and window asked for (-1: all), and the page.
 * SQ_ERR_INVALID for an unknown name or a bad page; q holds what was
 * read either way and is freed with sq_http_query_free().
 */

int
sq_http_query(sq_http_query_t *q, const char *query)
{
    const char  *fd, *fs, *fw;

    memset(q, 0, sizeof(sq_http_query_t));
    q->dim = -1;
    q->scope = -1;
    q->win = -1;
    q->limit = SQ_HTTP_LIMIT;

    if (query && evhttp_parse_query_str(query, &q->args) != 0) {
        return SQ_ERR_INVALID;
    }

    q->endpoint = evhttp_find_header(&q->args, "endpoint");
    q->region = evhttp_find_header(&q->args, "region");
    q->segment = evhttp_find_header(&q->args, "segment");

    fd = evhttp_find_header(&q->args, "dimension");
    fs = evhttp_find_header(&q->args, "scope");
    fw = evhttp_find_header(&q->args, "window");

    if (fd) {
        for (q->dim = 0; q->dim < SQ_NDIMS; q->dim++) {
            if (strcmp(fd, sq_dim_names[q->dim]) == 0) {
                break;
            }
        }
    }

    if (fs) {
        for (q->scope = 0; q->scope < SQ_NSCOPES; q->scope++) {
            if (strcmp(fs, sq_scope_names[q->scope]) == 0) {
                break;
            }
        }
    }

    if (fw) {
        q->win = strcmp(fw, "short") == 0 ? 0
                 : strcmp(fw, "long") == 0 ? 1 : 2;
    }

    if (q->dim == SQ_NDIMS || q->scope == SQ_NSCOPES || q->win == 2
        || sq_http_page(&q->args, &q->offset, &q->limit) != SQ_OK)
    {
        return SQ_ERR_INVALID;
    }

    return SQ_OK;
}


void
sq_http_query_free(sq_http_query_t *q)
{
    evhttp_clear_headers(&q->args);
}


static int
sq_http_strcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}


/*
 * The regions above the privacy floor: those with a region row of their
 * own in the latest view, sorted.  *regions is freed by the caller.
 */

static int
sq_http_regions(sq_ctx_t *ctx, const char ***regions, size_t *n)
{
    size_t            i;
    const char      **r;
    const sq_view_t  *v;

    *regions = NULL;
    *n = 0;

    v = sq_view_latest(&ctx->views);
    if (v == NULL) {
        return SQ_OK;
    }

    r = malloc((v->n + 1) * sizeof(char *));
    if (r == NULL) {
        return SQ_ERR_NOMEM;
    }

    for (i = 0; i < v->n; i++) {
        if (v->rows[i].scope == SQ_SCOPE_REGION
            && strcmp(v->rows[i].region, SQ_WIRE_OTHER) != 0)
        {
            r[(*n)++] = v->rows[i].region;
        }
    }

    qsort(r, *n, sizeof(char *), sq_http_strcmp);
    *regions = r;

    return SQ_OK;
}


static int
sq_http_get(struct evhttp_request *req)
{
    enum evhttp_cmd_type  cmd;

    cmd = evhttp_request_get_command(req);

    if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) {
        return SQ_OK;
    }

    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                      "GET, HEAD");
    evhttp_send_error(req, 405, "Method Not Allowed");

    return SQ_ERR_INVALID;
}


void
sq_http_json(struct evhttp_request *req, int code, json_t *json)
{
    char             *s;
    const char       *reason;
    struct evbuffer  *b;

    s = json ? json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(10))
             : NULL;
    json_decref(json);

    if (s == NULL) {
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }

    b = evbuffer_new();
    if (b == NULL) {
        free(s);
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }

    evbuffer_add(b, s, strlen(s));
    evbuffer_add(b, "\n", 1);
    free(s);

    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Content-Type", "application/json");
    switch (code) {
    case 200:
        reason = "OK";
        break;
    case 400:
        reason = "Bad Request";
        break;
    case 503:
        reason = "Service Unavailable";
        break;
    default:
        reason = "Internal Server Error";
    }

    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}


static void
sq_http_metrics(struct evhttp_request *req, void *data)
{
    int                gzip;
    sq_ctx_t          *ctx = data;
    sq_http_stream_t  *st;
    struct evkeyvalq  *out;

    if (sq_http_get(req) != 0) {
        return;
    }

    out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "text/plain; version=0.0.4");
    evhttp_add_header(out, "Vary", "Accept-Encoding");

    /* as Prometheus asks: Accept-Encoding: gzip */

    gzip = sq_gzip_accepted(evhttp_find_header(
               evhttp_request_get_input_headers(req), "Accept-Encoding"));

    if (gzip) {
        evhttp_add_header(out, "Content-Encoding", "gzip");
    }

    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        evhttp_send_reply(req, 200, "OK", NULL);
        return;
    }

    st = calloc(1, sizeof(sq_http_stream_t));
    if (st == NULL) {
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }

    st->prom = sq_prom_open(ctx, sq_now());
    st->gz = gzip ? sq_gzip_new() : NULL;

    if (st->prom == NULL || (gzip && st->gz == NULL)) {
        sq_prom_close(st->prom);
        sq_gzip_free(st->gz);
        free(st);
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }

    st->req = req;
    st->evcon = evhttp_request_get_connection(req);

    if (sq_http_srv) {
        sq_http_srv->streams++;
    }

    evhttp_connection_set_closecb(st->evcon, sq_http_metrics_closed, st);
    (void) bufferevent_set_max_single_write(
               evhttp_connection_get_bufferevent(st->evcon), SQ_HTTP_WRITE);
    evhttp_send_reply_start(req, 200, "OK");

    sq_http_metrics_part(st->evcon, st);
}


static void
sq_http_metrics_part(struct evhttp_connection *evcon, void *data)
{
    int                more;
    size_t             len;
    struct evbuffer   *b, *text;
    struct timespec    t0, t1;
    sq_http_stream_t  *st = data;

    /* b is what is sent: the text, or its gzip */

    b = evbuffer_new();
    text = st->gz ? evbuffer_new() : b;
    more = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (b && text) {
        do {
            more = sq_prom_next(st->prom, text, SQ_HTTP_PART);

            if (st->gz && sq_gzip_add(st->gz, text, b, !more) != SQ_OK) {
                more = 0;
                evbuffer_drain(b, evbuffer_get_length(b));
            }

            len = evbuffer_get_length(b);
            clock_gettime(CLOCK_MONOTONIC, &t1);

        } while (more
                 && (len == 0
                     || (len < SQ_HTTP_CHUNK
                         && (t1.tv_sec - t0.tv_sec) * 1000000000L
                            + (t1.tv_nsec - t0.tv_nsec) < SQ_HTTP_SLICE)));
    }

    if (st->gz && text) {
        evbuffer_free(text);
    }

    if (b && evbuffer_get_length(b)) {
        if (more) {
            evhttp_send_reply_chunk_with_cb(st->req, b, sq_http_metrics_part,
                                            st);
            evbuffer_free(b);
            return;
        }

        evhttp_send_reply_chunk(st->req, b);
    }

    if (b) {
        evbuffer_free(b);
    }

    evhttp_connection_set_closecb(st->evcon, NULL, NULL);
    evhttp_send_reply_end(st->req);

    sq_http_stream_free(st);
}


/* the client went away in the middle: nothing more will be written */

static void
sq_http_metrics_closed(struct evhttp_connection *evcon, void *data)
{
    sq_http_stream_t  *st = data;

    /*
     * When the client fails in the middle of a reply, libevent detaches
     * the request from the connection and leaves it to its owner.
     */

    if (evhttp_request_get_connection(st->req) == NULL) {
        evhttp_request_free(st->req);
    }

    sq_http_stream_free(st);
}


static void
sq_http_stream_free(sq_http_stream_t *st)
{
    if (sq_http_srv && sq_http_srv->streams) {
        sq_http_srv->streams--;
    }

    sq_prom_close(st->prom);
    sq_gzip_free(st->gz);
    free(st);
}


/*
 * 1 when HTTP work waits for the loop: a /metrics answer under way, an
 * answer to write, a connection to accept, or a request (or a close) to
 * read.  The merge (sq_ingest.c) asks between its slices; one poll() of
 * the HTTP sockets.
 */

int
sq_http_waiting(sq_ctx_t *ctx)
{
    size_t           n;
    sq_http_srv_t   *srv;
    sq_http_conn_t  *c;
    struct pollfd    fds[SQ_HTTP_POLL];

    srv = ctx->http_srv;

    if (srv == NULL) {
        return 0;
    }

    if (srv->streams) {
        return 1;
    }

    n = 0;

    if (srv->listener && !srv->paused) {
        fds[n].fd = evconnlistener_get_fd(srv->listener);
        fds[n++].events = POLLIN;
    }

    for (c = srv->conns; c && n < SQ_HTTP_POLL; c = c->next) {
        if (evbuffer_get_length(bufferevent_get_output(c->bev))) {
            /* an answer to write */
            return 1;
        }

        fds[n].fd = bufferevent_getfd(c->bev);

        if (fds[n].fd >= 0) {
            fds[n++].events = POLLIN;
        }
    }

    return n && poll(fds, n, 0) > 0;
}


static void
sq_http_quality(struct evhttp_request *req, void *data)
{
    int                 dim, win, scope, rc;
    size_t              i, offset, limit, total;
    json_t             *root, *rows, *windows;
    sq_ctx_t           *ctx = data;
    const char         *fe, *fr, *fg;
    const sq_row_t     *r;
    const sq_view_t    *view;
    sq_http_query_t     hq;

    if (sq_http_get(req) != 0) {
        return;
    }

    rc = sq_http_query(&hq, evhttp_uri_get_query(
                                evhttp_request_get_evhttp_uri(req)));

    if (rc != SQ_OK) {
        sq_http_query_free(&hq);
        sq_http_json(req, 400, json_pack("{s:s}", "error",
            "unknown dimension, scope or window, or a bad offset or limit"));
        return;
    }

    fe = hq.endpoint;
    fr = hq.region;
    fg = hq.segment;
    dim = hq.dim;
    scope = hq.scope;
    win = hq.win;
    offset = hq.offset;
    limit = hq.limit;

    /* the latest view: a request never scores */

    view = sq_view_latest(&ctx->views);
    if (view == NULL) {
        sq_http_query_free(&hq);
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }

    root = json_object();
    rows = json_array();
    windows = json_object();

    json_object_set_new(root, "generated_at", json_integer(view->now));
    json_object_set_new(windows, "short",
                        json_integer(ctx->conf->short_window));
    json_object_set_new(windows, "long",
                        json_integer(ctx->conf->long_window));
    json_object_set_new(root, "window_seconds", windows);

    total = 0;

    for (i = 0; i < view->n; i++) {
        r = &view->rows[i];

        if ((fe && strcmp(fe, r->endpoint))
            || (fr && strcmp(fr, r->region))
            || (fg && strcmp(fg, r->segment))
            || (scope >= 0 && scope != r->scope))
        {
            continue;
        }

        if (total++ < offset || total > offset + limit) {
            continue;
        }

        json_array_append_new(rows, sq_json_row(r, dim, win));
    }

    json_object_set_new(root, "total", json_integer((json_int_t) total));
    json_object_set_new(root, "offset", json_integer((json_int_t) offset));
    json_object_set_new(root, "limit", json_integer((json_int_t) limit));
    json_object_set_new(root, "rows", rows);

    sq_http_query_free(&hq);

    sq_http_json(req, 200, root);
}


static void
sq_http_series(struct evhttp_request *req, void *data)
{
    int                 k, rc;
    size_t              i, n, offset, limit, total, folded, nkept;
    json_t             *root, *list, *o, *tot, *wins;
    const char        **kept;
    int64_t             now;
    sq_win_t            w;
    sq_ctx_t           *ctx = data;
    sq_http_query_t     hq;
    const sq_series_t  *s;

    static const char  *names[SQ_WIRE_NCOUNTERS] = { SQ_WIRE_COUNTER_NAMES };

    if (sq_http_get(req) != 0) {
        return;
    }

    rc = sq_http_query(&hq, evhttp_uri_get_query(
                                evhttp_request_get_evhttp_uri(req)));
    offset = hq.offset;
    limit = hq.limit;
    sq_http_query_free(&hq);

    if (rc != SQ_OK) {
        sq_http_json(req, 400, json_pack("{s:s}", "error",
                                         "bad offset or limit"));
        return;
    }

    /* the privacy floor: only series of the regions the view shows */

    kept = NULL;
    nkept = 0;

    if (ctx->conf->privacy_min && sq_http_regions(ctx, &kept, &nkept) != 0) {
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }

    now = sq_now();
    root = json_object();
    list = json_array();
    n = ctx->windows.n + (ctx->windows.other ? 1 : 0);
    total = 0;
    folded = 0;

    sq_win_init(&w);

    for (i = 0; i < n; i++) {
        s = i < ctx->windows.n ? ctx->windows.all[i] : ctx->windows.other;

        if (ctx->conf->privacy_min
            && bsearch(&s->region, kept, nkept, sizeof(char *),
                       sq_http_strcmp) == NULL)
        {
            folded++;
            continue;
        }

        if (total++ < offset || total > offset + limit) {
            continue;
        }

        o = json_object();
        json_object_set_new(o, "endpoint", json_string(s->endpoint));
        json_object_set_new(o, "region", json_string(s->region));
        json_object_set_new(o, "segment", json_string(s->segment));
        json_object_set_new(o, "first_seen", json_integer(s->first_seen));
        json_object_set_new(o, "last_seen", json_integer(s->last_seen));

        tot = json_object();

        for (k = 0; k < SQ_WIRE_NCOUNTERS; k++) {
            json_object_set_new(tot, names[k], json_integer(s->total[k]));
        }

        json_object_set_new(o, "totals", tot);

        wins = json_object();

        for (k = 0; k < 2; k++) {
            sq_win_reset(&w);
            (void) sq_windows_window(&ctx->windows, s, k, now, &w);
            json_object_set_new(wins, k ? "long" : "short",
                                json_pack("{s:I}", "requests",
                                          (json_int_t) w.c[SQ_C_REQUESTS]));
        }

        json_object_set_new(o, "windows", wins);
        json_array_append_new(list, o);
    }

    sq_win_free(&w);
    free(kept);

    json_object_set_new(root, "generated_at", json_integer(now));
    json_object_set_new(root, "series_limit",
                        json_integer(ctx->windows.max_series));

    if (ctx->conf->privacy_min) {
        json_object_set_new(root, "folded_series",
                            json_integer((json_int_t) folded));
    }

    json_object_set_new(root, "total", json_integer((json_int_t) total));
    json_object_set_new(root, "offset", json_integer((json_int_t) offset));
    json_object_set_new(root, "limit", json_integer((json_int_t) limit));
    json_object_set_new(root, "series", list);

    sq_http_json(req, 200, root);
}


static void
sq_http_healthz(struct evhttp_request *req, void *data)
{
    sq_ctx_t         *ctx = data;
    const sq_view_t  *v;

    if (sq_http_get(req) != 0) {
        return;
    }

    /* the series of the latest view, as /metrics and the scores count */

    v = sq_view_latest(&ctx->views);

    sq_http_json(req, 200, json_pack("{s:s,s:s,s:I,s:I}",
                 "status", "ok", "version", SQ_VERSION,
                 "uptime_seconds", (json_int_t) (sq_now() - ctx->started),
                 "series", (json_int_t) (v ? v->store.series
                                           : ctx->windows.n)));
}


/*
 * The nodes (nginx hosts) that sent datagrams since the collector
 * started, with their loss and when each was last heard from: a node
 * that stopped sending ages here.
 */

static void
sq_http_nodes(struct evhttp_request *req, void *data)
{
    int64_t           now;
    json_t           *list, *one;
    uint32_t          i, n;
    sq_ctx_t         *ctx = data;
    const sq_node_t  *nodes;

    if (sq_http_get(req) != 0) {
        return;
    }

    now = sq_now();
    nodes = sq_workers_nodes(&ctx->windows.workers, &n);

    list = json_array();

    for (i = 0; list && i < n; i++) {
        one = sq_json_node(&nodes[i], now);

        if (one == NULL || json_array_append_new(list, one) != 0) {
            json_decref(list);
            list = NULL;
        }
    }

    if (list == NULL) {
        sq_http_json(req, 500, NULL);
        return;
    }

    sq_http_json(req, 200, json_pack("{s:o,s:I,s:I}", "nodes", list,
                 "max_nodes", (json_int_t) SQ_WORKERS_MAX_NODES,
                 "folded_datagrams",
                 (json_int_t) ctx->windows.workers.nodes_folded));
}


/* the dashboard: one page with its styles and script, compiled in */

extern const unsigned char  sq_dashboard_html[];
extern const size_t         sq_dashboard_html_len;


static void
sq_http_dashboard(struct evhttp_request *req, void *data)
{
    struct evbuffer    *body;
    struct evkeyvalq   *h;

    if (sq_http_get(req) != 0) {
        return;
    }

    h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'self'; script-src 'unsafe-inline'; "
                      "style-src 'unsafe-inline'; img-src data:");

    body = evhttp_request_get_output_buffer(req);
    evbuffer_add_reference(body, sq_dashboard_html, sq_dashboard_html_len,
                           NULL, NULL);

    evhttp_send_reply(req, 200, "OK", NULL);
}


/* firing alerts and the latest transitions (sq_alert.c) */

static void
sq_http_alerts(struct evhttp_request *req, void *data)
{
    sq_ctx_t  *ctx = data;

    if (sq_http_get(req) != 0) {
        return;
    }

    if (ctx->alert == NULL) {
        sq_http_json(req, 200, json_pack("{s:[],s:[]}", "firing",
                                         "history"));
        return;
    }

    sq_http_json(req, 200, sq_alert_json(ctx->alert));
}


static void
sq_http_incidents(struct evhttp_request *req, void *data)
{
    sq_ctx_t  *ctx = data;

    ctx->http_requests++;

    if (sq_http_get(req) != 0) {
        return;
    }

    if (ctx->alert == NULL) {
        sq_http_json(req, 200, json_pack("{s:[],s:i}", "incidents",
                                         "alerts_firing", 0));
        return;
    }

    sq_http_json(req, 200, sq_alert_incidents_json(ctx->alert));
}


static void
sq_http_other(struct evhttp_request *req, void *data)
{
    evhttp_send_error(req, 404, "Not Found");
}


static int64_t
sq_http_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/*
 * Every request: its connection marked busy, the credentials checked
 * (everything but /healthz when the web config has users), then its
 * route.
 */

static void
sq_http_dispatch(struct evhttp_request *req, void *data)
{
    int                      rc;
    const char              *path;
    sq_http_srv_t           *srv = data;
    sq_http_conn_t          *c;
    struct evkeyvalq        *h;
    struct bufferevent      *bev;
    const sq_http_route_t   *r;

    srv->ctx->http_requests++;

    bev = evhttp_connection_get_bufferevent(
              evhttp_request_get_connection(req));

    for (c = srv->conns; c; c = c->next) {
        if (c->bev == bev) {
            c->busy = 1;
            evhttp_request_set_on_complete_cb(req, sq_http_complete, c);
            break;
        }
    }

    path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

    for (r = sq_http_routes; r->path; r++) {
        if (path && strcmp(path, r->path) == 0) {
            break;
        }
    }

    rc = r->open ? SQ_OK
                 : sq_web_auth(srv->ctx->conf->web,
                               evhttp_find_header(
                                   evhttp_request_get_input_headers(req),
                                   "Authorization"));

    if (rc == SQ_OK) {
        r->handler(req, srv->ctx);
        return;
    }

    /* evhttp_send_error() would drop the headers */

    h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/plain");

    if (rc == SQ_ERR_LIMIT) {
        evhttp_add_header(h, "Retry-After", "1");
        evbuffer_add_printf(evhttp_request_get_output_buffer(req),
                            "429 Too Many Requests\n");
        evhttp_send_reply(req, 429, "Too Many Requests", NULL);
        return;
    }

    evhttp_add_header(h, "WWW-Authenticate",
                      "Basic realm=\"servqual\", charset=\"UTF-8\"");
    evbuffer_add_printf(evhttp_request_get_output_buffer(req),
                        "401 Unauthorized\n");
    evhttp_send_reply(req, 401, "Unauthorized", NULL);
}


/* an answer sent: the connection waits for its next request */

static void
sq_http_complete(struct evhttp_request *req, void *data)
{
    sq_http_conn_t  *c = data;

    c->busy = 0;
    c->since = sq_http_ms();
}


/* a new connection's bufferevent: TLS when the web config has a cert */

static struct bufferevent *
sq_http_bev(struct event_base *base, void *data)
{
    SSL                 *ssl;
    sq_web_t            *web;
    sq_http_srv_t       *srv = data;
    sq_http_conn_t      *c;
    struct bufferevent  *bev;

    web = srv->ctx->conf->web;

    if (web && web->ssl) {
        ssl = SSL_new(web->ssl);
        if (ssl == NULL) {
            return NULL;
        }

        bev = bufferevent_openssl_socket_new(base, -1, ssl,
                                             BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE);
        if (bev) {
            bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
        }

    } else {
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }

    if (bev == NULL) {
        return NULL;
    }

    c = calloc(1, sizeof(sq_http_conn_t));
    if (c == NULL) {
        return bev;
    }

    bufferevent_incref(bev);
    c->bev = bev;
    c->since = sq_http_ms();
    c->next = srv->conns;
    srv->conns = c;
    srv->nconns++;

    if (srv->nconns >= srv->ctx->conf->http_connections && !srv->paused) {
        evconnlistener_disable(srv->listener);
        srv->paused = 1;
    }

    return bev;
}


/*
 * Every SQ_HTTP_SWEEP ms: connections libevent has let go of are
 * released (their callbacks are gone), those that waited too long for a
 * request are cut, and the listener resumes below the limit.
 */

static void
sq_http_sweep(evutil_socket_t fd, short what, void *data)
{
    int64_t                   now, timeout;
    sq_http_srv_t            *srv = data;
    sq_http_conn_t           *c, **pc;
    bufferevent_data_cb       rd, wr;
    bufferevent_event_cb      ev;
    struct bufferevent       *bev;

    now = sq_http_ms();
    timeout = srv->ctx->conf->http_timeout * 1000;

    for (pc = &srv->conns; *pc; /* void */) {
        c = *pc;
        bev = c->bev;

        bufferevent_getcb(bev, &rd, &wr, &ev, NULL);

        if (rd == NULL && ev == NULL) {
            *pc = c->next;
            srv->nconns--;
            bufferevent_decref(bev);
            free(c);
            continue;
        }

        if (!c->busy && c->since >= 0 && now - c->since > timeout) {
            sq_log(SQ_LOG_DEBUG, "HTTP: no whole request in %lld s, "
                   "connection closed", (long long) timeout / 1000);
            (void) shutdown(bufferevent_getfd(bev), SHUT_RDWR);
            c->since = -1;
        }

        pc = &c->next;
    }

    if (srv->paused && srv->nconns < srv->ctx->conf->http_connections) {
        evconnlistener_enable(srv->listener);
        srv->paused = 0;
    }
}


/*
 * accept() failed (out of descriptors: EMFILE, ENFILE): said once a
 * minute with the count since, and the listener rests until the next
 * sweep instead of spinning on a connection it cannot take.
 */

static void
sq_http_accept_error(struct evconnlistener *l, void *data)
{
    int             err;
    int64_t         now;
    sq_http_srv_t  *srv = sq_http_srv;

    err = EVUTIL_SOCKET_ERROR();

    if (srv == NULL) {
        return;
    }

    srv->accept_errors++;
    now = sq_http_ms();

    if (srv->accept_logged == 0
        || now - srv->accept_logged >= SQ_HTTP_LOG_EVERY)
    {
        sq_log(SQ_LOG_ERROR, "HTTP: accept() failed: %s (%llu times since "
               "the last report)", evutil_socket_error_to_string(err),
               (unsigned long long) srv->accept_errors);
        srv->accept_logged = now;
        srv->accept_errors = 0;
    }

    if (!srv->paused) {
        evconnlistener_disable(l);
        srv->paused = 1;
    }
}


static void
sq_http_srv_free(sq_http_srv_t *srv)
{
    sq_http_conn_t  *c, *next;

    if (srv == NULL) {
        return;
    }

    for (c = srv->conns; c; c = next) {
        next = c->next;
        bufferevent_decref(c->bev);
        free(c);
    }

    if (srv->sweep) {
        event_free(srv->sweep);
    }

    if (sq_http_srv == srv) {
        sq_http_srv = NULL;
    }

    free(srv);
}


int
sq_http_open(sq_ctx_t *ctx, const char *addr)
{
    char            host[256], *port;
    struct evhttp  *http;
    sq_http_srv_t  *srv;
    struct timeval  tv = { 0, SQ_HTTP_SWEEP * 1000 };

    if (strlen(addr) >= sizeof(host)) {
        sq_log(SQ_LOG_ERROR, "invalid HTTP address \"%s\"", addr);
        return SQ_ERR_INVALID;
    }

    strcpy(host, addr);
    port = strrchr(host, ':');

    if (port == NULL) {
        sq_log(SQ_LOG_ERROR, "HTTP address \"%s\" needs a port", addr);
        return SQ_ERR_INVALID;
    }

    *port++ = '\0';

    if (host[0] == '[' && port[-2] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }

    /* a reload frees the old evhttp itself, then opens the new one */

    sq_http_srv_free(ctx->http_srv);
    ctx->http_srv = NULL;

    srv = calloc(1, sizeof(sq_http_srv_t));
    if (srv == NULL) {
        return SQ_ERR_NOMEM;
    }

    srv->ctx = ctx;

    srv->sweep = event_new(ctx->base, -1, EV_PERSIST, sq_http_sweep, srv);
    if (srv->sweep == NULL || event_add(srv->sweep, &tv) != 0) {
        sq_http_srv_free(srv);
        return SQ_ERR_NOMEM;
    }

    http = evhttp_new(ctx->base);
    if (http == NULL) {
        sq_http_srv_free(srv);
        return SQ_ERR_NOMEM;
    }

    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD
                                     | EVHTTP_REQ_POST);
    evhttp_set_timeout(http, 30);
    evhttp_set_max_headers_size(http, SQ_HTTP_HEADERS);
    evhttp_set_max_body_size(http, 65536);
    evhttp_set_bevcb(http, sq_http_bev, srv);
    evhttp_set_gencb(http, sq_http_dispatch, srv);

    ctx->http_sock = evhttp_bind_socket_with_handle(http,
                                                    host[0] ? host : "::",
                                                    (ev_uint16_t) atoi(port));
    if (ctx->http_sock == NULL) {
        sq_log(SQ_LOG_ERROR, "cannot listen for HTTP on \"%s\": %s", addr,
               strerror(errno));
        evhttp_free(http);
        sq_http_srv_free(srv);
        return SQ_ERR_IO;
    }

    srv->listener = evhttp_bound_socket_get_listener(ctx->http_sock);
    evconnlistener_set_error_cb(srv->listener, sq_http_accept_error);

    ctx->http = http;
    ctx->http_srv = srv;
    sq_http_srv = srv;

    return SQ_OK;
}


void
sq_http_close(sq_ctx_t *ctx)
{
    if (ctx->http) {
        evhttp_free(ctx->http);
        ctx->http = NULL;
        ctx->http_sock = NULL;
    }

    sq_http_srv_free(ctx->http_srv);
    ctx->http_srv = NULL;
}
