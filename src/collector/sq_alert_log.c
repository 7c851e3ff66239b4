
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "sq_collector.h"
#include "sq_alert.h"
#include "sq_alert_log.h"
#include "sq_json.h"
#include "sq_view.h"


static const char *sq_alert_log_str(const json_t *o, const char *key,
    const char *none);


void
sq_alert_log_count(char *buf, size_t len, uint64_t n)
{
    char    digits[32];
    size_t  i, l, o;

    l = (size_t) snprintf(digits, sizeof(digits), "%llu",
                          (unsigned long long) n);
    o = 0;

    for (i = 0; i < l && o + 1 < len; i++) {
        if (i && (l - i) % 3 == 0 && o + 2 < len) {
            buf[o++] = ',';
        }

        buf[o++] = digits[i];
    }

    buf[o] = '\0';
}


void
sq_alert_log_transition(const sq_alert_info_t *in, int resolved)
{
    char  summary[1024];

    sq_json_alert_summary(summary, sizeof(summary), in);

    sq_log(SQ_LOG_WARN, "alert %s severity=%s alertname=%s scope=%s "
           "endpoint=\"%s\" region=\"%s\" segment=\"%s\" dimension=%s "
           "indicator=%s value=%.6g adequate=%.6g desired=%.6g msa=%.6g "
           "since=%lld labels=%s: %s",
           resolved ? "resolved" : "firing",
           sq_severity_names[in->severity],
           in->severity == SQ_SEV_CRITICAL ? "ServqualBelowZone"
                                           : "ServqualZoneWarning",
           sq_scope_names[in->scope], in->endpoint, in->region,
           in->segment, sq_dim_names[in->dim],
           sq_indicator_names[in->indicator], in->value, in->adequate,
           in->desired, in->msa, (long long) in->since,
           in->labels ? in->labels : "{}", summary);
}


void
sq_alert_log_summary(const uint64_t fired[3], const uint64_t resolved[3],
    uint64_t firing, size_t incidents, double seconds)
{
    char  f[32], fc[32], fw[32], r[32], n[32], i[32];

    sq_alert_log_count(f, sizeof(f), fired[SQ_SEV_CRITICAL]
                                     + fired[SQ_SEV_WARNING]);
    sq_alert_log_count(fc, sizeof(fc), fired[SQ_SEV_CRITICAL]);
    sq_alert_log_count(fw, sizeof(fw), fired[SQ_SEV_WARNING]);
    sq_alert_log_count(r, sizeof(r), resolved[SQ_SEV_CRITICAL]
                                     + resolved[SQ_SEV_WARNING]);
    sq_alert_log_count(n, sizeof(n), firing);
    sq_alert_log_count(i, sizeof(i), incidents);

    sq_log(SQ_LOG_WARN, "alerts: %s alert%s firing in %s incident%s; this "
           "evaluation %s fired (%s critical, %s warning) and %s resolved, "
           "too many for a line each (see the incident lines, "
           "/api/v1/incidents and /api/v1/alerts); evaluated in %.0f ms",
           n, firing == 1 ? "" : "s", i, incidents == 1 ? "" : "s", f, fc,
           fw, r, seconds * 1000);
}


void
sq_alert_log_begin(sq_alert_log_t *lg)
{
    memset(lg, 0, sizeof(sq_alert_log_t));
}


static const char *
sq_alert_log_str(const json_t *o, const char *key, const char *none)
{
    const char  *s;

    s = json_string_value(json_object_get(o, key));

    return s ? s : none;
}


void
sq_alert_log_incident(sq_alert_log_t *lg, const char *what,
    const json_t *o)
{
    int            k;
    char           count[32];
    const json_t  *scope;

    if (lg->lines >= SQ_ALERT_LOG_INCIDENTS) {
        k = strcmp(what, "opened") == 0 ? 0
            : strcmp(what, "changed") == 0 ? 1 : 2;
        lg->more[k]++;
        return;
    }

    lg->lines++;
    scope = json_object_get(o, "scope");

    /* the count of member rows: the members listed may be fewer */

    sq_alert_log_count(count, sizeof(count), json_integer_value(
                           json_object_get(o, "member_count")));

    sq_log(SQ_LOG_WARN, "incident %s id=%s severity=%s cause=%s "
           "endpoint=\"%s\" region=\"%s\" members=%s owner=%s: %s; "
           "look at %s",
           what, sq_alert_log_str(o, "id", ""),
           sq_alert_log_str(o, "severity", ""),
           sq_alert_log_str(o, "cause", ""),
           sq_alert_log_str(scope, "endpoint", "*"),
           sq_alert_log_str(scope, "region", "*"),
           count, sq_alert_log_str(o, "owner", "-"),
           sq_alert_log_str(o, "title", ""),
           sq_alert_log_str(o, "look_at", ""));
}


void
sq_alert_log_end(sq_alert_log_t *lg)
{
    if (lg->more[0] + lg->more[1] + lg->more[2] == 0) {
        return;
    }

    sq_log(SQ_LOG_WARN, "incidents: %llu more opened, %llu more changed "
           "and %llu more resolved in this evaluation (see "
           "/api/v1/incidents)",
           (unsigned long long) lg->more[0],
           (unsigned long long) lg->more[1],
           (unsigned long long) lg->more[2]);
}


void
sq_alert_log_taken_up(const sq_alert_info_t *in, size_t nth)
{
    if (nth >= SQ_ALERT_LOG_DETAIL) {
        return;
    }

    sq_log(SQ_LOG_INFO, "alert taken up: %s %s \"%s\" \"%s\" \"%s\" %s "
           "since %lld", sq_severity_names[in->severity],
           sq_scope_names[in->scope], in->endpoint, in->region,
           in->segment, sq_dim_names[in->dim], (long long) in->since);
}


void
sq_alert_log_taken_up_total(size_t n)
{
    char  c[32];

    if (n <= SQ_ALERT_LOG_DETAIL) {
        return;
    }

    sq_alert_log_count(c, sizeof(c), n);
    sq_log(SQ_LOG_INFO, "alerts: %s alerts taken up, the first %d listed",
           c, SQ_ALERT_LOG_DETAIL);
}
