
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "sq_collector.h"
#include "sq_sink.h"


#define SQ_SINK_LOG_EVERY  60     /* seconds between failure lines */


/* a notification waiting to be sent */

typedef struct {
    char         *body;
    size_t        len;
    uint64_t      attempts;
} sq_note_t;


struct sq_sink_s {
    char                       *name;
    char                       *url;
    char                       *host;
    char                       *path;
    int                         port;
    int64_t                     timeout;
    uint64_t                    attempts;
    int64_t                     backoff_max;
    uint64_t                   *counts;
    struct evhttp_connection   *evcon;
    struct event               *timer;     /* retry or next send */
    sq_note_t                 **q;
    size_t                      cap;
    size_t                      head;
    size_t                      n;
    sq_note_t                  *busy;      /* sending or waiting to retry */
    int                         inflight;
    int64_t                     logged;
    uint64_t                    failures;  /* since the last line */
};


const char  *sq_note_names[SQ_NOTE_NRESULTS] = {
    "sent", "retried", "failed", "dropped"
};


static void sq_note_free(sq_note_t *n);
static void sq_sink_kick(sq_sink_t *s, int64_t delay);
static void sq_sink_on_timer(evutil_socket_t fd, short what, void *data);
static void sq_sink_done(struct evhttp_request *req, void *data);
static void sq_sink_failed(sq_sink_t *s, int code);


sq_sink_t *
sq_sink_new(struct event_base *base, struct evdns_base *dns,
    const sq_sink_conf_t *sc, uint64_t *counts)
{
    size_t              n;
    sq_sink_t          *s;
    const char         *path, *query, *host;
    struct evhttp_uri  *u;

    u = evhttp_uri_parse(sc->url);
    if (u == NULL) {
        return NULL;
    }

    s = calloc(1, sizeof(sq_sink_t));
    if (s == NULL) {
        evhttp_uri_free(u);
        return NULL;
    }

    s->counts = counts;
    s->cap = sc->queue;
    s->timeout = sc->timeout;
    s->attempts = sc->attempts;
    s->backoff_max = sc->backoff_max;
    s->q = calloc(s->cap, sizeof(sq_note_t *));
    s->url = strdup(sc->url);
    s->name = strdup(sc->name);

    host = evhttp_uri_get_host(u);
    path = evhttp_uri_get_path(u);
    query = evhttp_uri_get_query(u);
    s->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
    s->host = host ? strdup(host) : NULL;

    if (path == NULL || *path == '\0') {
        path = "/";
    }

    n = strlen(path) + (query ? strlen(query) + 1 : 0) + 32;
    s->path = malloc(n);

    if (s->path) {
        /* an API under the base URL (Alertmanager's) */
        snprintf(s->path, n, "%s%s%s%s%s", path,
                 sc->api == NULL || path[strlen(path) - 1] == '/' ? "" : "/",
                 sc->api ? sc->api : "",
                 query ? "?" : "", query ? query : "");
    }

    evhttp_uri_free(u);

    s->timer = evtimer_new(base, sq_sink_on_timer, s);

    if (s->q == NULL || s->url == NULL || s->name == NULL || s->host == NULL
        || s->path == NULL || s->timer == NULL)
    {
        sq_sink_free(s);
        return NULL;
    }

    s->evcon = evhttp_connection_base_new(base, dns, s->host,
                                          (ev_uint16_t) s->port);
    if (s->evcon == NULL) {
        sq_sink_free(s);
        return NULL;
    }

    evhttp_connection_set_timeout(s->evcon, (int) s->timeout);

    return s;
}


void
sq_sink_configure(sq_sink_t *s, const sq_sink_conf_t *sc)
{
    /* the new timeout from the next send */
    s->timeout = sc->timeout;
    s->attempts = sc->attempts;
    s->backoff_max = sc->backoff_max;
    evhttp_connection_set_timeout(s->evcon, (int) s->timeout);
}


const char *
sq_sink_url(const sq_sink_t *s)
{
    return s->url;
}


size_t
sq_sink_queued(const sq_sink_t *s)
{
    return s ? s->n + (s->busy ? 1 : 0) : 0;
}


static void
sq_note_free(sq_note_t *n)
{
    if (n) {
        free(n->body);
        free(n);
    }
}


void
sq_sink_free(sq_sink_t *s)
{
    size_t  i;

    if (s == NULL) {
        return;
    }

    s->counts[SQ_NOTE_DROPPED] += sq_sink_queued(s);

    /* a request in flight is freed with its connection, unanswered */

    if (s->evcon) {
        evhttp_connection_free(s->evcon);
    }

    if (s->timer) {
        event_free(s->timer);
    }

    for (i = 0; s->q && i < s->n; i++) {
        sq_note_free(s->q[(s->head + i) % s->cap]);
    }

    sq_note_free(s->busy);
    free(s->q);
    free(s->url);
    free(s->name);
    free(s->host);
    free(s->path);
    free(s);
}


