
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

#include "sq_collector.h"
#include "sq_alert.h"
#include "sq_ingest.h"
#include "sq_persist.h"
#include "sq_prom.h"
#include "sq_prom_browser.h"
#include "sq_score.h"
#include "sq_sink.h"
#include "sq_view.h"


/*
 * /metrics in the Prometheus text format, built family by family, each
 * with its # HELP and # TYPE.  Per-series counters and histograms are
 * totals since the series was first seen; scores are gauges of the
 * short and the long window, read from the view the stream holds, as
 * are the window store's counters (the moment the scores are of).
 */

typedef struct {
    const char  *name;
    const char  *type;
    const char  *help;
} sq_family_t;


enum {
    F_BUILD = 0, F_UPTIME, F_DGRAMS, F_REFILED, F_REJECTED, F_LOST,
    F_REORDERED,
    F_RESTARTS, F_SRC_DGRAMS, F_SRC_REQS, F_LOST_REQS, F_STORE_WRITES,
    F_STORE_ERRORS, F_STORE_SECONDS, F_STORE_LAST, F_STORE_PENDING,
    F_STORE_DROPPED,
    F_FOLDED, F_SERIES,
    F_SERIES_LIMIT, F_EXPIRED, F_WORKERS, F_RELOADS, F_BYTES, F_UPDATES,
    F_MEMORY, F_VIEW_BUILDS, F_VIEW_SECONDS, F_ALERTS_FIRING, F_INCIDENTS,
    F_ALERT_TRANSITIONS, F_ALERT_NOTES, F_ALERT_QUEUED, F_ALERT_EVALS,
    F_ALERT_EVAL_SECONDS, F_REQUESTS, F_RESPONSES, F_EVENTS, F_TLS, F_PROTO,
    F_SENT, F_DURATION, F_TTFB, F_VALUE, F_Z, F_ADEQUATE, F_DESIRED,
    F_STATE, F_INDEX, F_WREQUESTS, F_NFAMILIES
};


