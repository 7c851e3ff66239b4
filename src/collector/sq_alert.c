
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "sq_collector.h"
#include "sq_alert.h"


#define SQ_ALERT_BUCKETS  1024      /* initial, doubled as needed */
#define SQ_ALERT_RING     1000      /* history kept without a store */
#define SQ_ALERT_RESTORE  100000    /* transitions read back at start */
#define SQ_SINK_LOG_EVERY 60        /* seconds between failure lines */

enum {
    SQ_NOTE_SENT = 0,
    SQ_NOTE_RETRIED,
    SQ_NOTE_FAILED,
    SQ_NOTE_DROPPED,
    SQ_NOTE_NRESULTS
};

enum {
    SQ_SINK_ALERTMANAGER = 0,
    SQ_SINK_WEBHOOK,
    SQ_NSINKS
};


/* one alert that is firing, keyed by (scope, endpoint, region, segment,
   dimension) */

typedef struct sq_item_s  sq_item_t;

struct sq_item_s {
    sq_item_t    *next;           /* hash chain */
    uint32_t      hash;
    int           scope;
    int           dim;
    int           severity;
    int           indicator;
    uint64_t      gen;            /* the evaluation that last saw it */
    int64_t       since;
    double        value;
    double        adequate;
    double        desired;
    double        msa;
    char         *labels;         /* owner labels, a JSON object */
    const char   *endpoint;       /* in key[] */
    const char   *region;
    const char   *segment;
    char          key[];
};


/* a notification waiting to be sent */

typedef struct {
    char         *body;
    size_t        len;
    uint64_t      attempts;
} sq_note_t;


typedef struct {
    int                         kind;
    sq_alert_t                 *alert;
    char                       *url;
    char                       *host;
    char                       *path;
    int                         port;
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
} sq_sink_t;


struct sq_alert_s {
    sq_ctx_t          *ctx;
    struct event      *timer;
    int64_t            interval;
    struct evdns_base *dns;

    sq_item_t        **b;
    uint32_t           nb;
    uint32_t           n;
    uint64_t           gen;

    sq_sink_t         *sink[SQ_NSINKS];
    json_t            *am_batch;   /* resolved in this evaluation */
    int64_t            am_sent;    /* last full send to Alertmanager */
    int                changed;

    json_t            *ring[SQ_ALERT_RING];   /* newest at ring_head - 1 */
    size_t             ring_head;
    size_t             ring_n;

    uint64_t           transitions[3][2];     /* severity, resolved */
    uint64_t           notes[SQ_NSINKS][SQ_NOTE_NRESULTS];
    uint64_t           evaluations;
    double             eval_seconds;
};


const char  *sq_severity_names[3] = { "none", "warning", "critical" };

static const char  *sq_sink_names[SQ_NSINKS] = { "alertmanager", "webhook" };
static const char  *sq_note_names[SQ_NOTE_NRESULTS] = {
    "sent", "retried", "failed", "dropped"
};

/* label names an owner label cannot take */
static const char  *sq_reserved[] = {
    "alertname", "severity", "endpoint", "region", "segment", "dimension",
    "journey", NULL
};


static uint32_t sq_alert_hash(int scope, const char *e, const char *r,
    const char *g, int dim);
static sq_item_t *sq_alert_find(sq_alert_t *a, uint32_t hash, int scope,
    const char *e, const char *r, const char *g, int dim);
static sq_item_t *sq_alert_add(sq_alert_t *a, uint32_t hash, int scope,
    const char *e, const char *r, const char *g, int dim);
static void sq_alert_remove(sq_alert_t *a, sq_item_t *it);
static void sq_alert_set(sq_item_t *it, const sq_dim_score_t *ds);
static char *sq_alert_labels(const sq_row_t *row);
static void sq_alert_id(char *buf, size_t len, int scope, const char *e,
    const char *r, const char *g, const char *dim, int severity,
    int64_t since);
static json_t *sq_alert_obj(sq_alert_t *a, const sq_item_t *it,
    int resolved, int64_t ends_at);
static json_t *sq_alert_am(sq_alert_t *a, const sq_item_t *it,
    int resolved, int64_t now);
static json_t *sq_alert_hook(sq_alert_t *a, const sq_item_t *it,
    int resolved, int64_t now);
static void sq_alert_summary(char *buf, size_t len, const sq_item_t *it);
static void sq_alert_transition(sq_alert_t *a, sq_item_t *it, int resolved,
    int64_t now);
static void sq_alert_record(sq_alert_t *a, const sq_item_t *it,
    int resolved, int64_t now);
static void sq_alert_on_timer(evutil_socket_t fd, short what, void *data);
static int sq_alert_schedule(sq_alert_t *a);
static void sq_alert_restore(sq_alert_t *a);
static int sq_alert_restore_one(void *data, const sq_alert_event_t *ev);
static int sq_alert_history_one(void *data, const sq_alert_event_t *ev);
static void sq_rfc3339(char *buf, size_t len, int64_t t);

static sq_sink_t *sq_sink_new(sq_alert_t *a, int kind, const char *url);
static void sq_sink_free(sq_sink_t *s);
static void sq_sink_push(sq_sink_t *s, json_t *json);
static void sq_sink_kick(sq_sink_t *s, int64_t delay);
static void sq_sink_on_timer(evutil_socket_t fd, short what, void *data);
static void sq_sink_done(struct evhttp_request *req, void *data);
static void sq_sink_failed(sq_sink_t *s, int code);


