
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq_incident.h"
#include "sq_json.h"
#include "sq_status.h"
#include "sq_view.h"


#define SQ_INCIDENT_TOP  3          /* names listed in "look at" */


typedef struct {
    const char  *code;
    const char  *name;
} sq_country_t;


typedef struct {
    const char  *name;
    size_t       n;
} sq_tally_t;


static int sq_incident_series(const sq_alert_info_t *a);
static int sq_incident_worse(const sq_alert_info_t *a,
    const sq_alert_info_t *b);
static int sq_incident_region_broad(const sq_alert_info_t **al, size_t n,
    const char *region);
static int sq_incident_endpoint_broad(const sq_alert_info_t **al, size_t n,
    const char *endpoint, const unsigned char *rb);
static char *sq_incident_key(int cause, const char *a, const char *b);
static const char *sq_incident_common(const char *cur, const char *v,
    int *differ);
static int sq_incident_cmp(const void *a, const void *b);
static int sq_incident_rank(const sq_incident_t *inc,
    const sq_alert_info_t *a);
static size_t sq_incident_tally(sq_tally_t *t, size_t nt, size_t max,
    const char *name);
static void sq_incident_list(char *buf, size_t len, sq_tally_t *t,
    size_t nt);


const char  *sq_cause_names[SQ_NCAUSES] = {
    "region", "endpoint", "row", "journey"
};


/* ISO 3166-1 alpha-2, the countries most traffic comes from */

static const sq_country_t  sq_countries[] = {
    { "AE", "United Arab Emirates" }, { "AR", "Argentina" },
    { "AT", "Austria" }, { "AU", "Australia" }, { "BE", "Belgium" },
    { "BR", "Brazil" }, { "CA", "Canada" }, { "CH", "Switzerland" },
    { "CL", "Chile" }, { "CN", "China" }, { "CO", "Colombia" },
    { "CZ", "Czechia" }, { "DE", "Germany" }, { "DK", "Denmark" },
    { "EG", "Egypt" }, { "ES", "Spain" }, { "FI", "Finland" },
    { "FR", "France" }, { "GB", "United Kingdom" }, { "GR", "Greece" },
    { "HK", "Hong Kong" }, { "HU", "Hungary" }, { "ID", "Indonesia" },
    { "IE", "Ireland" }, { "IL", "Israel" }, { "IN", "India" },
    { "IT", "Italy" }, { "JP", "Japan" }, { "KE", "Kenya" },
    { "KR", "South Korea" }, { "MX", "Mexico" }, { "MY", "Malaysia" },
    { "NG", "Nigeria" }, { "NL", "Netherlands" }, { "NO", "Norway" },
    { "NZ", "New Zealand" }, { "PE", "Peru" }, { "PH", "Philippines" },
    { "PK", "Pakistan" }, { "PL", "Poland" }, { "PT", "Portugal" },
    { "RO", "Romania" }, { "SA", "Saudi Arabia" }, { "SE", "Sweden" },
    { "SG", "Singapore" }, { "TH", "Thailand" }, { "TR", "Turkey" },
    { "TW", "Taiwan" }, { "UA", "Ukraine" }, { "US", "United States" },
    { "VN", "Vietnam" }, { "ZA", "South Africa" },
    { NULL, NULL }
};


/* what a CX person looks for in the requests of a dimension */

static const char  *sq_look_for[SQ_NDIMS] = {
    "server errors (5xx, upstream failures)",
    "slow responses",
    "requests without HTTPS and TLS 1.2 or newer",
    "slower than the other regions",
    "incomplete or uncompressed responses"
};


const char *
sq_region_name(const char *code)
{
    const sq_country_t  *c;

    for (c = sq_countries; c->code; c++) {
        if (strcmp(c->code, code) == 0) {
            return c->name;
        }
    }

    return code;
}


static int
sq_incident_series(const sq_alert_info_t *a)
{
    return a->scope == SQ_SCOPE_SERIES;
}


