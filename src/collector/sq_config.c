
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <event2/http.h>

#include "sq_config.h"


/*
 * The YAML config.  The whole file is loaded as a libyaml document, then
 * walked with the schema below; every error is reported (file, line, key)
 * and the walk goes on, so one run shows them all.
 */

#define SQ_KEY_MAX  256

/* how a level was written */
enum {
    SQ_LIT_NUMBER = 0,
    SQ_LIT_PERCENT,
    SQ_LIT_DURATION,
    SQ_LIT_RATIO
};


typedef struct {
    const char     *file;
    FILE           *err;
    yaml_document_t doc;
    int             errors;
} sq_cctx_t;


typedef struct {
    double   adequate;
    double   desired;
    double   apdex_t;
    double   quantile;
} sq_ind_default_t;


const char  *sq_dim_names[SQ_NDIMS] = {
    "reliability", "responsiveness", "assurance", "empathy", "tangibles"
};

const char  *sq_indicator_names[SQ_NINDICATORS] = {
    "success_ratio", "apdex", "ttfb_quantile", "tls_share", "hsts_share",
    "latency_ratio", "intact_share"
};

static const int  sq_ind_dim[SQ_NINDICATORS] = {
    SQ_DIM_RELIABILITY, SQ_DIM_RESPONSIVENESS, SQ_DIM_RESPONSIVENESS,
    SQ_DIM_ASSURANCE, SQ_DIM_ASSURANCE, SQ_DIM_EMPATHY, SQ_DIM_TANGIBLES
};

static const int  sq_ind_unit[SQ_NINDICATORS] = {
    SQ_UNIT_SHARE, SQ_UNIT_SHARE, SQ_UNIT_SECONDS, SQ_UNIT_SHARE,
    SQ_UNIT_SHARE, SQ_UNIT_RATIO, SQ_UNIT_SHARE
};

/* docs/dimensions.md gives the source of each */

static const sq_ind_default_t  sq_ind_defaults[SQ_NINDICATORS] = {
    { 0.995, 0.999, 0.5, 0.75 },      /* success_ratio */
    { 0.85,  0.94,  0.5, 0.75 },      /* apdex, T = 0.5 s */
    { 1.8,   0.8,   0.5, 0.75 },      /* ttfb_quantile, p75 */
    { 0.99,  1.0,   0.5, 0.75 },      /* tls_share */
    { 0.99,  1.0,   0.5, 0.75 },      /* hsts_share */
    { 2.0,   1.25,  0.5, 0.75 },      /* latency_ratio, p75 */
    { 0.99,  0.999, 0.5, 0.75 }       /* intact_share */
};

static const int  sq_dim_default_ind[SQ_NDIMS] = {
    SQ_IND_SUCCESS_RATIO, SQ_IND_APDEX, SQ_IND_TLS_SHARE,
    SQ_IND_LATENCY_RATIO, SQ_IND_INTACT_SHARE
};

static const double  sq_dim_default_weight[SQ_NDIMS] = {
    32, 22, 19, 16, 11
};


