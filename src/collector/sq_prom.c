
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
#include "sq_prom_fmt.h"
#include "sq_score.h"
#include "sq_sink.h"
#include "sq_view.h"


/*
 * /metrics in the Prometheus text format, built family by family, each
 * with its # HELP and # TYPE.  Per-series counters and histograms are
 * totals since the series was first seen; scores are gauges of the
 * short and the long window, read from the view the stream holds, as
 * are the window store's counters (the moment the scores are of).
 *
 * What a scrape costs grows with the series: by default the per-series
 * part is the raw counters and the two histograms (what rate() and
 * histogram_quantile() need), scores are of the rollup scopes
 * (metrics.scores), and the adequate and desired levels are written once
 * per dimension and per override or journey of the configuration, not
 * per row (metrics.row_levels brings those back).  A family's name has
 * one unit: a dimension's value and levels are _ratio or _seconds by
 * indicator.
 *
 * Samples are written through a line buffer (sq_prom_out_t) with the
 * series' labels escaped once per series and scrape (kept for the other
 * families while no series expires) and each line's "name{labels" made
 * once per series and family: at 100000 series a scrape is millions of
 * lines.
 */

typedef struct {
    const char  *name;
    const char  *type;
    const char  *help;
} sq_family_t;


enum {
    F_BUILD = 0, F_UPTIME, F_DGRAMS, F_REFILED, F_REJECTED, F_LOST,
    F_REORDERED,
    F_RESTARTS, F_SRC_DGRAMS, F_SRC_REQS, F_LOST_REQS, F_COUNTED,
    F_STORE_WRITES,
    F_STORE_ERRORS, F_STORE_SECONDS, F_STORE_LAST, F_STORE_PENDING,
    F_STORE_DROPPED, F_STORE_MERGED, F_STORE_SLICES, F_STORE_SLICE_MAX,
    F_STORE_PREPARE,
    F_FOLDED, F_SERIES,
    F_SERIES_LIMIT, F_EXPIRED, F_WORKERS, F_RELOADS, F_BYTES, F_UPDATES,
    F_MEMORY, F_VIEW_BUILDS, F_VIEW_SECONDS, F_VIEW_ROWS, F_VIEW_BYTES,
    F_VIEW_WAITS,
    F_ALERTS_FIRING, F_INCIDENTS,
    F_ALERT_TRANSITIONS, F_ALERT_NOTES, F_ALERT_QUEUED, F_ALERT_EVALS,
    F_ALERT_EVAL_SECONDS, F_REQUESTS, F_RESPONSES, F_EVENTS, F_TLS, F_PROTO,
    F_SENT, F_DURATION, F_TTFB, F_VALUE_RATIO, F_VALUE_SECONDS, F_Z,
    F_STATE, F_INDEX, F_WREQUESTS, F_ADEQUATE_RATIO, F_ADEQUATE_SECONDS,
    F_DESIRED_RATIO, F_DESIRED_SECONDS, F_NODE_DGRAMS, F_NODE_LOST,
    F_NODE_LOST_REQS, F_NODE_SRC_REQS, F_NODE_LAST_SEEN, F_NODE_WORKERS,
    F_NODES_FOLDED, F_NFAMILIES
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
    { "servqual_counted_requests_total", "counter",
      "Requests counted, over all series, kept across restarts like the "
      "loss: plus sum(servqual_lost_requests_total) it is what nginx "
      "served." },
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
    { "servqual_storage_merged_rows_total", "counter",
      "Slot rows older than storage.slot_retention merged into coarse "
      "rows (storage.coarse_slot) since start." },
    { "servqual_storage_merge_slices_total", "counter",
      "Slices (one transaction each) of that merge since start." },
    { "servqual_storage_merge_slice_max_seconds", "gauge",
      "The longest slice of that merge since start (on the storage "
      "thread)." },
    { "servqual_storage_prepare_seconds", "gauge",
      "The event loop's part of the last slot write: its rows copied for "
      "the storage thread, which writes them (the rest of "
      "servqual_storage_write_seconds)." },
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
      "Duration of the last scored view's build, not counting the merges "
      "it let run." },
    { "servqual_view_rows", "gauge",
      "Rows of the latest scored view (series and rollups)." },
    { "servqual_view_bytes", "gauge",
      "Memory held by the latest scored view." },
    { "servqual_view_build_waits_total", "counter",
      "View ticks that put the build off while a scrape still streamed "
      "the latest view (2 s at most), so that two views are not held at "
      "once." },
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
    { "servqual_dimension_value_ratio", "gauge",
      "A dimension's indicator, per row and window, for the indicators "
      "that are shares or ratios." },
    { "servqual_dimension_value_seconds", "gauge",
      "A dimension's indicator, per row and window, for the indicators "
      "that are times." },
    { "servqual_dimension_z", "gauge",
      "Placement in the zone of tolerance: < 0 below, 0..1 within, "
      "> 1 above." },
    { "servqual_dimension_state", "gauge",
      "1 for the dimension's current state, 0 for the others." },
    { "servqual_quality_index", "gauge",
      "Weighted mean of the dimensions' z (each clamped to -2..2)." },
    { "servqual_window_requests", "gauge",
      "Requests in the window, per row." },
    { "servqual_dimension_adequate_ratio", "gauge",
      "The adequate level of a share or ratio indicator: per dimension "
      "(scope default), override and journey; per row with "
      "metrics.row_levels." },
    { "servqual_dimension_adequate_seconds", "gauge",
      "The adequate level of a time indicator: per dimension (scope "
      "default), override and journey; per row with metrics.row_levels." },
    { "servqual_dimension_desired_ratio", "gauge",
      "The desired level of a share or ratio indicator: per dimension "
      "(scope default), override and journey; per row with "
      "metrics.row_levels." },
    { "servqual_dimension_desired_seconds", "gauge",
      "The desired level of a time indicator: per dimension (scope "
      "default), override and journey; per row with metrics.row_levels." },
    { "servqual_node_datagrams_total", "counter",
      "Datagrams received from a node (nginx host), duplicates included." },
    { "servqual_node_datagrams_lost_total", "counter",
      "Datagrams missing from a node's workers' sequence numbers." },
    { "servqual_node_lost_requests_total", "counter",
      "Requests a node sent that never arrived (or arrived while the "
      "collector was down)." },
    { "servqual_node_source_dropped_requests_total", "counter",
      "Requests a node's workers could not send." },
    { "servqual_node_last_seen_timestamp_seconds", "gauge",
      "When a node's last datagram arrived." },
    { "servqual_node_workers", "gauge",
      "A node's nginx workers whose sequence numbers are tracked." },
    { "servqual_nodes_folded_datagrams_total", "counter",
      "Datagrams of nodes past the node table's limit, counted as node "
      "_other." }
};