/* a is worse than b: the same dimension, further below adequate */

static int
sq_incident_worse(const sq_alert_info_t *a, const sq_alert_info_t *b)
{
    if (b == NULL) {
        return 1;
    }

    if (a->severity != b->severity) {
        return a->severity > b->severity;
    }

    return !isnan(a->msa) && (isnan(b->msa) || a->msa < b->msa);
}


/* a region with firing rows on two endpoints or more */

static int
sq_incident_region_broad(const sq_alert_info_t **al, size_t n,
    const char *region)
{
    size_t       i;
    const char  *first;

    first = NULL;

    for (i = 0; i < n; i++) {
        if (!sq_incident_series(al[i])
            || strcmp(al[i]->region, region) != 0)
        {
            continue;
        }

        if (first == NULL) {
            first = al[i]->endpoint;

        } else if (strcmp(first, al[i]->endpoint) != 0) {
            return 1;
        }
    }

    return 0;
}


/* an endpoint with firing rows in two regions or more, not broad ones */

static int
sq_incident_endpoint_broad(const sq_alert_info_t **al, size_t n,
    const char *endpoint, const unsigned char *rb)
{
    size_t       i;
    const char  *first;

    first = NULL;

    for (i = 0; i < n; i++) {
        if (!sq_incident_series(al[i]) || rb[i]
            || strcmp(al[i]->endpoint, endpoint) != 0)
        {
            continue;
        }

        if (first == NULL) {
            first = al[i]->region;

        } else if (strcmp(first, al[i]->region) != 0) {
            return 1;
        }
    }

    return 0;
}


static char *
sq_incident_key(int cause, const char *a, const char *b)
{
    char    *k;
    size_t   len;

    len = strlen(sq_cause_names[cause]) + strlen(a) + strlen(b) + 3;

    k = malloc(len);
    if (k == NULL) {
        return NULL;
    }

    snprintf(k, len, "%s\t%s\t%s", sq_cause_names[cause], a, b);

    return k;
}


/* the value all members share so far; a rollup's "*" does not count */

static const char *
sq_incident_common(const char *cur, const char *v, int *differ)
{
    if (*differ || v == NULL || strcmp(v, SQ_ALL) == 0) {
        return cur;
    }

    if (cur == NULL) {
        return v;
    }

    if (strcmp(cur, v) != 0) {
        *differ = 1;
        return NULL;
    }

    return cur;
}


/* which member speaks for a dimension: the incident's own rollup, a row */

static int
sq_incident_rank(const sq_incident_t *inc, const sq_alert_info_t *a)
{
    if ((inc->cause == SQ_CAUSE_REGION && a->scope == SQ_SCOPE_REGION)
        || (inc->cause == SQ_CAUSE_ENDPOINT && a->scope == SQ_SCOPE_ENDPOINT)
        || (inc->cause == SQ_CAUSE_JOURNEY && a->scope == SQ_SCOPE_JOURNEY))
    {
        return 2;
    }

    return a->scope == SQ_SCOPE_SERIES;
}


static int
sq_incident_cmp(const void *pa, const void *pb)
{
    const sq_incident_t  *a = pa, *b = pb;

    if (a->severity != b->severity) {
        return b->severity - a->severity;
    }

    if (a->nmembers != b->nmembers) {
        return a->nmembers < b->nmembers ? 1 : -1;
    }

    if (a->since != b->since) {
        return a->since < b->since ? -1 : 1;
    }

    return strcmp(a->key, b->key);
}


