
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * The alert state machine: critical needs both windows below the zone and
 * holds while the short one is; warning needs most of the zone used up in
 * both; insufficient windows never fire; a severity change steps.
 */

#include <math.h>

#include "tap.h"
#include "sq_alert.h"


#define W  0.11       /* 1 - warning_share 0.89 */

#define NONE  SQ_SEV_NONE
#define WARN  SQ_SEV_WARNING
#define CRIT  SQ_SEV_CRITICAL


/* a dimension score with placement z (NAN: insufficient) */

static sq_dim_score_t
sc(double z)
{
    sq_dim_score_t  d;

    memset(&d, 0, sizeof(d));
    d.adequate = 0.85;
    d.desired = 0.94;

    if (isnan(z)) {
        d.state = SQ_STATE_INSUFFICIENT;
        d.z = NAN;
        d.value = NAN;
        return d;
    }

    d.value = d.adequate + z * (d.desired - d.adequate);
    sq_place(&d);

    return d;
}


static int
next(int cur, double zs, double zl)
{
    sq_dim_score_t  s, l;

    s = sc(zs);
    l = sc(zl);

    return sq_alert_next(cur, &s, &l, W);
}


int
main(void)
{
    int     cur, i;
    double  zs, zl;

    /* from nothing */

    is_int(next(NONE, 2, 2), NONE, "above in both: nothing");
    is_int(next(NONE, 0.5, 0.5), NONE, "mid zone: nothing");
    is_int(next(NONE, -1, -1), CRIT, "below in both: critical");
    is_int(next(NONE, -1, 0.5), NONE, "short below, long fine: nothing");
    is_int(next(NONE, 0.5, -1), NONE, "long below, short fine: nothing");
    is_int(next(NONE, 0.05, 0.1), WARN, "89%% of the zone used in both: "
           "warning");
    is_int(next(NONE, 0.0, 0.109), WARN, "the lower edge counts");
    is_int(next(NONE, 0.05, 0.2), NONE, "only the short window: nothing");
    is_int(next(NONE, 0.2, 0.05), NONE, "only the long window: nothing");
    is_int(next(NONE, -1, 0.05), WARN, "short below, long nearly: warning");
    is_int(next(NONE, NAN, -1), NONE, "short insufficient: nothing");
    is_int(next(NONE, -1, NAN), NONE, "long insufficient: nothing");
    is_int(next(NONE, NAN, NAN), NONE, "both insufficient: nothing");

    /* critical */

    is_int(next(CRIT, -1, -1), CRIT, "critical holds");
    is_int(next(CRIT, -0.01, 2), CRIT, "critical holds while short below");
    is_int(next(CRIT, 0.5, -1), NONE, "short back in the zone: resolved");
    is_int(next(CRIT, 0.05, 0.05), WARN, "short back but close to the edge "
           "in both: a warning follows");
    is_int(next(CRIT, 0.05, 0.5), NONE, "short back, long fine: resolved");
    is_int(next(CRIT, NAN, -1), NONE, "short insufficient: resolved");

    /* warning */

    is_int(next(WARN, 0.05, 0.05), WARN, "warning holds");
    is_int(next(WARN, 0.05, 0.9), WARN, "warning holds on the short window");
    is_int(next(WARN, 0.3, 0.05), NONE, "short recovered: resolved");
    is_int(next(WARN, -1, -1), CRIT, "worse: critical");
    is_int(next(WARN, -1, 0.05), WARN, "short below, long not: warning");
    is_int(next(WARN, NAN, 0.05), NONE, "short insufficient: resolved");

    /* a gradual slide, one step per evaluation: warning comes first */

    cur = NONE;
    zs = 1.0;
    zl = 1.0;

    for (i = 0; i < 40 && cur != CRIT; i++) {
        zs -= 0.05;
        zl -= 0.03;

        if (next(cur, zs, zl) == CRIT && cur != WARN) {
            break;
        }

        cur = next(cur, zs, zl);
    }

    is_int(cur, CRIT, "a slide ends critical, through a warning");

    /* no flapping around the resolution point of a critical */

    is_int(next(CRIT, -0.001, -1), CRIT, "just below: still critical");
    is_int(next(NONE, 0.001, -1), WARN, "just within after resolving, long "
           "below: a warning, not critical again");

    return done_testing();
}