static void sq_cerr(sq_cctx_t *cx, yaml_node_t *node, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static const char *sq_scalar(yaml_node_t *node);
static int sq_expect(sq_cctx_t *cx, yaml_node_t *node, yaml_node_type_t t,
    const char *key);
static char *sq_get_str(sq_cctx_t *cx, yaml_node_t *node, const char *key);
static int sq_get_duration(sq_cctx_t *cx, yaml_node_t *node, const char *key,
    int64_t *out);
static int sq_get_uint(sq_cctx_t *cx, yaml_node_t *node, const char *key,
    uint64_t *out);
static int sq_get_level(sq_cctx_t *cx, yaml_node_t *node, const char *key,
    double *out, int *kind);
static void sq_parse_listen(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n);
static void sq_parse_storage(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n);
static void sq_parse_windows(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n);
static void sq_parse_limits(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n);
static void sq_parse_log(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n);
static void sq_parse_metrics(sq_cctx_t *cx, sq_conf_t *conf,
    yaml_node_t *n);
static void sq_parse_dims(sq_cctx_t *cx, sq_dim_conf_t *dims, yaml_node_t *n,
    const char *prefix);
static void sq_parse_alerts(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n);
static char *sq_get_url(sq_cctx_t *cx, yaml_node_t *node, const char *key);
static void sq_parse_sink(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n,
    const char *name);
static void sq_parse_dim(sq_cctx_t *cx, sq_dim_conf_t *d, int dim,
    yaml_node_t *n, const char *prefix);
static void sq_parse_labels(sq_cctx_t *cx, sq_label_t **labels, size_t *n,
    yaml_node_t *node, const char *prefix);
static void sq_parse_overrides(sq_cctx_t *cx, sq_conf_t *conf,
    yaml_node_t *n);
static void sq_parse_journeys(sq_cctx_t *cx, sq_conf_t *conf,
    yaml_node_t *n);
static void sq_dim_apply(int dim, sq_dim_conf_t *eff,
    const sq_dim_conf_t *layer);
static void sq_dim_reset(int dim, sq_dim_conf_t *d, int indicator);
static void sq_check_dims(sq_cctx_t *cx, const sq_conf_t *conf,
    const sq_override_t *o, const sq_dim_conf_t *layer, const char *prefix,
    int line);
static int sq_override_within(const sq_override_t *a,
    const sq_override_t *b);
static void sq_check(sq_cctx_t *cx, sq_conf_t *conf);
static int sq_override_cmp(const void *a, const void *b);
static void sq_labels_free(sq_label_t *labels, size_t n);
static void sq_path(char *buf, const char *prefix, const char *key);


static void
sq_path(char *buf, const char *prefix, const char *key)
{
    size_t  n;

    n = strlen(prefix);

    if (n > SQ_KEY_MAX / 2) {
        n = SQ_KEY_MAX / 2;
    }

    memcpy(buf, prefix, n);
    buf[n++] = '.';
    buf[n] = '\0';
    strncat(buf, key, SQ_KEY_MAX - n - 1);
}


int
sq_indicator_unit(int indicator)
{
    return sq_ind_unit[indicator];
}


int
sq_indicator_dim(int indicator)
{
    return sq_ind_dim[indicator];
}


static void
sq_cerr(sq_cctx_t *cx, yaml_node_t *node, const char *key,
    const char *fmt, ...)
{
    va_list  ap;

    fprintf(cx->err, "%s:%lu: %s: ", cx->file,
            node ? (unsigned long) node->start_mark.line + 1 : 0UL, key);

    va_start(ap, fmt);
    vfprintf(cx->err, fmt, ap);
    va_end(ap);

    fputc('\n', cx->err);
    cx->errors++;
}


double
sq_parse_duration(const char *s)
{
    char    *end;
    double   v, mult;

    if (s == NULL || *s == '\0') {
        return -1;
    }

    errno = 0;
    v = strtod(s, &end);

    if (errno || end == s || !isfinite(v) || v < 0) {
        return -1;
    }

    if (strcmp(end, "ms") == 0) {
        mult = 0.001;

    } else if (strcmp(end, "s") == 0 || *end == '\0') {
        mult = 1;

    } else if (strcmp(end, "m") == 0) {
        mult = 60;

    } else if (strcmp(end, "h") == 0) {
        mult = 3600;

    } else if (strcmp(end, "d") == 0) {
        mult = 86400;

    } else {
        return -1;
    }

    return v * mult;
}


static const char *
sq_scalar(yaml_node_t *node)
{
    if (node == NULL || node->type != YAML_SCALAR_NODE) {
        return NULL;
    }

    return (const char *) node->data.scalar.value;
}


static int
sq_expect(sq_cctx_t *cx, yaml_node_t *node, yaml_node_type_t t,
    const char *key)
{
    static const char  *what[] = { "nothing", "a scalar", "a list",
                                   "a mapping" };

    if (node != NULL && node->type == t) {
        return 0;
    }

    sq_cerr(cx, node, key, "must be %s", what[t < 4 ? t : 0]);

    return -1;
}


/* a list of row scopes (metrics.scores, alerts.scopes) as a bit mask */

static void
sq_get_scopes(sq_cctx_t *cx, yaml_node_t *v, const char *key,
    unsigned *mask)
{
    int                 j;
    size_t              i, cnt;
    yaml_node_t        *item;
    const char         *s;
    static const char  *scopes[] = { "series", "endpoint", "region",
                                     "journey" };

    if (sq_expect(cx, v, YAML_SEQUENCE_NODE, key) != 0) {
        return;
    }

    *mask = 0;
    cnt = v->data.sequence.items.top - v->data.sequence.items.start;

    for (i = 0; i < cnt; i++) {
        item = yaml_document_get_node(&cx->doc,
                                      v->data.sequence.items.start[i]);
        s = sq_scalar(item);

        for (j = 0; j < 4; j++) {
            if (s && strcmp(s, scopes[j]) == 0) {
                *mask |= 1u << j;
                break;
            }
        }

        if (j == 4) {
            sq_cerr(cx, item, key, "unknown scope \"%s\" (series, "
                    "endpoint, region, journey)", s ? s : "");
        }
    }
}


static char *
sq_get_str(sq_cctx_t *cx, yaml_node_t *node, const char *key)
{
    char  *s;

    if (sq_expect(cx, node, YAML_SCALAR_NODE, key) != 0) {
        return NULL;
    }

    s = strdup(sq_scalar(node));
    if (s == NULL) {
        sq_cerr(cx, node, key, "out of memory");
    }

    return s;
}


static int
sq_get_duration(sq_cctx_t *cx, yaml_node_t *node, const char *key,
    int64_t *out)
{
    double  v;

    if (sq_expect(cx, node, YAML_SCALAR_NODE, key) != 0) {
        return -1;
    }

    v = sq_parse_duration(sq_scalar(node));

    if (v < 1 || v > 400 * 86400.0 || v != floor(v)) {
        sq_cerr(cx, node, key, "invalid duration \"%s\" (whole seconds, "
                "e.g. 30s, 5m, 1h, 30d)", sq_scalar(node));
        return -1;
    }

    *out = (int64_t) v;

    return 0;
}


static int
sq_get_uint(sq_cctx_t *cx, yaml_node_t *node, const char *key,
    uint64_t *out)
{
    char                *end;
    const char          *s;
    unsigned long long   v;

    if (sq_expect(cx, node, YAML_SCALAR_NODE, key) != 0) {
        return -1;
    }

    s = sq_scalar(node);
    errno = 0;
    v = strtoull(s, &end, 10);

    if (errno || end == s || *end != '\0' || *s == '-') {
        sq_cerr(cx, node, key, "invalid number \"%s\"", s);
        return -1;
    }

    *out = v;

    return 0;
}


static int
sq_get_level(sq_cctx_t *cx, yaml_node_t *node, const char *key,
    double *out, int *kind)
{
    char        *end;
    double       v;
    const char  *s;

    if (sq_expect(cx, node, YAML_SCALAR_NODE, key) != 0) {
        return -1;
    }

    s = sq_scalar(node);
    errno = 0;
    v = strtod(s, &end);

    if (errno || end == s || !isfinite(v)) {
        goto invalid;
    }

    if (*end == '\0') {
        *kind = SQ_LIT_NUMBER;

    } else if (strcmp(end, "%") == 0) {
        *kind = SQ_LIT_PERCENT;
        v /= 100;

    } else if (strcmp(end, "x") == 0) {
        *kind = SQ_LIT_RATIO;

    } else {
        v = sq_parse_duration(s);

        if (v < 0) {
            goto invalid;
        }

        *kind = SQ_LIT_DURATION;
    }

    *out = v;

    return 0;

invalid:

    sq_cerr(cx, node, key, "invalid level \"%s\"", s);

    return -1;
}


static void
sq_dim_reset(int dim, sq_dim_conf_t *d, int indicator)
{
    d->indicator = indicator;
    d->adequate = sq_ind_defaults[indicator].adequate;
    d->desired = sq_ind_defaults[indicator].desired;
    d->apdex_t = sq_ind_defaults[indicator].apdex_t;
    d->quantile = sq_ind_defaults[indicator].quantile;
    d->akind = SQ_LIT_NUMBER;
    d->dkind = SQ_LIT_NUMBER;
}


static void
sq_dim_apply(int dim, sq_dim_conf_t *eff, const sq_dim_conf_t *layer)
{
    if ((layer->set & SQ_SET_INDICATOR)
        && layer->indicator != eff->indicator)
    {
        sq_dim_reset(dim, eff, layer->indicator);
    }

    if (layer->set & SQ_SET_ADEQUATE) {
        eff->adequate = layer->adequate;
        eff->akind = layer->akind;
    }

    if (layer->set & SQ_SET_DESIRED) {
        eff->desired = layer->desired;
        eff->dkind = layer->dkind;
    }

    if (layer->set & SQ_SET_WEIGHT) {
        eff->weight = layer->weight;
    }

    if (layer->set & SQ_SET_MIN) {
        eff->min_requests = layer->min_requests;
    }

    if (layer->set & SQ_SET_APDEX_T) {
        eff->apdex_t = layer->apdex_t;
    }

    if (layer->set & SQ_SET_QUANTILE) {
        eff->quantile = layer->quantile;
    }

    eff->set |= layer->set;
}


void
sq_conf_effective(const sq_conf_t *conf, int dim, const char *endpoint,
    const char *region, const char *segment, const sq_journey_t *journey,
    sq_dim_conf_t *out)
{
    size_t                i;
    const sq_override_t  *o;

    memset(out, 0, sizeof(sq_dim_conf_t));
    sq_dim_reset(dim, out, sq_dim_default_ind[dim]);
    out->weight = sq_dim_default_weight[dim];
    out->min_requests = 100;

    sq_dim_apply(dim, out, &conf->dims[dim]);

    for (i = 0; i < conf->noverrides; i++) {
        o = &conf->overrides[i];

        if (o->endpoint
            && (endpoint == NULL || strcmp(o->endpoint, endpoint) != 0))
        {
            continue;
        }

        if (o->region
            && (region == NULL || strcmp(o->region, region) != 0))
        {
            continue;
        }

        if (o->segment
            && (segment == NULL || strcmp(o->segment, segment) != 0))
        {
            continue;
        }

        sq_dim_apply(dim, out, &o->dims[dim]);
    }

    if (journey) {
        sq_dim_apply(dim, out, &journey->dims[dim]);
    }
}


static void
sq_parse_listen(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n)
{
    char               *s, **list;
    size_t              i, cnt;
    yaml_node_t        *k, *v, *item;
    const char         *key;
    yaml_node_pair_t   *p;

    if (sq_expect(cx, n, YAML_MAPPING_NODE, "listen") != 0) {
        return;
    }

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        v = yaml_document_get_node(&cx->doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        if (strcmp(key, "http") == 0) {
            s = sq_get_str(cx, v, "listen.http");
            if (s) {
                free(conf->http);
                conf->http = s;
            }

        } else if (strcmp(key, "ingest") == 0) {
            if (v->type == YAML_SCALAR_NODE) {
                cnt = 1;

            } else if (v->type == YAML_SEQUENCE_NODE) {
                cnt = v->data.sequence.items.top
                      - v->data.sequence.items.start;

            } else {
                sq_cerr(cx, v, "listen.ingest",
                        "must be an address or a list of addresses");
                continue;
            }

            list = calloc(cnt ? cnt : 1, sizeof(char *));
            if (list == NULL) {
                sq_cerr(cx, v, "listen.ingest", "out of memory");
                continue;
            }

            for (i = 0; i < cnt; i++) {
                item = (v->type == YAML_SCALAR_NODE)
                       ? v
                       : yaml_document_get_node(&cx->doc,
                                           v->data.sequence.items.start[i]);
                list[i] = sq_get_str(cx, item, "listen.ingest");

                if (list[i]
                    && strncmp(list[i], "udp://", 6) != 0
                    && strncmp(list[i], "unix:", 5) != 0)
                {
                    sq_cerr(cx, item, "listen.ingest", "invalid address "
                            "\"%s\" (udp://HOST:PORT or unix:/PATH)",
                            list[i]);
                }
            }

            for (i = 0; i < conf->ningest; i++) {
                free(conf->ingest[i]);
            }

            free(conf->ingest);
            conf->ingest = list;
            conf->ningest = cnt;

        } else {
            sq_cerr(cx, k, "listen", "unknown key \"%s\"", key);
        }
    }
}


static void
sq_parse_storage(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n)
{
    char               *s;
    yaml_node_t        *k, *v;
    const char         *key;
    yaml_node_pair_t   *p;

    if (sq_expect(cx, n, YAML_MAPPING_NODE, "storage") != 0) {
        return;
    }

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        v = yaml_document_get_node(&cx->doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        if (strcmp(key, "path") == 0) {
            s = sq_get_str(cx, v, "storage.path");
            if (s) {
                free(conf->storage_path);
                conf->storage_path = s;
            }

        } else if (strcmp(key, "retention") == 0) {
            sq_get_duration(cx, v, "storage.retention", &conf->retention);

        } else {
            sq_cerr(cx, k, "storage", "unknown key \"%s\"", key);
        }
    }
}


static void
sq_parse_windows(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n)
{
    yaml_node_t        *k, *v;
    const char         *key;
    yaml_node_pair_t   *p;

    if (sq_expect(cx, n, YAML_MAPPING_NODE, "windows") != 0) {
        return;
    }

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        v = yaml_document_get_node(&cx->doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        if (strcmp(key, "slot") == 0) {
            sq_get_duration(cx, v, "windows.slot", &conf->slot);

        } else if (strcmp(key, "short") == 0) {
            sq_get_duration(cx, v, "windows.short", &conf->short_window);

        } else if (strcmp(key, "long") == 0) {
            sq_get_duration(cx, v, "windows.long", &conf->long_window);

        } else {
            sq_cerr(cx, k, "windows", "unknown key \"%s\"", key);
        }
    }

    if (conf->short_window % conf->slot != 0
        || conf->long_window % conf->slot != 0)
    {
        sq_cerr(cx, n, "windows", "short and long must be multiples of slot");
    }

    if (conf->short_window / conf->slot > 240) {
        sq_cerr(cx, n, "windows.short", "at most 240 slots");
    }

    if (conf->long_window <= conf->short_window) {
        sq_cerr(cx, n, "windows.long", "must be longer than short");
    }
}


static void
sq_parse_limits(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n)
{
    yaml_node_t        *k, *v;
    const char         *key;
    yaml_node_pair_t   *p;

    if (sq_expect(cx, n, YAML_MAPPING_NODE, "limits") != 0) {
        return;
    }

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        v = yaml_document_get_node(&cx->doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        if (strcmp(key, "max_series") == 0) {
            if (sq_get_uint(cx, v, "limits.max_series", &conf->max_series)
                == 0 && (conf->max_series < 1 || conf->max_series > 10000000))
            {
                sq_cerr(cx, v, "limits.max_series",
                        "must be between 1 and 10000000");
            }

        } else if (strcmp(key, "series_ttl") == 0) {
            sq_get_duration(cx, v, "limits.series_ttl", &conf->series_ttl);

        } else if (strcmp(key, "max_workers") == 0) {
            if (sq_get_uint(cx, v, "limits.max_workers", &conf->max_workers)
                == 0 && (conf->max_workers < 1 || conf->max_workers > 1000000))
            {
                sq_cerr(cx, v, "limits.max_workers",
                        "must be between 1 and 1000000");
            }

        } else {
            sq_cerr(cx, k, "limits", "unknown key \"%s\"", key);
        }
    }
}


static void
sq_parse_log(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n)
{
    int                 i;
    yaml_node_t        *k, *v;
    const char         *key, *s;
    yaml_node_pair_t   *p;
    static const char  *levels[] = { "error", "warn", "info", "debug" };

    if (sq_expect(cx, n, YAML_MAPPING_NODE, "log") != 0) {
        return;
    }

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        v = yaml_document_get_node(&cx->doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        if (strcmp(key, "level") == 0) {
            if (sq_expect(cx, v, YAML_SCALAR_NODE, "log.level") != 0) {
                continue;
            }

            s = sq_scalar(v);

            for (i = 0; i < 4; i++) {
                if (strcmp(s, levels[i]) == 0) {
                    conf->log_level = i;
                    break;
                }
            }

            if (i == 4) {
                sq_cerr(cx, v, "log.level", "invalid level \"%s\" "
                        "(error, warn, info or debug)", s);
            }

        } else {
            sq_cerr(cx, k, "log", "unknown key \"%s\"", key);
        }
    }
}


static void
sq_parse_metrics(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n)
{
    yaml_node_t        *k, *v;
    const char         *key, *s;
    yaml_node_pair_t   *p;

    if (sq_expect(cx, n, YAML_MAPPING_NODE, "metrics") != 0) {
        return;
    }

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        v = yaml_document_get_node(&cx->doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        if (strcmp(key, "series") == 0) {
            s = sq_scalar(v);

            if (s && (strcmp(s, "true") == 0 || strcmp(s, "on") == 0)) {
                conf->metrics_series = 1;

            } else if (s && (strcmp(s, "false") == 0
                             || strcmp(s, "off") == 0))
            {
                conf->metrics_series = 0;

            } else {
                sq_cerr(cx, v, "metrics.series", "must be true or false");
            }

        } else if (strcmp(key, "scores") == 0) {
            sq_get_scopes(cx, v, "metrics.scores", &conf->metrics_scopes);

        } else {
            sq_cerr(cx, k, "metrics", "unknown key \"%s\"", key);
        }
    }
}


/* an http:// URL (the sinks), "none" or "" for none */

static char *
sq_get_url(sq_cctx_t *cx, yaml_node_t *node, const char *key)
{
    int                 port;
    const char         *s, *scheme, *host;
    struct evhttp_uri  *u;

    if (sq_expect(cx, node, YAML_SCALAR_NODE, key) != 0) {
        return NULL;
    }

    s = sq_scalar(node);

    if (*s == '\0' || strcmp(s, "none") == 0) {
        return NULL;
    }

    u = evhttp_uri_parse(s);

    if (u == NULL) {
        sq_cerr(cx, node, key, "invalid URL \"%s\"", s);
        return NULL;
    }

    scheme = evhttp_uri_get_scheme(u);
    host = evhttp_uri_get_host(u);
    port = evhttp_uri_get_port(u);

    if (scheme == NULL || strcmp(scheme, "http") != 0 || host == NULL
        || *host == '\0' || port == 0 || port > 65535)
    {
        sq_cerr(cx, node, key, "invalid URL \"%s\" (http://HOST[:PORT]"
                "[/PATH])", s);
        evhttp_uri_free(u);
        return NULL;
    }

    evhttp_uri_free(u);

    return sq_get_str(cx, node, key);
}


static void
sq_parse_sink(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n,
    const char *name)
{
    int                 am;
    char                path[SQ_KEY_MAX], **url;
    yaml_node_t        *k, *v;
    const char         *key;
    yaml_node_pair_t   *p;

    am = strcmp(name, "alertmanager") == 0;
    url = am ? &conf->alerts.alertmanager : &conf->alerts.webhook;
    sq_path(path, "alerts", name);

    if (sq_expect(cx, n, YAML_MAPPING_NODE, path) != 0) {
        return;
    }

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        v = yaml_document_get_node(&cx->doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        if (strcmp(key, "url") == 0) {
            sq_path(path, am ? "alerts.alertmanager" : "alerts.webhook",
                    key);
            free(*url);
            *url = sq_get_url(cx, v, path);

        } else if (am && strcmp(key, "resend") == 0) {
            sq_get_duration(cx, v, "alerts.alertmanager.resend",
                            &conf->alerts.resend);

        } else {
            sq_path(path, "alerts", name);
            sq_cerr(cx, k, path, "unknown key \"%s\"", key);
        }
    }
}


static void
sq_parse_alerts(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n)
{
    int                 kind;
    uint64_t           *u;
    yaml_node_t        *k, *v;
    const char         *key;
    sq_alert_conf_t    *ac;
    yaml_node_pair_t   *p;

    ac = &conf->alerts;

    if (sq_expect(cx, n, YAML_MAPPING_NODE, "alerts") != 0) {
        return;
    }

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        v = yaml_document_get_node(&cx->doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        if (strcmp(key, "interval") == 0) {
            sq_get_duration(cx, v, "alerts.interval", &ac->interval);

        } else if (strcmp(key, "warning_share") == 0) {
            if (sq_get_level(cx, v, "alerts.warning_share",
                             &ac->warning_share, &kind) == 0
                && (kind == SQ_LIT_DURATION || kind == SQ_LIT_RATIO
                    || !(ac->warning_share > 0 && ac->warning_share < 1)))
            {
                sq_cerr(cx, v, "alerts.warning_share", "must be a share "
                        "between 0 and 1, e.g. 89%% or 0.89");
            }

        } else if (strcmp(key, "scopes") == 0) {
            sq_get_scopes(cx, v, "alerts.scopes", &ac->scopes);

        } else if (strcmp(key, "alertmanager") == 0
                   || strcmp(key, "webhook") == 0)
        {
            sq_parse_sink(cx, conf, v, key);

        } else if (strcmp(key, "generator_url") == 0) {
            free(ac->generator_url);
            ac->generator_url = sq_get_url(cx, v, "alerts.generator_url");

        } else if (strcmp(key, "timeout") == 0) {
            sq_get_duration(cx, v, "alerts.timeout", &ac->timeout);

        } else if (strcmp(key, "backoff_max") == 0) {
            sq_get_duration(cx, v, "alerts.backoff_max", &ac->backoff_max);

        } else if (strcmp(key, "attempts") == 0
                   || strcmp(key, "queue") == 0
                   || strcmp(key, "history") == 0)
        {
            u = key[0] == 'a' ? &ac->attempts
                : key[0] == 'q' ? &ac->queue : &ac->history;

            if (sq_get_uint(cx, v, key[0] == 'a' ? "alerts.attempts"
                            : key[0] == 'q' ? "alerts.queue"
                            : "alerts.history", u) == 0
                && (*u < 1 || *u > 100000))
            {
                sq_cerr(cx, v, key[0] == 'a' ? "alerts.attempts"
                        : key[0] == 'q' ? "alerts.queue" : "alerts.history",
                        "must be between 1 and 100000");
            }

        } else {
            sq_cerr(cx, k, "alerts", "unknown key \"%s\"", key);
        }
    }
}


static void
sq_parse_dim(sq_cctx_t *cx, sq_dim_conf_t *d, int dim, yaml_node_t *n,
    const char *prefix)
{
    int                 i, found;
    char                path[SQ_KEY_MAX];
    double              v;
    uint64_t            u;
    yaml_node_t        *k, *val;
    const char         *key, *s;
    yaml_node_pair_t   *p;

    if (sq_expect(cx, n, YAML_MAPPING_NODE, prefix) != 0) {
        return;
    }

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        val = yaml_document_get_node(&cx->doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        sq_path(path, prefix, key);

        if (strcmp(key, "indicator") == 0) {
            if (sq_expect(cx, val, YAML_SCALAR_NODE, path) != 0) {
                continue;
            }

            s = sq_scalar(val);
            found = 0;

            for (i = 0; i < SQ_NINDICATORS; i++) {
                if (strcmp(s, sq_indicator_names[i]) == 0) {
                    found = 1;

                    if (sq_ind_dim[i] != dim) {
                        sq_cerr(cx, val, path, "indicator \"%s\" does not "
                                "measure %s", s, sq_dim_names[dim]);
                        break;
                    }

                    d->indicator = i;
                    d->set |= SQ_SET_INDICATOR;
                    break;
                }
            }

            if (!found) {
                sq_cerr(cx, val, path, "unknown indicator \"%s\"", s);
            }

        } else if (strcmp(key, "adequate") == 0) {
            if (sq_get_level(cx, val, path, &d->adequate, &d->akind) == 0) {
                d->set |= SQ_SET_ADEQUATE;
                d->line = (int) val->start_mark.line + 1;
            }

        } else if (strcmp(key, "desired") == 0) {
            if (sq_get_level(cx, val, path, &d->desired, &d->dkind) == 0) {
                d->set |= SQ_SET_DESIRED;
                d->line = (int) val->start_mark.line + 1;
            }

        } else if (strcmp(key, "weight") == 0) {
            s = sq_scalar(val);
            v = s ? strtod(s, NULL) : 0;

            if (s == NULL || sq_parse_duration(s) < 0
                || strspn(s, "0123456789.") != strlen(s) || !(v > 0))
            {
                sq_cerr(cx, val, path, "weight must be a positive number");
                continue;
            }

            d->weight = v;
            d->set |= SQ_SET_WEIGHT;

        } else if (strcmp(key, "min_requests") == 0) {
            if (sq_get_uint(cx, val, path, &u) == 0) {
                if (u < 1) {
                    sq_cerr(cx, val, path, "must be at least 1");
                    continue;
                }

                d->min_requests = u;
                d->set |= SQ_SET_MIN;
            }

        } else if (strcmp(key, "apdex_t") == 0
                   && dim == SQ_DIM_RESPONSIVENESS)
        {
            s = sq_scalar(val);
            v = s ? sq_parse_duration(s) : -1;

            if (!(v > 0) || v > 3600) {
                sq_cerr(cx, val, path, "invalid duration \"%s\" "
                        "(e.g. 500ms)", s ? s : "");
                continue;
            }

            d->apdex_t = v;
            d->set |= SQ_SET_APDEX_T;

        } else if (strcmp(key, "quantile") == 0
                   && (dim == SQ_DIM_RESPONSIVENESS || dim == SQ_DIM_EMPATHY))
        {
            s = sq_scalar(val);
            v = s ? strtod(s, NULL) : 0;

            if (s == NULL || strspn(s, "0123456789.") != strlen(s)
                || !(v > 0 && v < 1))
            {
                sq_cerr(cx, val, path, "quantile must be between 0 and 1");
                continue;
            }

            d->quantile = v;
            d->set |= SQ_SET_QUANTILE;

        } else {
            sq_cerr(cx, k, prefix, "unknown key \"%s\"", key);
        }
    }
}


static void
sq_parse_dims(sq_cctx_t *cx, sq_dim_conf_t *dims, yaml_node_t *n,
    const char *prefix)
{
    int                 i;
    char                path[SQ_KEY_MAX];
    yaml_node_t        *k, *v;
    const char         *key;
    yaml_node_pair_t   *p;

    if (sq_expect(cx, n, YAML_MAPPING_NODE, prefix) != 0) {
        return;
    }

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        v = yaml_document_get_node(&cx->doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        for (i = 0; i < SQ_NDIMS; i++) {
            if (strcmp(key, sq_dim_names[i]) == 0) {
                break;
            }
        }

        if (i == SQ_NDIMS) {
            sq_cerr(cx, k, prefix, "unknown dimension \"%s\"", key);
            continue;
        }

        sq_path(path, prefix, key);
        sq_parse_dim(cx, &dims[i], i, v, path);
    }
}


static void
sq_parse_labels(sq_cctx_t *cx, sq_label_t **labels, size_t *nlabels,
    yaml_node_t *n, const char *prefix)
{
    size_t              cnt;
    yaml_node_t        *k, *v;
    sq_label_t         *l;
    yaml_node_pair_t   *p;

    if (sq_expect(cx, n, YAML_MAPPING_NODE, prefix) != 0) {
        return;
    }

    cnt = n->data.mapping.pairs.top - n->data.mapping.pairs.start;
    l = calloc(cnt ? cnt : 1, sizeof(sq_label_t));
    if (l == NULL) {
        sq_cerr(cx, n, prefix, "out of memory");
        return;
    }

    sq_labels_free(*labels, *nlabels);
    *labels = l;
    *nlabels = 0;

    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
        k = yaml_document_get_node(&cx->doc, p->key);
        v = yaml_document_get_node(&cx->doc, p->value);

        if (sq_expect(cx, k, YAML_SCALAR_NODE, prefix) != 0
            || sq_expect(cx, v, YAML_SCALAR_NODE, prefix) != 0)
        {
            continue;
        }

        l[*nlabels].key = strdup(sq_scalar(k));
        l[*nlabels].value = strdup(sq_scalar(v));
        (*nlabels)++;
    }
}


