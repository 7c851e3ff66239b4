
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_ALERT_LOG_H_INCLUDED_
#define _SQ_ALERT_LOG_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "sq_alert.h"


/*
 * The alerts' log: bounded whatever the number of rows that fire.
 *
 * An evaluation with at most SQ_ALERT_LOG_DETAIL alert transitions logs
 * a line per transition ("alert firing ...", "alert resolved ..."), as a
 * small site wants; one with more logs a single summary line instead
 * ("alerts: 12,345 firing in 3 incidents ...").  Incidents get a line
 * each when they open, change or resolve, at most SQ_ALERT_LOG_INCIDENTS
 * an evaluation, the rest in one line of counts.  So a mass event (a
 * region's upstream down: every endpoint of the region) is a handful of
 * lines, never one a row.
 */

#define SQ_ALERT_LOG_DETAIL     20
#define SQ_ALERT_LOG_INCIDENTS  20


typedef struct {
    size_t     lines;                 /* incident lines this evaluation */
    uint64_t   more[3];               /* opened, changed, resolved */
} sq_alert_log_t;


/* "12,345" */
void sq_alert_log_count(char *buf, size_t len, uint64_t n);

/* a line for one alert transition */
void sq_alert_log_transition(const sq_alert_info_t *in, int resolved);

/*
 * The line of an evaluation with many transitions: fired[severity] and
 * resolved[severity] in it, what fires after it, the incidents.
 */
void sq_alert_log_summary(const uint64_t fired[3],
    const uint64_t resolved[3], uint64_t firing, size_t incidents,
    double seconds);

/* an evaluation starts: the incident lines are counted again */
void sq_alert_log_begin(sq_alert_log_t *lg);

/* "opened", "changed", "resolved": o is the incident's JSON */
void sq_alert_log_incident(sq_alert_log_t *lg, const char *what,
    const json_t *o);

/* the incidents not logged one by one, if any */
void sq_alert_log_end(sq_alert_log_t *lg);

/* restarting: an alert taken up, the first few a line each */
void sq_alert_log_taken_up(const sq_alert_info_t *in, size_t nth);

/* the count of those taken up, when there were too many to list */
void sq_alert_log_taken_up_total(size_t n);


#endif /* _SQ_ALERT_LOG_H_INCLUDED_ */
