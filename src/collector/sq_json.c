
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "sq_json.h"
#include "sq_smap.h"
#include "sq_status.h"


/* label names an owner label cannot take */
static const char  *sq_reserved[] = {
    "alertname", "severity", "endpoint", "region", "segment", "dimension",
    "journey", NULL
};


static void sq_json_alert_id(char *buf, size_t len, int scope,
    const char *e, const char *r, const char *g, const char *dim,
    int severity, int64_t since);
static void sq_json_rfc3339(char *buf, size_t len, int64_t t);
static json_t *sq_json_incident_labels(const sq_incident_t *inc);
static int sq_json_member_cmp(const void *a, const void *b);
static json_t *sq_json_incident_members(const sq_incident_t *inc);
static json_t *sq_json_am_envelope(json_t *labels, json_t *ann,
    int64_t since, int resolved, int64_t now, const sq_conf_t *conf);


json_t *
sq_json_num(double v)
{
    return isnan(v) || isinf(v) ? json_null() : json_real(v);
}


void
sq_json_seconds(char *buf, size_t len, double s)
{
    if (isnan(s)) {
        snprintf(buf, len, "-");

    } else if (s < 0.001) {
        snprintf(buf, len, "%.0f \xc2\xb5s", s * 1e6);

    } else if (s < 0.01) {
        snprintf(buf, len, "%.1f ms", s * 1e3);

    } else if (s < 1) {
        snprintf(buf, len, "%.0f ms", s * 1e3);

    } else if (s < 10) {
        snprintf(buf, len, "%.1f s", s);

    } else {
        snprintf(buf, len, "%.0f s", s);
    }
}


void
sq_json_human(char *buf, size_t len, int indicator, double v)
{
    if (isnan(v) || isinf(v)) {
        snprintf(buf, len, "-");
        return;
    }

    switch (sq_indicator_unit(indicator)) {

    case SQ_UNIT_SECONDS:
        sq_json_seconds(buf, len, v);
        break;

    case SQ_UNIT_SCORE:
        snprintf(buf, len, "%.3g", v);
        break;

    case SQ_UNIT_RATIO:
        if (v > SQ_RATIO_SHOWN_MAX) {
            snprintf(buf, len, "over %.0f\xc3\x97", SQ_RATIO_SHOWN_MAX);

        } else {
            snprintf(buf, len, "%.3g\xc3\x97", v);
        }

        break;

    default:
        if (indicator == SQ_IND_APDEX) {
            snprintf(buf, len, "Apdex %.2f", v);

        } else {
            snprintf(buf, len, "%.4g %%", v * 100);
        }
    }
}


void
sq_json_dim_text(char *buf, size_t len, int indicator, double value,
    double adequate, double desired, double lat, double base)
{
    char  v[48], a[48], d[48], l[48], b[48];

    sq_json_human(v, sizeof(v), indicator, value);
    sq_json_human(a, sizeof(a), indicator, adequate);
    sq_json_human(d, sizeof(d), indicator, desired);

    if (indicator == SQ_IND_APDEX) {
        /* "Apdex" once */
        snprintf(a, sizeof(a), "%.2f", adequate);
        snprintf(d, sizeof(d), "%.2f", desired);
    }

    if (indicator == SQ_IND_LATENCY_RATIO && !isnan(lat) && !isnan(base)) {
        sq_json_seconds(l, sizeof(l), lat);
        sq_json_seconds(b, sizeof(b), base);
        snprintf(buf, len, "p75 %s vs %s elsewhere, %s (adequate %s, "
                 "desired %s)", l, b, v, a, d);
        return;
    }

    snprintf(buf, len, "%s (adequate %s, desired %s)", v, a, d);
}


double
sq_json_z_shown(double z)
{
    if (isnan(z)) {
        return z;
    }

    return z < SQ_INDEX_ZMIN ? SQ_INDEX_ZMIN
           : z > SQ_INDEX_ZMAX ? SQ_INDEX_ZMAX : z;
}


void
sq_json_alert_text(char *buf, size_t len, const sq_alert_info_t *it)
{
    sq_json_dim_text(buf, len, it->indicator, it->value, it->adequate,
                     it->desired, it->lat, it->base);
}