int
sq_alert_next(int cur, const sq_dim_score_t *s, const sq_dim_score_t *l,
    double warn_z)
{
    int  sok, lok, crit, warn;

    sok = s->state != SQ_STATE_INSUFFICIENT && !isnan(s->z);
    lok = l->state != SQ_STATE_INSUFFICIENT && !isnan(l->z);

    crit = sok && lok && s->state == SQ_STATE_BELOW
           && l->state == SQ_STATE_BELOW;
    warn = sok && lok && s->z <= warn_z && l->z <= warn_z;

    switch (cur) {

    case SQ_SEV_CRITICAL:
        if (sok && s->state == SQ_STATE_BELOW) {
            return SQ_SEV_CRITICAL;
        }

        /* resolved; it may go on as a warning */
        break;

    case SQ_SEV_WARNING:
        if (crit) {
            return SQ_SEV_CRITICAL;
        }

        return sok && s->z <= warn_z ? SQ_SEV_WARNING : SQ_SEV_NONE;

    default:
        break;
    }

    return crit ? SQ_SEV_CRITICAL : warn ? SQ_SEV_WARNING : SQ_SEV_NONE;
}


static uint32_t
sq_alert_hash(int scope, const char *e, const char *r, const char *g,
    int dim)
{
    uint32_t     h;
    const char  *p;
    int          i;
    const char  *parts[3];

    parts[0] = e;
    parts[1] = r;
    parts[2] = g;

    h = 2166136261u ^ (uint32_t) (scope * 16 + dim);
    h *= 16777619u;

    for (i = 0; i < 3; i++) {
        for (p = parts[i]; *p; p++) {
            h ^= (unsigned char) *p;
            h *= 16777619u;
        }

        h ^= 0xff;
        h *= 16777619u;
    }

    return h;
}


static sq_item_t *
sq_alert_find(sq_alert_t *a, uint32_t hash, int scope, const char *e,
    const char *r, const char *g, int dim)
{
    sq_item_t  *it;

    for (it = a->b[hash & (a->nb - 1)]; it; it = it->next) {
        if (it->hash == hash && it->scope == scope && it->dim == dim
            && strcmp(it->endpoint, e) == 0 && strcmp(it->region, r) == 0
            && strcmp(it->segment, g) == 0)
        {
            return it;
        }
    }

    return NULL;
}


static sq_item_t *
sq_alert_add(sq_alert_t *a, uint32_t hash, int scope, const char *e,
    const char *r, const char *g, int dim)
{
    size_t      le, lr, lg;
    uint32_t    i, nb;
    sq_item_t  *it, *next, **b;

    if (a->n >= a->nb) {
        nb = a->nb * 2;
        b = calloc(nb, sizeof(sq_item_t *));

        if (b) {
            for (i = 0; i < a->nb; i++) {
                for (it = a->b[i]; it; it = next) {
                    next = it->next;
                    it->next = b[it->hash & (nb - 1)];
                    b[it->hash & (nb - 1)] = it;
                }
            }

            free(a->b);
            a->b = b;
            a->nb = nb;
        }
    }

    le = strlen(e) + 1;
    lr = strlen(r) + 1;
    lg = strlen(g) + 1;

    it = calloc(1, sizeof(sq_item_t) + le + lr + lg);
    if (it == NULL) {
        return NULL;
    }

    memcpy(it->key, e, le);
    memcpy(it->key + le, r, lr);
    memcpy(it->key + le + lr, g, lg);

    it->endpoint = it->key;
    it->region = it->key + le;
    it->segment = it->key + le + lr;
    it->hash = hash;
    it->scope = scope;
    it->dim = dim;

    it->next = a->b[hash & (a->nb - 1)];
    a->b[hash & (a->nb - 1)] = it;
    a->n++;

    return it;
}


static void
sq_alert_remove(sq_alert_t *a, sq_item_t *it)
{
    sq_item_t  **pp;

    for (pp = &a->b[it->hash & (a->nb - 1)]; *pp; pp = &(*pp)->next) {
        if (*pp == it) {
            *pp = it->next;
            a->n--;
            break;
        }
    }

    free(it->labels);
    free(it);
}


static void
sq_alert_set(sq_item_t *it, const sq_dim_score_t *ds)
{
    it->indicator = ds->indicator;
    it->value = ds->value;
    it->adequate = ds->adequate;
    it->desired = ds->desired;
    it->msa = ds->msa;
}


static char *
sq_alert_labels(const sq_row_t *row)
{
    int                i;
    char              *s;
    size_t             l;
    json_t            *o;
    const sq_label_t  *lab;

    o = json_object();
    lab = row->labels;

    for (l = 0; l < row->nlabels; l++) {
        if (lab[l].key == NULL || lab[l].value == NULL) {
            continue;
        }

        for (i = 0; sq_reserved[i]; i++) {
            if (strcmp(lab[l].key, sq_reserved[i]) == 0) {
                break;
            }
        }

        if (sq_reserved[i] == NULL) {
            json_object_set_new(o, lab[l].key, json_string(lab[l].value));
        }
    }

    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);

    return s;
}


/* the same alert gets the same id, also when read back from the store */

