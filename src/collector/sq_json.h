
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_JSON_H_INCLUDED_
#define _SQ_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "sq_config.h"
#include "sq_score.h"
#include "sq_view.h"
#include "sq_alert.h"
#include "sq_incident.h"
#include "sq_workers.h"


/*
 * The JSON encodings shared by the API (/api/v1/quality, /api/v1/alerts,
 * /api/v1/history) and the alert sinks.  docs/api.md documents them.
 * Each returns a new reference, or NULL when out of memory.
 */

/* a number, null for NAN and infinities */
json_t *sq_json_num(double v);

/*
 * Numbers a person reads: a value of indicator in its unit ("91.3 %",
 * "Apdex 0.54", "3.0 s", "1.6x", ratios above SQ_RATIO_SHOWN_MAX as
 * "over 10x"); a latency in seconds ("150 us", "12 ms", "3.0 s").
 */
void sq_json_human(char *buf, size_t len, int indicator, double v);
void sq_json_seconds(char *buf, size_t len, double s);

/*
 * A dimension's value in words with its zone: "91.3 % (adequate 99.5 %,
 * desired 99.9 %)"; empathy with the two request times it compares,
 * "p75 3.0 s vs 150 ms elsewhere, 20x (adequate 2.0x, desired 1.25x)".
 * lat and base are NAN but for empathy.
 */
void sq_json_dim_text(char *buf, size_t len, int indicator, double value,
    double adequate, double desired, double lat, double base);

/* z as shown: within SQ_INDEX_ZMIN..SQ_INDEX_ZMAX, NAN kept */
double sq_json_z_shown(double z);

/* a scored window of /api/v1/quality, one dimension or all (dim < 0) */
json_t *sq_json_window(const sq_win_score_t *ws, int dim);

/* the browser object of a window: null without beacons */
json_t *sq_json_browser(const sq_browser_score_t *bs);

/* a row of /api/v1/quality, one window or both (win < 0) */
json_t *sq_json_row(const sq_row_t *r, int dim, int win);

/* a point of /api/v1/history: a stored slot starting at t, scored */
json_t *sq_json_point(int64_t t, const sq_win_score_t *ws);

/* labels as a JSON object's text, without the reserved names (malloc) */
char *sq_json_owner_labels(const sq_label_t *labels, size_t n);

/* "checkout in BR is below the adequate level on ... since ..." */
void sq_json_alert_summary(char *buf, size_t len,
    const sq_alert_info_t *it);

/* an alert's value in words with its zone (sq_json_dim_text) */
void sq_json_alert_text(char *buf, size_t len, const sq_alert_info_t *it);

/* an alert of /api/v1/alerts, also the webhook's labels */
json_t *sq_json_alert(const sq_alert_info_t *it, int resolved,
    int64_t ends_at);

/* an alert for Alertmanager's POST /api/v2/alerts */
json_t *sq_json_alert_am(const sq_alert_info_t *it, int resolved,
    int64_t now, const sq_conf_t *conf);

/* the webhook's body: one transition */
json_t *sq_json_alert_hook(const sq_alert_info_t *it, int resolved,
    int64_t now, const sq_conf_t *conf);


/* an incident of /api/v1/incidents, also the webhook's body (status) */
json_t *sq_json_incident(const sq_incident_t *inc,
    const sq_incident_state_t *st, const char *status, int64_t now);

/*
 * Alertmanager: the alert of one dimension of an incident, labelled with
 * the incident's id, its scope and owner labels; the member rows of that
 * dimension in the annotation "members".
 */
json_t *sq_json_incident_am(const sq_incident_t *inc,
    const sq_incident_state_t *st, int dim, int resolved, int64_t now,
    const sq_conf_t *conf);


/* a node of /api/v1/nodes: its ingest figures, last seen at now */
json_t *sq_json_node(const sq_node_t *nd, int64_t now);


#endif /* _SQ_JSON_H_INCLUDED_ */