json_t *
sq_json_window(const sq_win_score_t *ws, int dim)
{
    int                    d;
    char                   text[256];
    json_t                *w, *dims, *o, *lat;
    const sq_dim_score_t  *ds;

    w = json_object();
    dims = json_object();
    lat = json_object();

    json_object_set_new(w, "requests", json_integer(ws->requests));
    json_object_set_new(lat, "p50", sq_json_num(ws->p50));
    json_object_set_new(lat, "p75", sq_json_num(ws->p75));
    json_object_set_new(lat, "p95", sq_json_num(ws->p95));
    json_object_set_new(lat, "p99", sq_json_num(ws->p99));
    json_object_set_new(w, "latency_seconds", lat);
    json_object_set_new(w, "index", sq_json_num(ws->index));
    json_object_set_new(w, "state", json_string(sq_state_names[ws->state]));

    for (d = 0; d < SQ_NDIMS; d++) {
        if (dim >= 0 && d != dim) {
            continue;
        }

        ds = &ws->dim[d];
        o = json_object();

        json_object_set_new(o, "indicator",
                            json_string(sq_indicator_names[ds->indicator]));
        json_object_set_new(o, "value", sq_json_num(ds->value));
        json_object_set_new(o, "adequate", sq_json_num(ds->adequate));
        json_object_set_new(o, "desired", sq_json_num(ds->desired));
        json_object_set_new(o, "state", json_string(
                                sq_state_names[ds->state]));

        if (ds->state == SQ_STATE_INSUFFICIENT) {
            json_object_set_new(o, "z", json_null());
            json_object_set_new(o, "msa", json_null());
            json_object_set_new(o, "mss", json_null());

        } else {
            json_object_set_new(o, "z", sq_json_num(ds->z));
            json_object_set_new(o, "msa", sq_json_num(ds->msa));
            json_object_set_new(o, "mss", sq_json_num(ds->mss));
        }

        json_object_set_new(o, "z_shown", sq_json_num(
            ds->state == SQ_STATE_INSUFFICIENT ? NAN
                                               : sq_json_z_shown(ds->z)));

        if (ds->indicator == SQ_IND_LATENCY_RATIO) {
            json_object_set_new(o, "latency_seconds",
                                sq_json_num(ds->lat));
            json_object_set_new(o, "elsewhere_seconds",
                                sq_json_num(ds->base));
        }

        sq_json_dim_text(text, sizeof(text), ds->indicator, ds->value,
                         ds->adequate, ds->desired, ds->lat, ds->base);
        json_object_set_new(o, "text", json_string(text));

        json_object_set_new(o, "weight", sq_json_num(ds->weight));
        json_object_set_new(o, "requests", json_integer(ds->requests));
        json_object_set_new(o, "min_requests",
                            json_integer(ds->min_requests));

        json_object_set_new(dims, sq_dim_names[d], o);
    }

    json_object_set_new(w, "dimensions", dims);
    json_object_set_new(w, "browser", sq_json_browser(&ws->browser));

    return w;
}


/*
 * The browser's own view of a window (docs/api.md): the beacons and the
 * p75 of each measure, null without beacons.
 */

json_t *
sq_json_browser(const sq_browser_score_t *bs)
{
    int                 k;
    char                name[32];
    json_t             *o;
    static const char  *names[SQ_WIRE_NBHISTS] = { SQ_WIRE_BHIST_NAMES };

    if (bs->beacons == 0) {
        return json_null();
    }

    o = json_object();
    json_object_set_new(o, "beacons", json_integer(bs->beacons));

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        snprintf(name, sizeof(name), k == SQ_B_CLS ? "%s_p75"
                                                   : "%s_p75_seconds",
                 names[k]);
        json_object_set_new(o, name, sq_json_num(bs->p75[k]));
    }

    return o;
}


json_t *
sq_json_row(const sq_row_t *r, int dim, int win)
{
    int                k;
    size_t             l;
    json_t            *row, *labels, *wins;
    sq_win_score_t     ws;
    const sq_label_t  *lab;

    row = json_object();
    json_object_set_new(row, "scope", json_string(sq_scope_names[r->scope]));
    json_object_set_new(row, r->scope == SQ_SCOPE_JOURNEY
                             ? "journey" : "endpoint",
                        json_string(r->endpoint));
    json_object_set_new(row, "region", json_string(r->region));
    json_object_set_new(row, "segment", json_string(r->segment));

    labels = json_object();
    lab = r->levels->labels;

    for (l = 0; l < r->levels->nlabels; l++) {
        if (lab[l].key && lab[l].value) {
            json_object_set_new(labels, lab[l].key,
                                json_string(lab[l].value));
        }
    }

    json_object_set_new(row, "labels", labels);

    wins = json_object();

    for (k = 0; k < 2; k++) {
        if (win >= 0 && win != k) {
            continue;
        }

        sq_view_score(r, k, &ws);
        json_object_set_new(wins, k ? "long" : "short",
                            sq_json_window(&ws, dim));
    }

    json_object_set_new(row, "windows", wins);

    return row;
}