int
sq_incident_group(const sq_alert_info_t **al, size_t n, sq_incidents_t *out)
{
    int                      rc, cause, d, differ[4];
    char                   **keys;
    size_t                   i, j, k, m, r, x, *grp;
    unsigned char           *rb;
    sq_incident_t           *inc;
    const char              *ca, *cb;
    const sq_alert_info_t   *a, *w;
    const sq_alert_info_t  **pool;

    memset(out, 0, sizeof(sq_incidents_t));

    if (n == 0) {
        return SQ_OK;
    }

    rc = SQ_ERR_NOMEM;
    keys = calloc(n, sizeof(char *));
    rb = calloc(n, 1);
    grp = calloc(n, sizeof(size_t));
    out->inc = calloc(n, sizeof(sq_incident_t));
    pool = calloc(n, sizeof(sq_alert_info_t *));

    out->pool = pool;

    if (keys == NULL || rb == NULL || grp == NULL || out->inc == NULL
        || pool == NULL)
    {
        goto cleanup;
    }

    /* the rows: their region, then their endpoint, then themselves */

    for (i = 0; i < n; i++) {
        if (sq_incident_series(al[i])) {
            rb[i] = sq_incident_region_broad(al, n, al[i]->region);
        }
    }

    for (i = 0; i < n; i++) {
        a = al[i];

        if (!sq_incident_series(a)) {
            continue;
        }

        if (rb[i]) {
            keys[i] = sq_incident_key(SQ_CAUSE_REGION, a->region, "");

        } else if (sq_incident_endpoint_broad(al, n, a->endpoint, rb)) {
            keys[i] = sq_incident_key(SQ_CAUSE_ENDPOINT, a->endpoint, "");

        } else {
            keys[i] = sq_incident_key(SQ_CAUSE_ROW, a->endpoint, a->region);
        }

        if (keys[i] == NULL) {
            goto cleanup;
        }
    }

    /*
     * Rollups and journeys: the incident of the row that drags them
     * down, the worst on the same dimension, else on any.  Regions and
     * journeys first: an endpoint's rollup that no row explains (its
     * rows too few to judge yet) goes with the worst region rollup.
     * Their own when nothing explains them.
     */

    for (x = 0; x < 2 * n; x++) {
        i = x % n;
        a = al[i];

        if (sq_incident_series(a)
            || (a->scope == SQ_SCOPE_ENDPOINT) != (x >= n))
        {
            continue;
        }

        w = NULL;
        k = n;
        r = n;

        for (j = 0; j < n; j++) {
            if (!sq_incident_series(al[j])) {
                continue;
            }

            if (a->scope == SQ_SCOPE_ENDPOINT
                && strcmp(al[j]->endpoint, a->endpoint) != 0)
            {
                continue;
            }

            if (a->scope != SQ_SCOPE_ENDPOINT
                && (strcmp(a->region, SQ_ALL) == 0
                    || strcmp(al[j]->region, a->region) != 0))
            {
                continue;
            }

            if (a->scope == SQ_SCOPE_JOURNEY && !rb[j]) {
                continue;
            }

            if (w == NULL || (al[j]->dim == a->dim && w->dim != a->dim)
                || (al[j]->dim == w->dim && sq_incident_worse(al[j], w)))
            {
                w = al[j];
                k = j;
            }
        }

        for (j = 0; k == n && a->scope == SQ_SCOPE_ENDPOINT && j < n; j++) {
            if (al[j]->scope == SQ_SCOPE_REGION && keys[j]
                && (w == NULL || (al[j]->dim == a->dim && w->dim != a->dim)
                    || (al[j]->dim == w->dim
                        && sq_incident_worse(al[j], w))))
            {
                w = al[j];
                r = j;
            }
        }

        k = w && k == n ? r : k;

        if (w) {
            keys[i] = strdup(keys[k]);

        } else {
            cause = a->scope == SQ_SCOPE_ENDPOINT ? SQ_CAUSE_ENDPOINT
                    : a->scope == SQ_SCOPE_REGION ? SQ_CAUSE_REGION
                    : SQ_CAUSE_JOURNEY;
            ca = cause == SQ_CAUSE_REGION ? a->region : a->endpoint;
            cb = cause == SQ_CAUSE_JOURNEY ? a->region : "";
            keys[i] = sq_incident_key(cause, ca, cb);
        }

        if (keys[i] == NULL) {
            goto cleanup;
        }
    }

    /* one incident per key */

    for (i = 0; i < n; i++) {
        for (k = 0; k < out->n; k++) {
            if (strcmp(out->inc[k].key, keys[i]) == 0) {
                break;
            }
        }

        if (k == out->n) {
            inc = &out->inc[out->n++];
            inc->key = keys[i];
            keys[i] = NULL;

            for (cause = 0; cause < SQ_NCAUSES; cause++) {
                if (strncmp(inc->key, sq_cause_names[cause],
                            strlen(sq_cause_names[cause])) == 0
                    && inc->key[strlen(sq_cause_names[cause])] == '\t')
                {
                    inc->cause = cause;
                }
            }
        }

        grp[i] = k;
        out->inc[k].nmembers++;
    }

    /* the members, in the order of al, and what they share */

    m = 0;

    for (k = 0; k < out->n; k++) {
        inc = &out->inc[k];
        inc->members = pool + m;
        m += inc->nmembers;
        inc->nmembers = 0;
    }

    for (k = 0; k < out->n; k++) {
        inc = &out->inc[k];
        memset(differ, 0, sizeof(differ));

        for (i = 0; i < n; i++) {
            if (grp[i] != k) {
                continue;
            }

            a = al[i];
            inc->members[inc->nmembers++] = a;

            if (a->scope == SQ_SCOPE_JOURNEY) {
                inc->journey = sq_incident_common(inc->journey, a->endpoint,
                                                  &differ[3]);

            } else {
                inc->endpoint = sq_incident_common(inc->endpoint,
                                                   a->endpoint, &differ[0]);
                inc->segment = sq_incident_common(inc->segment, a->segment,
                                                  &differ[2]);
            }

            inc->region = sq_incident_common(inc->region, a->region,
                                             &differ[1]);

            if (a->severity > inc->severity) {
                inc->severity = a->severity;
            }

            if (inc->since == 0 || a->since < inc->since) {
                inc->since = a->since;
            }

            d = a->dim;
            inc->dims |= 1u << d;

            if (a->severity > inc->dim_severity[d]) {
                inc->dim_severity[d] = a->severity;
            }

            /* the rollup of the incident's own scope speaks for it */

            if (inc->rep[d] == NULL
                || sq_incident_rank(inc, a) > sq_incident_rank(inc,
                                                               inc->rep[d])
                || (sq_incident_rank(inc, a) == sq_incident_rank(inc,
                                                                inc->rep[d])
                    && sq_incident_worse(a, inc->rep[d])))
            {
                inc->rep[d] = a;
            }
        }

        /* a member's own segment "" is a segment too */

        if (differ[2] == 0 && inc->segment == NULL) {
            for (i = 0; i < inc->nmembers; i++) {
                if (inc->members[i]->scope == SQ_SCOPE_SERIES) {
                    inc->segment = inc->members[i]->segment;
                    break;
                }
            }
        }
    }

    qsort(out->inc, out->n, sizeof(sq_incident_t), sq_incident_cmp);

    rc = SQ_OK;

cleanup:

    if (keys) {
        for (i = 0; i < n; i++) {
            free(keys[i]);
        }
    }

    free(keys);
    free(rb);
    free(grp);

    if (rc != SQ_OK) {
        sq_incidents_free(out);
    }

    return rc;
}


