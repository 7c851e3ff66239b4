
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * The grouping of firing alerts into incidents (sq_incident.c) on
 * hand-made alert sets: a region bad on several endpoints, an endpoint bad
 * in several regions, one row, the rollups each drags below, and rollups
 * that fire before their rows are judged.
 */

#include <math.h>

#include "tap.h"
#include "sq_incident.h"
#include "sq_view.h"


#define MAXA  64


static sq_alert_info_t   A[MAXA];
static const sq_alert_info_t  *P[MAXA];
static size_t            NA;


static void
add(int scope, const char *e, const char *r, const char *g, int dim,
    double msa)
{
    sq_alert_info_t  *a;

    a = &A[NA];
    memset(a, 0, sizeof(*a));
    a->scope = scope;
    a->endpoint = e;
    a->region = r;
    a->segment = g;
    a->dim = dim;
    a->severity = SQ_SEV_CRITICAL;
    a->since = 1000 + (int64_t) NA;
    a->value = 0.9;
    a->adequate = 0.995;
    a->desired = 0.999;
    a->msa = msa;
    a->lat = NAN;
    a->base = NAN;
    P[NA] = a;
    NA++;
}


static const sq_incident_t *
find(const sq_incidents_t *s, const char *key)
{
    size_t  i;

    for (i = 0; i < s->n; i++) {
        if (strcmp(s->inc[i].key, key) == 0) {
            return &s->inc[i];
        }
    }

    return NULL;
}


int
main(void)
{
    char                  buf[1024];
    const char           *e[3] = { "home", "search", "checkout" };
    const char           *g[2] = { "free", "pro" };
    int                   i, j;
    sq_incidents_t        s;
    const sq_incident_t  *inc;

    /* BR bad on three endpoints and two segments, its rollups */

    NA = 0;

    for (i = 0; i < 3; i++) {
        for (j = 0; j < 2; j++) {
            add(SQ_SCOPE_SERIES, e[i], "BR", g[j], SQ_DIM_RELIABILITY, -0.08);
            add(SQ_SCOPE_SERIES, e[i], "BR", g[j], SQ_DIM_EMPATHY, -20);
        }

        add(SQ_SCOPE_ENDPOINT, e[i], "*", "*", SQ_DIM_RELIABILITY, -0.01);
    }

    add(SQ_SCOPE_REGION, "*", "BR", "*", SQ_DIM_RELIABILITY, -0.08);

    ok(sq_incident_group(P, NA, &s) == SQ_OK, "grouped");
    is_int(s.n, 1, "a region bad on every endpoint: one incident");
    inc = find(&s, "region\tBR\t");
    ok(inc != NULL, "caused by the region");
    is_int(inc ? inc->nmembers : 0, NA, "every alert is a member");
    ok(inc && inc->region && strcmp(inc->region, "BR") == 0, "region BR");
    ok(inc && inc->endpoint == NULL, "no one endpoint");
    ok(inc && inc->rep[SQ_DIM_RELIABILITY]
       && inc->rep[SQ_DIM_RELIABILITY]->scope == SQ_SCOPE_REGION,
       "the region's rollup speaks for reliability");
    is_int(inc ? inc->dims : 0,
           (1u << SQ_DIM_RELIABILITY) | (1u << SQ_DIM_EMPATHY),
           "two dimensions");

    if (inc) {
        sq_incident_title(buf, sizeof(buf), inc);
        ok(strncmp(buf, "Brazil: reliability 90 % (adequate 99.5 %)", 42)
           == 0, "title: %s", buf);
    }

    sq_incidents_free(&s);

    /* JP bad on checkout only: a second, narrower incident; checkout's
       rollup goes with the worse of the two */

    add(SQ_SCOPE_SERIES, "checkout", "JP", "free", SQ_DIM_RELIABILITY, -0.02);
    add(SQ_SCOPE_REGION, "*", "JP", "*", SQ_DIM_RELIABILITY, -0.005);

    ok(sq_incident_group(P, NA, &s) == SQ_OK, "grouped");
    is_int(s.n, 2, "two incidents");
    ok(s.n && strcmp(s.inc[0].key, "region\tBR\t") == 0, "the wider first");
    inc = find(&s, "row\tcheckout\tJP");
    ok(inc != NULL, "checkout in JP, a row");
    is_int(inc ? inc->nmembers : 0, 2, "its row and JP's rollup");
    ok(inc && inc->segment && strcmp(inc->segment, "free") == 0,
       "one segment: named");

    if (inc) {
        sq_incident_where(buf, sizeof(buf), inc);
        ok(strcmp(buf, "checkout in Japan (free)") == 0, "where: %s", buf);
    }

    sq_incidents_free(&s);

    /* checkout bad in JP and DE (neither a region incident): the
       endpoint is the cause */

    NA = 0;
    add(SQ_SCOPE_SERIES, "checkout", "JP", "", SQ_DIM_RELIABILITY, -0.02);
    add(SQ_SCOPE_SERIES, "checkout", "DE", "", SQ_DIM_RELIABILITY, -0.03);
    add(SQ_SCOPE_ENDPOINT, "checkout", "*", "*", SQ_DIM_RELIABILITY, -0.02);
    add(SQ_SCOPE_REGION, "*", "DE", "*", SQ_DIM_RELIABILITY, -0.01);

    ok(sq_incident_group(P, NA, &s) == SQ_OK, "grouped");
    is_int(s.n, 1, "an endpoint bad in two regions: one incident");
    ok(s.n && strcmp(s.inc[0].key, "endpoint\tcheckout\t") == 0,
       "caused by the endpoint");
    is_int(s.n ? s.inc[0].nmembers : 0, 4, "with the rollups");
    sq_incidents_free(&s);

    /* rollups that fire before any row is judged: the endpoint rollups
       go with the region's */

    NA = 0;
    add(SQ_SCOPE_REGION, "*", "BR", "*", SQ_DIM_RELIABILITY, -0.08);
    add(SQ_SCOPE_ENDPOINT, "home", "*", "*", SQ_DIM_RELIABILITY, -0.01);
    add(SQ_SCOPE_ENDPOINT, "search", "*", "*", SQ_DIM_EMPATHY, -5);

    ok(sq_incident_group(P, NA, &s) == SQ_OK, "grouped");
    is_int(s.n, 1, "rollups only: one incident, the region's");
    ok(s.n && strcmp(s.inc[0].key, "region\tBR\t") == 0, "region BR");
    sq_incidents_free(&s);

    /* nothing firing */

    ok(sq_incident_group(P, 0, &s) == SQ_OK && s.n == 0, "none: none");
    sq_incidents_free(&s);

    return done_testing();
}