static void
sq_alert_id(char *buf, size_t len, int scope, const char *e, const char *r,
    const char *g, const char *dim, int severity, int64_t since)
{
    int  d;

    for (d = 0; d < SQ_NDIMS; d++) {
        if (strcmp(dim, sq_dim_names[d]) == 0) {
            break;
        }
    }

    snprintf(buf, len, "%08x%c-%lld", sq_alert_hash(scope, e, r, g, d),
             severity == SQ_SEV_CRITICAL ? 'c' : 'w', (long long) since);
}


static void
sq_rfc3339(char *buf, size_t len, int64_t t)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


static json_t *
sq_num(double v)
{
    return isnan(v) || isinf(v) ? json_null() : json_real(v);
}


static void
sq_alert_summary(char *buf, size_t len, const sq_item_t *it)
{
    char  ts[32], where[512];

    if (it->scope == SQ_SCOPE_JOURNEY) {
        snprintf(where, sizeof(where), "journey %s%s%s", it->endpoint,
                 strcmp(it->region, SQ_ALL) ? " in " : "",
                 strcmp(it->region, SQ_ALL) ? it->region : "");

    } else if (it->scope == SQ_SCOPE_REGION) {
        snprintf(where, sizeof(where), "all endpoints in %s", it->region);

    } else if (it->scope == SQ_SCOPE_ENDPOINT) {
        snprintf(where, sizeof(where), "%s in all regions", it->endpoint);

    } else {
        snprintf(where, sizeof(where), "%s in %s%s%s%s", it->endpoint,
                 it->region, it->segment[0] ? " (" : "", it->segment,
                 it->segment[0] ? ")" : "");
    }

    sq_rfc3339(ts, sizeof(ts), it->since);

    snprintf(buf, len, "%s is %s the adequate level on %s since %s", where,
             it->severity == SQ_SEV_CRITICAL ? "below" : "close to",
             sq_dim_names[it->dim], ts);
}


/* the alert object of /api/v1/alerts and of the webhook's labels */

static json_t *
sq_alert_obj(sq_alert_t *a, const sq_item_t *it, int resolved,
    int64_t ends_at)
{
    char    id[64];
    json_t  *o, *labels, *owner;

    labels = json_object();
    json_object_set_new(labels, "alertname", json_string(
        it->severity == SQ_SEV_CRITICAL ? "ServqualBelowZone"
                                        : "ServqualZoneWarning"));
    json_object_set_new(labels, "endpoint", json_string(it->endpoint));
    json_object_set_new(labels, "region", json_string(it->region));
    json_object_set_new(labels, "segment", json_string(it->segment));
    json_object_set_new(labels, "dimension",
                        json_string(sq_dim_names[it->dim]));

    if (it->scope == SQ_SCOPE_JOURNEY) {
        json_object_set_new(labels, "journey", json_string(it->endpoint));
    }

    owner = it->labels ? json_loads(it->labels, 0, NULL) : NULL;

    if (owner) {
        json_object_update_missing(labels, owner);
        json_decref(owner);
    }

    sq_alert_id(id, sizeof(id), it->scope, it->endpoint, it->region,
                it->segment, sq_dim_names[it->dim], it->severity, it->since);

    o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "status", json_string(resolved ? "resolved"
                                                          : "firing"));
    json_object_set_new(o, "severity",
                        json_string(sq_severity_names[it->severity]));
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "indicator",
                        json_string(sq_indicator_names[it->indicator]));
    json_object_set_new(o, "value", sq_num(it->value));
    json_object_set_new(o, "adequate", sq_num(it->adequate));
    json_object_set_new(o, "desired", sq_num(it->desired));
    json_object_set_new(o, "msa", sq_num(it->msa));
    json_object_set_new(o, "since", json_integer(it->since));

    if (resolved) {
        json_object_set_new(o, "ends_at", json_integer(ends_at));
    }

    return o;
}


/* one alert for Alertmanager's POST /api/v2/alerts */

static json_t *
sq_alert_am(sq_alert_t *a, const sq_item_t *it, int resolved, int64_t now)
{
    char             ts[32], buf[1024], url[512];
    json_t          *o, *labels, *ann, *src, *v;
    int64_t          ttl;
    const char      *k;
    sq_alert_conf_t *ac;

    ac = &a->ctx->conf->alerts;
    src = sq_alert_obj(a, it, resolved, now);

    /* Prometheus' label rules: no empty values, names [a-zA-Z_]\w* */

    labels = json_object();
    json_object_set_new(labels, "severity",
                        json_string(sq_severity_names[it->severity]));

    json_object_foreach(json_object_get(src, "labels"), k, v) {
        if (json_string_length(v) == 0
            || strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_") != strlen(k)
            || (k[0] >= '0' && k[0] <= '9'))
        {
            continue;
        }

        json_object_set(labels, k, v);
    }

    ann = json_object();
    sq_alert_summary(buf, sizeof(buf), it);
    json_object_set_new(ann, "summary", json_string(buf));

    snprintf(buf, sizeof(buf), "%.6g", it->value);
    json_object_set_new(ann, "value", json_string(buf));
    snprintf(buf, sizeof(buf), "%.6g", it->adequate);
    json_object_set_new(ann, "adequate", json_string(buf));
    snprintf(buf, sizeof(buf), "%.6g", it->desired);
    json_object_set_new(ann, "desired", json_string(buf));
    snprintf(buf, sizeof(buf), "%.6g", it->msa);
    json_object_set_new(ann, "msa", json_string(buf));
    json_object_set_new(ann, "indicator",
                        json_string(sq_indicator_names[it->indicator]));

    o = json_object();
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "annotations", ann);

    sq_rfc3339(ts, sizeof(ts), it->since);
    json_object_set_new(o, "startsAt", json_string(ts));

    /*
     * While firing, endsAt is far enough ahead for the next resend to
     * come first (as Prometheus: 4 x the longer of interval and resend);
     * a collector that dies lets the alert expire there.
     */

    ttl = 4 * (ac->resend > ac->interval ? ac->resend : ac->interval);
    sq_rfc3339(ts, sizeof(ts), resolved ? now : now + ttl);
    json_object_set_new(o, "endsAt", json_string(ts));

    if (ac->generator_url) {
        json_object_set_new(o, "generatorURL",
                            json_string(ac->generator_url));

    } else {
        snprintf(url, sizeof(url), "http://%s/", a->ctx->conf->http);
        json_object_set_new(o, "generatorURL", json_string(url));
    }

    json_decref(src);

    return o;
}