/* a counter's label, written as it is added to a series' labels */

typedef struct {
    int          c;
    const char  *extra;
} sq_prom_label_t;


static const sq_prom_label_t  sq_classes[] = {
    { SQ_C_1XX, ",class=\"1xx\"" }, { SQ_C_2XX, ",class=\"2xx\"" },
    { SQ_C_3XX, ",class=\"3xx\"" }, { SQ_C_4XX, ",class=\"4xx\"" },
    { SQ_C_5XX, ",class=\"5xx\"" }
};

static const sq_prom_label_t  sq_events[] = {
    { SQ_C_ABORTED, ",event=\"client_abort\"" },
    { SQ_C_INCOMPLETE, ",event=\"body_incomplete\"" },
    { SQ_C_UPSTREAM_ERROR, ",event=\"upstream_error\"" },
    { SQ_C_UPSTREAM_TIMEOUT, ",event=\"upstream_timeout\"" },
    { SQ_C_COMPRESSIBLE, ",event=\"compressible\"" },
    { SQ_C_COMPRESSED, ",event=\"compressed\"" },
    { SQ_C_HSTS, ",event=\"hsts\"" }
};

static const sq_prom_label_t  sq_tls[] = {
    { SQ_C_TLS_NONE, ",tls=\"none\"" }, { SQ_C_TLS_10, ",tls=\"1.0\"" },
    { SQ_C_TLS_11, ",tls=\"1.1\"" }, { SQ_C_TLS_12, ",tls=\"1.2\"" },
    { SQ_C_TLS_13, ",tls=\"1.3\"" }
};

