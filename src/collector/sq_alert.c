
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <jansson.h>

#include "sq_collector.h"
#include "sq_alert.h"
#include "sq_alert_am.h"
#include "sq_alert_log.h"
#include "sq_alert_rec.h"
#include "sq_incident.h"
#include "sq_incident_open.h"
#include "sq_json.h"
#include "sq_sink.h"
#include "sq_status.h"
#include "sq_view.h"


#define SQ_ALERT_BUCKETS  1024      /* initial, doubled as needed */
#define SQ_ALERT_RING     1000      /* history kept without a store */
#define SQ_ALERT_RESTORE  100000    /* transitions read back at start */


/* one alert that is firing, keyed by (scope, endpoint, region, segment,
   dimension) */

typedef struct sq_item_s  sq_item_t;

struct sq_item_s {
    sq_item_t        *next;       /* hash chain */
    uint32_t          hash;
    uint64_t          gen;        /* the evaluation that last saw it */
    sq_alert_info_t   info;       /* names in key[] */
    char              key[];
};


/* an alert transition of the evaluation under way */

typedef struct {
    sq_item_t        *it;
    int               resolved;
} sq_change_t;


struct sq_alert_s {
    sq_ctx_t          *ctx;
    struct event      *timer;
    int64_t            interval;
    struct evdns_base *dns;

    sq_item_t        **b;
    uint32_t           nb;
    uint32_t           n;
    uint64_t           gen;

    sq_item_t         *dead;       /* resolved, freed after the report */
    sq_change_t       *chg;        /* this evaluation's transitions */
    size_t             nchg;
    size_t             achg;
    uint64_t           fired[3];   /* this evaluation's, by severity */
    uint64_t           resolved[3];
    sq_alert_rec_t    *rec;        /* the history writer */
    double             group_seconds;   /* the last grouping's */

    sq_sink_t         *sink[SQ_NSINKS];
    uint64_t           notes[SQ_NSINKS][SQ_NOTE_NRESULTS];
    sq_alert_am_t      am;
    sq_alert_log_t     log;
    int                changed;

    sq_incidents_t     inc;        /* of the firing alerts */
    const sq_alert_info_t  **inc_al;    /* what inc points into */
    sq_incident_state_t    **inc_st;    /* the state of each of inc */
    uint64_t           inc_gen;
    sq_opens_t         opens;      /* the incidents open */

    json_t            *ring[SQ_ALERT_RING];   /* newest at ring_head - 1 */
    size_t             ring_head;
    size_t             ring_n;

    uint64_t           transitions[3][2];     /* severity, resolved */
    uint64_t           evaluations;
    double             eval_seconds;
};


const char  *sq_severity_names[3] = { "none", "warning", "critical" };

const char  *sq_sink_names[SQ_NSINKS] = { "alertmanager", "webhook" };


static uint32_t sq_alert_names_hash(uint32_t seed, const char *e,
    const char *r, const char *g);
static uint32_t sq_alert_row_hash(int scope, const char *e, const char *r,
    const char *g);
static uint32_t sq_alert_dim_hash(uint32_t row, int dim);
static sq_item_t *sq_alert_find(sq_alert_t *a, uint32_t hash, int scope,
    const char *e, const char *r, const char *g, int dim);
static sq_item_t *sq_alert_add(sq_alert_t *a, uint32_t hash, int scope,
    const char *e, const char *r, const char *g, int dim);
static void sq_alert_remove(sq_alert_t *a, sq_item_t *it, int defer);
static void sq_alert_set(sq_item_t *it, const sq_dim_score_t *ds);
static void sq_alert_transition(sq_alert_t *a, sq_item_t *it, int resolved,
    int64_t now);
static void sq_alert_report(sq_alert_t *a, int64_t now);
static void sq_alert_event_of(sq_alert_event_t *ev,
    const sq_alert_info_t *in, int resolved, int64_t now);
static void sq_alert_record(sq_alert_t *a, int64_t now);
static double sq_alert_seconds(const struct timespec *t0,
    const struct timespec *t1);