static void
sq_parse_overrides(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n)
{
    char                path[SQ_KEY_MAX], **field;
    size_t              i, cnt;
    yaml_node_t        *item, *k, *v;
    const char         *key;
    sq_override_t      *o;
    yaml_node_pair_t   *p;

    if (sq_expect(cx, n, YAML_SEQUENCE_NODE, "overrides") != 0) {
        return;
    }

    cnt = n->data.sequence.items.top - n->data.sequence.items.start;

    conf->overrides = calloc(cnt ? cnt : 1, sizeof(sq_override_t));
    if (conf->overrides == NULL) {
        sq_cerr(cx, n, "overrides", "out of memory");
        return;
    }

    for (i = 0; i < cnt; i++) {
        item = yaml_document_get_node(&cx->doc,
                                      n->data.sequence.items.start[i]);
        o = &conf->overrides[conf->noverrides++];
        o->index = (int) i;
        o->line = (int) item->start_mark.line + 1;

        snprintf(path, sizeof(path), "overrides[%zu]", i);

        if (sq_expect(cx, item, YAML_MAPPING_NODE, path) != 0) {
            continue;
        }

        for (p = item->data.mapping.pairs.start;
             p < item->data.mapping.pairs.top;
             p++)
        {
            k = yaml_document_get_node(&cx->doc, p->key);
            v = yaml_document_get_node(&cx->doc, p->value);
            key = sq_scalar(k) ? sq_scalar(k) : "";

            snprintf(path, sizeof(path), "overrides[%zu].%s", i, key);

            field = NULL;

            if (strcmp(key, "endpoint") == 0) {
                field = &o->endpoint;

            } else if (strcmp(key, "region") == 0) {
                field = &o->region;

            } else if (strcmp(key, "segment") == 0) {
                field = &o->segment;

            } else if (strcmp(key, "dimensions") == 0) {
                sq_parse_dims(cx, o->dims, v, path);

            } else if (strcmp(key, "labels") == 0) {
                sq_parse_labels(cx, &o->labels, &o->nlabels, v, path);

            } else {
                snprintf(path, sizeof(path), "overrides[%zu]", i);
                sq_cerr(cx, k, path, "unknown key \"%s\"", key);
            }

            if (field) {
                free(*field);
                *field = sq_get_str(cx, v, path);

                if (*field) {
                    o->nmatch++;
                }
            }
        }

        if (o->nmatch == 0) {
            snprintf(path, sizeof(path), "overrides[%zu]", i);
            sq_cerr(cx, item, path, "needs at least one of endpoint, "
                    "region, segment");
        }
    }
}