json_t *
sq_json_point(int64_t t, const sq_win_score_t *ws)
{
    int                    d;
    json_t                *pt, *dims, *o;
    const sq_dim_score_t  *ds;

    pt = json_object();
    dims = json_object();

    json_object_set_new(pt, "t", json_integer(t));
    json_object_set_new(pt, "requests", json_integer(ws->requests));
    json_object_set_new(pt, "index", sq_json_num(ws->index));
    json_object_set_new(pt, "state", json_string(sq_state_names[ws->state]));

    for (d = 0; d < SQ_NDIMS; d++) {
        ds = &ws->dim[d];
        o = json_object();

        json_object_set_new(o, "value", sq_json_num(ds->value));
        json_object_set_new(o, "z", ds->state == SQ_STATE_INSUFFICIENT
                                    ? json_null() : sq_json_num(ds->z));
        json_object_set_new(o, "state",
                            json_string(sq_state_names[ds->state]));
        json_object_set_new(dims, sq_dim_names[d], o);
    }

    json_object_set_new(pt, "dimensions", dims);
    json_object_set_new(pt, "browser", sq_json_browser(&ws->browser));

    return pt;
}


char *
sq_json_owner_labels(const sq_label_t *labels, size_t n)
{
    int                i;
    char              *s;
    size_t             l;
    json_t            *o;
    const sq_label_t  *lab;

    o = json_object();
    lab = labels;

    for (l = 0; l < n; l++) {
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
sq_json_alert_id(char *buf, size_t len, int scope, const char *e,
    const char *r, const char *g, const char *dim, int severity,
    int64_t since)
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
sq_json_rfc3339(char *buf, size_t len, int64_t t)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


void
sq_json_alert_summary(char *buf, size_t len, const sq_alert_info_t *it)
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

    sq_json_rfc3339(ts, sizeof(ts), it->since);

    snprintf(buf, len, "%s is %s the adequate level on %s since %s", where,
             it->severity == SQ_SEV_CRITICAL ? "below" : "close to",
             sq_dim_names[it->dim], ts);
}


/* the alert object of /api/v1/alerts and of the webhook's labels */

json_t *
sq_json_alert(const sq_alert_info_t *it, int resolved, int64_t ends_at)
{
    char     id[64], text[256];
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

    sq_json_alert_id(id, sizeof(id), it->scope, it->endpoint, it->region,
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
    json_object_set_new(o, "value", sq_json_num(it->value));
    json_object_set_new(o, "adequate", sq_json_num(it->adequate));
    json_object_set_new(o, "desired", sq_json_num(it->desired));
    json_object_set_new(o, "msa", sq_json_num(it->msa));
    json_object_set_new(o, "since", json_integer(it->since));

    sq_json_alert_text(text, sizeof(text), it);
    json_object_set_new(o, "text", json_string(text));

    if (resolved) {
        json_object_set_new(o, "ends_at", json_integer(ends_at));
    }

    return o;
}


/* one alert for Alertmanager's POST /api/v2/alerts */

json_t *
sq_json_alert_am(const sq_alert_info_t *it, int resolved, int64_t now,
    const sq_conf_t *conf)
{
    char         buf[1024];
    json_t      *o, *labels, *ann, *src, *v;
    const char  *k;

    src = sq_json_alert(it, resolved, now);

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
    sq_json_alert_summary(buf, sizeof(buf), it);
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

    o = sq_json_am_envelope(labels, ann, it->since, resolved, now, conf);

    json_decref(src);

    return o;
}


/* the webhook's body: one transition */

json_t *
sq_json_alert_hook(const sq_alert_info_t *it, int resolved, int64_t now,
    const sq_conf_t *conf)
{
    char     ts[32];
    json_t  *am, *o, *src;

    am = sq_json_alert_am(it, resolved, now, conf);
    src = sq_json_alert(it, resolved, now);

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
        sq_json_rfc3339(ts, sizeof(ts), now);
        json_object_set_new(o, "endsAt", json_string(ts));

    } else {
        json_object_set_new(o, "endsAt", json_null());
    }

    json_decref(am);
    json_decref(src);

    return o;
}


/*
 * The owner labels of every member; a name with different values gets
 * them all, in order, joined by ", " (an incident two teams own)
 */

static json_t *
sq_json_incident_labels(const sq_incident_t *inc)
{
    int          added;
    char        *j;
    size_t       i, l;
    json_t      *labels, *owner, *v, *cur;
    sq_smap_t    seen;
    const char  *k, *cs, *vs, *p;

    labels = json_object();

    /* the members of a row share their labels: each text read once */

    if (sq_smap_init(&seen, 16) != SQ_OK) {
        return labels;
    }

    for (i = 0; i < inc->nmembers; i++) {
        if (inc->members[i]->labels == NULL) {
            continue;
        }

        if (sq_smap_put(&seen, inc->members[i]->labels, 0, &added) == NULL
            || !added)
        {
            continue;
        }

        owner = json_loads(inc->members[i]->labels, 0, NULL);

        json_object_foreach(owner, k, v) {
            cur = json_object_get(labels, k);
            vs = json_string_value(v);

            if (vs == NULL) {
                continue;
            }

            if (cur == NULL) {
                json_object_set(labels, k, v);
                continue;
            }

            /* already listed? */

            cs = json_string_value(cur);
            l = strlen(vs);

            for (p = strstr(cs, vs); p; p = strstr(p + 1, vs)) {
                if ((p == cs || (p >= cs + 2 && p[-2] == ',' && p[-1] == ' '))
                    && (p[l] == '\0' || p[l] == ','))
                {
                    break;
                }
            }

            if (p) {
                continue;
            }

            j = malloc(strlen(cs) + l + 3);
            if (j == NULL) {
                continue;
            }

            sprintf(j, "%s, %s", cs, vs);
            json_object_set_new(labels, k, json_string(j));
            free(j);
        }

        json_decref(owner);
    }

    sq_smap_free(&seen);

    return labels;
}


/* the worse first: severity, then further below adequate */

static int
sq_json_member_cmp(const void *pa, const void *pb)
{
    const sq_alert_info_t  *a = *(const sq_alert_info_t *const *) pa;
    const sq_alert_info_t  *b = *(const sq_alert_info_t *const *) pb;

    if (a->severity != b->severity) {
        return b->severity - a->severity;
    }

    if (isnan(a->msa) || isnan(b->msa)) {
        return isnan(a->msa) - isnan(b->msa);
    }

    return a->msa < b->msa ? -1 : a->msa > b->msa;
}


/*
 * The members listed: all of them up to SQ_INCIDENT_MEMBERS, else that
 * many of the worst (member_count says how many there are)
 */

static json_t *
sq_json_incident_members(const sq_incident_t *inc)
{
    char                     buf[2048];
    size_t                   i, n;
    json_t                  *members, *v;
    const sq_alert_info_t  **m, **sorted;

    members = json_array();
    m = inc->members;
    n = inc->nmembers;
    sorted = NULL;

    if (n > SQ_INCIDENT_MEMBERS) {
        sorted = malloc(n * sizeof(sq_alert_info_t *));

        if (sorted) {
            memcpy(sorted, m, n * sizeof(sq_alert_info_t *));
            qsort(sorted, n, sizeof(sq_alert_info_t *), sq_json_member_cmp);
            m = sorted;
        }

        n = SQ_INCIDENT_MEMBERS;
    }

    for (i = 0; i < n; i++) {
        v = sq_json_alert(m[i], 0, 0);
        sq_json_alert_summary(buf, sizeof(buf), m[i]);
        json_object_set_new(v, "summary", json_string(buf));
        json_object_set_new(v, "scope",
                            json_string(sq_scope_names[m[i]->scope]));
        json_array_append_new(members, v);
    }

    free(sorted);

    return members;
}


json_t *
sq_json_incident(const sq_incident_t *inc, const sq_incident_state_t *st,
    const char *status, int64_t now)
{
    int                     d;
    char                    buf[2048];
    json_t                 *o, *scope, *dims, *dd, *labels, *v;
    const sq_alert_info_t  *r;

    o = json_object();
    json_object_set_new(o, "id", json_string(st->id));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "severity",
                        json_string(sq_severity_names[inc->severity]));
    json_object_set_new(o, "cause", json_string(sq_cause_names[inc->cause]));

    sq_incident_title(buf, sizeof(buf), inc);
    json_object_set_new(o, "title", json_string(buf));
    sq_incident_where(buf, sizeof(buf), inc);
    json_object_set_new(o, "where", json_string(buf));
    json_object_set_new(o, "since", json_integer(st->since));

    if (strcmp(status, "resolved") == 0) {
        json_object_set_new(o, "ends_at", json_integer(now));
    }

    json_object_set_new(o, "trend", json_string(st->overall ? st->overall
                                                            : "steady"));

    scope = json_object();

    if (inc->endpoint) {
        json_object_set_new(scope, "endpoint", json_string(inc->endpoint));
    }

    if (inc->region) {
        json_object_set_new(scope, "region", json_string(inc->region));
        json_object_set_new(scope, "region_name",
                            json_string(sq_region_name(inc->region)));
    }

    if (inc->segment) {
        json_object_set_new(scope, "segment", json_string(inc->segment));
    }

    if (inc->journey) {
        json_object_set_new(scope, "journey", json_string(inc->journey));
    }

    json_object_set_new(o, "scope", scope);

    dims = json_array();

    for (d = 0; d < SQ_NDIMS; d++) {
        r = inc->rep[d];

        if (r == NULL) {
            continue;
        }

        dd = json_object();
        json_object_set_new(dd, "dimension", json_string(sq_dim_names[d]));
        json_object_set_new(dd, "severity", json_string(
                                sq_severity_names[inc->dim_severity[d]]));
        json_object_set_new(dd, "indicator",
                            json_string(sq_indicator_names[r->indicator]));
        json_object_set_new(dd, "value", sq_json_num(r->value));
        json_object_set_new(dd, "adequate", sq_json_num(r->adequate));
        json_object_set_new(dd, "desired", sq_json_num(r->desired));

        if (r->indicator == SQ_IND_LATENCY_RATIO) {
            json_object_set_new(dd, "latency_seconds", sq_json_num(r->lat));
            json_object_set_new(dd, "elsewhere_seconds",
                                sq_json_num(r->base));
        }

        sq_json_alert_text(buf, sizeof(buf), r);
        json_object_set_new(dd, "text", json_string(buf));
        json_object_set_new(dd, "trend", json_string(st->trend[d]
                                                     ? st->trend[d]
                                                     : "steady"));
        json_array_append_new(dims, dd);
    }

    json_object_set_new(o, "dimensions", dims);

    labels = sq_json_incident_labels(inc);
    json_object_set_new(o, "labels", labels);

    v = json_object_get(labels, "owner");
    v = v ? v : json_object_get(labels, "team");
    json_object_set_new(o, "owner", v ? json_incref(v) : json_null());
    v = json_object_get(labels, "runbook");
    json_object_set_new(o, "runbook", v ? json_incref(v) : json_null());

    sq_incident_look_at(buf, sizeof(buf), inc);
    json_object_set_new(o, "look_at", json_string(buf));

    json_object_set_new(o, "member_count", json_integer(inc->nmembers));
    json_object_set_new(o, "members", sq_json_incident_members(inc));

    return o;
}