static const sq_prom_label_t  sq_proto[] = {
    { SQ_C_HTTP_10, ",version=\"1.0\"" },
    { SQ_C_HTTP_11, ",version=\"1.1\"" },
    { SQ_C_HTTP_2, ",version=\"2\"" }, { SQ_C_HTTP_3, ",version=\"3\"" }
};


/* the histograms' le="..." and _bucket, _sum, _count names */

static char  sq_prom_le_extra[SQ_METRICS_MAXLE][SQ_PROM_FMT_NUM + 8];
static char  sq_prom_hist_names[2][3][64];
static int   sq_prom_hist_ready;


/* samples are gathered in a line buffer and handed over in blocks */

#define SQ_PROM_OUT  16384


typedef struct {
    struct evbuffer   *b;
    size_t             n;
    char               buf[SQ_PROM_OUT];
} sq_prom_out_t;


typedef struct {
    const sq_series_t *s;
    size_t             off;       /* in arena */
    size_t             len;
} sq_prom_cached_t;


struct sq_prom_s {
    sq_ctx_t          *ctx;
    int64_t            now;
    int                stage;
    int                family;
    size_t             pos;
    sq_view_t         *view;      /* retained: held while the stream lasts */
    char              *lab;       /* a series' or row's labels, escaped */
    size_t             lablen;
    size_t             labsize;
    unsigned           labgen;    /* counts the labels written */
    char              *pre;       /* name{labels of the last line */
    size_t             prelen;
    size_t             presize;
    const char        *prename;
    unsigned           pregen;    /* the labgen pre was made for */
    const char        *labp;      /* the labels of the next lines */

    /* the series' labels, made for the first per-series family, kept
       for the others while no series expires */
    sq_prom_cached_t  *cache;
    size_t             ncache;
    size_t             capcache;
    char              *arena;
    size_t             arenalen;
    size_t             arenasize;
    uint64_t           expired;
    sq_prom_out_t      out;
};


static void sq_prom_head(struct evbuffer *b, int f);
static void sq_prom_flush(sq_prom_out_t *o);
static void sq_prom_line(sq_prom_t *p, const char *name, const char *extra,
    const char *v, size_t vlen);
static void sq_prom_u64(sq_prom_t *p, const char *name, const char *extra,
    uint64_t v);
static void sq_prom_dbl(sq_prom_t *p, const char *name, const char *extra,
    double v);
static int sq_prom_labels(sq_prom_t *p, const char *scope,
    const char *endpoint, const char *region, const char *segment,
    const char *window);
static void sq_prom_health(sq_prom_t *p, struct evbuffer *b);
static void sq_prom_alerts(sq_ctx_t *ctx, struct evbuffer *b);
static void sq_prom_nodes(sq_prom_t *p, struct evbuffer *b);
static void sq_prom_counters(sq_prom_t *p, int f, const sq_series_t *s,
    const sq_prom_label_t *l, int n);
static void sq_prom_hist_init(void);
static int sq_prom_series_labels(sq_prom_t *p, size_t i,
    const sq_series_t *s);
static void sq_prom_one_series(sq_prom_t *p, int f, size_t i,
    const sq_series_t *s);
static void sq_prom_one_row(sq_prom_t *p, int f, const sq_row_t *row);
static void sq_prom_levels(sq_prom_t *p, int f);
static void sq_prom_level(sq_prom_t *p, int f, int dim,
    const sq_dim_conf_t *dc);
static int sq_prom_level_family(int f, int indicator);


static void
sq_prom_head(struct evbuffer *b, int f)
{
    sq_prom_family(b, sq_families[f].name, sq_families[f].type,
                   sq_families[f].help);
}


void
sq_prom_family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
                        name, type);
}


void
sq_prom_sample(struct evbuffer *b, const char *name, const char *labels,
    double v)
{
    size_t  n;
    char    num[SQ_PROM_FMT_NUM];

    n = sq_prom_fmt_double(num, v);

    if (labels && labels[0]) {
        evbuffer_add_printf(b, "%s{%s} %.*s\n", name, labels, (int) n, num);

    } else {
        evbuffer_add_printf(b, "%s %.*s\n", name, (int) n, num);
    }
}


static void
sq_prom_flush(sq_prom_out_t *o)
{
    if (o->n) {
        evbuffer_add(o->b, o->buf, o->n);
        o->n = 0;
    }
}