static const sq_family_t  sq_families[F_NFAMILIES] = {
    { "servqual_build_info", "gauge",
      "Collector version, always 1." },
    { "servqual_uptime_seconds", "gauge",
      "Seconds since the collector started." },
    { "servqual_datagrams_total", "counter",
      "Datagrams received, by result." },
    { "servqual_datagrams_refiled_total", "counter",
      "Datagrams filed by the time they were received, not their window's "
      "(window too far ahead or behind, or out of order), by reason." },
    { "servqual_datagrams_rejected_total", "counter",
      "Datagrams rejected by validation, by reason." },
    { "servqual_datagrams_lost_total", "counter",
      "Datagrams missing from the workers' sequence numbers." },
    { "servqual_datagrams_reordered_total", "counter",
      "Datagrams that arrived after their gap was counted as lost." },
    { "servqual_worker_restarts_total", "counter",
      "Times a worker's sequence started over." },
    { "servqual_source_dropped_datagrams_total", "counter",
      "Datagrams the workers reported they could not send." },
    { "servqual_source_dropped_requests_total", "counter",
      "Requests carried by datagrams the workers could not send." },
    { "servqual_lost_requests_total", "counter",
      "Requests nginx served that are not counted, by cause: source (the "
      "worker could not send them), transit (sent, never received), "
      "collector (while the collector was down or before it stored "
      "them)." },
    { "servqual_storage_writes_total", "counter",
      "Slots written to the database." },
    { "servqual_storage_errors_total", "counter",
      "Storage failures, by what failed (a slot write is retried)." },
    { "servqual_storage_write_seconds", "gauge",
      "Duration of the last slot write." },
    { "servqual_storage_last_write_timestamp_seconds", "gauge",
      "When a slot write last succeeded (0: not yet)." },
    { "servqual_storage_slots_pending", "gauge",
      "Slots that are over and not written yet." },
    { "servqual_storage_slots_dropped_total", "counter",
      "Slots given up after being retried as long as the windows held "
      "them; their requests are lost (cause collector) after a restart." },
    { "servqual_folded_requests_total", "counter",
      "Requests folded into _other by a series limit, by limit." },
    { "servqual_series", "gauge",
      "Live series (endpoint, region, segment)." },
    { "servqual_series_limit", "gauge",
      "The configured series limit." },
    { "servqual_series_expired_total", "counter",
      "Series dropped after being idle for their time to live." },
    { "servqual_workers", "gauge",
      "nginx workers whose sequence numbers are tracked." },
    { "servqual_config_reloads_total", "counter",
      "Configuration reloads, by result." },
    { "servqual_received_bytes_total", "counter",
      "Bytes of datagrams received." },
    { "servqual_series_updates_total", "counter",
      "Series entries merged from accepted datagrams." },
    { "servqual_window_memory_bytes", "gauge",
      "Memory held by series and their windows." },
    { "servqual_view_builds_total", "counter",
      "Scored views built (one a tick at most, when anything changed)." },
    { "servqual_view_build_seconds", "gauge",
      "Duration of the last scored view's build." },
    { "servqual_alerts_firing", "gauge",
      "alerts firing now" },
    { "servqual_incidents_firing", "gauge",
      "incidents open now: the firing alerts grouped by cause" },
    { "servqual_alert_transitions_total", "counter",
      "alerts fired and resolved" },
    { "servqual_alert_notifications_total", "counter",
      "notifications to the alert sinks, by result" },
    { "servqual_alert_notifications_queued", "gauge",
      "notifications waiting to be sent" },
    { "servqual_alert_evaluations_total", "counter",
      "alert evaluations" },
    { "servqual_alert_evaluation_seconds", "gauge",
      "duration of the last alert evaluation" },
    { "servqual_requests_total", "counter",
      "Requests observed by nginx, per series." },
    { "servqual_responses_total", "counter",
      "Responses by status class, per series." },
    { "servqual_request_events_total", "counter",
      "Requests with an event (client abort, incomplete body, upstream "
      "error or timeout, compressible, compressed, HSTS), per series." },
    { "servqual_tls_requests_total", "counter",
      "Requests by TLS protocol (none for plain HTTP), per series." },
    { "servqual_protocol_requests_total", "counter",
      "Requests by HTTP version, per series." },
    { "servqual_sent_bytes_total", "counter",
      "Bytes sent to clients, headers included, per series." },
    { "servqual_request_duration_seconds", "histogram",
      "Request time as nginx measures it, per series." },
    { "servqual_time_to_first_byte_seconds", "histogram",
      "Time to the first byte of the response, per series." },
    { "servqual_dimension_value", "gauge",
      "A dimension's indicator in its own unit, per row and window." },
    { "servqual_dimension_z", "gauge",
      "Placement in the zone of tolerance: < 0 below, 0..1 within, "
      "> 1 above." },
    { "servqual_dimension_adequate", "gauge",
      "The adequate level of a dimension's indicator." },
    { "servqual_dimension_desired", "gauge",
      "The desired level of a dimension's indicator." },
    { "servqual_dimension_state", "gauge",
      "1 for the dimension's current state, 0 for the others." },
    { "servqual_quality_index", "gauge",
      "Weighted mean of the dimensions' z (each clamped to -2..2)." },
    { "servqual_window_requests", "gauge",
      "Requests in the window, per row." }
};


typedef struct {
    int          c;
    const char  *label;
} sq_prom_label_t;


static const sq_prom_label_t  sq_classes[] = {
    { SQ_C_1XX, "1xx" }, { SQ_C_2XX, "2xx" }, { SQ_C_3XX, "3xx" },
    { SQ_C_4XX, "4xx" }, { SQ_C_5XX, "5xx" }
};

static const sq_prom_label_t  sq_events[] = {
    { SQ_C_ABORTED, "client_abort" },
    { SQ_C_INCOMPLETE, "body_incomplete" },
    { SQ_C_UPSTREAM_ERROR, "upstream_error" },
    { SQ_C_UPSTREAM_TIMEOUT, "upstream_timeout" },
    { SQ_C_COMPRESSIBLE, "compressible" },
    { SQ_C_COMPRESSED, "compressed" },
    { SQ_C_HSTS, "hsts" }
};