static void
sq_parse_journeys(sq_cctx_t *cx, sq_conf_t *conf, yaml_node_t *n)
{
    char                path[SQ_KEY_MAX];
    int                 steps_seen;
    size_t              i, j, cnt, nsteps;
    yaml_node_t        *item, *k, *v, *step;
    const char         *key;
    sq_journey_t       *jn;
    yaml_node_pair_t   *p;

    if (sq_expect(cx, n, YAML_SEQUENCE_NODE, "journeys") != 0) {
        return;
    }

    cnt = n->data.sequence.items.top - n->data.sequence.items.start;

    conf->journeys = calloc(cnt ? cnt : 1, sizeof(sq_journey_t));
    if (conf->journeys == NULL) {
        sq_cerr(cx, n, "journeys", "out of memory");
        return;
    }

    for (i = 0; i < cnt; i++) {
        item = yaml_document_get_node(&cx->doc,
                                      n->data.sequence.items.start[i]);
        jn = &conf->journeys[conf->njourneys++];
        jn->line = (int) item->start_mark.line + 1;

        snprintf(path, sizeof(path), "journeys[%zu]", i);
        steps_seen = 0;

        if (sq_expect(cx, item, YAML_MAPPING_NODE, path) != 0) {
            continue;
        }

        for (p = item->data.mapping.pairs.start;
             p < item->data.mapping.pairs.top;
             p++)
        {
            k = yaml_document_get_node(&cx->doc, p->key);
            v = yaml_document_get_node(&cx->doc, p->value);
            key = sq_scalar(k) ? sq_scalar(k) : "";

            snprintf(path, sizeof(path), "journeys[%zu].%s", i, key);

            if (strcmp(key, "name") == 0) {
                free(jn->name);
                jn->name = sq_get_str(cx, v, path);

            } else if (strcmp(key, "steps") == 0) {
                steps_seen = 1;

                if (sq_expect(cx, v, YAML_SEQUENCE_NODE, path) != 0) {
                    continue;
                }

                nsteps = v->data.sequence.items.top
                         - v->data.sequence.items.start;

                if (nsteps == 0) {
                    sq_cerr(cx, v, path, "a journey needs steps");
                    continue;
                }

                jn->steps = calloc(nsteps, sizeof(char *));
                if (jn->steps == NULL) {
                    sq_cerr(cx, v, path, "out of memory");
                    continue;
                }

                for (j = 0; j < nsteps; j++) {
                    step = yaml_document_get_node(&cx->doc,
                                           v->data.sequence.items.start[j]);
                    jn->steps[jn->nsteps] = sq_get_str(cx, step, path);

                    if (jn->steps[jn->nsteps]) {
                        jn->nsteps++;
                    }
                }

            } else if (strcmp(key, "dimensions") == 0) {
                sq_parse_dims(cx, jn->dims, v, path);

            } else if (strcmp(key, "labels") == 0) {
                sq_parse_labels(cx, &jn->labels, &jn->nlabels, v, path);

            } else {
                snprintf(path, sizeof(path), "journeys[%zu]", i);
                sq_cerr(cx, k, path, "unknown key \"%s\"", key);
            }
        }

        snprintf(path, sizeof(path), "journeys[%zu]", i);

        if (jn->name == NULL) {
            sq_cerr(cx, item, path, "a journey needs a name");
        }

        if (jn->nsteps == 0 && !steps_seen) {
            sq_cerr(cx, item, path, "a journey needs steps");
        }

        for (j = 0; jn->name && j + 1 < conf->njourneys; j++) {
            if (conf->journeys[j].name
                && strcmp(conf->journeys[j].name, jn->name) == 0)
            {
                sq_cerr(cx, item, path, "duplicate journey \"%s\"",
                        jn->name);
            }
        }
    }
}


