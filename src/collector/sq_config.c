
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sq_conf_yaml.h"
#include "sq_conf_listen.h"
#include "sq_config.h"
#include "sq_auth.h"
#include "sq_rules.h"
#include "sq_web.h"
#include "sq_compact.h"


/*
 * The collector's YAML config as data: one table of keys per mapping
 * (name, setter, field, bounds, default), read by sq_conf_walk().  The
 * defaults are those of the tables, so an empty file and
 * sq_conf_default() are the same.  Then the zones are checked, each
 * layer merged over the ones that always apply below it.
 */

#define SQ_SEC_MAX  sq_conf_days(400)


/* labels being read: the other hook appends to it */

typedef struct {
    sq_label_t  *labels;
    size_t       nlabels;
} sq_conf_labels_t;


static int sq_conf_set_indicator(sq_conf_reader_t *rd,
    const sq_conf_key_t *k, yaml_node_t *node, char *base, const char *path);
static int sq_conf_set_browser(sq_conf_reader_t *rd,
    const sq_conf_key_t *k, yaml_node_t *node, char *base, const char *path);
static int sq_conf_set_labels(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
static int sq_conf_label(sq_conf_reader_t *rd, yaml_node_t *key,
    yaml_node_t *value, char *base, const char *path);
static void sq_conf_dim_mark(const sq_conf_key_t *k, yaml_node_t *node,
    char *base);
static void sq_conf_check_windows(sq_conf_reader_t *rd, yaml_node_t *node,
    char *base, size_t index, const char *path);
static void sq_conf_check_override(sq_conf_reader_t *rd, yaml_node_t *node,
    char *base, size_t index, const char *path);
static void sq_conf_check_journey(sq_conf_reader_t *rd, yaml_node_t *node,
    char *base, size_t index, const char *path);
static void sq_check_zones(sq_conf_reader_t *rd, sq_conf_t *conf);
static void sq_check_dims(sq_conf_reader_t *rd, const sq_conf_t *conf,
    const sq_override_t *o, const sq_dim_conf_t *layer, const char *prefix,
    int line);
static void sq_check_levels(sq_conf_reader_t *rd, int at, const char *path,
    int indicator, double adequate, double desired, int akind, int dkind);
static int sq_override_sort(const void *a, const void *b);
static void sq_labels_free(sq_label_t *labels, size_t n);


static const char  *sq_log_level_names[] = {
    "error", "warn", "info", "debug"
};

static const sq_conf_enum_t  sq_log_levels = {
    sq_log_level_names, 4, "invalid level", "error, warn, info or debug"
};

static const char  *sq_scope_names[] = {
    "series", "endpoint", "region", "journey"
};

static const sq_conf_enum_t  sq_scopes = {
    sq_scope_names, 4, "unknown scope", "series, endpoint, region, journey"
};

static const sq_conf_enum_t  sq_indicators = {
    sq_indicator_names, SQ_NINDICATORS, "unknown indicator", NULL
};


/* the keys of one dimension, in the dimensions section of any layer */

#define SQ_DIM_KEYS(dim)                                                      \
    { .name = "indicator", .set = sq_conf_set_indicator,                      \
      .offset = offsetof(sq_dim_conf_t, indicator),                           \
      .flag = SQ_SET_INDICATOR, .arg = dim },                                 \
    { .name = "adequate", .set = sq_conf_set_level,                           \
      .offset = offsetof(sq_dim_conf_t, adequate),                            \
      .aux = offsetof(sq_dim_conf_t, akind), .flag = SQ_SET_ADEQUATE },       \
    { .name = "desired", .set = sq_conf_set_level,                            \
      .offset = offsetof(sq_dim_conf_t, desired),                             \
      .aux = offsetof(sq_dim_conf_t, dkind), .flag = SQ_SET_DESIRED },        \
    { .name = "weight", .set = sq_conf_set_number,                            \
      .offset = offsetof(sq_dim_conf_t, weight), .min = 0,                    \
      .msg = "weight must be a positive number", .flag = SQ_SET_WEIGHT },     \
    { .name = "min_requests", .set = sq_conf_set_count,                       \
      .offset = offsetof(sq_dim_conf_t, min_requests), .min = 1,              \
      .msg = "must be at least 1", .flag = SQ_SET_MIN }

#define SQ_DIM_APDEX_T                                                        \
    { .name = "apdex_t", .set = sq_conf_set_time,                             \
      .offset = offsetof(sq_dim_conf_t, apdex_t), .min = 0, .max = 3600,      \
      .flag = SQ_SET_APDEX_T }

/* the browser's part of a dimension (responsiveness, tangibles) */

#define SQ_DIM_BROWSER(dim)                                                   \
    { .name = "browser", .set = sq_conf_set_browser,                          \
      .offset = offsetof(sq_dim_conf_t, browser),                             \
      .flag = SQ_SET_BROWSER, .arg = dim },                                   \
    { .name = "browser_adequate", .set = sq_conf_set_level,                   \
      .offset = offsetof(sq_dim_conf_t, badequate),                           \
      .aux = offsetof(sq_dim_conf_t, bakind), .flag = SQ_SET_BADEQUATE },     \
    { .name = "browser_desired", .set = sq_conf_set_level,                    \
      .offset = offsetof(sq_dim_conf_t, bdesired),                            \
      .aux = offsetof(sq_dim_conf_t, bdkind), .flag = SQ_SET_BDESIRED },      \
    { .name = "min_beacons", .set = sq_conf_set_count,                        \
      .offset = offsetof(sq_dim_conf_t, min_beacons), .min = 1,               \
      .msg = "must be at least 1", .flag = SQ_SET_MIN_BEACONS }

#define SQ_DIM_QUANTILE                                                       \
    { .name = "quantile", .set = sq_conf_set_number,                          \
      .offset = offsetof(sq_dim_conf_t, quantile), .min = 0, .max = 1,        \
      .msg = "quantile must be between 0 and 1", .flag = SQ_SET_QUANTILE }

static const sq_conf_key_t  sq_reliability_keys[] = {
    SQ_DIM_KEYS(SQ_DIM_RELIABILITY),
    { .name = NULL }
};

static const sq_conf_key_t  sq_responsiveness_keys[] = {
    SQ_DIM_KEYS(SQ_DIM_RESPONSIVENESS),
    SQ_DIM_APDEX_T,
    SQ_DIM_QUANTILE,
    SQ_DIM_BROWSER(SQ_DIM_RESPONSIVENESS),
    { .name = NULL }
};

static const sq_conf_key_t  sq_assurance_keys[] = {
    SQ_DIM_KEYS(SQ_DIM_ASSURANCE),
    { .name = NULL }
};

static const sq_conf_key_t  sq_empathy_keys[] = {
    SQ_DIM_KEYS(SQ_DIM_EMPATHY),
    SQ_DIM_QUANTILE,
    { .name = "min_latency", .set = sq_conf_set_time,
      .offset = offsetof(sq_dim_conf_t, min_latency), .min = 0, .max = 60,
      .flag = SQ_SET_MIN_LATENCY },
    { .name = NULL }
};

static const sq_conf_key_t  sq_tangibles_keys[] = {
    SQ_DIM_KEYS(SQ_DIM_TANGIBLES),
    SQ_DIM_BROWSER(SQ_DIM_TANGIBLES),
    { .name = NULL }
};

static const sq_conf_table_t  sq_dim_tables[SQ_NDIMS] = {
    { .keys = sq_reliability_keys, .mark = sq_conf_dim_mark },
    { .keys = sq_responsiveness_keys, .mark = sq_conf_dim_mark },
    { .keys = sq_assurance_keys, .mark = sq_conf_dim_mark },
    { .keys = sq_empathy_keys, .mark = sq_conf_dim_mark },
    { .keys = sq_tangibles_keys, .mark = sq_conf_dim_mark }
};


/* a dimensions section: sq_dim_conf_t[SQ_NDIMS] */

#define SQ_DIM(d, n)                                                          \
    { .name = n, .set = sq_conf_set_map,                                      \
      .offset = (d) * sizeof(sq_dim_conf_t), .sub = &sq_dim_tables[d] }

static const sq_conf_key_t  sq_dims_keys[] = {
    SQ_DIM(SQ_DIM_RELIABILITY, "reliability"),
    SQ_DIM(SQ_DIM_RESPONSIVENESS, "responsiveness"),
    SQ_DIM(SQ_DIM_ASSURANCE, "assurance"),
    SQ_DIM(SQ_DIM_EMPATHY, "empathy"),
    SQ_DIM(SQ_DIM_TANGIBLES, "tangibles"),
    { .name = NULL }
};

static const sq_conf_table_t  sq_dims_table = {
    .keys = sq_dims_keys, .unknown = "unknown dimension"
};

static const sq_conf_table_t  sq_labels_table = {
    .other = sq_conf_label
};


/* an element of overrides: */

static const sq_conf_key_t  sq_override_keys[] = {
    { .name = "endpoint", .set = sq_conf_set_str,
      .offset = offsetof(sq_override_t, endpoint) },
    { .name = "region", .set = sq_conf_set_str,
      .offset = offsetof(sq_override_t, region) },
    { .name = "segment", .set = sq_conf_set_str,
      .offset = offsetof(sq_override_t, segment) },
    { .name = "dimensions", .set = sq_conf_set_map,
      .offset = offsetof(sq_override_t, dims), .sub = &sq_dims_table },
    { .name = "labels", .set = sq_conf_set_labels,
      .offset = offsetof(sq_override_t, labels),
      .aux = offsetof(sq_override_t, nlabels) },
    { .name = NULL }
};

static const sq_conf_table_t  sq_override_table = {
    .keys = sq_override_keys, .check = sq_conf_check_override
};


/* an element of journeys: */

static const sq_conf_key_t  sq_journey_keys[] = {
    { .name = "name", .set = sq_conf_set_str,
      .offset = offsetof(sq_journey_t, name) },
    { .name = "steps", .set = sq_conf_set_strv,
      .offset = offsetof(sq_journey_t, steps),
      .aux = offsetof(sq_journey_t, nsteps),
      .msg = "a journey needs steps" },
    { .name = "dimensions", .set = sq_conf_set_map,
      .offset = offsetof(sq_journey_t, dims), .sub = &sq_dims_table },
    { .name = "labels", .set = sq_conf_set_labels,
      .offset = offsetof(sq_journey_t, labels),
      .aux = offsetof(sq_journey_t, nlabels) },
    { .name = NULL }
};

static const sq_conf_table_t  sq_journey_table = {
    .keys = sq_journey_keys, .check = sq_conf_check_journey
};


/* the sections of sq_conf_t */

#define SQ_SEC(n, type, field, d)                                             \
    { .name = n, .set = sq_conf_set_sec, .offset = offsetof(type, field),     \
      .min = 1, .max = SQ_SEC_MAX, .dflt = d }

static const sq_conf_key_t  sq_listen_keys[] = {
    { .name = "http", .set = sq_conf_set_str,
      .offset = offsetof(sq_conf_t, http), .dflt = "127.0.0.1:9170" },
    { .name = "ingest", .set = sq_conf_set_addrs,
      .offset = offsetof(sq_conf_t, ingest),
      .aux = offsetof(sq_conf_t, ningest),
      .dflt = "udp://127.0.0.1:5170" },
    { .name = "socket_owner", .set = sq_conf_set_str,
      .offset = offsetof(sq_conf_t, socket_owner) },
    { .name = "socket_group", .set = sq_conf_set_str,
      .offset = offsetof(sq_conf_t, socket_group) },
    { .name = "socket_mode", .set = sq_conf_set_str,
      .offset = offsetof(sq_conf_t, socket_mode) },
    { .name = "web_config", .set = sq_conf_set_web,
      .offset = offsetof(sq_conf_t, web) },
    { .name = "http_connections", .set = sq_conf_set_count,
      .offset = offsetof(sq_conf_t, http_connections), .min = 1,
      .max = 65536, .dflt = "512", .msg = "must be between 1 and 65536" },
    SQ_SEC("http_timeout", sq_conf_t, http_timeout, "10s"),
    { .name = "receive_buffer_mb", .set = sq_conf_set_count,
      .offset = offsetof(sq_conf_t, rcvbuf_mb), .min = 1, .max = 2048,
      .dflt = "32", .msg = "must be between 1 and 2048" },
    { .name = "queue_mb", .set = sq_conf_set_count,
      .offset = offsetof(sq_conf_t, queue_mb), .min = 1, .max = 65536,
      .dflt = "256", .msg = "must be between 1 and 65536" },
    { .name = NULL }
};

static const sq_conf_key_t  sq_auth_keys[] = {
    { .name = "keys", .set = sq_conf_set_strv,
      .offset = offsetof(sq_conf_t, key_files),
      .aux = offsetof(sq_conf_t, nkey_files) },
    SQ_SEC("max_age", sq_conf_t, max_age, "30s"),
    { .name = NULL }
};

static const sq_conf_key_t  sq_privacy_keys[] = {
    { .name = "min_requests", .set = sq_conf_set_count,
      .offset = offsetof(sq_conf_t, privacy_min), .min = 0, .max = 1000000,
      .dflt = "0", .msg = "must be between 0 and 1000000" },
    { .name = NULL }
};

static const sq_conf_key_t  sq_prometheus_keys[] = {
    { .name = "site_labels", .set = sq_conf_set_strv,
      .offset = offsetof(sq_conf_t, site_labels),
      .aux = offsetof(sq_conf_t, nsite_labels), .dflt = "[site, instance]" },
    { .name = NULL }
};

static const sq_conf_key_t  sq_storage_keys[] = {
    { .name = "path", .set = sq_conf_set_str,
      .offset = offsetof(sq_conf_t, storage_path), .dflt = "servqual.db" },
    SQ_SEC("retention", sq_conf_t, retention, "30d"),
    SQ_SEC("slot_retention", sq_conf_t, slot_retention, "2d"),
    SQ_SEC("coarse_slot", sq_conf_t, coarse_slot, "1h"),
    { .name = NULL }
};

static const sq_conf_key_t  sq_windows_keys[] = {
    SQ_SEC("slot", sq_conf_t, slot, "1m"),
    SQ_SEC("short", sq_conf_t, short_window, "5m"),
    SQ_SEC("long", sq_conf_t, long_window, "1h"),
    { .name = NULL }
};

static const sq_conf_key_t  sq_limits_keys[] = {
    { .name = "max_series", .set = sq_conf_set_count,
      .offset = offsetof(sq_conf_t, max_series), .min = 1, .max = 10000000,
      .dflt = "100000", .msg = "must be between 1 and 10000000" },
    SQ_SEC("series_ttl", sq_conf_t, series_ttl, "2h"),
    { .name = "max_workers", .set = sq_conf_set_count,
      .offset = offsetof(sq_conf_t, max_workers), .min = 1, .max = 1000000,
      .dflt = "65536", .msg = "must be between 1 and 1000000" },
    { .name = NULL }
};

static const sq_conf_key_t  sq_log_keys[] = {
    { .name = "level", .set = sq_conf_set_enum,
      .offset = offsetof(sq_conf_t, log_level), .words = &sq_log_levels,
      .dflt = "info" },
    { .name = NULL }
};

static const sq_conf_key_t  sq_metrics_keys[] = {
    { .name = "series", .set = sq_conf_set_flag,
      .offset = offsetof(sq_conf_t, metrics_series), .dflt = "true" },
    { .name = "scores", .set = sq_conf_set_mask,
      .offset = offsetof(sq_conf_t, metrics_scopes), .words = &sq_scopes,
      .dflt = "[endpoint, region, journey]" },
    { .name = "row_levels", .set = sq_conf_set_flag,
      .offset = offsetof(sq_conf_t, metrics_row_levels), .dflt = "false" },
    { .name = NULL }
};


#define SQ_ALERT_COUNT(n, field, d)                                           \
    { .name = n, .set = sq_conf_set_count,                                    \
      .offset = offsetof(sq_alert_conf_t, field), .min = 1, .max = 100000,    \
      .dflt = d, .msg = "must be between 1 and 100000" }

static const sq_conf_key_t  sq_alertmanager_keys[] = {
    { .name = "url", .set = sq_conf_set_url,
      .offset = offsetof(sq_alert_conf_t, alertmanager) },
    SQ_SEC("resend", sq_alert_conf_t, resend, "1m"),
    { .name = NULL }
};

static const sq_conf_key_t  sq_webhook_keys[] = {
    { .name = "url", .set = sq_conf_set_url,
      .offset = offsetof(sq_alert_conf_t, webhook) },
    { .name = NULL }
};

static const sq_conf_table_t  sq_alertmanager_table = {
    .keys = sq_alertmanager_keys
};

static const sq_conf_table_t  sq_webhook_table = { .keys = sq_webhook_keys };

static const sq_conf_key_t  sq_alerts_keys[] = {
    SQ_SEC("interval", sq_alert_conf_t, interval, "10s"),
    { .name = "warning_share", .set = sq_conf_set_share,
      .offset = offsetof(sq_alert_conf_t, warning_share), .min = 0,
      .max = 1, .dflt = "89%",
      .msg = "must be a share between 0 and 1, e.g. 89% or 0.89" },
    { .name = "scopes", .set = sq_conf_set_mask,
      .offset = offsetof(sq_alert_conf_t, scopes), .words = &sq_scopes,
      .dflt = "[series, endpoint, region, journey]" },
    { .name = "alertmanager", .set = sq_conf_set_map,
      .sub = &sq_alertmanager_table },
    { .name = "webhook", .set = sq_conf_set_map, .sub = &sq_webhook_table },
    { .name = "generator_url", .set = sq_conf_set_url,
      .offset = offsetof(sq_alert_conf_t, generator_url) },
    SQ_SEC("timeout", sq_alert_conf_t, timeout, "5s"),
    SQ_SEC("backoff_max", sq_alert_conf_t, backoff_max, "1m"),
    SQ_ALERT_COUNT("attempts", attempts, "5"),
    SQ_ALERT_COUNT("queue", queue, "1000"),
    SQ_ALERT_COUNT("history", history, "100"),
    { .name = NULL }
};


static const sq_conf_table_t  sq_listen_table = {
    .keys = sq_listen_keys, .check = sq_conf_check_listen
};

static const sq_conf_table_t  sq_auth_table = {
    .keys = sq_auth_keys, .check = sq_auth_conf_check
};
static const sq_conf_table_t  sq_storage_table = {
    .keys = sq_storage_keys, .check = sq_compact_conf_check
};
static const sq_conf_table_t  sq_limits_table = { .keys = sq_limits_keys };
static const sq_conf_table_t  sq_log_table = { .keys = sq_log_keys };
static const sq_conf_table_t  sq_metrics_table = { .keys = sq_metrics_keys };
static const sq_conf_table_t  sq_alerts_table = { .keys = sq_alerts_keys };
static const sq_conf_table_t  sq_privacy_table = { .keys = sq_privacy_keys };
static const sq_conf_table_t  sq_prometheus_table = {
    .keys = sq_prometheus_keys, .check = sq_rules_conf_check
};

static const sq_conf_table_t  sq_windows_table = {
    .keys = sq_windows_keys, .check = sq_conf_check_windows
};

static const sq_conf_key_t  sq_top_keys[] = {
    { .name = "listen", .set = sq_conf_set_map, .sub = &sq_listen_table },
    { .name = "auth", .set = sq_conf_set_map, .sub = &sq_auth_table },
    { .name = "storage", .set = sq_conf_set_map, .sub = &sq_storage_table },
    { .name = "windows", .set = sq_conf_set_map, .sub = &sq_windows_table },
    { .name = "limits", .set = sq_conf_set_map, .sub = &sq_limits_table },
    { .name = "log", .set = sq_conf_set_map, .sub = &sq_log_table },
    { .name = "metrics", .set = sq_conf_set_map, .sub = &sq_metrics_table },
    { .name = "dimensions", .set = sq_conf_set_map,
      .offset = offsetof(sq_conf_t, dims), .sub = &sq_dims_table },
    { .name = "alerts", .set = sq_conf_set_map,
      .offset = offsetof(sq_conf_t, alerts), .sub = &sq_alerts_table },
    { .name = "overrides", .set = sq_conf_set_list,
      .offset = offsetof(sq_conf_t, overrides),
      .aux = offsetof(sq_conf_t, noverrides), .size = sizeof(sq_override_t),
      .sub = &sq_override_table },
    { .name = "privacy", .set = sq_conf_set_map, .sub = &sq_privacy_table },
    { .name = "prometheus", .set = sq_conf_set_map,
      .sub = &sq_prometheus_table },
    { .name = "journeys", .set = sq_conf_set_list,
      .offset = offsetof(sq_conf_t, journeys),
      .aux = offsetof(sq_conf_t, njourneys), .size = sizeof(sq_journey_t),
      .sub = &sq_journey_table },
    { .name = NULL }
};

static const sq_conf_table_t  sq_top_table = { .keys = sq_top_keys };


/* an indicator of the dimension k->arg, an int */

static int
sq_conf_set_indicator(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    int          i;
    const char  *s;

    if (sq_conf_expect(rd, node, YAML_SCALAR_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    s = sq_conf_scalar(node);
    i = sq_conf_word(&sq_indicators, s);

    if (i < 0) {
        sq_conf_bad_word(rd, node, path, &sq_indicators);
        return SQ_ERR_INVALID;
    }

    if (sq_indicator_dim(i) != k->arg) {
        sq_conf_error(rd, sq_conf_line(node), path, "indicator \"%s\" does "
                      "not measure %s", s, sq_dim_names[k->arg]);
        return SQ_ERR_INVALID;
    }

    *sq_conf_field(base, k->offset, int) = i;

    return SQ_OK;
}


/* a browser indicator of the dimension k->arg, or none: an int */

static int
sq_conf_set_browser(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    int          i;
    const char  *s;

    if (sq_conf_expect(rd, node, YAML_SCALAR_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    s = sq_conf_scalar(node);

    if (strcmp(s, "none") == 0) {
        *sq_conf_field(base, k->offset, int) = SQ_IND_NONE;
        return SQ_OK;
    }

    i = sq_conf_word(&sq_indicators, s);

    if (i < 0) {
        sq_conf_bad_word(rd, node, path, &sq_indicators);
        return SQ_ERR_INVALID;
    }

    if (!sq_indicator_browser(i) || sq_indicator_dim(i) != k->arg) {
        sq_conf_error(rd, sq_conf_line(node), path, "\"%s\" is not a "
                      "browser indicator of %s (%s, or none)", s,
                      sq_dim_names[k->arg],
                      k->arg == SQ_DIM_TANGIBLES ? "cls_quantile"
                      : "lcp_quantile, inp_quantile");
        return SQ_ERR_INVALID;
    }

    *sq_conf_field(base, k->offset, int) = i;

    return SQ_OK;
}


/* labels: a free-form mapping, sq_label_t * at offset, count at aux */

static int
sq_conf_set_labels(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    size_t           *count, cnt;
    sq_label_t      **field;
    sq_conf_labels_t  l;

    if (sq_conf_expect(rd, node, YAML_MAPPING_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    cnt = node->data.mapping.pairs.top - node->data.mapping.pairs.start;

    l.nlabels = 0;
    l.labels = calloc(cnt ? cnt : 1, sizeof(sq_label_t));
    if (l.labels == NULL) {
        sq_conf_error(rd, sq_conf_line(node), path, "out of memory");
        return SQ_ERR_NOMEM;
    }

    (void) sq_conf_walk(rd, node, &sq_labels_table, (char *) &l, path);

    field = sq_conf_field(base, k->offset, sq_label_t *);
    count = sq_conf_field(base, k->aux, size_t);

    sq_labels_free(*field, *count);
    *field = l.labels;
    *count = l.nlabels;

    return SQ_OK;
}


static int
sq_conf_label(sq_conf_reader_t *rd, yaml_node_t *key, yaml_node_t *value,
    char *base, const char *path)
{
    sq_label_t        *label;
    sq_conf_labels_t  *l;

    l = sq_conf_field(base, 0, sq_conf_labels_t);

    if (sq_conf_expect(rd, key, YAML_SCALAR_NODE, path) != SQ_OK
        || sq_conf_expect(rd, value, YAML_SCALAR_NODE, path) != SQ_OK)
    {
        return SQ_ERR_INVALID;
    }

    label = &l->labels[l->nlabels];
    label->key = strdup(sq_conf_scalar(key));
    label->value = strdup(sq_conf_scalar(value));
    l->nlabels++;

    if (label->key == NULL || label->value == NULL) {
        sq_conf_error(rd, sq_conf_line(key), path, "out of memory");
        return SQ_ERR_NOMEM;
    }

    return SQ_OK;
}


/* which fields a dimension's layer sets, and where its levels are */

static void
sq_conf_dim_mark(const sq_conf_key_t *k, yaml_node_t *node, char *base)
{
    sq_dim_conf_t  *d;

    d = sq_conf_field(base, 0, sq_dim_conf_t);
    d->set |= k->flag;

    if (k->flag & (SQ_SET_ADEQUATE | SQ_SET_DESIRED)) {
        d->line = sq_conf_line(node);
    }

    if (k->flag & (SQ_SET_BADEQUATE | SQ_SET_BDESIRED | SQ_SET_BROWSER)) {
        d->bline = sq_conf_line(node);
    }
}


static void
sq_conf_check_windows(sq_conf_reader_t *rd, yaml_node_t *node, char *base,
    size_t index, const char *path)
{
    int         line;
    sq_conf_t  *conf;

    conf = sq_conf_field(base, 0, sq_conf_t);
    line = sq_conf_line(node);

    if (conf->short_window % conf->slot != 0
        || conf->long_window % conf->slot != 0)
    {
        sq_conf_error(rd, line, "windows",
                      "short and long must be multiples of slot");
    }

    if (conf->short_window / conf->slot > 240) {
        sq_conf_error(rd, line, "windows.short", "at most 240 slots");
    }

    if (conf->long_window <= conf->short_window) {
        sq_conf_error(rd, line, "windows.long", "must be longer than short");
    }
}


static void
sq_conf_check_override(sq_conf_reader_t *rd, yaml_node_t *node, char *base,
    size_t index, const char *path)
{
    sq_override_t  *o;

    o = sq_conf_field(base, 0, sq_override_t);
    o->index = (int) index;
    o->line = sq_conf_line(node);
    o->nmatch = (o->endpoint != NULL) + (o->region != NULL)
                + (o->segment != NULL);

    if (o->nmatch == 0) {
        sq_conf_error(rd, o->line, path, "needs at least one of endpoint, "
                      "region, segment");
    }
}


/* base is element index of the journeys array */

static void
sq_conf_check_journey(sq_conf_reader_t *rd, yaml_node_t *node, char *base,
    size_t index, const char *path)
{
    size_t         j;
    sq_journey_t  *jn, *first;

    jn = sq_conf_field(base, 0, sq_journey_t);
    first = jn - index;
    jn->line = sq_conf_line(node);

    if (jn->name == NULL) {
        sq_conf_error(rd, jn->line, path, "a journey needs a name");
    }

    if (jn->steps == NULL) {
        sq_conf_error(rd, jn->line, path, "a journey needs steps");
    }

    for (j = 0; jn->name && j < index; j++) {
        if (first[j].name && strcmp(first[j].name, jn->name) == 0) {
            sq_conf_error(rd, jn->line, path, "duplicate journey \"%s\"",
                          jn->name);
        }
    }
}


/* checks the levels a layer sets once merged over what is below it */

static void
sq_check_dims(sq_conf_reader_t *rd, const sq_conf_t *conf,
    const sq_override_t *o, const sq_dim_conf_t *layer, const char *prefix,
    int line)
{
    int            i, at;
    size_t         j;
    char           path[SQ_CONF_PATH_MAX];
    sq_dim_conf_t  eff;

    for (i = 0; i < SQ_NDIMS; i++) {
        if (!(layer[i].set & (SQ_SET_ADEQUATE | SQ_SET_DESIRED
                              | SQ_SET_INDICATOR | SQ_SET_BADEQUATE
                              | SQ_SET_BDESIRED | SQ_SET_BROWSER)))
        {
            continue;
        }

        sq_dim_defaults(i, &eff);

        if (layer != conf->dims) {
            sq_dim_apply(&eff, &conf->dims[i]);
        }

        /* the less specific overrides that always apply below this one */

        for (j = 0; o && j < conf->noverrides; j++) {
            if (sq_override_within(o, &conf->overrides[j])) {
                sq_dim_apply(&eff, &conf->overrides[j].dims[i]);
            }
        }

        sq_dim_apply(&eff, &layer[i]);

        if (layer[i].set & (SQ_SET_ADEQUATE | SQ_SET_DESIRED
                            | SQ_SET_INDICATOR))
        {
            at = layer[i].line ? layer[i].line : line;
            snprintf(path, sizeof(path), "%s.%s", prefix, sq_dim_names[i]);
            sq_check_levels(rd, at, path, eff.indicator, eff.adequate,
                            eff.desired, eff.akind, eff.dkind);
        }

        if ((layer[i].set & (SQ_SET_BADEQUATE | SQ_SET_BDESIRED
                             | SQ_SET_BROWSER))
            && eff.browser != SQ_IND_NONE)
        {
            at = layer[i].bline ? layer[i].bline : line;
            snprintf(path, sizeof(path), "%s.%s.browser", prefix,
                     sq_dim_names[i]);
            sq_check_levels(rd, at, path, eff.browser, eff.badequate,
                            eff.bdesired, eff.bakind, eff.bdkind);
        }
    }
}


/* the levels of one indicator: written in its unit, desired better */

static void
sq_check_levels(sq_conf_reader_t *rd, int at, const char *path,
    int indicator, double adequate, double desired, int akind, int dkind)
{
    int          unit;
    const char  *ind;

    unit = sq_indicator_unit(indicator);
    ind = sq_indicator_names[indicator];

    if (unit == SQ_UNIT_SHARE) {
        if (akind == SQ_LIT_DURATION || akind == SQ_LIT_RATIO
            || dkind == SQ_LIT_DURATION || dkind == SQ_LIT_RATIO)
        {
            sq_conf_error(rd, at, path, "%s is a share: write levels "
                          "as 0.995 or 99.5%%", ind);
            return;
        }

        if (adequate < 0 || adequate > 1 || desired < 0 || desired > 1) {
            sq_conf_error(rd, at, path, "levels of %s must be between "
                          "0 and 1 (0%% and 100%%)", ind);
            return;
        }

    } else if (unit == SQ_UNIT_SECONDS) {
        if (akind == SQ_LIT_PERCENT || akind == SQ_LIT_RATIO
            || dkind == SQ_LIT_PERCENT || dkind == SQ_LIT_RATIO)
        {
            sq_conf_error(rd, at, path, "%s is a time: write levels "
                          "as 1.8s or 800ms", ind);
            return;
        }

    } else if (unit == SQ_UNIT_SCORE) {
        if (akind != SQ_LIT_NUMBER || dkind != SQ_LIT_NUMBER
            || adequate < 0 || desired < 0)
        {
            sq_conf_error(rd, at, path, "%s is a layout shift score: "
                          "write levels as 0.25 or 0.1", ind);
            return;
        }

    } else {
        if (akind == SQ_LIT_PERCENT || akind == SQ_LIT_DURATION
            || dkind == SQ_LIT_PERCENT || dkind == SQ_LIT_DURATION)
        {
            sq_conf_error(rd, at, path, "%s is a ratio: write levels "
                          "as 2.0 or 2x", ind);
            return;
        }
    }

    if (unit == SQ_UNIT_SHARE && !(desired > adequate)) {
        sq_conf_error(rd, at, path, "desired %g is not better than "
                      "adequate %g (higher is better)", desired, adequate);

    } else if (unit != SQ_UNIT_SHARE && !(desired < adequate)) {
        sq_conf_error(rd, at, path, "desired %g is not better than "
                      "adequate %g (lower is better)", desired, adequate);
    }
}


static int
sq_override_sort(const void *a, const void *b)
{
    return sq_override_cmp(a, b);
}


static void
sq_check_zones(sq_conf_reader_t *rd, sq_conf_t *conf)
{
    char    path[SQ_CONF_PATH_MAX];
    size_t  i;

    if (conf->noverrides) {
        qsort(conf->overrides, conf->noverrides, sizeof(sq_override_t),
              sq_override_sort);
    }

    sq_check_dims(rd, conf, NULL, conf->dims, "dimensions", 1);

    for (i = 0; i < conf->noverrides; i++) {
        snprintf(path, sizeof(path), "overrides[%d].dimensions",
                 conf->overrides[i].index);
        sq_check_dims(rd, conf, &conf->overrides[i],
                      conf->overrides[i].dims, path,
                      conf->overrides[i].line);
    }

    for (i = 0; i < conf->njourneys; i++) {
        snprintf(path, sizeof(path), "journeys[%zu].dimensions", i);
        sq_check_dims(rd, conf, NULL, conf->journeys[i].dims, path,
                      conf->journeys[i].line);
    }
}


void
sq_conf_effective(const sq_conf_t *conf, int dim, const char *endpoint,
    const char *region, const char *segment, const sq_journey_t *journey,
    sq_dim_conf_t *out)
{
    sq_override_iter_t    it;
    const sq_override_t  *o;

    sq_dim_defaults(dim, out);
    sq_dim_apply(out, &conf->dims[dim]);

    sq_conf_overrides(conf, &it, endpoint, region, segment);

    while ((o = sq_override_next(&it)) != NULL) {
        sq_dim_apply(out, &o->dims[dim]);
    }

    if (journey) {
        sq_dim_apply(out, &journey->dims[dim]);
    }
}


void
sq_conf_overrides(const sq_conf_t *conf, sq_override_iter_t *it,
    const char *endpoint, const char *region, const char *segment)
{
    sq_override_iter_init(it, conf->overrides, conf->noverrides, endpoint,
                          region, segment);
}


sq_conf_t *
sq_conf_default(void)
{
    sq_conf_t  *conf;

    conf = calloc(1, sizeof(sq_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    if (sq_conf_init(&sq_top_table, (char *) conf) != SQ_OK) {
        sq_conf_free(conf);
        return NULL;
    }

    return conf;
}


sq_conf_t *
sq_conf_load(const char *file, FILE *err)
{
    sq_conf_t         *conf;
    yaml_node_t       *root;
    sq_conf_reader_t   rd;

    conf = sq_conf_default();
    if (conf != NULL) {
        conf->file = strdup(file);
    }

    if (conf == NULL || conf->file == NULL) {
        fprintf(err, "%s: out of memory\n", file);
        sq_conf_free(conf);
        return NULL;
    }

    if (sq_conf_open(&rd, file, err) != SQ_OK) {
        sq_conf_free(conf);
        return NULL;
    }

    root = sq_conf_root(&rd);

    /* an empty file: the defaults */

    if (root != NULL
        && sq_conf_walk(&rd, root, &sq_top_table, (char *) conf, "")
           == SQ_OK)
    {
        sq_check_zones(&rd, conf);
    }

    sq_conf_close(&rd);

    if (rd.errors) {
        sq_conf_free(conf);
        return NULL;
    }

    return conf;
}


static void
sq_labels_free(sq_label_t *labels, size_t n)
{
    size_t  i;

    for (i = 0; labels && i < n; i++) {
        free(labels[i].key);
        free(labels[i].value);
    }

    free(labels);
}


void
sq_conf_free(sq_conf_t *conf)
{
    size_t  i, j;

    if (conf == NULL) {
        return;
    }

    for (i = 0; i < conf->ningest; i++) {
        free(conf->ingest[i]);
    }

    free(conf->ingest);
    free(conf->http);
    free(conf->socket_owner);
    free(conf->socket_group);
    free(conf->socket_mode);
    sq_auth_conf_free(conf);
    sq_web_free(conf->web);
    free(conf->storage_path);
    free(conf->file);

    for (i = 0; i < conf->noverrides; i++) {
        free(conf->overrides[i].endpoint);
        free(conf->overrides[i].region);
        free(conf->overrides[i].segment);
        sq_labels_free(conf->overrides[i].labels,
                       conf->overrides[i].nlabels);
    }

    free(conf->overrides);

    for (i = 0; i < conf->njourneys; i++) {
        free(conf->journeys[i].name);

        for (j = 0; j < conf->journeys[i].nsteps; j++) {
            free(conf->journeys[i].steps[j]);
        }

        free(conf->journeys[i].steps);
        sq_labels_free(conf->journeys[i].labels, conf->journeys[i].nlabels);
    }

    free(conf->journeys);
    free(conf->alerts.alertmanager);
    free(conf->alerts.webhook);
    free(conf->alerts.generator_url);

    for (i = 0; i < conf->nsite_labels; i++) {
        free(conf->site_labels[i]);
    }

    free(conf->site_labels);
    free(conf);
}
