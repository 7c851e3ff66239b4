
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>

#include "sq_collector.h"
#include "sq_alert_rec.h"
#include "sq_persist.h"
#include "sq_status.h"


/* a queued transition: its strings copied into text[] */

typedef struct {
    sq_alert_event_t   ev;
    char              *text;
} sq_rec_t;


struct sq_alert_rec_s {
    sq_ctx_t          *ctx;
    sq_rec_t          *q;
    size_t             head;       /* the next to write */
    size_t             n;          /* queued, head included */
    size_t             cap;
    sq_alert_event_t  *ev;         /* the slice out, from head */
    size_t             out;        /* its length, 0: none out */
    size_t             evcap;
    double             slowest;
    int64_t            failed_logged;     /* once a minute at most */
    uint64_t           failed;            /* since the last line */
};


static void sq_alert_rec_drop(sq_alert_rec_t *r, size_t k);
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
    sq_persist_alert_rec(ctx, r);

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
        if (r->head && r->out == 0) {
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
    if (r->n == 0) {
        return;
    }

    if (r->ctx->persist == NULL) {
        /* no store to write to */
        sq_alert_rec_drop(r, r->n);
        return;
    }

    sq_persist_kick(r->ctx);
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


size_t
sq_alert_rec_take(sq_alert_rec_t *r, size_t max, const sq_alert_event_t **ev)
{
    size_t             i, k;
    sq_alert_event_t  *p;

    if (r->out || r->n == 0) {
        return 0;
    }

    k = r->n < max ? r->n : max;

    if (k > r->evcap) {
        p = realloc(r->ev, k * sizeof(sq_alert_event_t));
        if (p == NULL) {
            return 0;
        }

        r->ev = p;
        r->evcap = k;
    }

    /* the strings stay where they are, in the queue, until done */

    for (i = 0; i < k; i++) {
        r->ev[i] = r->q[r->head + i].ev;
    }

    r->out = k;
    *ev = r->ev;

    return k;
}


void
sq_alert_rec_done(sq_alert_rec_t *r, int rc, const char *err, double seconds)
{
    size_t   k;
    int64_t  now;

    k = r->out;
    r->out = 0;

    if (rc != SQ_OK) {
        now = sq_now();

        if (r->failed_logged + 60 <= now) {
            sq_log(SQ_LOG_ERROR, "cannot record %zu alert transition%s: %s "
                   "(%llu more since the last report)", k, k == 1 ? "" : "s",
                   err, (unsigned long long) r->failed);
            r->failed_logged = now;
            r->failed = 0;

        } else {
            r->failed += k;
        }
    }

    if (seconds > r->slowest) {
        r->slowest = seconds;
    }

    sq_alert_rec_drop(r, k);
}


/* the first k queued are gone */

static void
sq_alert_rec_drop(sq_alert_rec_t *r, size_t k)
{
    size_t  i;

    for (i = 0; i < k; i++) {
        free(r->q[r->head + i].text);
    }

    r->head += k;
    r->n -= k;

    if (r->n == 0) {
        r->head = 0;
    }
}


void
sq_alert_rec_free(sq_alert_rec_t *r)
{
    if (r == NULL) {
        return;
    }

    /* what is queued is written, when there is a store */

    sq_persist_flush(r->ctx);
    sq_persist_alert_rec(r->ctx, NULL);

    sq_alert_rec_drop(r, r->n);
    free(r->ev);
    free(r->q);
    free(r);
}