void
sq_incidents_free(sq_incidents_t *s)
{
    size_t  k;

    if (s->inc) {
        for (k = 0; k < s->n; k++) {
            free(s->inc[k].key);
        }

    }

    free(s->pool);
    free(s->inc);
    s->pool = NULL;
    s->inc = NULL;
    s->n = 0;
}


uint32_t
sq_incident_hash(const sq_incident_t *inc)
{
    uint32_t     h;
    const char  *p;

    h = 2166136261u;

    for (p = inc->key; *p; p++) {
        h ^= (unsigned char) *p;
        h *= 16777619u;
    }

    return h;
}


void
sq_incident_where(char *buf, size_t len, const sq_incident_t *inc)
{
    char         seg[192];
    const char  *region;

    region = inc->region ? sq_region_name(inc->region) : NULL;

    if (inc->segment && inc->segment[0]) {
        snprintf(seg, sizeof(seg), " (%s)", inc->segment);

    } else {
        seg[0] = '\0';
    }

    switch (inc->cause) {

    case SQ_CAUSE_REGION:
        snprintf(buf, len, "%s%s", region ? region : "a region", seg);
        break;

    case SQ_CAUSE_ENDPOINT:
        snprintf(buf, len, "%s in all regions%s",
                 inc->endpoint ? inc->endpoint : "an endpoint", seg);
        break;

    case SQ_CAUSE_JOURNEY:
        snprintf(buf, len, "journey %s%s%s",
                 inc->journey ? inc->journey : "",
                 region ? " in " : "", region ? region : "");
        break;

    default:
        snprintf(buf, len, "%s in %s%s",
                 inc->endpoint ? inc->endpoint : "an endpoint",
                 region ? region : "a region", seg);
    }
}