static const sq_prom_label_t  sq_tls[] = {
    { SQ_C_TLS_NONE, "none" }, { SQ_C_TLS_10, "1.0" },
    { SQ_C_TLS_11, "1.1" }, { SQ_C_TLS_12, "1.2" },
    { SQ_C_TLS_13, "1.3" }
};

static const sq_prom_label_t  sq_proto[] = {
    { SQ_C_HTTP_10, "1.0" }, { SQ_C_HTTP_11, "1.1" },
    { SQ_C_HTTP_2, "2" }, { SQ_C_HTTP_3, "3" }
};


static void sq_prom_head(struct evbuffer *b, int f);
static void sq_prom_esc(struct evbuffer *b, const char *s);
static void sq_prom_series(struct evbuffer *b, const char *metric,
    const sq_series_t *s, const char *extra, const char *value);
static void sq_prom_row(struct evbuffer *b, const char *metric,
    const sq_row_t *row, int w, const char *dim, const char *extra,
    double v);
static void sq_prom_health(sq_prom_t *p, struct evbuffer *b);
static void sq_prom_alerts(sq_ctx_t *ctx, struct evbuffer *b);
static void sq_prom_one_series(struct evbuffer *b, int f,
    const sq_series_t *s);
static void sq_prom_one_row(struct evbuffer *b, int f, const sq_row_t *row);


static void
sq_prom_head(struct evbuffer *b, int f)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n",
                        sq_families[f].name, sq_families[f].help,
                        sq_families[f].name, sq_families[f].type);
}


static void
sq_prom_esc(struct evbuffer *b, const char *s)
{
    const char  *p;

    /* most names need no escaping: one copy */

    if (strpbrk(s, "\\\"\n") == NULL) {
        evbuffer_add(b, s, strlen(s));
        return;
    }

    for (p = s; *p; p++) {
        if (*p == '\\' || *p == '"') {
            evbuffer_add_printf(b, "\\%c", *p);

        } else if (*p == '\n') {
            evbuffer_add(b, "\\n", 2);

        } else {
            evbuffer_add(b, p, 1);
        }
    }
}


static void
sq_prom_series(struct evbuffer *b, const char *metric, const sq_series_t *s,
    const char *extra, const char *value)
{
    evbuffer_add_printf(b, "%s{endpoint=\"", metric);
    sq_prom_esc(b, s->endpoint);
    evbuffer_add(b, "\",region=\"", 10);
    sq_prom_esc(b, s->region);
    evbuffer_add(b, "\",segment=\"", 11);
    sq_prom_esc(b, s->segment);
    evbuffer_add_printf(b, "\"%s} %s\n", extra ? extra : "", value);
}


static void
sq_prom_row(struct evbuffer *b, const char *metric, const sq_row_t *row,
    int w, const char *dim, const char *extra, double v)
{
    if (isnan(v)) {
        return;
    }

    evbuffer_add_printf(b, "%s{scope=\"%s\",endpoint=\"", metric,
                        sq_scope_names[row->scope]);
    sq_prom_esc(b, row->endpoint);
    evbuffer_add(b, "\",region=\"", 10);
    sq_prom_esc(b, row->region);
    evbuffer_add(b, "\",segment=\"", 11);
    sq_prom_esc(b, row->segment);
    evbuffer_add_printf(b, "\",window=\"%s\"", w ? "long" : "short");

    if (dim) {
        evbuffer_add_printf(b, ",dimension=\"%s\"", dim);
    }

    evbuffer_add_printf(b, "%s} %.17g\n", extra ? extra : "", v);
}


struct sq_prom_s {
    sq_ctx_t   *ctx;
    int64_t     now;
    int         stage;
    int         family;
    size_t      pos;
    sq_view_t  *view;      /* retained: held while the stream lasts */
};