/* the webhook's body: one transition */

static json_t *
sq_alert_hook(sq_alert_t *a, const sq_item_t *it, int resolved, int64_t now)
{
    char     ts[32];
    json_t  *am, *o, *src;

    am = sq_alert_am(a, it, resolved, now);
    src = sq_alert_obj(a, it, resolved, now);

    o = json_object();
    json_object_set_new(o, "id", json_incref(json_object_get(src, "id")));
    json_object_set_new(o, "status", json_string(resolved ? "resolved"
                                                          : "firing"));
    json_object_set_new(o, "severity",
                        json_string(sq_severity_names[it->severity]));
    json_object_set(o, "labels", json_object_get(src, "labels"));
    json_object_set(o, "annotations", json_object_get(am, "annotations"));
    json_object_set(o, "startsAt", json_object_get(am, "startsAt"));

    if (resolved) {
        sq_rfc3339(ts, sizeof(ts), now);
        json_object_set_new(o, "endsAt", json_string(ts));

    } else {
        json_object_set_new(o, "endsAt", json_null());
    }

    json_decref(am);
    json_decref(src);

    return o;
}


static void
sq_alert_record(sq_alert_t *a, const sq_item_t *it, int resolved,
    int64_t now)
{
    json_t            *o;
    sq_alert_event_t   ev;

    if (a->ctx->store) {
        memset(&ev, 0, sizeof(ev));
        ev.time = now;
        ev.status = resolved ? "resolved" : "firing";
        ev.severity = sq_severity_names[it->severity];
        ev.endpoint = it->endpoint;
        ev.region = it->region;
        ev.segment = it->segment;
        ev.journey = it->scope == SQ_SCOPE_JOURNEY ? it->endpoint : NULL;
        ev.dimension = sq_dim_names[it->dim];
        ev.indicator = sq_indicator_names[it->indicator];
        ev.value = it->value;
        ev.adequate = it->adequate;
        ev.desired = it->desired;
        ev.msa = it->msa;
        ev.since = it->since;
        ev.labels = it->labels;

        if (sq_store_alert_event(a->ctx->store, &ev) != SQ_STORE_OK) {
            sq_log(SQ_LOG_ERROR, "cannot record an alert transition: %s",
                   sq_store_strerror(a->ctx->store));
        }

        return;
    }

    o = sq_alert_obj(a, it, resolved, now);

    if (a->ring[a->ring_head]) {
        json_decref(a->ring[a->ring_head]);
    }

    a->ring[a->ring_head] = o;
    a->ring_head = (a->ring_head + 1) % SQ_ALERT_RING;

    if (a->ring_n < SQ_ALERT_RING) {
        a->ring_n++;
    }
}


static void
sq_alert_transition(sq_alert_t *a, sq_item_t *it, int resolved, int64_t now)
{
    char  summary[1024];

    a->transitions[it->severity][resolved]++;
    a->changed = 1;

    sq_alert_summary(summary, sizeof(summary), it);

    sq_log(SQ_LOG_WARN, "alert %s severity=%s alertname=%s scope=%s "
           "endpoint=\"%s\" region=\"%s\" segment=\"%s\" dimension=%s "
           "indicator=%s value=%.6g adequate=%.6g desired=%.6g msa=%.6g "
           "since=%lld labels=%s: %s",
           resolved ? "resolved" : "firing",
           sq_severity_names[it->severity],
           it->severity == SQ_SEV_CRITICAL ? "ServqualBelowZone"
                                           : "ServqualZoneWarning",
           sq_scope_names[it->scope], it->endpoint, it->region, it->segment,
           sq_dim_names[it->dim], sq_indicator_names[it->indicator],
           it->value, it->adequate, it->desired, it->msa,
           (long long) it->since, it->labels ? it->labels : "{}", summary);

    sq_alert_record(a, it, resolved, now);

    if (a->sink[SQ_SINK_WEBHOOK]) {
        sq_sink_push(a->sink[SQ_SINK_WEBHOOK],
                     sq_alert_hook(a, it, resolved, now));
    }

    if (a->sink[SQ_SINK_ALERTMANAGER] && resolved) {
        json_array_append_new(a->am_batch, sq_alert_am(a, it, 1, now));
    }
}