/*
 * name{labels extra} v, labels p->lab (without braces), extra from a
 * comma or NULL.  The usual line fits in the buffer as it is: one check.
 * A series' lines of one family share their start, "name{labels", made
 * once (p->pre) while the name and the labels stay the same.
 */

static void
sq_prom_line(sq_prom_t *p, const char *name, const char *extra,
    const char *v, size_t vlen)
{
    char           *q;
    size_t          n, e;
    sq_prom_out_t  *o;

    o = &p->out;
    e = extra ? strlen(extra) : 0;

    if (p->lablen && (name != p->prename || p->pregen != p->labgen)) {
        n = strlen(name);

        if (n + p->lablen + 1 > p->presize) {
            q = realloc(p->pre, n + p->lablen + 64);
            if (q == NULL) {
                p->prename = NULL;
                goto plain;
            }

            p->pre = q;
            p->presize = n + p->lablen + 64;
        }

        memcpy(p->pre, name, n);
        p->pre[n] = '{';
        memcpy(p->pre + n + 1, p->labp, p->lablen);
        p->prelen = n + 1 + p->lablen;
        p->prename = name;
        p->pregen = p->labgen;
    }

    if (p->lablen && p->prename == name
        && o->n + p->prelen + e + vlen + 8 <= SQ_PROM_OUT)
    {
        q = o->buf + o->n;
        memcpy(q, p->pre, p->prelen);
        q += p->prelen;

        if (e) {
            memcpy(q, extra, e);
            q += e;
        }

        *q++ = '}';
        *q++ = ' ';
        memcpy(q, v, vlen);
        q += vlen;
        *q++ = '\n';

        o->n = (size_t) (q - o->buf);
        return;
    }

plain:

    n = strlen(name);

    if (o->n + n + p->lablen + e + vlen + 8 > SQ_PROM_OUT) {
        sq_prom_flush(o);

        if (n + p->lablen + e + vlen + 8 > SQ_PROM_OUT) {
            /* longer than the buffer: a label value of a journey */
            evbuffer_add_printf(o->b, "%s{%.*s%s} %.*s\n", name,
                                (int) p->lablen, p->labp,
                                extra ? extra : "", (int) vlen, v);
            return;
        }
    }

    q = o->buf + o->n;
    memcpy(q, name, n);
    q += n;

    if (p->lablen || e) {
        *q++ = '{';
        memcpy(q, p->labp, p->lablen);
        q += p->lablen;

        if (e) {
            memcpy(q, extra, e);
            q += e;
        }

        *q++ = '}';
    }

    *q++ = ' ';
    memcpy(q, v, vlen);
    q += vlen;
    *q++ = '\n';

    o->n = (size_t) (q - o->buf);
}


static void
sq_prom_u64(sq_prom_t *p, const char *name, const char *extra, uint64_t v)
{
    size_t  n;
    char    num[SQ_PROM_FMT_NUM];

    n = sq_prom_fmt_u64(num, v);
    sq_prom_line(p, name, extra, num, n);
}


static void
sq_prom_dbl(sq_prom_t *p, const char *name, const char *extra, double v)
{
    size_t  n;
    char    num[SQ_PROM_FMT_NUM];

    n = sq_prom_fmt_double(num, v);
    sq_prom_line(p, name, extra, num, n);
}


/*
 * The labels of a series (scope NULL) or of a row and window, escaped
 * once, into p->lab.  SQ_OK or SQ_ERR_NOMEM.
 */