static void
sq_prom_health(sq_prom_t *p, struct evbuffer *b)
{
    int                        k;
    int64_t                    now;
    uint64_t                   rejected;
    sq_ctx_t                  *ctx;
    const sq_view_t           *v;
    sq_persist_stats_t         ps;
    const sq_windows_stats_t  *as;

    ctx = p->ctx;
    now = p->now;
    v = p->view;
    as = &v->store.stats;

    sq_prom_head(b, F_BUILD);
    evbuffer_add_printf(b, "servqual_build_info{version=\"%s\"} 1\n",
                        SQ_VERSION);

    sq_prom_head(b, F_UPTIME);
    evbuffer_add_printf(b, "servqual_uptime_seconds %lld\n",
                        (long long) (now - ctx->started));

    rejected = 0;

    for (k = SQ_REJ_FIRST; k < SQ_NREJECTS; k++) {
        rejected += as->rejected[k];
    }

    sq_prom_head(b, F_DGRAMS);
    evbuffer_add_printf(b,
        "servqual_datagrams_total{result=\"accepted\"} %llu\n"
        "servqual_datagrams_total{result=\"rejected\"} %llu\n"
        "servqual_datagrams_total{result=\"duplicate\"} %llu\n"
        "servqual_datagrams_total{result=\"late\"} %llu\n",
        (unsigned long long) as->accepted, (unsigned long long) rejected,
        (unsigned long long) as->duplicate, (unsigned long long) as->late);

    sq_prom_head(b, F_REFILED);
    evbuffer_add_printf(b,
        "servqual_datagrams_refiled_total{reason=\"skew\"} %llu\n"
        "servqual_datagrams_refiled_total{reason=\"late\"} %llu\n"
        "servqual_datagrams_refiled_total{reason=\"order\"} %llu\n",
        (unsigned long long) as->refiled[SQ_REFILE_SKEW],
        (unsigned long long) as->refiled[SQ_REFILE_LATE],
        (unsigned long long) as->refiled[SQ_REFILE_ORDER]);

    sq_prom_head(b, F_REJECTED);

    for (k = SQ_REJ_FIRST; k < SQ_NREJECTS; k++) {
        evbuffer_add_printf(b,
            "servqual_datagrams_rejected_total{reason=\"%s\"} %llu\n",
            sq_reject_names[k], (unsigned long long) as->rejected[k]);
    }

#define SQ_PROM_ONE(fam, val)                                                \
    sq_prom_head(b, fam);                                                    \
    evbuffer_add_printf(b, "%s %llu\n", sq_families[fam].name,               \
                        (unsigned long long) (val))

    SQ_PROM_ONE(F_LOST, v->store.lost);
    SQ_PROM_ONE(F_REORDERED, v->store.reordered);
    SQ_PROM_ONE(F_RESTARTS, v->store.restarts);
    SQ_PROM_ONE(F_SRC_DGRAMS, as->source_dropped);
    SQ_PROM_ONE(F_SRC_REQS, as->source_dropped_requests);
    sq_ingest_prom(ctx, b);

    /* the loss that makes the totals whole (docs/wire-format.md) */

    sq_prom_head(b, F_LOST_REQS);
    evbuffer_add_printf(b,
        "servqual_lost_requests_total{cause=\"source\"} %llu\n"
        "servqual_lost_requests_total{cause=\"transit\"} %llu\n"
        "servqual_lost_requests_total{cause=\"collector\"} %llu\n",
        (unsigned long long) as->lost_requests[SQ_LOSS_SOURCE],
        (unsigned long long) as->lost_requests[SQ_LOSS_TRANSIT],
        (unsigned long long) as->lost_requests[SQ_LOSS_COLLECTOR]);

    sq_persist_stats(ctx, now, &ps);

    if (ps.on) {
        SQ_PROM_ONE(F_STORE_WRITES, ps.writes);

        sq_prom_head(b, F_STORE_ERRORS);
        evbuffer_add_printf(b,
            "servqual_storage_errors_total{op=\"write\"} %llu\n"
            "servqual_storage_errors_total{op=\"ingest_log\"} %llu\n",
            (unsigned long long) ps.errors,
            (unsigned long long) ps.wal_errors);

        sq_prom_head(b, F_STORE_SECONDS);
        evbuffer_add_printf(b, "servqual_storage_write_seconds %.6f\n",
                            ps.last_seconds);

        SQ_PROM_ONE(F_STORE_LAST, ps.last_ok);
        SQ_PROM_ONE(F_STORE_PENDING, ps.pending);
        SQ_PROM_ONE(F_STORE_DROPPED, ps.dropped);
    }

    sq_prom_head(b, F_FOLDED);
    evbuffer_add_printf(b,
        "servqual_folded_requests_total{limit=\"module_series\"} %llu\n"
        "servqual_folded_requests_total{limit=\"module_segments\"} %llu\n"
        "servqual_folded_requests_total{limit=\"collector_series\"} %llu\n",
        (unsigned long long) as->series_folded_requests,
        (unsigned long long) as->segment_folded_requests,
        (unsigned long long) as->overflow_requests);

    SQ_PROM_ONE(F_SERIES, v->store.series + v->store.other);
    SQ_PROM_ONE(F_SERIES_LIMIT, v->store.max_series);
    SQ_PROM_ONE(F_EXPIRED, as->series_expired);
    SQ_PROM_ONE(F_WORKERS, v->store.workers);

    sq_prom_head(b, F_RELOADS);
    evbuffer_add_printf(b,
        "servqual_config_reloads_total{result=\"ok\"} %llu\n"
        "servqual_config_reloads_total{result=\"failed\"} %llu\n",
        (unsigned long long) ctx->reloads_ok,
        (unsigned long long) ctx->reloads_failed);

    SQ_PROM_ONE(F_BYTES, as->bytes);
    SQ_PROM_ONE(F_UPDATES, as->series_updates);
    SQ_PROM_ONE(F_MEMORY, v->store.memory);
    SQ_PROM_ONE(F_VIEW_BUILDS, v->gen);

    sq_prom_head(b, F_VIEW_SECONDS);
    evbuffer_add_printf(b, "servqual_view_build_seconds %.6f\n", v->seconds);

    sq_prom_alerts(ctx, b);

#undef SQ_PROM_ONE
}