void
sq_alert_evaluate(sq_alert_t *a, int64_t now)
{
    int                    d, cur, next;
    size_t                 i;
    double                 warn_z;
    uint32_t               h, k;
    json_t                *batch;
    unsigned               scopes;
    sq_item_t             *it, *nx;
    sq_view_t             *view;
    const sq_row_t        *r;
    struct timespec        t0, t1;
    const sq_dim_score_t  *s, *l;

    clock_gettime(CLOCK_MONOTONIC, &t0);

    view = sq_view_build(&a->ctx->windows, a->ctx->conf, now);
    if (view == NULL) {
        sq_log(SQ_LOG_ERROR, "alerts: out of memory");
        return;
    }

    a->gen++;
    a->changed = 0;
    warn_z = 1 - a->ctx->conf->alerts.warning_share;
    scopes = a->ctx->conf->alerts.scopes;

    for (i = 0; i < view->n; i++) {
        r = &view->rows[i];

        if (!(scopes & (1u << r->scope))) {
            continue;
        }

        for (d = 0; d < SQ_NDIMS; d++) {
            s = &r->w[SQ_WIN_SHORT].dim[d];
            l = &r->w[SQ_WIN_LONG].dim[d];

            h = sq_alert_hash(r->scope, r->endpoint, r->region, r->segment,
                              d);
            it = sq_alert_find(a, h, r->scope, r->endpoint, r->region,
                               r->segment, d);
            cur = it ? it->severity : SQ_SEV_NONE;
            next = sq_alert_next(cur, s, l, warn_z);

            if (it) {
                it->gen = a->gen;
                sq_alert_set(it, s);
            }

            if (next == cur) {
                continue;
            }

            if (it) {
                sq_alert_transition(a, it, 1, now);
                sq_alert_remove(a, it);
            }

            if (next == SQ_SEV_NONE) {
                continue;
            }

            it = sq_alert_add(a, h, r->scope, r->endpoint, r->region,
                              r->segment, d);
            if (it == NULL) {
                sq_log(SQ_LOG_ERROR, "alerts: out of memory");
                continue;
            }

            it->severity = next;
            it->since = now;
            it->gen = a->gen;
            it->labels = sq_alert_labels(r);
            sq_alert_set(it, s);

            sq_alert_transition(a, it, 0, now);
        }
    }

    /* rows that are gone (expired, or a scope no longer judged) */

    for (k = 0; k < a->nb; k++) {
        for (it = a->b[k]; it; it = nx) {
            nx = it->next;

            if (it->gen != a->gen) {
                sq_alert_transition(a, it, 1, now);
                sq_alert_remove(a, it);
            }
        }
    }

    sq_view_free(view);

    /*
     * Alertmanager: every firing alert, when something changed or the
     * resend interval is over, with the alerts resolved just now.
     */

    if (a->sink[SQ_SINK_ALERTMANAGER]) {
        batch = a->am_batch;

        if (a->changed
            || now - a->am_sent >= a->ctx->conf->alerts.resend)
        {
            for (k = 0; k < a->nb; k++) {
                for (it = a->b[k]; it; it = it->next) {
                    json_array_append_new(batch, sq_alert_am(a, it, 0, now));
                }
            }

            a->am_sent = now;
        }

        if (json_array_size(batch)) {
            sq_sink_push(a->sink[SQ_SINK_ALERTMANAGER], batch);
            a->am_batch = json_array();

        }
    }

    a->evaluations++;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    a->eval_seconds = (t1.tv_sec - t0.tv_sec)
                      + (t1.tv_nsec - t0.tv_nsec) / 1e9;
}


static void
sq_alert_on_timer(evutil_socket_t fd, short what, void *data)
{
    sq_alert_t  *a = data;

    sq_alert_evaluate(a, sq_now());
}


static int
sq_alert_schedule(sq_alert_t *a)
{
    struct timeval  tv;

    a->interval = a->ctx->conf->alerts.interval;
    tv.tv_sec = a->interval;
    tv.tv_usec = 0;

    return event_add(a->timer, &tv);
}


/* ---- taking up the alerts that were firing when the collector stopped */

typedef struct {
    sq_alert_t  *a;
    json_t      *events;          /* newest first */
} sq_restore_t;


static int
sq_alert_scope_of(const sq_alert_event_t *ev)
{
    if (ev->journey) {
        return SQ_SCOPE_JOURNEY;
    }

    if (strcmp(ev->endpoint, SQ_ALL) == 0) {
        return SQ_SCOPE_REGION;
    }

    if (strcmp(ev->region, SQ_ALL) == 0 && strcmp(ev->segment, SQ_ALL) == 0) {
        return SQ_SCOPE_ENDPOINT;
    }

    return SQ_SCOPE_SERIES;
}


static int
sq_alert_dim_of(const char *name)
{
    int  d;

    for (d = 0; d < SQ_NDIMS; d++) {
        if (strcmp(name, sq_dim_names[d]) == 0) {
            return d;
        }
    }

    return -1;
}