void
sq_incident_title(char *buf, size_t len, const sq_incident_t *inc)
{
    int                     d, first;
    char                    v[64], a[64], l[48], b[48];
    size_t                  o;
    const sq_alert_info_t  *r;

    sq_incident_where(buf, len, inc);
    o = strlen(buf);
    first = 1;

    for (d = 0; d < SQ_NDIMS && o + 1 < len; d++) {
        r = inc->rep[d];

        if (r == NULL) {
            continue;
        }

        sq_json_human(v, sizeof(v), r->indicator, r->value);
        sq_json_human(a, sizeof(a), r->indicator, r->adequate);

        if (r->indicator == SQ_IND_APDEX) {
            snprintf(a, sizeof(a), "%.2f", r->adequate);
        }

        o += snprintf(buf + o, len - o, "%s", first ? ": " : ", ");
        first = 0;

        if (o + 1 >= len) {
            break;
        }

        if (r->indicator == SQ_IND_LATENCY_RATIO && !isnan(r->lat)
            && !isnan(r->base))
        {
            sq_json_seconds(l, sizeof(l), r->lat);
            sq_json_seconds(b, sizeof(b), r->base);
            o += snprintf(buf + o, len - o, "slower than other regions: "
                          "p75 %s vs %s", l, b);

        } else {
            o += snprintf(buf + o, len - o, "%s %s (adequate %s)",
                          sq_dim_names[d], v, a);
        }
    }
}


static size_t
sq_incident_tally(sq_tally_t *t, size_t nt, size_t max, const char *name)
{
    size_t  i;

    if (name == NULL || strcmp(name, SQ_ALL) == 0) {
        return nt;
    }

    for (i = 0; i < nt; i++) {
        if (strcmp(t[i].name, name) == 0) {
            t[i].n++;
            return nt;
        }
    }

    if (nt < max) {
        t[nt].name = name;
        t[nt].n = 1;
        nt++;
    }

    return nt;
}


static void
sq_incident_list(char *buf, size_t len, sq_tally_t *t, size_t nt)
{
    size_t      i, j, o;
    sq_tally_t  x;

    /* most members first */

    for (i = 1; i < nt; i++) {
        for (j = i; j > 0 && t[j].n > t[j - 1].n; j--) {
            x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    }

    o = 0;
    buf[0] = '\0';

    for (i = 0; i < nt && i < SQ_INCIDENT_TOP && o + 1 < len; i++) {
        o += snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
                      t[i].name[0] ? t[i].name : "(none)");
    }

    if (nt > SQ_INCIDENT_TOP && o + 1 < len) {
        snprintf(buf + o, len - o, " and %zu more", nt - SQ_INCIDENT_TOP);
    }
}


