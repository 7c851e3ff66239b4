
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_ALERT_H_INCLUDED_
#define _SQ_ALERT_H_INCLUDED_


#include <stdint.h>
#include <jansson.h>

#include "sq_score.h"
#include "sq_view.h"
#include "sq_sink.h"


/*
 * Alerts.  Every alerts.interval the latest scored view is walked; each
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
 * (API v2) and a JSON webhook through the sinks (sq_sink.c).
 */

#define SQ_SEV_NONE      0
#define SQ_SEV_WARNING   1
#define SQ_SEV_CRITICAL  2

enum {
    SQ_SINK_ALERTMANAGER = 0,
    SQ_SINK_WEBHOOK,
    SQ_NSINKS
};


typedef struct sq_alert_s  sq_alert_t;


/* one alert, firing or in a transition */

typedef struct {
    int            scope;
    int            dim;
    int            severity;
    int            indicator;
    int64_t        since;
    double         value;
    double         adequate;
    double         desired;
    double         msa;
    double         lat;           /* empathy: the two request times */
    double         base;          /* compared, seconds; else NAN */
    char          *labels;        /* owner labels, a JSON object, or NULL */
    const char    *endpoint;
    const char    *region;
    const char    *segment;
} sq_alert_info_t;


/* the counts of /metrics */

typedef struct {
    uint64_t       firing[3];                 /* by severity */
    uint64_t       incidents[3];              /* open, by severity */
    uint64_t       transitions[3][2];         /* severity, resolved */
    uint64_t       notes[SQ_NSINKS][SQ_NOTE_NRESULTS];
    uint64_t       queued[SQ_NSINKS];
    uint64_t       evaluations;
    double         eval_seconds;              /* the last evaluation */
} sq_alert_stats_t;


struct sq_ctx_s;


extern const char  *sq_severity_names[3];
extern const char  *sq_sink_names[SQ_NSINKS];


/*
 * The state machine: the severity a (row, dimension) has after an
 * evaluation, given the one it had (cur), its short and long window
 * scores and the warning threshold on z (1 - warning_share).
 */
int sq_alert_next(int cur, const sq_dim_score_t *s, const sq_dim_score_t *l,
    double warn_z);

/* the hash of an alert's key, also in its id */
uint32_t sq_alert_hash(int scope, const char *e, const char *r,
    const char *g, int dim);

/*
 * The alerts of the collector ctx, their evaluation timer and the sinks
 * of ctx->conf->alerts; the alerts that were firing when the store's
 * history ends are taken up again.  Each evaluation first has the view
 * ticked (a new one if anything changed), so that alerts judge the
 * traffic as it is at the evaluation.
 */
sq_alert_t *sq_alert_new(struct sq_ctx_s *ctx);

/* a reload: new interval, thresholds and sinks */
void sq_alert_configure(sq_alert_t *a);

/* one evaluation of view v at now */
void sq_alert_evaluate(sq_alert_t *a, const sq_view_t *v, int64_t now);

void sq_alert_free(sq_alert_t *a);

/* /api/v1/alerts: {"firing": [...], "history": [...]} */
json_t *sq_alert_json(sq_alert_t *a);

/*
 * /api/v1/incidents: {"incidents": [...], "alerts_firing": N}, the firing
 * alerts grouped by cause (sq_incident.h), most severe and widest first
 */
json_t *sq_alert_incidents_json(sq_alert_t *a);

void sq_alert_stats(const sq_alert_t *a, sq_alert_stats_t *st);


#endif /* _SQ_ALERT_H_INCLUDED_ */