static int
sq_prom_labels(sq_prom_t *p, const char *scope, const char *endpoint,
    const char *region, const char *segment, const char *window)
{
    char    *q;
    size_t   need;

    need = 2 * (strlen(endpoint) + strlen(region) + strlen(segment)) + 128;

    if (need > p->labsize) {
        q = realloc(p->lab, need);
        if (q == NULL) {
            return SQ_ERR_NOMEM;
        }

        p->lab = q;
        p->labsize = need;
    }

    q = p->lab;

    if (scope) {
        q += sprintf(q, "scope=\"%s\",", scope);
    }

    q = stpcpy(q, "endpoint=\"");
    q += sq_prom_fmt_esc(q, endpoint);
    q = stpcpy(q, "\",region=\"");
    q += sq_prom_fmt_esc(q, region);
    q = stpcpy(q, "\",segment=\"");
    q += sq_prom_fmt_esc(q, segment);
    q = stpcpy(q, "\"");

    if (window) {
        q += sprintf(q, ",window=\"%s\"", window);
    }

    p->lablen = (size_t) (q - p->lab);
    p->labp = p->lab;
    p->labgen++;

    return SQ_OK;
}


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
    SQ_PROM_ONE(F_COUNTED, as->counted);

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
        sq_prom_sample(b, sq_families[F_STORE_SECONDS].name, NULL,
                       ps.last_seconds);

        SQ_PROM_ONE(F_STORE_LAST, ps.last_ok);
        SQ_PROM_ONE(F_STORE_PENDING, ps.pending);
        SQ_PROM_ONE(F_STORE_DROPPED, ps.dropped);
        SQ_PROM_ONE(F_STORE_MERGED, ps.merged_rows);
        SQ_PROM_ONE(F_STORE_SLICES, ps.merge_slices);

        sq_prom_head(b, F_STORE_SLICE_MAX);
        sq_prom_sample(b, sq_families[F_STORE_SLICE_MAX].name, NULL,
                       ps.merge_slice_max);

        sq_prom_head(b, F_STORE_PREPARE);
        sq_prom_sample(b, sq_families[F_STORE_PREPARE].name, NULL,
                       ps.prepare_seconds);
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
    sq_prom_sample(b, sq_families[F_VIEW_SECONDS].name, NULL, v->seconds);

    SQ_PROM_ONE(F_VIEW_ROWS, v->n);
    SQ_PROM_ONE(F_VIEW_BYTES, v->bytes);
    SQ_PROM_ONE(F_VIEW_WAITS, ctx->views.waits);

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
    sq_prom_sample(b, sq_families[F_ALERT_EVAL_SECONDS].name, NULL,
                   st.eval_seconds);
}


/* the node table: which nginx host sends what, and since when not */

static void
sq_prom_nodes(sq_prom_t *p, struct evbuffer *b)
{
    int               f;
    char              name[2 * SQ_WIRE_MAX_NODE + 16];
    uint32_t          i, n;
    const sq_node_t  *nodes, *nd;

    nodes = sq_workers_nodes(&p->ctx->windows.workers, &n);

    for (f = F_NODE_DGRAMS; f <= F_NODE_WORKERS; f++) {
        sq_prom_head(b, f);

        for (i = 0; i < n; i++) {
            nd = &nodes[i];
            memcpy(name, "node=\"", 6);
            sq_prom_fmt_esc(name + 6, nd->node);
            strcat(name, "\"");

            switch (f) {
            case F_NODE_DGRAMS:
                sq_prom_sample(b, sq_families[f].name, name,
                               (double) nd->datagrams);
                break;
            case F_NODE_LOST:
                sq_prom_sample(b, sq_families[f].name, name,
                               (double) nd->lost);
                break;
            case F_NODE_LOST_REQS:
                sq_prom_sample(b, sq_families[f].name, name,
                               (double) nd->lost_requests);
                break;
            case F_NODE_SRC_REQS:
                sq_prom_sample(b, sq_families[f].name, name,
                               (double) nd->source_dropped);
                break;
            case F_NODE_LAST_SEEN:
                sq_prom_sample(b, sq_families[f].name, name,
                               (double) nd->last_seen);
                break;
            default:
                sq_prom_sample(b, sq_families[f].name, name,
                               (double) nd->workers);
            }
        }
    }

    sq_prom_head(b, F_NODES_FOLDED);
    sq_prom_sample(b, sq_families[F_NODES_FOLDED].name, NULL,
                   (double) p->ctx->windows.workers.nodes_folded);
}


/* a counter family with one sample per label value, from a table */

static void
sq_prom_counters(sq_prom_t *p, int f, const sq_series_t *s,
    const sq_prom_label_t *l, int n)
{
    int  j;

    for (j = 0; j < n; j++) {
        sq_prom_u64(p, sq_families[f].name, l[j].extra,
                    s->total[l[j].c]);
    }
}


/* the histograms' le labels and sample names, made once */

