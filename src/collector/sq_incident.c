
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
#include "sq_smap.h"
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


/* the rows of one region or endpoint, as the grouping sees them */

typedef struct {
    size_t       first;           /* index in al, or SQ_SMAP_NONE */
    const char  *other;           /* the first row's endpoint (region) */
    int          broad;           /* another one seen */
    size_t       worst[SQ_NDIMS];
    size_t       inc;             /* its incident, once known */
} sq_group_t;


static int sq_incident_series(const sq_alert_info_t *a);
static int sq_incident_worse(const sq_alert_info_t *a,
    const sq_alert_info_t *b);
static void sq_incident_see(sq_group_t *g, const sq_alert_info_t **al,
    size_t i, const char *other);
static sq_group_t *sq_incident_group_of(sq_smap_t *m, sq_group_t *gs,
    size_t *ng, const char *name);
static size_t sq_incident_drag(const sq_group_t *g,
    const sq_alert_info_t **al, int dim);
static void sq_incident_member(sq_incident_t *inc,
    const sq_alert_info_t *a, int *differ);
static size_t sq_incident_intern(sq_incidents_t *out, sq_smap_t *m,
    int cause, const char *a, const char *b);
static const char *sq_incident_common(const char *cur, const char *v,
    int *differ);
static int sq_incident_cmp(const void *a, const void *b);
static int sq_incident_rank(const sq_incident_t *inc,
    const sq_alert_info_t *a);
static size_t sq_incident_tally(sq_smap_t *m, sq_tally_t *t, size_t nt,
    size_t max, const char *name);
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


/*
 * The incident of the key "cause\ta\tb" in out, found in m; a new one if
 * there is none.  Its index, or SQ_SMAP_NONE when out of memory.
 */