json_t *
sq_json_incident_am(const sq_incident_t *inc, const sq_incident_state_t *st,
    int dim, int resolved, int64_t now, const sq_conf_t *conf)
{
    char                    ts[32], buf[4096];
    size_t                  i, o, n;
    json_t                 *labels, *ann, *owner, *v;
    const char             *k;
    const sq_alert_info_t  *r;

    r = inc->rep[dim];

    labels = json_object();
    json_object_set_new(labels, "alertname", json_string(
        inc->dim_severity[dim] == SQ_SEV_CRITICAL ? "ServqualBelowZone"
                                                  : "ServqualZoneWarning"));
    json_object_set_new(labels, "severity", json_string(
                            sq_severity_names[inc->dim_severity[dim]]));
    json_object_set_new(labels, "incident", json_string(st->id));
    json_object_set_new(labels, "cause",
                        json_string(sq_cause_names[inc->cause]));
    json_object_set_new(labels, "dimension",
                        json_string(sq_dim_names[dim]));

    if (inc->endpoint && inc->endpoint[0]) {
        json_object_set_new(labels, "endpoint", json_string(inc->endpoint));
    }

    if (inc->region && inc->region[0]) {
        json_object_set_new(labels, "region", json_string(inc->region));
    }

    if (inc->segment && inc->segment[0]) {
        json_object_set_new(labels, "segment", json_string(inc->segment));
    }

    if (inc->journey && inc->journey[0]) {
        json_object_set_new(labels, "journey", json_string(inc->journey));
    }

    /* owner labels, with Prometheus' label rules */

    owner = sq_json_incident_labels(inc);

    json_object_foreach(owner, k, v) {
        if (!json_is_string(v) || json_string_length(v) == 0
            || strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_") != strlen(k)
            || (k[0] >= '0' && k[0] <= '9')
            || json_object_get(labels, k))
        {
            continue;
        }

        json_object_set(labels, k, v);
    }

    ann = json_object();
    sq_incident_title(buf, sizeof(buf), inc);
    json_object_set_new(ann, "summary", json_string(buf));

    if (r) {
        sq_json_alert_text(buf, sizeof(buf), r);
        json_object_set_new(ann, "description", json_string(buf));
        snprintf(buf, sizeof(buf), "%.6g", r->value);
        json_object_set_new(ann, "value", json_string(buf));
        snprintf(buf, sizeof(buf), "%.6g", r->adequate);
        json_object_set_new(ann, "adequate", json_string(buf));
        snprintf(buf, sizeof(buf), "%.6g", r->desired);
        json_object_set_new(ann, "desired", json_string(buf));
    }

    /* the member rows of this dimension, a line each */

    o = 0;
    n = 0;
    buf[0] = '\0';

    for (i = 0; i < inc->nmembers; i++) {
        if (inc->members[i]->dim != dim) {
            continue;
        }

        n++;

        if (o + 1 >= sizeof(buf)) {
            continue;
        }

        if (o > 0) {
            buf[o++] = '\n';
            buf[o] = '\0';
        }

        sq_json_alert_summary(buf + o, sizeof(buf) - o, inc->members[i]);
        o += strlen(buf + o);
    }

    json_object_set_new(ann, "members", json_string(buf));
    snprintf(ts, sizeof(ts), "%zu", n);
    json_object_set_new(ann, "member_count", json_string(ts));

    sq_incident_look_at(buf, sizeof(buf), inc);
    json_object_set_new(ann, "look_at", json_string(buf));

    v = json_object_get(owner, "runbook");

    if (json_is_string(v)) {
        json_object_set(ann, "runbook_url", v);
    }

    json_decref(owner);

    return sq_json_am_envelope(labels, ann, st->since, resolved, now, conf);
}