static void
sq_prom_hist_init(void)
{
    int     j, f;
    size_t  n;

    for (j = 0; j < sq_metrics_nle; j++) {
        memcpy(sq_prom_le_extra[j], ",le=\"", 5);
        n = sq_prom_fmt_double(sq_prom_le_extra[j] + 5, sq_metrics_le[j]);
        memcpy(sq_prom_le_extra[j] + 5 + n, "\"", 2);
    }

    for (f = 0; f < 2; f++) {
        snprintf(sq_prom_hist_names[f][0], 64, "%s_bucket",
                 sq_families[F_DURATION + f].name);
        snprintf(sq_prom_hist_names[f][1], 64, "%s_sum",
                 sq_families[F_DURATION + f].name);
        snprintf(sq_prom_hist_names[f][2], 64, "%s_count",
                 sq_families[F_DURATION + f].name);
    }

    sq_prom_hist_ready = 1;
}


/*
 * The labels of series i, s, from the cache or made and kept there.  A
 * series is freed only when it expires (the last one moved to its
 * place): while the expiry count stays, entry i that names s is s's.
 */

static int
sq_prom_series_labels(sq_prom_t *p, size_t i, const sq_series_t *s)
{
    char              *a;
    size_t             size;
    sq_prom_cached_t  *c;

    if (p->expired != p->ctx->windows.stats.series_expired) {
        p->expired = p->ctx->windows.stats.series_expired;
        p->ncache = 0;
        p->arenalen = 0;
    }

    if (i < p->ncache && p->cache[i].s == s) {
        p->labp = p->arena + p->cache[i].off;
        p->lablen = p->cache[i].len;
        p->labgen++;
        return SQ_OK;
    }

    if (sq_prom_labels(p, NULL, s->endpoint, s->region, s->segment, NULL)
        != SQ_OK)
    {
        return SQ_ERR_NOMEM;
    }

    if (i != p->ncache || s == p->ctx->windows.other) {
        return SQ_OK;
    }

    /* kept, as a scrape goes: out of memory only costs the cache */

    if (p->ncache == p->capcache) {
        size = p->capcache ? 2 * p->capcache : 1024;
        c = realloc(p->cache, size * sizeof(sq_prom_cached_t));
        if (c == NULL) {
            return SQ_OK;
        }

        p->cache = c;
        p->capcache = size;
    }

    if (p->arenalen + p->lablen > p->arenasize) {
        size = p->arenasize ? 2 * p->arenasize : 65536;

        while (size < p->arenalen + p->lablen) {
            size *= 2;
        }

        a = realloc(p->arena, size);
        if (a == NULL) {
            return SQ_OK;
        }

        p->arena = a;
        p->arenasize = size;
    }

    memcpy(p->arena + p->arenalen, p->lab, p->lablen);
    p->cache[p->ncache].s = s;
    p->cache[p->ncache].off = p->arenalen;
    p->cache[p->ncache].len = p->lablen;
    p->ncache++;
    p->arenalen += p->lablen;

    return SQ_OK;
}


static void
sq_prom_one_series(sq_prom_t *p, int f, size_t i, const sq_series_t *s)
{
    int                       j, k, h;
    uint64_t                  cum;
    const sq_metrics_hist_t  *mh;

    if (sq_prom_series_labels(p, i, s) != SQ_OK) {
        return;
    }

    switch (f) {

    case F_REQUESTS:
        sq_prom_u64(p, sq_families[f].name, NULL,
                    s->total[SQ_C_REQUESTS]);
        break;

    case F_SENT:
        sq_prom_u64(p, sq_families[f].name, NULL,
                    s->total[SQ_C_BYTES]);
        break;

    case F_RESPONSES:
        sq_prom_counters(p, f, s, sq_classes, 5);
        break;

    case F_EVENTS:
        sq_prom_counters(p, f, s, sq_events, 7);
        break;

    case F_TLS:
        sq_prom_counters(p, f, s, sq_tls, 5);
        break;

    case F_PROTO:
        sq_prom_counters(p, f, s, sq_proto, 4);
        break;

    case F_DURATION:
    case F_TTFB:
        if (!sq_prom_hist_ready) {
            sq_prom_hist_init();
        }

        h = (f == F_DURATION) ? 0 : 1;
        k = (f == F_DURATION) ? SQ_H_RT : SQ_H_TTFB;
        mh = &s->metrics.h[k];
        cum = 0;

        for (j = 0; j < sq_metrics_nle; j++) {
            cum += mh->le[j];
            sq_prom_u64(p, sq_prom_hist_names[h][0],
                        sq_prom_le_extra[j], cum);
        }

        sq_prom_u64(p, sq_prom_hist_names[h][0], ",le=\"+Inf\"",
                    mh->count);
        sq_prom_dbl(p, sq_prom_hist_names[h][1], NULL, mh->sum);
        sq_prom_u64(p, sq_prom_hist_names[h][2], NULL, mh->count);
        break;
    }
}