static int
sq_alert_restore_one(void *data, const sq_alert_event_t *ev)
{
    int            d, scope, sev, i;
    uint32_t       h;
    sq_item_t     *it;
    sq_restore_t  *rs = data;

    d = sq_alert_dim_of(ev->dimension);
    sev = strcmp(ev->severity, "critical") == 0 ? SQ_SEV_CRITICAL
                                                : SQ_SEV_WARNING;

    if (d < 0 || ev->endpoint == NULL || ev->region == NULL
        || ev->segment == NULL)
    {
        return 0;
    }

    scope = sq_alert_scope_of(ev);
    h = sq_alert_hash(scope, ev->endpoint, ev->region, ev->segment, d);

    /* newest first: the first event of a key and severity decides */

    it = sq_alert_find(rs->a, h, scope, ev->endpoint, ev->region,
                       ev->segment, d);

    if (it) {
        return 0;
    }

    it = sq_alert_add(rs->a, h, scope, ev->endpoint, ev->region,
                      ev->segment, d);
    if (it == NULL) {
        return 1;
    }

    it->severity = strcmp(ev->status, "firing") == 0 ? sev : SQ_SEV_NONE;
    it->since = ev->since;
    it->value = ev->value;
    it->adequate = ev->adequate;
    it->desired = ev->desired;
    it->msa = ev->msa;
    it->labels = ev->labels ? strdup(ev->labels) : NULL;

    for (i = 0; i < SQ_NINDICATORS; i++) {
        if (ev->indicator && strcmp(ev->indicator, sq_indicator_names[i])
                             == 0)
        {
            it->indicator = i;
        }
    }

    return 0;
}


static void
sq_alert_restore(sq_alert_t *a)
{
    uint32_t      k;
    sq_item_t    *it, *nx;
    sq_restore_t  rs;

    if (a->ctx->store == NULL) {
        return;
    }

    rs.a = a;
    rs.events = NULL;

    if (sq_store_alert_history(a->ctx->store, 0, SQ_ALERT_RESTORE,
                               sq_alert_restore_one, &rs)
        != SQ_STORE_OK)
    {
        sq_log(SQ_LOG_ERROR, "cannot read the alert history: %s",
               sq_store_strerror(a->ctx->store));
    }

    /* the keys whose last transition was a resolution are done */

    for (k = 0; k < a->nb; k++) {
        for (it = a->b[k]; it; it = nx) {
            nx = it->next;

            if (it->severity == SQ_SEV_NONE) {
                sq_alert_remove(a, it);

            } else {
                sq_log(SQ_LOG_INFO, "alert taken up: %s %s \"%s\" \"%s\" "
                       "\"%s\" %s since %lld",
                       sq_severity_names[it->severity],
                       sq_scope_names[it->scope], it->endpoint, it->region,
                       it->segment, sq_dim_names[it->dim],
                       (long long) it->since);
            }
        }
    }
}


sq_alert_t *
sq_alert_new(void *data)
{
    sq_ctx_t    *ctx = data;
    sq_alert_t  *a;

    a = calloc(1, sizeof(sq_alert_t));
    if (a == NULL) {
        return NULL;
    }

    a->ctx = ctx;
    a->nb = SQ_ALERT_BUCKETS;
    a->b = calloc(a->nb, sizeof(sq_item_t *));
    a->am_batch = json_array();
    a->timer = event_new(ctx->base, -1, EV_PERSIST, sq_alert_on_timer, a);

    if (a->b == NULL || a->am_batch == NULL || a->timer == NULL) {
        sq_alert_free(a);
        return NULL;
    }

    sq_alert_restore(a);
    sq_alert_configure(a);

    if (sq_alert_schedule(a) != 0) {
        sq_alert_free(a);
        return NULL;
    }

    return a;
}


void
sq_alert_configure(sq_alert_t *a)
{
    int               k;
    const char       *url;
    sq_alert_conf_t  *ac;

    ac = &a->ctx->conf->alerts;

    for (k = 0; k < SQ_NSINKS; k++) {
        url = k == SQ_SINK_ALERTMANAGER ? ac->alertmanager : ac->webhook;

        if (a->sink[k] && url && strcmp(a->sink[k]->url, url) == 0) {
            /* kept, with its queue; the new timeout from the next send */
            evhttp_connection_set_timeout(a->sink[k]->evcon,
                                          (int) ac->timeout);
            continue;
        }

        if (a->sink[k]) {
            a->notes[k][SQ_NOTE_DROPPED] += a->sink[k]->n
                                            + (a->sink[k]->busy ? 1 : 0);
            sq_sink_free(a->sink[k]);
            a->sink[k] = NULL;
        }

        if (url) {
            a->sink[k] = sq_sink_new(a, k, url);

            if (a->sink[k] == NULL) {
                sq_log(SQ_LOG_ERROR, "alerts: cannot set up the %s sink "
                       "\"%s\"", sq_sink_names[k], url);
            }
        }
    }

    if (a->interval && a->interval != ac->interval) {
        event_del(a->timer);
        (void) sq_alert_schedule(a);
    }
}


void
sq_alert_free(sq_alert_t *a)
{
    int         k;
    size_t      i;
    uint32_t    j;
    sq_item_t  *it, *nx;

    if (a == NULL) {
        return;
    }

    for (k = 0; k < SQ_NSINKS; k++) {
        sq_sink_free(a->sink[k]);
    }

    if (a->timer) {
        event_free(a->timer);
    }

    if (a->dns) {
        evdns_base_free(a->dns, 0);
    }

    for (j = 0; a->b && j < a->nb; j++) {
        for (it = a->b[j]; it; it = nx) {
            nx = it->next;
            free(it->labels);
            free(it);
        }
    }

    for (i = 0; i < SQ_ALERT_RING; i++) {
        json_decref(a->ring[i]);
    }

    json_decref(a->am_batch);
    free(a->b);
    free(a);
}


/* ---- /api/v1/alerts */

typedef struct {
    json_t   *list;
} sq_hist_walk_t;