/* checks the levels a layer sets once merged over what is below it */

/* whether every row override a applies to, override b applies to too */

static int
sq_override_within(const sq_override_t *a, const sq_override_t *b)
{
    if (a == b || b->nmatch > a->nmatch) {
        return 0;
    }

    return (b->endpoint == NULL
            || (a->endpoint && strcmp(a->endpoint, b->endpoint) == 0))
           && (b->region == NULL
               || (a->region && strcmp(a->region, b->region) == 0))
           && (b->segment == NULL
               || (a->segment && strcmp(a->segment, b->segment) == 0));
}


static void
sq_check_dims(sq_cctx_t *cx, const sq_conf_t *conf, const sq_override_t *o,
    const sq_dim_conf_t *layer, const char *prefix, int line)
{
    int            i, unit, bad;
    size_t         j;
    char           path[SQ_KEY_MAX];
    yaml_mark_t    mark;
    yaml_node_t    fake;
    sq_dim_conf_t  eff;

    for (i = 0; i < SQ_NDIMS; i++) {
        if (!(layer[i].set & (SQ_SET_ADEQUATE | SQ_SET_DESIRED
                              | SQ_SET_INDICATOR)))
        {
            continue;
        }

        memset(&eff, 0, sizeof(eff));
        sq_dim_reset(i, &eff, sq_dim_default_ind[i]);

        if (layer != conf->dims) {
            sq_dim_apply(i, &eff, &conf->dims[i]);
        }

        /* the less specific overrides that always apply below this one */

        for (j = 0; o && j < conf->noverrides; j++) {
            if (sq_override_within(o, &conf->overrides[j])) {
                sq_dim_apply(i, &eff, &conf->overrides[j].dims[i]);
            }
        }

        sq_dim_apply(i, &eff, &layer[i]);

        memset(&mark, 0, sizeof(mark));
        mark.line = (size_t) (layer[i].line ? layer[i].line : line) - 1;
        fake.start_mark = mark;
        fake.type = YAML_SCALAR_NODE;

        sq_path(path, prefix, sq_dim_names[i]);

        unit = sq_ind_unit[eff.indicator];
        bad = 0;

        if (unit == SQ_UNIT_SHARE) {
            if (eff.akind == SQ_LIT_DURATION || eff.akind == SQ_LIT_RATIO
                || eff.dkind == SQ_LIT_DURATION || eff.dkind == SQ_LIT_RATIO)
            {
                sq_cerr(cx, &fake, path, "%s is a share: write levels as "
                        "0.995 or 99.5%%",
                        sq_indicator_names[eff.indicator]);
                bad = 1;

            } else if (eff.adequate < 0 || eff.adequate > 1
                       || eff.desired < 0 || eff.desired > 1)
            {
                sq_cerr(cx, &fake, path, "levels of %s must be between "
                        "0 and 1 (0%% and 100%%)",
                        sq_indicator_names[eff.indicator]);
                bad = 1;
            }

        } else if (unit == SQ_UNIT_SECONDS) {
            if (eff.akind == SQ_LIT_PERCENT || eff.akind == SQ_LIT_RATIO
                || eff.dkind == SQ_LIT_PERCENT || eff.dkind == SQ_LIT_RATIO)
            {
                sq_cerr(cx, &fake, path, "%s is a time: write levels as "
                        "1.8s or 800ms", sq_indicator_names[eff.indicator]);
                bad = 1;
            }

        } else {
            if (eff.akind == SQ_LIT_PERCENT || eff.akind == SQ_LIT_DURATION
                || eff.dkind == SQ_LIT_PERCENT
                || eff.dkind == SQ_LIT_DURATION)
            {
                sq_cerr(cx, &fake, path, "%s is a ratio: write levels as "
                        "2.0 or 2x", sq_indicator_names[eff.indicator]);
                bad = 1;
            }
        }

        if (bad) {
            continue;
        }

        if (unit == SQ_UNIT_SHARE && !(eff.desired > eff.adequate)) {
            sq_cerr(cx, &fake, path, "desired %g is not better than "
                    "adequate %g (higher is better)", eff.desired,
                    eff.adequate);

        } else if (unit != SQ_UNIT_SHARE && !(eff.desired < eff.adequate)) {
            sq_cerr(cx, &fake, path, "desired %g is not better than "
                    "adequate %g (lower is better)", eff.desired,
                    eff.adequate);
        }
    }
}