/* the family of a level (or value) of an indicator of that unit, or -1 */

static int
sq_prom_level_family(int f, int indicator)
{
    int  seconds;

    seconds = (sq_indicator_unit(indicator) == SQ_UNIT_SECONDS);

    switch (f) {
    case F_VALUE_RATIO:
    case F_ADEQUATE_RATIO:
    case F_DESIRED_RATIO:
        return seconds ? -1 : f;
    default:
        return seconds ? f : -1;
    }
}


static void
sq_prom_one_row(sq_prom_t *p, int f, const sq_row_t *row)
{
    int                    k, d, st;
    char                   extra[128];
    double                 v;
    sq_win_score_t         ws;
    const sq_dim_score_t  *ds;

    for (k = 0; k < 2; k++) {
        if (sq_prom_labels(p, sq_scope_names[row->scope], row->endpoint,
                           row->region, row->segment, k ? "long" : "short")
            != SQ_OK)
        {
            return;
        }

        if (f == F_WREQUESTS) {
            sq_prom_u64(p, sq_families[f].name, NULL, row->m[k].requests);
            continue;
        }

        if (f == F_INDEX) {
            /* the row's window scored in full from what the view keeps */
            sq_view_score(row, k, &ws);

            if (!isnan(ws.index)) {
                sq_prom_dbl(p, sq_families[f].name, NULL, ws.index);
            }

            continue;
        }

        for (d = 0; d < SQ_NDIMS; d++) {
            sq_view_dim(row, k, d, &ws.dim[d]);
            ds = &ws.dim[d];

            switch (f) {

            case F_VALUE_RATIO:
            case F_VALUE_SECONDS:
            case F_ADEQUATE_RATIO:
            case F_ADEQUATE_SECONDS:
            case F_DESIRED_RATIO:
            case F_DESIRED_SECONDS:
                if (sq_prom_level_family(f, ds->indicator) < 0) {
                    break;
                }

                v = (f == F_VALUE_RATIO || f == F_VALUE_SECONDS) ? ds->value
                    : (f == F_ADEQUATE_RATIO || f == F_ADEQUATE_SECONDS)
                      ? ds->adequate : ds->desired;

                if (isnan(v)) {
                    break;
                }

                snprintf(extra, sizeof(extra),
                         ",dimension=\"%s\",indicator=\"%s\"",
                         sq_dim_names[d], sq_indicator_names[ds->indicator]);
                sq_prom_dbl(p, sq_families[f].name, extra, v);
                break;

            case F_Z:
                if (ds->state == SQ_STATE_INSUFFICIENT || isnan(ds->z)) {
                    break;
                }

                snprintf(extra, sizeof(extra), ",dimension=\"%s\"",
                         sq_dim_names[d]);
                sq_prom_dbl(p, sq_families[f].name, extra,
                            ds->z);
                break;

            case F_STATE:
                for (st = 0; st < SQ_NSTATES; st++) {
                    snprintf(extra, sizeof(extra),
                             ",dimension=\"%s\",state=\"%s\"",
                             sq_dim_names[d], sq_state_names[st]);
                    sq_prom_u64(p, sq_families[f].name, extra,
                                ds->state == st);
                }

                break;
            }
        }
    }
}


/* one level of one dimension, labelled as p->lab says */

static void
sq_prom_level(sq_prom_t *p, int f, int dim, const sq_dim_conf_t *dc)
{
    char    extra[128];
    double  v;

    if (sq_prom_level_family(f, dc->indicator) < 0) {
        return;
    }

    v = (f == F_ADEQUATE_RATIO || f == F_ADEQUATE_SECONDS) ? dc->adequate
                                                           : dc->desired;

    snprintf(extra, sizeof(extra), ",dimension=\"%s\",indicator=\"%s\"",
             sq_dim_names[dim], sq_indicator_names[dc->indicator]);
    sq_prom_dbl(p, sq_families[f].name, extra, v);
}