static int
sq_alert_history_one(void *data, const sq_alert_event_t *ev)
{
    int              d, sev, resolved;
    json_t          *o, *labels, *owner;
    sq_item_t        it;
    sq_hist_walk_t  *hw = data;

    d = sq_alert_dim_of(ev->dimension ? ev->dimension : "");

    if (d < 0 || ev->endpoint == NULL || ev->region == NULL
        || ev->segment == NULL || ev->status == NULL || ev->severity == NULL)
    {
        return 0;
    }

    sev = strcmp(ev->severity, "critical") == 0 ? SQ_SEV_CRITICAL
                                                : SQ_SEV_WARNING;
    resolved = strcmp(ev->status, "resolved") == 0;

    memset(&it, 0, sizeof(it));
    it.scope = sq_alert_scope_of(ev);
    it.dim = d;
    it.severity = sev;
    it.since = ev->since;
    it.value = ev->value;
    it.adequate = ev->adequate;
    it.desired = ev->desired;
    it.msa = ev->msa;
    it.endpoint = ev->endpoint;
    it.region = ev->region;
    it.segment = ev->segment;

    for (d = 0; d < SQ_NINDICATORS; d++) {
        if (ev->indicator && strcmp(ev->indicator, sq_indicator_names[d])
                             == 0)
        {
            it.indicator = d;
        }
    }

    o = sq_alert_obj(NULL, &it, resolved, ev->time);

    if (ev->labels) {
        owner = json_loads(ev->labels, 0, NULL);
        labels = json_object_get(o, "labels");

        if (owner && labels) {
            json_object_update_missing(labels, owner);
        }

        json_decref(owner);
    }

    json_array_append_new(hw->list, o);

    return 0;
}


json_t *
sq_alert_json(sq_alert_t *a)
{
    int              sev;
    size_t           i, max;
    json_t          *root, *firing, *hist;
    uint32_t         k;
    sq_item_t       *it;
    sq_hist_walk_t   hw;

    root = json_object();
    firing = json_array();
    hist = json_array();
    max = a->ctx->conf->alerts.history;

    for (sev = SQ_SEV_CRITICAL; sev >= SQ_SEV_WARNING; sev--) {
        for (k = 0; k < a->nb; k++) {
            for (it = a->b[k]; it; it = it->next) {
                if (it->severity == sev) {
                    json_array_append_new(firing,
                                          sq_alert_obj(a, it, 0, 0));
                }
            }
        }
    }

    if (a->ctx->store) {
        hw.list = hist;

        if (sq_store_alert_history(a->ctx->store, 0, max,
                                   sq_alert_history_one, &hw)
            != SQ_STORE_OK)
        {
            sq_log(SQ_LOG_ERROR, "cannot read the alert history: %s",
                   sq_store_strerror(a->ctx->store));
        }

    } else {
        for (i = 0; i < a->ring_n && i < max; i++) {
            json_array_append(hist, a->ring[(a->ring_head + SQ_ALERT_RING
                                             - 1 - i) % SQ_ALERT_RING]);
        }
    }

    json_object_set_new(root, "firing", firing);
    json_object_set_new(root, "history", hist);

    return root;
}


void
sq_alert_prom(sq_alert_t *a, struct evbuffer *b)
{
    int         sev, k, r;
    uint32_t    j;
    uint64_t    firing[3];
    sq_item_t  *it;

    if (a == NULL) {
        return;
    }

    firing[0] = firing[1] = firing[2] = 0;

    for (j = 0; j < a->nb; j++) {
        for (it = a->b[j]; it; it = it->next) {
            firing[it->severity]++;
        }
    }

    evbuffer_add_printf(b,
        "# HELP servqual_alerts_firing alerts firing now\n"
        "# TYPE servqual_alerts_firing gauge\n");

    for (sev = SQ_SEV_WARNING; sev <= SQ_SEV_CRITICAL; sev++) {
        evbuffer_add_printf(b, "servqual_alerts_firing{severity=\"%s\"} "
                            "%llu\n", sq_severity_names[sev],
                            (unsigned long long) firing[sev]);
    }

    evbuffer_add_printf(b,
        "# HELP servqual_alert_transitions_total alerts fired and "
        "resolved\n"
        "# TYPE servqual_alert_transitions_total counter\n");

    for (sev = SQ_SEV_WARNING; sev <= SQ_SEV_CRITICAL; sev++) {
        for (r = 0; r < 2; r++) {
            evbuffer_add_printf(b, "servqual_alert_transitions_total{"
                                "severity=\"%s\",status=\"%s\"} %llu\n",
                                sq_severity_names[sev],
                                r ? "resolved" : "firing",
                                (unsigned long long)
                                a->transitions[sev][r]);
        }
    }

    evbuffer_add_printf(b,
        "# HELP servqual_alert_notifications_total notifications to the "
        "alert sinks, by result\n"
        "# TYPE servqual_alert_notifications_total counter\n");

    for (k = 0; k < SQ_NSINKS; k++) {
        for (r = 0; r < SQ_NOTE_NRESULTS; r++) {
            evbuffer_add_printf(b, "servqual_alert_notifications_total{"
                                "sink=\"%s\",result=\"%s\"} %llu\n",
                                sq_sink_names[k], sq_note_names[r],
                                (unsigned long long) a->notes[k][r]);
        }
    }

    evbuffer_add_printf(b,
        "# HELP servqual_alert_notifications_queued notifications waiting "
        "to be sent\n"
        "# TYPE servqual_alert_notifications_queued gauge\n");

    for (k = 0; k < SQ_NSINKS; k++) {
        evbuffer_add_printf(b, "servqual_alert_notifications_queued{"
                            "sink=\"%s\"} %llu\n", sq_sink_names[k],
                            (unsigned long long) (a->sink[k]
                                ? a->sink[k]->n + (a->sink[k]->busy ? 1 : 0)
                                : 0));
    }

    evbuffer_add_printf(b,
        "# HELP servqual_alert_evaluations_total alert evaluations\n"
        "# TYPE servqual_alert_evaluations_total counter\n"
        "servqual_alert_evaluations_total %llu\n"
        "# HELP servqual_alert_evaluation_seconds duration of the last "
        "alert evaluation\n"
        "# TYPE servqual_alert_evaluation_seconds gauge\n"
        "servqual_alert_evaluation_seconds %.6f\n",
        (unsigned long long) a->evaluations, a->eval_seconds);
}