void
sq_incident_look_at(char *buf, size_t len, const sq_incident_t *inc)
{
    int                     d, first;
    char                    eps[256], regs[256], segs[256], l[48], b[48];
    size_t                  i, o, ne, nr, ns, max;
    sq_tally_t             *te, *tr, *ts;
    const sq_alert_info_t  *r;

    max = inc->nmembers;
    te = calloc(3 * (max ? max : 1), sizeof(sq_tally_t));

    if (te == NULL) {
        snprintf(buf, len, "-");
        return;
    }

    tr = te + max;
    ts = tr + max;
    ne = 0;
    nr = 0;
    ns = 0;

    for (i = 0; i < inc->nmembers; i++) {
        if (inc->members[i]->scope != SQ_SCOPE_SERIES) {
            continue;
        }

        ne = sq_incident_tally(te, ne, max, inc->members[i]->endpoint);
        nr = sq_incident_tally(tr, nr, max, inc->members[i]->region);
        ns = sq_incident_tally(ts, ns, max, inc->members[i]->segment);
    }

    sq_incident_list(eps, sizeof(eps), te, ne);
    sq_incident_list(regs, sizeof(regs), tr, nr);
    sq_incident_list(segs, sizeof(segs), ts, ns);
    free(te);

    if (ne == 0) {
        o = snprintf(buf, len, "%s", inc->endpoint ? inc->endpoint
                                     : inc->journey ? inc->journey
                                     : "every endpoint");
        o += snprintf(buf + o, o < len ? len - o : 0, " in %s",
                      inc->region ? inc->region : "every region");

    } else {
        o = snprintf(buf, len, "%s in %s", eps, regs);

        if (ns > 1 || (ns == 1 && segs[0] && strcmp(segs, "(none)") != 0)) {
            o += snprintf(buf + o, o < len ? len - o : 0, " (%s)", segs);
        }
    }

    first = 1;

    for (d = 0; d < SQ_NDIMS && o + 1 < len; d++) {
        if (!(inc->dims & (1u << d))) {
            continue;
        }

        o += snprintf(buf + o, len - o, "%s%s", first ? ": " : "; ",
                      sq_look_for[d]);
        first = 0;

        /* the latency band: the request times empathy compares */

        r = inc->rep[d];

        if (r && r->indicator == SQ_IND_LATENCY_RATIO && !isnan(r->lat)
            && !isnan(r->base) && o + 1 < len)
        {
            sq_json_seconds(l, sizeof(l), r->lat);
            sq_json_seconds(b, sizeof(b), r->base);
            o += snprintf(buf + o, len - o, " (p75 %s vs %s)", l, b);
        }
    }
}


void
sq_incident_trend(const sq_incident_t *inc, sq_incident_state_t *st)
{
    int                     d, worst;
    double                  width, delta;
    const sq_alert_info_t  *r;

    static const char  *names[3] = {
        "getting better", "steady", "getting worse"
    };

    worst = -1;

    for (d = 0; d < SQ_NDIMS; d++) {
        r = inc->rep[d];
        st->trend[d] = NULL;

        if (r == NULL || isnan(r->msa)) {
            continue;
        }

        if (isnan(st->msa0[d])) {
            st->msa0[d] = r->msa;
        }

        width = fabs(r->desired - r->adequate);
        delta = width > 0 ? (r->msa - st->msa0[d]) / width : 0;

        /* the index of names: worse when further below adequate */

        st->trend[d] = names[delta < -0.1 ? 2 : delta > 0.1 ? 0 : 1];

        if (worst < (delta < -0.1 ? 2 : delta > 0.1 ? 0 : 1)) {
            worst = delta < -0.1 ? 2 : delta > 0.1 ? 0 : 1;
        }
    }

    st->overall = worst < 0 ? "steady" : names[worst];
}