static void
sq_prom_alerts(sq_ctx_t *ctx, struct evbuffer *b)
{
    int               sev, k, r;
    sq_alert_stats_t  st;

    if (ctx->alert == NULL) {
        return;
    }

    sq_alert_stats(ctx->alert, &st);

    sq_prom_head(b, F_ALERTS_FIRING);

    for (sev = SQ_SEV_WARNING; sev <= SQ_SEV_CRITICAL; sev++) {
        evbuffer_add_printf(b, "servqual_alerts_firing{severity=\"%s\"} "
                            "%llu\n", sq_severity_names[sev],
                            (unsigned long long) st.firing[sev]);
    }

    sq_prom_head(b, F_INCIDENTS);

    for (sev = SQ_SEV_WARNING; sev <= SQ_SEV_CRITICAL; sev++) {
        evbuffer_add_printf(b, "servqual_incidents_firing{severity=\"%s\"} "
                            "%llu\n", sq_severity_names[sev],
                            (unsigned long long) st.incidents[sev]);
    }

    sq_prom_head(b, F_ALERT_TRANSITIONS);

    for (sev = SQ_SEV_WARNING; sev <= SQ_SEV_CRITICAL; sev++) {
        for (r = 0; r < 2; r++) {
            evbuffer_add_printf(b, "servqual_alert_transitions_total{"
                                "severity=\"%s\",status=\"%s\"} %llu\n",
                                sq_severity_names[sev],
                                r ? "resolved" : "firing",
                                (unsigned long long) st.transitions[sev][r]);
        }
    }

    sq_prom_head(b, F_ALERT_NOTES);

    for (k = 0; k < SQ_NSINKS; k++) {
        for (r = 0; r < SQ_NOTE_NRESULTS; r++) {
            evbuffer_add_printf(b, "servqual_alert_notifications_total{"
                                "sink=\"%s\",result=\"%s\"} %llu\n",
                                sq_sink_names[k], sq_note_names[r],
                                (unsigned long long) st.notes[k][r]);
        }
    }

    sq_prom_head(b, F_ALERT_QUEUED);

    for (k = 0; k < SQ_NSINKS; k++) {
        evbuffer_add_printf(b, "servqual_alert_notifications_queued{"
                            "sink=\"%s\"} %llu\n", sq_sink_names[k],
                            (unsigned long long) st.queued[k]);
    }

    sq_prom_head(b, F_ALERT_EVALS);
    evbuffer_add_printf(b, "servqual_alert_evaluations_total %llu\n",
                        (unsigned long long) st.evaluations);

    sq_prom_head(b, F_ALERT_EVAL_SECONDS);
    evbuffer_add_printf(b, "servqual_alert_evaluation_seconds %.6f\n",
                        st.eval_seconds);
}