static size_t
sq_incident_intern(sq_incidents_t *out, sq_smap_t *m, int cause,
    const char *a, const char *b)
{
    int              added;
    char             buf[512], *k;
    size_t           i, lc, la, lb;
    sq_smap_slot_t  *s;

    lc = strlen(sq_cause_names[cause]);
    la = strlen(a);
    lb = strlen(b);

    k = lc + la + lb + 3 <= sizeof(buf) ? buf : malloc(lc + la + lb + 3);
    if (k == NULL) {
        return SQ_SMAP_NONE;
    }

    memcpy(k, sq_cause_names[cause], lc);
    k[lc] = '\t';
    memcpy(k + lc + 1, a, la);
    k[lc + 1 + la] = '\t';
    memcpy(k + lc + 2 + la, b, lb + 1);

    i = sq_smap_get(m, k);

    if (i != SQ_SMAP_NONE) {
        if (k != buf) {
            free(k);
        }

        return i;
    }

    if (k == buf) {
        k = strdup(buf);
        if (k == NULL) {
            return SQ_SMAP_NONE;
        }
    }

    s = sq_smap_put(m, k, out->n, &added);
    if (s == NULL) {
        free(k);
        return SQ_SMAP_NONE;
    }

    out->inc[out->n].key = k;
    out->inc[out->n].cause = cause;

    return out->n++;
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


/*
 * What the rows of one region (or one endpoint) give the grouping: the
 * first row seen, whether a second endpoint (region) fires there, and the
 * worst row per dimension, each found in al's order.
 */

static void
sq_incident_see(sq_group_t *g, const sq_alert_info_t **al, size_t i,
    const char *other)
{
    int  d;

    if (g->first == SQ_SMAP_NONE) {
        g->first = i;
        g->other = other;

    } else if (other && !g->broad && strcmp(g->other, other) != 0) {
        g->broad = 1;
    }

    d = al[i]->dim;

    if (g->worst[d] == SQ_SMAP_NONE
        || sq_incident_worse(al[i], al[g->worst[d]]))
    {
        g->worst[d] = i;
    }
}


/* the group of name in m, a new one if there is none; NULL: no memory */

static sq_group_t *
sq_incident_group_of(sq_smap_t *m, sq_group_t *gs, size_t *ng,
    const char *name)
{
    int              d, added;
    sq_group_t      *g;
    sq_smap_slot_t  *s;

    s = sq_smap_put(m, name, *ng, &added);
    if (s == NULL) {
        return NULL;
    }

    if (!added) {
        return &gs[s->val];
    }

    g = &gs[(*ng)++];
    g->first = SQ_SMAP_NONE;
    g->other = NULL;
    g->broad = 0;
    g->inc = SQ_SMAP_NONE;

    for (d = 0; d < SQ_NDIMS; d++) {
        g->worst[d] = SQ_SMAP_NONE;
    }

    return g;
}


/*
 * The row that drags a rollup of dimension dim down: the worst on the
 * same dimension, else the worst on the dimension of the first row seen
 */

static size_t
sq_incident_drag(const sq_group_t *g, const sq_alert_info_t **al, int dim)
{
    if (g == NULL || g->first == SQ_SMAP_NONE) {
        return SQ_SMAP_NONE;
    }

    if (g->worst[dim] != SQ_SMAP_NONE) {
        return g->worst[dim];
    }

    return g->worst[al[g->first]->dim];
}


/*
 * In linear time: the rows are tallied by region and by endpoint in hash
 * maps, every rollup finds the row that drags it down in its group, and
 * the incidents are found by their key in a hash map.
 */

int
sq_incident_group(const sq_alert_info_t **al, size_t n, sq_incidents_t *out)
{
    int                      rc, cause, d, *differ;
    size_t                   i, k, m, ng, nb, w, *grp, *gi;
    sq_smap_t                byreg, byep, bynb, bykey;
    sq_group_t              *gs, *g, *eg, rollups;
    unsigned char           *rb;
    sq_incident_t           *inc;
    const char              *ca, *cb;
    const sq_alert_info_t   *a;
    const sq_alert_info_t  **pool;

    memset(out, 0, sizeof(sq_incidents_t));

    if (n == 0) {
        return SQ_OK;
    }

    rc = SQ_ERR_NOMEM;
    rb = calloc(n, 1);
    grp = calloc(n, sizeof(size_t));
    gi = calloc(2 * n, sizeof(size_t));         /* region, endpoint */
    gs = calloc(3 * n, sizeof(sq_group_t));     /* 2 n + n at most */
    differ = calloc(4 * n, sizeof(int));
    out->inc = calloc(n, sizeof(sq_incident_t));
    pool = calloc(n, sizeof(sq_alert_info_t *));

    out->pool = pool;
    memset(&byreg, 0, sizeof(sq_smap_t));
    memset(&byep, 0, sizeof(sq_smap_t));
    memset(&bynb, 0, sizeof(sq_smap_t));
    memset(&bykey, 0, sizeof(sq_smap_t));

    if (rb == NULL || grp == NULL || gi == NULL || gs == NULL
        || differ == NULL || out->inc == NULL || pool == NULL
        || sq_smap_init(&byreg, 64) != SQ_OK
        || sq_smap_init(&byep, 64) != SQ_OK
        || sq_smap_init(&bynb, 64) != SQ_OK
        || sq_smap_init(&bykey, 64) != SQ_OK)
    {
        goto cleanup;
    }

    /*
     * The rows by region (broad: two endpoints or more fire there), and
     * by endpoint: the first groups are the regions' and the endpoints'
     * of every row, then come the endpoints' of the rows outside a broad
     * region (broad: two such regions or more).
     */

    ng = 0;

    for (i = 0; i < n; i++) {
        if (!sq_incident_series(al[i])) {
            continue;
        }

        g = sq_incident_group_of(&byreg, gs, &ng, al[i]->region);
        eg = sq_incident_group_of(&byep, gs, &ng, al[i]->endpoint);

        if (g == NULL || eg == NULL) {
            goto cleanup;
        }

        sq_incident_see(g, al, i, al[i]->endpoint);
        sq_incident_see(eg, al, i, NULL);
        gi[2 * i] = g - gs;
    }

    for (i = 0; i < n; i++) {
        if (sq_incident_series(al[i])) {
            rb[i] = (unsigned char) gs[gi[2 * i]].broad;
        }
    }

    /* the endpoints of the rows outside broad regions, from gs[m] on */

    m = ng;
    nb = 0;

    for (i = 0; i < n; i++) {
        if (!sq_incident_series(al[i]) || rb[i]) {
            continue;
        }

        eg = sq_incident_group_of(&bynb, gs + m, &nb, al[i]->endpoint);
        if (eg == NULL) {
            goto cleanup;
        }

        sq_incident_see(eg, al, i, al[i]->region);
        gi[2 * i + 1] = eg - gs;
    }

    /* the rows: their region, then their endpoint, then themselves */

    for (i = 0; i < n; i++) {
        a = al[i];

        if (!sq_incident_series(a)) {
            continue;
        }

        /* a group's incident is looked up once, not once per row */

        g = rb[i] ? &gs[gi[2 * i]] : &gs[gi[2 * i + 1]];

        if (g->inc != SQ_SMAP_NONE && (rb[i] || g->broad)) {
            grp[i] = g->inc;

        } else if (rb[i]) {
            grp[i] = sq_incident_intern(out, &bykey, SQ_CAUSE_REGION,
                                        a->region, "");
            g->inc = grp[i];

        } else if (g->broad) {
            grp[i] = sq_incident_intern(out, &bykey, SQ_CAUSE_ENDPOINT,
                                        a->endpoint, "");
            g->inc = grp[i];

        } else {
            grp[i] = sq_incident_intern(out, &bykey, SQ_CAUSE_ROW,
                                        a->endpoint, a->region);
        }

        if (grp[i] == SQ_SMAP_NONE) {
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

    rollups.first = SQ_SMAP_NONE;
    rollups.other = NULL;
    rollups.broad = 0;

    for (d = 0; d < SQ_NDIMS; d++) {
        rollups.worst[d] = SQ_SMAP_NONE;
    }

    for (m = 0; m < 2; m++) {
        for (i = 0; i < n; i++) {
            a = al[i];

            if (sq_incident_series(a)
                || (a->scope == SQ_SCOPE_ENDPOINT) != (m == 1))
            {
                continue;
            }

            g = NULL;

            if (a->scope == SQ_SCOPE_ENDPOINT) {
                k = sq_smap_get(&byep, a->endpoint);
                g = k == SQ_SMAP_NONE ? NULL : &gs[k];

            } else if (strcmp(a->region, SQ_ALL) != 0) {
                k = sq_smap_get(&byreg, a->region);
                g = k == SQ_SMAP_NONE ? NULL : &gs[k];

                if (g && a->scope == SQ_SCOPE_JOURNEY && !g->broad) {
                    g = NULL;
                }
            }

            w = sq_incident_drag(g, al, a->dim);

            if (w == SQ_SMAP_NONE && a->scope == SQ_SCOPE_ENDPOINT) {
                w = sq_incident_drag(&rollups, al, a->dim);
            }

            if (w != SQ_SMAP_NONE) {
                grp[i] = grp[w];

            } else {
                cause = a->scope == SQ_SCOPE_ENDPOINT ? SQ_CAUSE_ENDPOINT
                        : a->scope == SQ_SCOPE_REGION ? SQ_CAUSE_REGION
                        : SQ_CAUSE_JOURNEY;
                ca = cause == SQ_CAUSE_REGION ? a->region : a->endpoint;
                cb = cause == SQ_CAUSE_JOURNEY ? a->region : "";
                grp[i] = sq_incident_intern(out, &bykey, cause, ca, cb);
            }

            if (grp[i] == SQ_SMAP_NONE) {
                goto cleanup;
            }

            if (a->scope == SQ_SCOPE_REGION) {
                sq_incident_see(&rollups, al, i, NULL);
            }
        }
    }

    /* the members of each incident */

    for (i = 0; i < n; i++) {
        out->inc[grp[i]].nmembers++;
    }

    /* the members, in the order of al, and what they share */

    m = 0;

    for (k = 0; k < out->n; k++) {
        inc = &out->inc[k];
        inc->members = pool + m;
        m += inc->nmembers;
        inc->nmembers = 0;
    }

    for (i = 0; i < n; i++) {
        inc = &out->inc[grp[i]];
        sq_incident_member(inc, al[i], &differ[4 * grp[i]]);
    }

    /* a member's own segment "" is a segment too */

    for (k = 0; k < out->n; k++) {
        inc = &out->inc[k];

        if (differ[4 * k + 2] == 0 && inc->segment == NULL) {
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

    sq_smap_free(&byreg);
    sq_smap_free(&byep);
    sq_smap_free(&bynb);
    sq_smap_free(&bykey);
    free(rb);
    free(grp);
    free(gi);
    free(gs);
    free(differ);

    if (rc != SQ_OK) {
        sq_incidents_free(out);
    }

    return rc;
}


/* a joins inc: what the members share, the severity, the speakers */

static void
sq_incident_member(sq_incident_t *inc, const sq_alert_info_t *a,
    int *differ)
{
    int  d;

    inc->members[inc->nmembers++] = a;

    if (a->scope == SQ_SCOPE_JOURNEY) {
        inc->journey = sq_incident_common(inc->journey, a->endpoint,
                                          &differ[3]);

    } else {
        inc->endpoint = sq_incident_common(inc->endpoint, a->endpoint,
                                           &differ[0]);
        inc->segment = sq_incident_common(inc->segment, a->segment,
                                          &differ[2]);
    }

    inc->region = sq_incident_common(inc->region, a->region, &differ[1]);

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
        || sq_incident_rank(inc, a) > sq_incident_rank(inc, inc->rep[d])
        || (sq_incident_rank(inc, a) == sq_incident_rank(inc, inc->rep[d])
            && sq_incident_worse(a, inc->rep[d])))
    {
        inc->rep[d] = a;
    }
}


void
sq_incidents_free(sq_incidents_t *s)
{
    size_t  k;

    if (s->inc) {
        for (k = 0; k < s->n; k++) {
            free(s->inc[k].key);
            free(s->inc[k].look_at);
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


/* one more of name in t[0 .. nt - 1], found by m; the new count nt */

static size_t
sq_incident_tally(sq_smap_t *m, sq_tally_t *t, size_t nt, size_t max,
    const char *name)
{
    int              added;
    size_t           i;
    sq_smap_slot_t  *s;

    if (name == NULL || strcmp(name, SQ_ALL) == 0) {
        return nt;
    }

    i = sq_smap_get(m, name);

    if (i != SQ_SMAP_NONE) {
        t[i].n++;
        return nt;
    }

    if (nt >= max || (s = sq_smap_put(m, name, nt, &added)) == NULL) {
        return nt;
    }

    t[nt].name = name;
    t[nt].n = 1;

    return nt + 1;
}


/* the SQ_INCIDENT_TOP names with most members, the first seen on a tie */

static void
sq_incident_list(char *buf, size_t len, sq_tally_t *t, size_t nt)
{
    size_t      i, j, k, o, top;
    sq_tally_t  best[SQ_INCIDENT_TOP];

    top = 0;

    for (i = 0; i < nt; i++) {
        for (k = 0; k < top && best[k].n >= t[i].n; k++) {
            /* void */
        }

        if (k == SQ_INCIDENT_TOP) {
            continue;
        }

        j = top < SQ_INCIDENT_TOP ? top++ : top - 1;

        for ( /* void */ ; j > k; j--) {
            best[j] = best[j - 1];
        }

        best[k] = t[i];
    }

    o = 0;
    buf[0] = '\0';

    for (i = 0; i < top && o + 1 < len; i++) {
        o += snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
                      best[i].name[0] ? best[i].name : "(none)");
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
    sq_smap_t               me, mr, ms;
    sq_tally_t             *te, *tr, *ts;
    const sq_alert_info_t  *r;

    if (inc->look_at) {
        snprintf(buf, len, "%s", inc->look_at);
        return;
    }

    max = inc->nmembers;
    te = calloc(3 * (max ? max : 1), sizeof(sq_tally_t));
    memset(&me, 0, sizeof(sq_smap_t));
    memset(&mr, 0, sizeof(sq_smap_t));
    memset(&ms, 0, sizeof(sq_smap_t));

    if (te == NULL || sq_smap_init(&me, 16) != SQ_OK
        || sq_smap_init(&mr, 16) != SQ_OK || sq_smap_init(&ms, 16) != SQ_OK)
    {
        sq_smap_free(&me);
        sq_smap_free(&mr);
        sq_smap_free(&ms);
        free(te);
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

        ne = sq_incident_tally(&me, te, ne, max, inc->members[i]->endpoint);
        nr = sq_incident_tally(&mr, tr, nr, max, inc->members[i]->region);
        ns = sq_incident_tally(&ms, ts, ns, max, inc->members[i]->segment);
    }

    sq_incident_list(eps, sizeof(eps), te, ne);
    sq_incident_list(regs, sizeof(regs), tr, nr);
    sq_incident_list(segs, sizeof(segs), ts, ns);
    sq_smap_free(&me);
    sq_smap_free(&mr);
    sq_smap_free(&ms);
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
sq_incident_describe(sq_incident_t *inc)
{
    char  buf[4096];

    if (inc->look_at == NULL) {
        sq_incident_look_at(buf, sizeof(buf), inc);
        inc->look_at = strdup(buf);
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
