
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_ALERT_AM_H_INCLUDED_
#define _SQ_ALERT_AM_H_INCLUDED_


#include <stdint.h>
#include <jansson.h>

#include "sq_config.h"
#include "sq_incident.h"
#include "sq_sink.h"


/*
 * Alertmanager delivery: one Alertmanager alert per incident and
 * dimension (never one per row), all of them when something changed or
 * the resend interval is over, those that are gone once with endsAt.
 * They go in posts of at most SQ_ALERT_AM_BATCH alerts, so a mass event
 * is a few bounded posts and one notification group per incident.
 */

#define SQ_ALERT_AM_BATCH  64


typedef struct {
    json_t     *prev;             /* what Alertmanager was last sent */
    int64_t     sent;             /* the last full send */
    uint64_t    posts;            /* posts queued, ever */
} sq_alert_am_t;


int sq_alert_am_init(sq_alert_am_t *am);

void sq_alert_am_free(sq_alert_am_t *am);

/*
 * After an evaluation: the incidents of inc, st[i] the state of
 * inc->inc[i] (NULL: skipped); changed when alerts or incidents changed.
 */
void sq_alert_am_update(sq_alert_am_t *am, sq_sink_t *sink,
    const sq_incidents_t *inc, sq_incident_state_t *const *st, int changed,
    int64_t now, const sq_conf_t *conf);


#endif /* _SQ_ALERT_AM_H_INCLUDED_ */