/* a counter family with one sample per label value, from a table */

static void
sq_prom_counters(struct evbuffer *b, int f, const sq_series_t *s,
    const char *key, const sq_prom_label_t *labels, int n)
{
    int   j;
    char  v[64], extra[64];

    for (j = 0; j < n; j++) {
        snprintf(extra, sizeof(extra), ",%s=\"%s\"", key, labels[j].label);
        snprintf(v, sizeof(v), "%llu",
                 (unsigned long long) s->total[labels[j].c]);
        sq_prom_series(b, sq_families[f].name, s, extra, v);
    }
}


static void
sq_prom_one_series(struct evbuffer *b, int f, const sq_series_t *s)
{
    int       j, k;
    char      v[64], extra[64], name[64];
    uint64_t  cum;

    switch (f) {

    case F_REQUESTS:
        snprintf(v, sizeof(v), "%llu",
                 (unsigned long long) s->total[SQ_C_REQUESTS]);
        sq_prom_series(b, sq_families[f].name, s, NULL, v);
        break;

    case F_SENT:
        snprintf(v, sizeof(v), "%llu",
                 (unsigned long long) s->total[SQ_C_BYTES]);
        sq_prom_series(b, sq_families[f].name, s, NULL, v);
        break;

    case F_RESPONSES:
        sq_prom_counters(b, f, s, "class", sq_classes, 5);
        break;

    case F_EVENTS:
        sq_prom_counters(b, f, s, "event", sq_events, 7);
        break;

    case F_TLS:
        sq_prom_counters(b, f, s, "tls", sq_tls, 5);
        break;

    case F_PROTO:
        sq_prom_counters(b, f, s, "version", sq_proto, 4);
        break;

    case F_DURATION:
    case F_TTFB:
        k = (f == F_DURATION) ? SQ_H_RT : SQ_H_TTFB;
        cum = 0;

        snprintf(name, sizeof(name), "%s_bucket",
                 sq_families[f].name);

        for (j = 0; j < SQ_PROM_NLE; j++) {
            cum += s->metrics.h[k].le[j];
            snprintf(extra, sizeof(extra), ",le=\"%g\"",
                     sq_prom_le[j]);
            snprintf(v, sizeof(v), "%llu", (unsigned long long) cum);
            sq_prom_series(b, name, s, extra, v);
        }

        snprintf(v, sizeof(v), "%llu",
                 (unsigned long long) s->metrics.h[k].count);
        sq_prom_series(b, name, s, ",le=\"+Inf\"", v);

        snprintf(name, sizeof(name), "%s_sum", sq_families[f].name);
        snprintf(v, sizeof(v), "%.9g", s->metrics.h[k].sum);
        sq_prom_series(b, name, s, NULL, v);

        snprintf(name, sizeof(name), "%s_count",
                 sq_families[f].name);
        snprintf(v, sizeof(v), "%llu",
                 (unsigned long long) s->metrics.h[k].count);
        sq_prom_series(b, name, s, NULL, v);
        break;
    }
}