/* ---- sinks: a bounded queue each, one request at a time, never
        blocking: libevent's HTTP client */

static sq_sink_t *
sq_sink_new(sq_alert_t *a, int kind, const char *url)
{
    size_t              n;
    sq_sink_t          *s;
    const char         *path, *query, *host;
    struct evhttp_uri  *u;

    u = evhttp_uri_parse(url);
    if (u == NULL) {
        return NULL;
    }

    s = calloc(1, sizeof(sq_sink_t));
    if (s == NULL) {
        evhttp_uri_free(u);
        return NULL;
    }

    s->kind = kind;
    s->alert = a;
    s->cap = a->ctx->conf->alerts.queue;
    s->q = calloc(s->cap, sizeof(sq_note_t *));
    s->url = strdup(url);

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
        /* Alertmanager: its API under the base URL */
        snprintf(s->path, n, "%s%s%s%s", path,
                 kind != SQ_SINK_ALERTMANAGER ? ""
                 : path[strlen(path) - 1] == '/' ? "api/v2/alerts"
                 : "/api/v2/alerts",
                 query ? "?" : "", query ? query : "");
    }

    evhttp_uri_free(u);

    if (a->dns == NULL) {
        a->dns = evdns_base_new(a->ctx->base,
                                EVDNS_BASE_INITIALIZE_NAMESERVERS);
    }

    s->timer = evtimer_new(a->ctx->base, sq_sink_on_timer, s);

    if (s->q == NULL || s->url == NULL || s->host == NULL
        || s->path == NULL || s->timer == NULL)
    {
        sq_sink_free(s);
        return NULL;
    }

    s->evcon = evhttp_connection_base_new(a->ctx->base, a->dns, s->host,
                                          (ev_uint16_t) s->port);
    if (s->evcon == NULL) {
        sq_sink_free(s);
        return NULL;
    }

    evhttp_connection_set_timeout(s->evcon,
                                  (int) a->ctx->conf->alerts.timeout);

    return s;
}


static void
sq_note_free(sq_note_t *n)
{
    if (n) {
        free(n->body);
        free(n);
    }
}


static void
sq_sink_free(sq_sink_t *s)
{
    size_t  i;

    if (s == NULL) {
        return;
    }

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
    free(s->host);
    free(s->path);
    free(s);
}


/* queues a notification (takes the JSON); the oldest goes when full */

static void
sq_sink_push(sq_sink_t *s, json_t *json)
{
    char       *body;
    sq_note_t  *n;

    body = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(json);

    if (body == NULL) {
        s->alert->notes[s->kind][SQ_NOTE_DROPPED]++;
        return;
    }

    n = calloc(1, sizeof(sq_note_t));
    if (n == NULL) {
        free(body);
        s->alert->notes[s->kind][SQ_NOTE_DROPPED]++;
        return;
    }

    n->body = body;
    n->len = strlen(body);

    if (s->n == s->cap) {
        sq_note_free(s->q[s->head]);
        s->head = (s->head + 1) % s->cap;
        s->n--;
        s->alert->notes[s->kind][SQ_NOTE_DROPPED]++;
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
        s->alert->notes[s->kind][SQ_NOTE_SENT]++;
        sq_note_free(s->busy);
        s->busy = NULL;

        if (s->failures) {
            sq_log(SQ_LOG_INFO, "alerts: the %s at \"%s\" answers again",
                   sq_sink_names[s->kind], s->url);
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
    max = s->alert->ctx->conf->alerts.attempts;

    if (now - s->logged >= SQ_SINK_LOG_EVERY) {
        sq_log(SQ_LOG_WARN, "alerts: sending to the %s at \"%s\" failed "
               "(%s%d), %llu failure(s) since the last such line",
               sq_sink_names[s->kind], s->url,
               code ? "HTTP " : "no answer, ", code,
               (unsigned long long) s->failures);
        s->logged = now;
    }

    if (s->busy->attempts >= max) {
        s->alert->notes[s->kind][SQ_NOTE_FAILED]++;
        sq_note_free(s->busy);
        s->busy = NULL;
        sq_sink_kick(s, 0);
        return;
    }

    s->alert->notes[s->kind][SQ_NOTE_RETRIED]++;

    /* 1 s, 2 s, 4 s ... up to alerts.backoff_max */

    delay = s->busy->attempts < 30 ? (int64_t) 1 << (s->busy->attempts - 1)
                                   : s->alert->ctx->conf->alerts.backoff_max;

    if (delay > s->alert->ctx->conf->alerts.backoff_max) {
        delay = s->alert->ctx->conf->alerts.backoff_max;
    }

    sq_sink_kick(s, delay);
}
