
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_ALERT_H_INCLUDED_
#define _SQ_ALERT_H_INCLUDED_


#include <stdint.h>
#include <jansson.h>

#include "sq_score.h"


/*
 * Alerts.  Every alerts.interval the scored table is walked; each
 * (row, dimension) is judged on its short and long windows:
 *
 *   critical  below the zone in both windows (the SRE Workbook's
 *             multi-window alert); holds while the short window is
 *             below, resolves as soon as it is not;
 *   warning   not critical, and z <= 1 - alerts.warning_share in both
 *             windows (most of the zone used up); holds while the short
 *             window's z stays there.
 *
 * An insufficient window never fires and ends what is firing.  A change
 * of severity is two transitions: the old alert resolves, the new one
 * fires.  Transitions go to the log, the history store, Alertmanager
 * (API v2) and a JSON webhook; sends never block, and are retried with
 * backoff from a bounded queue.
 */

#define SQ_SEV_NONE      0
#define SQ_SEV_WARNING   1
#define SQ_SEV_CRITICAL  2


typedef struct sq_alert_s  sq_alert_t;

struct evbuffer;


extern const char  *sq_severity_names[3];


/*
 * The state machine: the severity a (row, dimension) has after an
 * evaluation, given the one it had (cur), its short and long window
 * scores and the warning threshold on z (1 - warning_share).
 */
int sq_alert_next(int cur, const sq_dim_score_t *s, const sq_dim_score_t *l,
    double warn_z);

/*
 * Starts the evaluation timer and the sinks of ctx->conf.alerts (ctx is
 * the collector's sq_ctx_t); the alerts that were firing when the store's
 * history ends are taken up again.
 */
sq_alert_t *sq_alert_new(void *ctx);

/* a reload: new interval, thresholds and sinks */
void sq_alert_configure(sq_alert_t *a);

/* one evaluation now (the timer calls it) */
void sq_alert_evaluate(sq_alert_t *a, int64_t now);

void sq_alert_free(sq_alert_t *a);

/* /api/v1/alerts: {"firing": [...], "history": [...]} */
json_t *sq_alert_json(sq_alert_t *a);

/* the alert families of /metrics */
void sq_alert_prom(sq_alert_t *a, struct evbuffer *b);


#endif /* _SQ_ALERT_H_INCLUDED_ */