static void
sq_prom_one_row(struct evbuffer *b, int f, const sq_row_t *row)
{
    int   k, d, st;
    char  extra[64];

    for (k = 0; k < 2; k++) {
        if (f == F_INDEX) {
            sq_prom_row(b, sq_families[f].name, row, k, NULL, NULL,
                        row->w[k].index);
            continue;
        }

        if (f == F_WREQUESTS) {
            sq_prom_row(b, sq_families[f].name, row, k, NULL, NULL,
                        (double) row->w[k].requests);
            continue;
        }

        for (d = 0; d < SQ_NDIMS; d++) {
            switch (f) {

            case F_VALUE:
                snprintf(extra, sizeof(extra), ",indicator=\"%s\"",
                         sq_indicator_names[
                             row->w[k].dim[d].indicator]);
                sq_prom_row(b, sq_families[f].name, row, k,
                            sq_dim_names[d], extra,
                            row->w[k].dim[d].value);
                break;

            case F_Z:
                sq_prom_row(b, sq_families[f].name, row, k,
                            sq_dim_names[d], NULL,
                            row->w[k].dim[d].state
                            == SQ_STATE_INSUFFICIENT
                            ? NAN : row->w[k].dim[d].z);
                break;

            case F_ADEQUATE:
                sq_prom_row(b, sq_families[f].name, row, k,
                            sq_dim_names[d], NULL,
                            row->w[k].dim[d].adequate);
                break;

            case F_DESIRED:
                sq_prom_row(b, sq_families[f].name, row, k,
                            sq_dim_names[d], NULL,
                            row->w[k].dim[d].desired);
                break;

            case F_STATE:
                for (st = 0; st < SQ_NSTATES; st++) {
                    snprintf(extra, sizeof(extra),
                             ",state=\"%s\"", sq_state_names[st]);
                    sq_prom_row(b, sq_families[f].name, row, k,
                                sq_dim_names[d], extra,
                                row->w[k].dim[d].state == st);
                }

                break;
            }
        }
    }
}


sq_prom_t *
sq_prom_open(sq_ctx_t *ctx, int64_t now)
{
    sq_prom_t  *p;

    p = calloc(1, sizeof(sq_prom_t));
    if (p == NULL) {
        return NULL;
    }

    p->ctx = ctx;
    p->now = now;
    p->view = sq_view_retain(sq_view_latest(&ctx->views));

    if (p->view == NULL) {
        /* no view before the first tick: the collector builds one at
           start, so only out of memory gets here */
        free(p);
        return NULL;
    }

    return p;
}


/*
 * Appends the next part of /metrics, about budget series or rows, to b.
 * Returns 1 while there is more, 0 at the end.  Nothing is scored here:
 * the rows are the held view's.
 */

int
sq_prom_next(sq_prom_t *p, struct evbuffer *b, size_t budget)
{
    size_t             n, done;
    sq_ctx_t          *ctx;
    const sq_row_t    *row;
    const sq_series_t *s;

    ctx = p->ctx;
    done = 0;

    if (p->stage == 0) {
        sq_prom_health(p, b);
        p->stage = 1;
        p->family = F_REQUESTS;
        p->pos = 0;
    }

    while (p->stage == 1 && done < budget) {
        if (p->pos == 0) {
            sq_prom_head(b, p->family);
        }

        /* series may have expired since the last part: indexes, no
           pointers, are kept across parts */

        n = ctx->conf->metrics_series && ctx->conf->privacy_min == 0
            ? ctx->windows.n + (ctx->windows.other ? 1 : 0) : 0;

        for ( /* void */ ; p->pos < n && done < budget; p->pos++, done++) {
            s = p->pos < ctx->windows.n ? ctx->windows.all[p->pos]
                                        : ctx->windows.other;
            sq_prom_one_series(b, p->family, s);
        }

        if (p->pos >= n) {
            p->pos = 0;

            if (++p->family > F_TTFB) {
                p->stage = 2;
                p->family = F_VALUE;
            }
        }
    }

    while (p->stage == 2 && done < budget) {
        if (p->pos == 0) {
            sq_prom_head(b, p->family);
        }

        for ( /* void */ ; p->pos < p->view->n && done < budget; p->pos++)
        {
            row = &p->view->rows[p->pos];

            if (ctx->conf->metrics_scopes & (1u << row->scope)) {
                sq_prom_one_row(b, p->family, row);
                done++;
            }
        }

        if (p->pos >= p->view->n) {
            p->pos = 0;

            if (++p->family > F_WREQUESTS) {
                sq_prom_browser(&ctx->windows, ctx->conf, b);
                p->stage = 3;
            }
        }
    }

    return p->stage != 3;
}


void
sq_prom_close(sq_prom_t *p)
{
    if (p) {
        sq_view_release(p->view);
        free(p);
    }
}