/*
 * The levels of the configuration, once each: the dimensions' own
 * (scope "default"), then as each override leaves them for the rows it
 * matches (its endpoint, region and segment; "" for any), then each
 * journey's (endpoint: the journey's name).
 */

static void
sq_prom_levels(sq_prom_t *p, int f)
{
    int                   d;
    size_t                i;
    sq_dim_conf_t         dc;
    const sq_conf_t      *conf;
    const sq_override_t  *ov;
    const sq_journey_t   *j;

    conf = p->ctx->conf;

    if (sq_prom_labels(p, "default", "", "", "", NULL) == SQ_OK) {
        for (d = 0; d < SQ_NDIMS; d++) {
            sq_conf_effective(conf, d, NULL, NULL, NULL, NULL, &dc);
            sq_prom_level(p, f, d, &dc);
        }
    }

    for (i = 0; i < conf->noverrides; i++) {
        ov = &conf->overrides[i];

        if (sq_prom_labels(p, "override", ov->endpoint ? ov->endpoint : "",
                           ov->region ? ov->region : "",
                           ov->segment ? ov->segment : "", NULL)
            != SQ_OK)
        {
            return;
        }

        for (d = 0; d < SQ_NDIMS; d++) {
            sq_conf_effective(conf, d, ov->endpoint, ov->region, ov->segment,
                              NULL, &dc);
            sq_prom_level(p, f, d, &dc);
        }
    }

    for (i = 0; i < conf->njourneys; i++) {
        j = &conf->journeys[i];

        if (sq_prom_labels(p, "journey", j->name, "", "", NULL) != SQ_OK) {
            return;
        }

        for (d = 0; d < SQ_NDIMS; d++) {
            sq_conf_effective(conf, d, NULL, NULL, NULL, j, &dc);
            sq_prom_level(p, f, d, &dc);
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
    p->expired = ctx->windows.stats.series_expired;
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
 * the rows are the held view's.  The stages: 0 the collector's own
 * families and the nodes', 1 the per-series families, 2 the rows'
 * scores, 3 the configuration's levels (and the rows' with
 * metrics.row_levels), 4 the end.
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
    p->out.b = b;
    p->out.n = 0;

    if (p->stage == 0) {
        sq_prom_health(p, b);
        sq_prom_nodes(p, b);

        /*
         * Families of other parts that are small (a few per node or
         * dimension) are written here, after the collector's own, with
         * sq_prom_family() and sq_prom_sample().
         */

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
            sq_prom_one_series(p, p->family, p->pos, s);
        }

        sq_prom_flush(&p->out);

        if (p->pos >= n) {
            p->pos = 0;

            if (++p->family > F_TTFB) {
                /* the browser's histograms beside the server's */
                sq_prom_browser(&ctx->windows, ctx->conf, b);

                p->stage = 2;
                p->family = F_VALUE_RATIO;
            }
        }
    }

    while ((p->stage == 2 || p->stage == 3) && done < budget) {
        if (p->pos == 0) {
            sq_prom_head(b, p->family);

            if (p->stage == 3) {
                sq_prom_levels(p, p->family);
                sq_prom_flush(&p->out);

                if (!ctx->conf->metrics_row_levels) {
                    p->pos = p->view->n;
                }
            }
        }

        for ( /* void */ ; p->pos < p->view->n && done < budget; p->pos++)
        {
            row = &p->view->rows[p->pos];

            if (ctx->conf->metrics_scopes & (1u << row->scope)) {
                sq_prom_one_row(p, p->family, row);
                done++;
            }
        }

        sq_prom_flush(&p->out);

        if (p->pos >= p->view->n) {
            p->pos = 0;

            if (p->stage == 2 && ++p->family > F_WREQUESTS) {
                p->stage = 3;
                p->family = F_ADEQUATE_RATIO;

            } else if (p->stage == 3 && ++p->family > F_DESIRED_SECONDS) {
                p->stage = 4;
            }
        }
    }

    return p->stage != 4;
}


void
sq_prom_close(sq_prom_t *p)
{
    if (p) {
        sq_view_release(p->view);
        free(p->lab);
        free(p->pre);
        free(p->cache);
        free(p->arena);
        free(p);
    }
}
