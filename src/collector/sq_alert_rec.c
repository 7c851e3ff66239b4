
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "sq_collector.h"
#include "sq_alert_rec.h"
#include "sq_status.h"


/* a queued transition: its strings copied into text[] */

typedef struct {
    sq_alert_event_t   ev;
    char              *text;
} sq_rec_t;


struct sq_alert_rec_s {
    sq_ctx_t          *ctx;
    struct event      *timer;
    sq_rec_t          *q;
    size_t             head;       /* the next to write */
    size_t             n;          /* queued, head included */
    size_t             cap;
    double             slowest;
    int64_t            failed_logged;     /* once a minute at most */
    uint64_t           failed;            /* since the last line */
};


static void sq_alert_rec_slice(sq_alert_rec_t *r, size_t max);
static void sq_alert_rec_on_timer(evutil_socket_t fd, short what,
    void *data);
static char *sq_alert_rec_copy(char **p, const char *s);


sq_alert_rec_t *
sq_alert_rec_new(sq_ctx_t *ctx)
{
    sq_alert_rec_t  *r;

    r = calloc(1, sizeof(sq_alert_rec_t));
    if (r == NULL) {
        return NULL;
    }

    r->ctx = ctx;
    r->timer = evtimer_new(ctx->base, sq_alert_rec_on_timer, r);

    if (r->timer == NULL) {
        free(r);
        return NULL;
    }

    return r;
}


static char *
sq_alert_rec_copy(char **p, const char *s)
{
    char    *d;
    size_t   l;

    if (s == NULL) {
        return NULL;
    }

    l = strlen(s) + 1;
    d = *p;
    memcpy(d, s, l);
    *p += l;

    return d;
}


int
sq_alert_rec_add(sq_alert_rec_t *r, const sq_alert_event_t *ev)
{
    char      *p;
    size_t     i, len, cap;
    sq_rec_t  *q, *rec;

    if (r->head + r->n == r->cap) {
        if (r->head) {
            /* the written ones make room */
            memmove(r->q, r->q + r->head, r->n * sizeof(sq_rec_t));
            r->head = 0;

        } else {
            cap = r->cap ? 2 * r->cap : 1024;
            q = realloc(r->q, cap * sizeof(sq_rec_t));

            if (q == NULL) {
                return SQ_ERR_NOMEM;
            }

            r->q = q;
            r->cap = cap;
        }
    }

    len = strlen(ev->endpoint) + strlen(ev->region) + strlen(ev->segment)
          + (ev->labels ? strlen(ev->labels) : 0) + 4;

    i = r->head + r->n;
    rec = &r->q[i];
    rec->text = malloc(len);

    if (rec->text == NULL) {
        return SQ_ERR_NOMEM;
    }

    rec->ev = *ev;
    p = rec->text;
    rec->ev.endpoint = sq_alert_rec_copy(&p, ev->endpoint);
    rec->ev.region = sq_alert_rec_copy(&p, ev->region);
    rec->ev.segment = sq_alert_rec_copy(&p, ev->segment);
    rec->ev.labels = sq_alert_rec_copy(&p, ev->labels);
    rec->ev.journey = ev->journey ? rec->ev.endpoint : NULL;
    r->n++;

    return SQ_OK;
}


void
sq_alert_rec_kick(sq_alert_rec_t *r)
{
    struct timeval  tv;

    if (r->n == 0 || evtimer_pending(r->timer, NULL)) {
        return;
    }

    tv.tv_sec = 0;
    tv.tv_usec = 0;
    evtimer_add(r->timer, &tv);
}


size_t
sq_alert_rec_pending(const sq_alert_rec_t *r)
{
    return r ? r->n : 0;
}


double
sq_alert_rec_slowest(sq_alert_rec_t *r)
{
    double  s;

    s = r->slowest;
    r->slowest = 0;

    return s;
}


/* writes up to max of the queue in one transaction */

static void
sq_alert_rec_slice(sq_alert_rec_t *r, size_t max)
{
    size_t             i, k;
    double             s;
    int64_t            now;
    sq_rec_t          *rec;
    struct timespec    t0, t1;
    sq_alert_event_t  *ev;

    k = r->n < max ? r->n : max;

    if (k == 0) {
        return;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);

    ev = malloc(k * sizeof(sq_alert_event_t));

    if (ev) {
        for (i = 0; i < k; i++) {
            ev[i] = r->q[r->head + i].ev;
        }
    }

    if (r->ctx->store
        && (ev == NULL
            || sq_store_alert_events(r->ctx->store, ev, k) != SQ_OK))
    {
        now = sq_now();

        if (r->failed_logged + 60 <= now) {
            sq_log(SQ_LOG_ERROR, "cannot record %zu alert transition%s: %s "
                   "(%llu more since the last report)", k, k == 1 ? "" : "s",
                   ev ? sq_store_strerror(r->ctx->store) : "out of memory",
                   (unsigned long long) r->failed);
            r->failed_logged = now;
            r->failed = 0;

        } else {
            r->failed += k;
        }
    }

    free(ev);

    for (i = 0; i < k; i++) {
        rec = &r->q[r->head + i];
        free(rec->text);
    }

    r->head += k;
    r->n -= k;

    if (r->n == 0) {
        r->head = 0;
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

    if (s > r->slowest) {
        r->slowest = s;
    }
}


static void
sq_alert_rec_on_timer(evutil_socket_t fd, short what, void *data)
{
    sq_alert_rec_t  *r = data;

    sq_alert_rec_slice(r, SQ_ALERT_REC_SLICE);
    sq_alert_rec_kick(r);
}


void
sq_alert_rec_free(sq_alert_rec_t *r)
{
    if (r == NULL) {
        return;
    }

    while (r->n) {
        sq_alert_rec_slice(r, SQ_ALERT_REC_SLICE);
    }

    event_free(r->timer);
    free(r->q);
    free(r);
}