static void sq_alert_on_timer(evutil_socket_t fd, short what, void *data);
static int sq_alert_schedule(sq_alert_t *a);
static void sq_alert_restore(sq_alert_t *a);
static int sq_alert_restore_one(void *data, const sq_alert_event_t *ev);
static int sq_alert_history_one(void *data, const sq_alert_event_t *ev);
static int sq_alert_scope_of(const sq_alert_event_t *ev);
static int sq_alert_dim_of(const char *name);
static int sq_alert_info_of(const sq_alert_event_t *ev,
    sq_alert_info_t *in);
static void sq_alert_incidents(sq_alert_t *a, int64_t now);


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


uint32_t
sq_alert_hash(int scope, const char *e, const char *r, const char *g,
    int dim)
{
    return sq_alert_names_hash((uint32_t) (scope * 16 + dim), e, r, g);
}


/*
 * The table's own hash: the row's names hashed once, then each dimension
 * mixed in (sq_alert_hash, in the alerts' ids, hashes all per dimension)
 */

static uint32_t
sq_alert_row_hash(int scope, const char *e, const char *r, const char *g)
{
    return sq_alert_names_hash((uint32_t) scope, e, r, g);
}


/* FNV-1a over a seed and the row's three names, each ended by 0xff */

static uint32_t
sq_alert_names_hash(uint32_t seed, const char *e, const char *r,
    const char *g)
{
    uint32_t     h;
    const char  *p;
    int          i;
    const char  *parts[3];

    parts[0] = e;
    parts[1] = r;
    parts[2] = g;

    h = 2166136261u ^ seed;
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


static uint32_t
sq_alert_dim_hash(uint32_t row, int dim)
{
    uint32_t  h;

    h = row ^ ((uint32_t) (dim + 1) * 0x9e3779b1u);
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;

    return h;
}


static sq_item_t *
sq_alert_find(sq_alert_t *a, uint32_t hash, int scope, const char *e,
    const char *r, const char *g, int dim)
{
    sq_item_t        *it;
    sq_alert_info_t  *in;

    for (it = a->b[hash & (a->nb - 1)]; it; it = it->next) {
        in = &it->info;

        if (it->hash == hash && in->scope == scope && in->dim == dim
            && strcmp(in->endpoint, e) == 0 && strcmp(in->region, r) == 0
            && strcmp(in->segment, g) == 0)
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

    it->info.endpoint = it->key;
    it->info.region = it->key + le;
    it->info.segment = it->key + le + lr;
    it->hash = hash;
    it->info.scope = scope;
    it->info.dim = dim;

    it->next = a->b[hash & (a->nb - 1)];
    a->b[hash & (a->nb - 1)] = it;
    a->n++;

    return it;
}


/* unlinks it; defer: freed after the evaluation's report */

static void
sq_alert_remove(sq_alert_t *a, sq_item_t *it, int defer)
{
    sq_item_t  **pp;

    for (pp = &a->b[it->hash & (a->nb - 1)]; *pp; pp = &(*pp)->next) {
        if (*pp == it) {
            *pp = it->next;
            a->n--;
            break;
        }
    }

    if (defer) {
        it->next = a->dead;
        a->dead = it;
        return;
    }

    free(it->info.labels);
    free(it);
}


static void
sq_alert_set(sq_item_t *it, const sq_dim_score_t *ds)
{
    it->info.indicator = ds->indicator;
    it->info.value = ds->value;
    it->info.adequate = ds->adequate;
    it->info.desired = ds->desired;
    it->info.msa = ds->msa;
    it->info.lat = ds->lat;
    it->info.base = ds->base;
}


/* an alert transition as the store records it */

static void
sq_alert_event_of(sq_alert_event_t *ev, const sq_alert_info_t *in,
    int resolved, int64_t now)
{
    memset(ev, 0, sizeof(sq_alert_event_t));
    ev->time = now;
    ev->status = resolved ? "resolved" : "firing";
    ev->severity = sq_severity_names[in->severity];
    ev->endpoint = in->endpoint;
    ev->region = in->region;
    ev->segment = in->segment;
    ev->journey = in->scope == SQ_SCOPE_JOURNEY ? in->endpoint : NULL;
    ev->dimension = sq_dim_names[in->dim];
    ev->indicator = sq_indicator_names[in->indicator];
    ev->value = in->value;
    ev->adequate = in->adequate;
    ev->desired = in->desired;
    ev->msa = in->msa;
    ev->since = in->since;
    ev->labels = in->labels;
}


/*
 * The history of the transitions: the store, in slices between turns of
 * the loop (sq_alert_rec.c), or without a store a ring of the last
 * SQ_ALERT_RING
 */

static void
sq_alert_record(sq_alert_t *a, int64_t now)
{
    size_t             i;
    json_t            *o;
    sq_alert_event_t   ev;

    if (a->nchg == 0) {
        return;
    }

    if (a->ctx->store == NULL || a->rec == NULL) {
        for (i = 0; i < a->nchg; i++) {
            o = sq_json_alert(&a->chg[i].it->info, a->chg[i].resolved, now);

            if (a->ring[a->ring_head]) {
                json_decref(a->ring[a->ring_head]);
            }

            a->ring[a->ring_head] = o;
            a->ring_head = (a->ring_head + 1) % SQ_ALERT_RING;

            if (a->ring_n < SQ_ALERT_RING) {
                a->ring_n++;
            }
        }

        return;
    }

    for (i = 0; i < a->nchg; i++) {
        sq_alert_event_of(&ev, &a->chg[i].it->info, a->chg[i].resolved, now);

        if (sq_alert_rec_add(a->rec, &ev) != SQ_OK) {
            sq_log(SQ_LOG_ERROR, "alerts: out of memory: %zu transitions "
                   "not recorded", a->nchg - i);
            break;
        }
    }

    sq_alert_rec_kick(a->rec);
}


/*
 * A transition: counted now; recorded, logged and sent to the webhook by
 * the report at the end of the evaluation
 */

static void
sq_alert_transition(sq_alert_t *a, sq_item_t *it, int resolved, int64_t now)
{
    size_t        n;
    sq_change_t  *c;

    a->transitions[it->info.severity][resolved]++;
    a->changed = 1;

    if (resolved) {
        a->resolved[it->info.severity]++;

    } else {
        a->fired[it->info.severity]++;
    }

    if (a->nchg == a->achg) {
        n = a->achg ? 2 * a->achg : 64;
        c = realloc(a->chg, n * sizeof(sq_change_t));

        if (c == NULL) {
            return;
        }

        a->chg = c;
        a->achg = n;
    }

    a->chg[a->nchg].it = it;
    a->chg[a->nchg].resolved = resolved;
    a->nchg++;
}


/*
 * The transitions of an evaluation: a log line each when they are few,
 * else the incidents speak for them and one line sums them up (after the
 * grouping).  The webhook gets a notification each, as many as its queue
 * holds: those the queue would drop at once are counted, never built.
 */

static void
sq_alert_report(sq_alert_t *a, int64_t now)
{
    size_t      i, skip;
    sq_item_t  *it;
    sq_sink_t  *hook;

    if (a->nchg <= SQ_ALERT_LOG_DETAIL) {
        for (i = 0; i < a->nchg; i++) {
            sq_alert_log_transition(&a->chg[i].it->info, a->chg[i].resolved);
        }
    }

    sq_alert_record(a, now);

    hook = a->sink[SQ_SINK_WEBHOOK];

    if (hook && a->nchg) {
        skip = a->nchg > sq_sink_capacity(hook)
               ? a->nchg - sq_sink_capacity(hook) : 0;
        sq_sink_drop(hook, skip);

        for (i = skip; i < a->nchg; i++) {
            sq_sink_push(hook, sq_json_alert_hook(&a->chg[i].it->info,
                                                  a->chg[i].resolved, now,
                                                  a->ctx->conf));
        }
    }

    a->nchg = 0;

    while (a->dead) {
        it = a->dead;
        a->dead = it->next;
        free(it->info.labels);
        free(it);
    }
}


void
sq_alert_evaluate(sq_alert_t *a, const sq_view_t *view, int64_t now)
{
    int                    d, cur, next, many;
    size_t                 i;
    double                 warn_z, judged;
    uint32_t               h, k, rh;
    unsigned               scopes;
    sq_item_t             *it, *nx;
    const sq_row_t        *r;
    sq_dim_score_t         sd, ld;
    struct timespec        t0, t1, c0, c1;
    const sq_dim_score_t  *s, *l;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);

    a->gen++;
    a->changed = 0;
    memset(a->fired, 0, sizeof(a->fired));
    memset(a->resolved, 0, sizeof(a->resolved));
    warn_z = 1 - a->ctx->conf->alerts.warning_share;
    scopes = a->ctx->conf->alerts.scopes;

    for (i = 0; i < view->n; i++) {
        r = &view->rows[i];

        if (!(scopes & (1u << r->scope))) {
            continue;
        }

        rh = sq_alert_row_hash(r->scope, r->endpoint, r->region,
                               r->segment);

        for (d = 0; d < SQ_NDIMS; d++) {
            sq_view_dim(r, SQ_WIN_SHORT, d, &sd);
            sq_view_dim(r, SQ_WIN_LONG, d, &ld);
            s = &sd;
            l = &ld;

            h = sq_alert_dim_hash(rh, d);
            it = sq_alert_find(a, h, r->scope, r->endpoint, r->region,
                               r->segment, d);
            cur = it ? it->info.severity : SQ_SEV_NONE;
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
                sq_alert_remove(a, it, 1);
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

            it->info.severity = next;
            it->info.since = now;
            it->gen = a->gen;
            it->info.labels = sq_json_owner_labels(r->levels->labels,
                                                   r->levels->nlabels);
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
                sq_alert_remove(a, it, 1);
            }
        }
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    judged = sq_alert_seconds(&t0, &t1);

    many = a->nchg > SQ_ALERT_LOG_DETAIL;
    sq_alert_report(a, now);
    sq_alert_incidents(a, now);

    a->evaluations++;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    a->eval_seconds = sq_alert_seconds(&t0, &t1);

    if (many) {
        sq_alert_log_summary(a->fired, a->resolved, a->n, a->inc.n,
                             a->eval_seconds);
    }

    sq_log(SQ_LOG_DEBUG, "alerts: evaluation %llu: %zu rows in %.1f ms "
           "(%.1f ms of CPU; %.1f ms judging them, %.1f ms grouping; %zu "
           "transitions to record, the longest slice since the last "
           "evaluation %.1f ms), %u alerts firing in %zu incidents, %llu "
           "fired, %llu resolved",
           (unsigned long long) a->evaluations, view->n,
           a->eval_seconds * 1000, sq_alert_seconds(&c0, &c1) * 1000,
           judged * 1000, a->group_seconds * 1000,
           sq_alert_rec_pending(a->rec),
           a->rec ? sq_alert_rec_slowest(a->rec) * 1000 : 0.0, a->n,
           a->inc.n,
           (unsigned long long) (a->fired[1] + a->fired[2]),
           (unsigned long long) (a->resolved[1] + a->resolved[2]));
}


static double
sq_alert_seconds(const struct timespec *t0, const struct timespec *t1)
{
    return (t1->tv_sec - t0->tv_sec) + (t1->tv_nsec - t0->tv_nsec) / 1e9;
}


static void
sq_alert_on_timer(evutil_socket_t fd, short what, void *data)
{
    int          built;
    int64_t      now;
    sq_ctx_t    *ctx;
    sq_view_t   *v;
    sq_alert_t  *a = data;

    /* the evaluation tick: a new view if anything changed since the last */

    ctx = a->ctx;
    now = sq_now();

    if (sq_view_tick(&ctx->views, &ctx->windows, ctx->conf, now, 1, &built)
        != SQ_OK)
    {
        sq_log(SQ_LOG_ERROR, "alerts: out of memory");
        return;
    }

    v = sq_view_latest(&ctx->views);

    if (v) {
        sq_alert_evaluate(a, v, now);
    }
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


/* an alert as the store recorded it; -1 if a field is missing */

static int
sq_alert_info_of(const sq_alert_event_t *ev, sq_alert_info_t *in)
{
    int  i;

    memset(in, 0, sizeof(sq_alert_info_t));

    if (ev->dimension == NULL || ev->endpoint == NULL || ev->region == NULL
        || ev->segment == NULL || ev->status == NULL || ev->severity == NULL)
    {
        return -1;
    }

    in->dim = sq_alert_dim_of(ev->dimension);

    if (in->dim < 0) {
        return -1;
    }

    in->scope = sq_alert_scope_of(ev);
    in->severity = strcmp(ev->severity, "critical") == 0 ? SQ_SEV_CRITICAL
                                                         : SQ_SEV_WARNING;
    in->since = ev->since;
    in->value = ev->value;
    in->adequate = ev->adequate;
    in->desired = ev->desired;
    in->msa = ev->msa;
    in->lat = NAN;
    in->base = NAN;
    in->endpoint = ev->endpoint;
    in->region = ev->region;
    in->segment = ev->segment;

    for (i = 0; i < SQ_NINDICATORS; i++) {
        if (ev->indicator && strcmp(ev->indicator, sq_indicator_names[i])
                             == 0)
        {
            in->indicator = i;
        }
    }

    return 0;
}


static int
sq_alert_restore_one(void *data, const sq_alert_event_t *ev)
{
    uint32_t          h;
    sq_item_t        *it;
    sq_restore_t     *rs = data;
    sq_alert_info_t   in;

    if (sq_alert_info_of(ev, &in) != 0) {
        return 0;
    }

    h = sq_alert_dim_hash(sq_alert_row_hash(in.scope, in.endpoint, in.region,
                                            in.segment),
                          in.dim);

    /* newest first: the first event of a key and severity decides */

    it = sq_alert_find(rs->a, h, in.scope, in.endpoint, in.region,
                       in.segment, in.dim);

    if (it) {
        return 0;
    }

    it = sq_alert_add(rs->a, h, in.scope, in.endpoint, in.region,
                      in.segment, in.dim);
    if (it == NULL) {
        return 1;
    }

    it->info.severity = strcmp(ev->status, "firing") == 0 ? in.severity
                                                          : SQ_SEV_NONE;
    it->info.indicator = in.indicator;
    it->info.since = in.since;
    it->info.value = in.value;
    it->info.adequate = in.adequate;
    it->info.desired = in.desired;
    it->info.msa = in.msa;
    it->info.lat = NAN;
    it->info.base = NAN;
    it->info.labels = ev->labels ? strdup(ev->labels) : NULL;

    return 0;
}


static void
sq_alert_restore(sq_alert_t *a)
{
    size_t        taken;
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
        != SQ_OK)
    {
        sq_log(SQ_LOG_ERROR, "cannot read the alert history: %s",
               sq_store_strerror(a->ctx->store));
    }

    /* the keys whose last transition was a resolution are done */

    taken = 0;

    for (k = 0; k < a->nb; k++) {
        for (it = a->b[k]; it; it = nx) {
            nx = it->next;

            if (it->info.severity == SQ_SEV_NONE) {
                sq_alert_remove(a, it, 0);

            } else {
                sq_alert_log_taken_up(&it->info, taken++);
            }
        }
    }

    sq_alert_log_taken_up_total(taken);
}


sq_alert_t *
sq_alert_new(sq_ctx_t *ctx)
{
    sq_alert_t  *a;

    a = calloc(1, sizeof(sq_alert_t));
    if (a == NULL) {
        return NULL;
    }

    a->ctx = ctx;
    a->nb = SQ_ALERT_BUCKETS;
    a->b = calloc(a->nb, sizeof(sq_item_t *));
    a->timer = event_new(ctx->base, -1, EV_PERSIST, sq_alert_on_timer, a);

    a->rec = sq_alert_rec_new(ctx);

    if (a->b == NULL || a->timer == NULL || a->rec == NULL
        || sq_alert_am_init(&a->am) != SQ_OK
        || sq_opens_init(&a->opens) != SQ_OK)
    {
        sq_alert_free(a);
        return NULL;
    }

    sq_alert_restore(a);
    sq_alert_configure(a);
    sq_alert_incidents(a, sq_now());

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
    sq_sink_conf_t    sc;
    sq_alert_conf_t  *ac;

    ac = &a->ctx->conf->alerts;

    for (k = 0; k < SQ_NSINKS; k++) {
        url = k == SQ_SINK_ALERTMANAGER ? ac->alertmanager : ac->webhook;

        sc.name = sq_sink_names[k];
        sc.url = url;
        sc.api = k == SQ_SINK_ALERTMANAGER ? "api/v2/alerts" : NULL;
        sc.queue = ac->queue;
        sc.timeout = ac->timeout;
        sc.attempts = ac->attempts;
        sc.backoff_max = ac->backoff_max;

        if (a->sink[k] && url && strcmp(sq_sink_url(a->sink[k]), url) == 0) {
            /* kept, with its queue */
            sq_sink_configure(a->sink[k], &sc);
            continue;
        }

        /* what was waiting is dropped */

        sq_sink_free(a->sink[k]);
        a->sink[k] = NULL;

        if (url) {
            if (a->dns == NULL) {
                a->dns = evdns_base_new(a->ctx->base,
                                        EVDNS_BASE_INITIALIZE_NAMESERVERS);
            }

            a->sink[k] = sq_sink_new(a->ctx->base, a->dns, &sc,
                                     a->notes[k]);

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
            free(it->info.labels);
            free(it);
        }
    }

    for (i = 0; i < SQ_ALERT_RING; i++) {
        json_decref(a->ring[i]);
    }

    sq_opens_free(&a->opens);

    sq_alert_rec_free(a->rec);
    a->nchg = 0;
    sq_alert_report(a, 0);
    sq_incidents_free(&a->inc);
    free(a->inc_al);
    free(a->inc_st);
    free(a->chg);
    sq_alert_am_free(&a->am);
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
    json_t           *o, *labels, *owner;
    sq_hist_walk_t   *hw = data;
    sq_alert_info_t   in;

    if (sq_alert_info_of(ev, &in) != 0) {
        return 0;
    }

    o = sq_json_alert(&in, strcmp(ev->status, "resolved") == 0, ev->time);

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
                if (it->info.severity == sev) {
                    json_array_append_new(firing,
                                          sq_json_alert(&it->info, 0, 0));
                }
            }
        }
    }

    if (a->ctx->store) {
        hw.list = hist;

        if (sq_store_alert_history(a->ctx->store, 0, max,
                                   sq_alert_history_one, &hw)
            != SQ_OK)
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


/* ---- incidents: the firing alerts grouped by cause (sq_incident.c) */

static void
sq_alert_incidents(sq_alert_t *a, int64_t now)
{
    int                      fresh;
    size_t                   i, n;
    json_t                  *o;
    uint32_t                 k;
    sq_item_t               *it;
    sq_open_t               *op;
    sq_incident_t           *inc;
    struct timespec          t0, t1;
    sq_incident_state_t    **st;
    const sq_alert_info_t  **al;

    al = calloc(a->n ? a->n : 1, sizeof(sq_alert_info_t *));
    if (al == NULL) {
        sq_log(SQ_LOG_ERROR, "incidents: out of memory");
        return;
    }

    n = 0;

    for (k = 0; k < a->nb; k++) {
        for (it = a->b[k]; it; it = it->next) {
            if (it->info.severity != SQ_SEV_NONE && n < a->n) {
                al[n++] = &it->info;
            }
        }
    }

    sq_incidents_free(&a->inc);

    /* the members point into the alerts: kept until the next grouping */

    free(a->inc_al);
    a->inc_al = al;

    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (sq_incident_group(al, n, &a->inc) != SQ_OK) {
        sq_log(SQ_LOG_ERROR, "incidents: out of memory");
        return;
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    a->group_seconds = sq_alert_seconds(&t0, &t1);

    st = realloc(a->inc_st, (a->inc.n ? a->inc.n : 1)
                            * sizeof(sq_incident_state_t *));
    if (st == NULL) {
        sq_log(SQ_LOG_ERROR, "incidents: out of memory");
        sq_incidents_free(&a->inc);
        return;
    }

    a->inc_st = st;
    a->inc_gen++;
    sq_alert_log_begin(&a->log);

    for (i = 0; i < a->inc.n; i++) {
        inc = &a->inc.inc[i];
        sq_incident_describe(inc);

        op = sq_opens_open(&a->opens, inc, now);
        if (op == NULL) {
            sq_log(SQ_LOG_ERROR, "incidents: out of memory");
            continue;
        }

        fresh = op->gen == 0;
        op->gen = a->inc_gen;
        sq_incident_trend(inc, &op->st);

        o = sq_json_incident(inc, &op->st, "firing", now);

        if (fresh || op->dims != inc->dims || op->severity != inc->severity
            || op->nmembers != inc->nmembers)
        {
            sq_alert_log_incident(&a->log, fresh ? "opened" : "changed", o);
            a->changed = 1;

            if (a->sink[SQ_SINK_WEBHOOK]) {
                json_object_set_new(o, "kind", json_string("incident"));
                sq_sink_push(a->sink[SQ_SINK_WEBHOOK], json_deep_copy(o));
                json_object_del(o, "kind");
            }
        }

        op->dims = inc->dims;
        op->severity = inc->severity;
        op->nmembers = inc->nmembers;
        json_decref(op->last);
        op->last = o;
    }

    /* the incidents that are over */

    for (i = 0; i < a->opens.n; /* void */) {
        op = &a->opens.open[i];

        if (op->gen == a->inc_gen) {
            i++;
            continue;
        }

        a->changed = 1;

        if (op->last) {
            json_object_set_new(op->last, "status", json_string("resolved"));
            json_object_set_new(op->last, "ends_at", json_integer(now));
            sq_alert_log_incident(&a->log, "resolved", op->last);

            if (a->sink[SQ_SINK_WEBHOOK]) {
                json_object_set_new(op->last, "kind",
                                    json_string("incident"));
                sq_sink_push(a->sink[SQ_SINK_WEBHOOK], op->last);
                op->last = NULL;
            }
        }

        sq_opens_close(&a->opens, i);
    }

    sq_alert_log_end(&a->log);

    /* the open incidents moved as others closed: their states now */

    for (i = 0; i < a->inc.n; i++) {
        op = sq_opens_get(&a->opens, a->inc.inc[i].key);
        a->inc_st[i] = op ? &op->st : NULL;
    }

    sq_alert_am_update(&a->am, a->sink[SQ_SINK_ALERTMANAGER], &a->inc,
                       a->inc_st, a->changed, now, a->ctx->conf);
}


json_t *
sq_alert_incidents_json(sq_alert_t *a)
{
    size_t          i;
    json_t         *root, *list, *o;
    sq_open_t      *op;
    uint64_t        firing;
    sq_incident_t  *inc;

    root = json_object();
    list = json_array();
    firing = 0;

    for (i = 0; i < a->inc.n; i++) {
        inc = &a->inc.inc[i];
        firing += inc->nmembers;

        op = sq_opens_get(&a->opens, inc->key);
        if (op == NULL) {
            continue;
        }

        o = op->last ? json_deep_copy(op->last)
                     : sq_json_incident(inc, &op->st, "firing", 0);
        json_array_append_new(list, o);
    }

    json_object_set_new(root, "incidents", list);
    json_object_set_new(root, "alerts_firing", json_integer(firing));

    return root;
}


void
sq_alert_stats(const sq_alert_t *a, sq_alert_stats_t *st)
{
    int         k;
    size_t      i;
    uint32_t    j;
    sq_item_t  *it;

    memset(st, 0, sizeof(sq_alert_stats_t));

    if (a == NULL) {
        return;
    }

    for (j = 0; j < a->nb; j++) {
        for (it = a->b[j]; it; it = it->next) {
            st->firing[it->info.severity]++;
        }
    }

    for (i = 0; i < a->inc.n; i++) {
        st->incidents[a->inc.inc[i].severity]++;
    }

    memcpy(st->transitions, a->transitions, sizeof(st->transitions));
    memcpy(st->notes, a->notes, sizeof(st->notes));

    for (k = 0; k < SQ_NSINKS; k++) {
        st->queued[k] = sq_sink_queued(a->sink[k]);
    }

    st->evaluations = a->evaluations;
    st->eval_seconds = a->eval_seconds;
}