/*
 * An Alertmanager alert around its labels and annotations (both taken).
 * While firing, endsAt is far enough ahead for the next resend to come
 * first (as Prometheus: 4 x the longer of interval and resend); a
 * collector that dies lets the alert expire there.
 */

static json_t *
sq_json_am_envelope(json_t *labels, json_t *ann, int64_t since,
    int resolved, int64_t now, const sq_conf_t *conf)
{
    char                    ts[32], url[512];
    json_t                 *o;
    int64_t                 ttl;
    const sq_alert_conf_t  *ac;

    ac = &conf->alerts;

    o = json_object();
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "annotations", ann);

    sq_json_rfc3339(ts, sizeof(ts), since);
    json_object_set_new(o, "startsAt", json_string(ts));

    ttl = 4 * (ac->resend > ac->interval ? ac->resend : ac->interval);
    sq_json_rfc3339(ts, sizeof(ts), resolved ? now : now + ttl);
    json_object_set_new(o, "endsAt", json_string(ts));

    if (ac->generator_url) {
        json_object_set_new(o, "generatorURL",
                            json_string(ac->generator_url));

    } else {
        snprintf(url, sizeof(url), "http://%s/", conf->http);
        json_object_set_new(o, "generatorURL", json_string(url));
    }

    return o;
}


json_t *
sq_json_node(const sq_node_t *nd, int64_t now)
{
    char  seen[32];

    sq_json_rfc3339(seen, sizeof(seen), nd->last_seen);

    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:s,s:I,s:I,s:I}",
                     "node", nd->node,
                     "datagrams", (json_int_t) nd->datagrams,
                     "lost_datagrams", (json_int_t) nd->lost,
                     "lost_requests", (json_int_t) nd->lost_requests,
                     "source_dropped_requests",
                     (json_int_t) nd->source_dropped,
                     "last_seen", seen,
                     "last_seen_timestamp", (json_int_t) nd->last_seen,
                     "last_seen_seconds_ago",
                     (json_int_t) (now > nd->last_seen
                                   ? now - nd->last_seen : 0),
                     "workers", (json_int_t) nd->workers);
}