static void
sq_check(sq_cctx_t *cx, sq_conf_t *conf)
{
    char    path[SQ_KEY_MAX];
    size_t  i;

    if (conf->noverrides) {
        qsort(conf->overrides, conf->noverrides, sizeof(sq_override_t),
              sq_override_cmp);
    }

    sq_check_dims(cx, conf, NULL, conf->dims, "dimensions", 1);

    for (i = 0; i < conf->noverrides; i++) {
        snprintf(path, sizeof(path), "overrides[%d].dimensions",
                 conf->overrides[i].index);
        sq_check_dims(cx, conf, &conf->overrides[i],
                      conf->overrides[i].dims, path,
                      conf->overrides[i].line);
    }

    for (i = 0; i < conf->njourneys; i++) {
        snprintf(path, sizeof(path), "journeys[%zu].dimensions", i);
        sq_check_dims(cx, conf, NULL, conf->journeys[i].dims, path,
                      conf->journeys[i].line);
    }
}


static int
sq_override_cmp(const void *a, const void *b)
{
    const sq_override_t  *x = a, *y = b;

    if (x->nmatch != y->nmatch) {
        return x->nmatch - y->nmatch;
    }

    return x->line - y->line;
}


sq_conf_t *
sq_conf_default(void)
{
    sq_conf_t  *conf;

    conf = calloc(1, sizeof(sq_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->ingest = calloc(1, sizeof(char *));
    conf->http = strdup("127.0.0.1:9170");
    conf->storage_path = strdup("servqual.db");

    if (conf->ingest == NULL || conf->http == NULL
        || conf->storage_path == NULL)
    {
        sq_conf_free(conf);
        return NULL;
    }

    conf->ingest[0] = strdup("udp://127.0.0.1:5170");
    conf->ningest = 1;

    if (conf->ingest[0] == NULL) {
        sq_conf_free(conf);
        return NULL;
    }

    conf->retention = 30 * 86400;
    conf->slot = 60;
    conf->short_window = 300;
    conf->long_window = 3600;
    conf->max_series = 100000;
    conf->series_ttl = 7200;
    conf->max_workers = 65536;
    conf->log_level = 2;
    conf->metrics_series = 1;
    conf->metrics_scopes = 0xf;

    conf->alerts.interval = 10;
    conf->alerts.warning_share = 0.89;
    conf->alerts.scopes = 0xf;
    conf->alerts.resend = 60;
    conf->alerts.timeout = 5;
    conf->alerts.attempts = 5;
    conf->alerts.backoff_max = 60;
    conf->alerts.queue = 1000;
    conf->alerts.history = 100;

    return conf;
}


sq_conf_t *
sq_conf_load(const char *file, FILE *err)
{
    FILE               *f;
    sq_conf_t          *conf;
    sq_cctx_t           cx;
    yaml_node_t        *root, *k, *v;
    const char         *key;
    yaml_parser_t       parser;
    yaml_node_pair_t   *p;

    conf = sq_conf_default();
    if (conf == NULL) {
        fprintf(err, "%s: out of memory\n", file);
        return NULL;
    }

    conf->file = strdup(file);

    f = fopen(file, "r");
    if (f == NULL) {
        fprintf(err, "%s: cannot open: %s\n", file, strerror(errno));
        sq_conf_free(conf);
        return NULL;
    }

    memset(&cx, 0, sizeof(cx));
    cx.file = file;
    cx.err = err;

    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);

    if (!yaml_parser_load(&parser, &cx.doc)) {
        fprintf(err, "%s:%lu: %s: %s\n", file,
                (unsigned long) parser.problem_mark.line + 1,
                "yaml", parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        fclose(f);
        sq_conf_free(conf);
        return NULL;
    }

    yaml_parser_delete(&parser);
    fclose(f);

    root = yaml_document_get_root_node(&cx.doc);

    if (root == NULL
        || (root->type == YAML_SCALAR_NODE && sq_scalar(root)[0] == '\0'))
    {
        /* an empty file: the defaults */
        goto done;
    }

    if (sq_expect(&cx, root, YAML_MAPPING_NODE, "top level") != 0) {
        goto done;
    }

    for (p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top;
         p++)
    {
        k = yaml_document_get_node(&cx.doc, p->key);
        v = yaml_document_get_node(&cx.doc, p->value);
        key = sq_scalar(k) ? sq_scalar(k) : "";

        if (strcmp(key, "listen") == 0) {
            sq_parse_listen(&cx, conf, v);

        } else if (strcmp(key, "storage") == 0) {
            sq_parse_storage(&cx, conf, v);

        } else if (strcmp(key, "windows") == 0) {
            sq_parse_windows(&cx, conf, v);

        } else if (strcmp(key, "limits") == 0) {
            sq_parse_limits(&cx, conf, v);

        } else if (strcmp(key, "log") == 0) {
            sq_parse_log(&cx, conf, v);

        } else if (strcmp(key, "metrics") == 0) {
            sq_parse_metrics(&cx, conf, v);

        } else if (strcmp(key, "dimensions") == 0) {
            sq_parse_dims(&cx, conf->dims, v, "dimensions");

        } else if (strcmp(key, "alerts") == 0) {
            sq_parse_alerts(&cx, conf, v);

        } else if (strcmp(key, "overrides") == 0) {
            if (conf->overrides == NULL) {
                sq_parse_overrides(&cx, conf, v);
            }

        } else if (strcmp(key, "journeys") == 0) {
            if (conf->journeys == NULL) {
                sq_parse_journeys(&cx, conf, v);
            }

        } else {
            sq_cerr(&cx, k, "top level", "unknown key \"%s\"", key);
        }
    }

    sq_check(&cx, conf);

done:

    yaml_document_delete(&cx.doc);

    if (cx.errors) {
        sq_conf_free(conf);
        return NULL;
    }

    return conf;
}


static void
sq_labels_free(sq_label_t *labels, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
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
    free(conf);
}