size_t
sq_sink_capacity(const sq_sink_t *s)
{
    return s->cap;
}


void
sq_sink_drop(sq_sink_t *s, uint64_t n)
{
    s->counts[SQ_NOTE_DROPPED] += n;
}


/* queues a notification (takes the JSON); the oldest goes when full */

void
sq_sink_push(sq_sink_t *s, json_t *json)
{
    char       *body;
    sq_note_t  *n;

    body = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(json);

    if (body == NULL) {
        s->counts[SQ_NOTE_DROPPED]++;
        return;
    }

    n = calloc(1, sizeof(sq_note_t));
    if (n == NULL) {
        free(body);
        s->counts[SQ_NOTE_DROPPED]++;
        return;
    }

    n->body = body;
    n->len = strlen(body);

    if (s->n == s->cap) {
        sq_note_free(s->q[s->head]);
        s->head = (s->head + 1) % s->cap;
        s->n--;
        s->counts[SQ_NOTE_DROPPED]++;
    }

    s->q[(s->head + s->n) % s->cap] = n;
    s->n++;

    if (s->busy == NULL) {
        sq_sink_kick(s, 0);
    }
}


static void
sq_sink_kick(sq_sink_t *s, int64_t delay)
{
    struct timeval  tv;

    tv.tv_sec = delay;
    tv.tv_usec = 0;

    if (!evtimer_pending(s->timer, NULL) || delay == 0) {
        evtimer_add(s->timer, &tv);
    }
}


/* sends the notification in hand, or takes the next one */

static void
sq_sink_on_timer(evutil_socket_t fd, short what, void *data)
{
    char                    hosthdr[300];
    sq_sink_t              *s = data;
    struct evkeyvalq       *h;
    struct evhttp_request  *req;

    if (s->inflight) {
        return;
    }

    if (s->busy == NULL) {
        if (s->n == 0) {
            return;
        }

        s->busy = s->q[s->head];
        s->head = (s->head + 1) % s->cap;
        s->n--;
    }

    req = evhttp_request_new(sq_sink_done, s);
    if (req == NULL) {
        sq_sink_failed(s, 0);
        return;
    }

    h = evhttp_request_get_output_headers(req);

    if (s->port == 80) {
        snprintf(hosthdr, sizeof(hosthdr), "%s", s->host);

    } else {
        snprintf(hosthdr, sizeof(hosthdr), "%s:%d", s->host, s->port);
    }

    evhttp_add_header(h, "Host", hosthdr);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "User-Agent", "servqual-collector/" SQ_VERSION);
    evbuffer_add(evhttp_request_get_output_buffer(req), s->busy->body,
                 s->busy->len);

    s->inflight = 1;

    if (evhttp_make_request(s->evcon, req, EVHTTP_REQ_POST, s->path) != 0) {
        if (s->inflight) {
            s->inflight = 0;
            sq_sink_failed(s, 0);
        }
    }
}


static void
sq_sink_done(struct evhttp_request *req, void *data)
{
    int         code;
    sq_sink_t  *s = data;

    if (!s->inflight) {
        return;
    }

    s->inflight = 0;
    code = req ? evhttp_request_get_response_code(req) : 0;

    if (code >= 200 && code < 300) {
        s->counts[SQ_NOTE_SENT]++;
        sq_note_free(s->busy);
        s->busy = NULL;

        if (s->failures) {
            sq_log(SQ_LOG_INFO, "alerts: the %s at \"%s\" answers again",
                   s->name, s->url);
            s->failures = 0;
        }

        /* the next one from the timer, outside libevent's callback */
        sq_sink_kick(s, 0);
        return;
    }

    sq_sink_failed(s, code);
}


static void
sq_sink_failed(sq_sink_t *s, int code)
{
    int64_t   now, delay;
    uint64_t  max;

    now = sq_now();
    s->failures++;
    s->busy->attempts++;
    max = s->attempts;

    if (now - s->logged >= SQ_SINK_LOG_EVERY) {
        sq_log(SQ_LOG_WARN, "alerts: sending to the %s at \"%s\" failed "
               "(%s%d), %llu failure(s) since the last such line",
               s->name, s->url,
               code ? "HTTP " : "no answer, ", code,
               (unsigned long long) s->failures);
        s->logged = now;
    }

    if (s->busy->attempts >= max) {
        s->counts[SQ_NOTE_FAILED]++;
        sq_note_free(s->busy);
        s->busy = NULL;
        sq_sink_kick(s, 0);
        return;
    }

    s->counts[SQ_NOTE_RETRIED]++;

    /* 1 s, 2 s, 4 s ... up to alerts.backoff_max */

    delay = s->busy->attempts < 30 ? (int64_t) 1 << (s->busy->attempts - 1)
                                   : s->backoff_max;

    if (delay > s->backoff_max) {
        delay = s->backoff_max;
    }

    sq_sink_kick(s, delay);
}
