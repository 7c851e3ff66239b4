
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sq_conf_yaml.h"
#include "sq_conf_listen.h"
#include "sq_metrics.h"
#include "sq_prom_fmt.h"
#include "sq_windows.h"
#include "sq_rules.h"


/*
 * servqual-collector --prometheus-rules: the zones of the config as
 * Prometheus rules, so that Prometheus can judge the merged metrics of
 * many collectors.  For each dimension, the global levels make one alert
 * and every override that changes the dimension makes another, matching
 * its series and taken away from the less specific ones.  Each alert
 * fires when the indicator is below the zone in both the short and the
 * long window with at least min_requests in the short one (critical), or
 * has used up SQ_RULES_WARN of the zone (warning), and has been so for a
 * while ("for:", so that it is pending first): a fifth of the short
 * window for a critical alert, the whole short window for a warning.
 *
 * Every sum keeps the row's labels and the site labels
 * (prometheus.site_labels, default site and instance), so that the
 * series of different sites and collectors are never added together;
 * the summaries name them when they are there.  Empathy compares each
 * region with the rest, which PromQL cannot do per series: it is left
 * to the collector.
 */

#define SQ_RULES_WARN         0.89
#define SQ_RULES_MAX_LABELS   8
#define SQ_ROW                "endpoint, region, segment"


typedef struct {
    const sq_override_t  *o;      /* NULL: the global levels */
    sq_dim_conf_t         dc;
    char                  sel[512];
} sq_layer_t;


static void sq_rules_dur(char *buf, size_t size, int64_t s);
static void sq_rules_sel(char *buf, size_t size, const sq_override_t *o);
static int sq_rules_expr(char *buf, size_t size, const sq_dim_conf_t *dc,
    const char *by, const char *sel, const char *w, FILE *err);
static void sq_rules_esc(char *out, size_t size, const char *s);
static void sq_rules_level(char *buf, size_t size, const sq_dim_conf_t *dc,
    double v);
static const char *sq_rules_value(const sq_dim_conf_t *dc);
static int sq_rules_label_name(const char *s);
static int sq_rules_le(double v, char *buf);


/* the histogram bounds /metrics exports for the configuration printed */

static double  sq_rules_bounds[SQ_METRICS_MAXLE];
static int     sq_rules_nbounds;


static const char  *sq_rules_reserved[] = {
    "endpoint", "region", "segment", "le", "class", "event", "tls",
    "severity", "dimension", "indicator", "adequate", "desired", NULL
};


/*
 * prometheus.site_labels: Prometheus label names, not the row's own nor
 * those the rules set, each once
 */

void
sq_rules_conf_check(sq_conf_reader_t *rd, yaml_node_t *node, char *base,
    size_t index, const char *path)
{
    int            line;
    size_t         i, j;
    sq_conf_t     *conf;
    yaml_node_t   *v, *item;
    const char    *s;

    conf = sq_conf_field(base, 0, sq_conf_t);

    v = sq_conf_value(rd, node, "site_labels");

    if (v == NULL) {
        return;
    }

    if (conf->nsite_labels > SQ_RULES_MAX_LABELS) {
        sq_conf_error(rd, sq_conf_line(v), "prometheus.site_labels",
                      "%zu labels, at most %d", conf->nsite_labels,
                      SQ_RULES_MAX_LABELS);
        return;
    }

    for (i = 0; i < conf->nsite_labels; i++) {
        s = conf->site_labels[i];
        item = v->type == YAML_SEQUENCE_NODE && i < sq_conf_nitems(v)
               ? sq_conf_item(rd, v, i) : v;
        line = sq_conf_line(item ? item : v);

        if (!sq_rules_label_name(s)) {
            sq_conf_error(rd, line, "prometheus.site_labels",
                          "invalid label name \"%s\" (letters, digits "
                          "and _, not first a digit nor __)", s);
            continue;
        }

        for (j = 0; sq_rules_reserved[j]; j++) {
            if (strcmp(s, sq_rules_reserved[j]) == 0) {
                sq_conf_error(rd, line, "prometheus.site_labels",
                              "\"%s\" is a label of the metrics or the "
                              "alerts themselves, not of a site", s);
                break;
            }
        }

        for (j = 0; j < i; j++) {
            if (strcmp(s, conf->site_labels[j]) == 0) {
                sq_conf_error(rd, line, "prometheus.site_labels",
                              "\"%s\" is named twice", s);
                break;
            }
        }
    }
}


static int
sq_rules_label_name(const char *s)
{
    const char  *p;

    if (s[0] == '\0' || isdigit((unsigned char) s[0])
        || strncmp(s, "__", 2) == 0)
    {
        return 0;
    }

    for (p = s; *p; p++) {
        if (!isalnum((unsigned char) *p) && *p != '_') {
            return 0;
        }
    }

    return p - s <= 64;
}


static void
sq_rules_dur(char *buf, size_t size, int64_t s)
{
    if (s % 3600 == 0) {
        snprintf(buf, size, "%lldh", (long long) (s / 3600));

    } else if (s % 60 == 0) {
        snprintf(buf, size, "%lldm", (long long) (s / 60));

    } else {
        snprintf(buf, size, "%llds", (long long) s);
    }
}


static void
sq_rules_esc(char *out, size_t size, const char *s)
{
    size_t  n;

    for (n = 0; *s && n + 3 < size; s++) {
        if (*s == '"' || *s == '\\') {
            out[n++] = '\\';
        }

        out[n++] = *s;
    }

    out[n] = '\0';
}


/*
 * A level in the words the annotation's value is in: a share as a
 * percentage (as humanizePercentage prints it), seconds as
 * humanizeDuration does, an Apdex score and a ratio as numbers.
 */

static void
sq_rules_level(char *buf, size_t size, const sq_dim_conf_t *dc, double v)
{
    if (dc->indicator == SQ_IND_APDEX) {
        snprintf(buf, size, "%.4g", v);

    } else if (sq_indicator_unit(dc->indicator) == SQ_UNIT_SHARE) {
        snprintf(buf, size, "%.6g%%", v * 100);

    } else if (sq_indicator_unit(dc->indicator) == SQ_UNIT_SECONDS) {
        if (v < 1) {
            snprintf(buf, size, "%.4gms", v * 1000);

        } else {
            snprintf(buf, size, "%.4gs", v);
        }

    } else {
        snprintf(buf, size, "%.4g", v);
    }
}


/* the alert's value ($value: the short window's indicator), the same way */

static const char *
sq_rules_value(const sq_dim_conf_t *dc)
{
    if (dc->indicator == SQ_IND_APDEX) {
        return "{{ printf `%.4g` $value }}";
    }

    switch (sq_indicator_unit(dc->indicator)) {

    case SQ_UNIT_SHARE:
        return "{{ $value | humanizePercentage }}";

    case SQ_UNIT_SECONDS:
        return "{{ $value | humanizeDuration }}";

    default:
        return "{{ printf `%.4g` $value }}";
    }
}


/* the label matchers of an override, ready to put inside { } */

static void
sq_rules_sel(char *buf, size_t size, const sq_override_t *o)
{
    char         v[256];
    size_t       n;
    const char  *keys[3], *vals[3];
    int          i;

    buf[0] = '\0';

    if (o == NULL) {
        return;
    }

    keys[0] = "endpoint";
    vals[0] = o->endpoint;
    keys[1] = "region";
    vals[1] = o->region;
    keys[2] = "segment";
    vals[2] = o->segment;

    n = 0;

    for (i = 0; i < 3; i++) {
        if (vals[i] == NULL) {
            continue;
        }

        sq_rules_esc(v, sizeof(v), vals[i]);
        n += (size_t) snprintf(buf + n, size - n, "%s%s=\"%s\"",
                               n ? "," : "", keys[i], v);

        if (n >= size) {
            buf[size - 1] = '\0';
            return;
        }
    }
}


/* whether v (seconds) is a bound of /metrics; into buf as it prints it */

static int
sq_rules_le(double v, char *buf)
{
    int  i;

    v = round(v * 1e6) / 1e6;

    for (i = 0; i < sq_rules_nbounds; i++) {
        if (sq_rules_bounds[i] == v) {
            buf[sq_prom_fmt_double(buf, v)] = '\0';
            return 1;
        }
    }

    return 0;
}


static int
sq_rules_expr(char *buf, size_t size, const sq_dim_conf_t *dc,
    const char *by, const char *sel, const char *w, FILE *err)
{
    int          have_t, have_4t;
    char         t[SQ_PROM_FMT_NUM + 8], t4[SQ_PROM_FMT_NUM + 8], c[1024];
    const char  *sep;

    sep = sel[0] ? "," : "";

    snprintf(c, sizeof(c), "sum by (%s) (rate(servqual_requests_total{%s}"
             "[%s]))", by, sel, w);

    switch (dc->indicator) {

    case SQ_IND_SUCCESS_RATIO:
        snprintf(buf, size, "(1 - sum by (%s) (rate(servqual_responses_total"
                 "{%s%sclass=\"5xx\"}[%s])) / %s)", by, sel, sep, w, c);
        return 0;

    case SQ_IND_APDEX:
        have_t = sq_rules_le(dc->apdex_t, t);
        have_4t = sq_rules_le(4 * dc->apdex_t, t4);

        if (!have_t || !have_4t) {
            fprintf(err, "servqual-collector: Apdex T = %gs needs buckets "
                    "le=\"%g\" and le=\"%g\" in /metrics; the rules cannot "
                    "express it\n", dc->apdex_t, dc->apdex_t,
                    4 * dc->apdex_t);
            return -1;
        }

        snprintf(buf, size, "((sum by (%s) (rate("
                 "servqual_request_duration_seconds_bucket{%s%sle=\"%s\"}"
                 "[%s])) + sum by (%s) (rate("
                 "servqual_request_duration_seconds_bucket{%s%sle=\"%s\"}"
                 "[%s]))) / 2 / sum by (%s) (rate("
                 "servqual_request_duration_seconds_count{%s}[%s])))",
                 by, sel, sep, t, w, by, sel, sep, t4, w, by, sel, w);
        return 0;

    case SQ_IND_TTFB_QUANTILE:
        snprintf(buf, size, "histogram_quantile(%g, sum by (%s, le) (rate("
                 "servqual_time_to_first_byte_seconds_bucket{%s}[%s])))",
                 dc->quantile, by, sel, w);
        return 0;

    case SQ_IND_TLS_SHARE:
        snprintf(buf, size, "(sum by (%s) (rate(servqual_tls_requests_total"
                 "{%s%stls=~\"1\\\\.2|1\\\\.3\"}[%s])) / %s)",
                 by, sel, sep, w, c);
        return 0;

    case SQ_IND_HSTS_SHARE:
        snprintf(buf, size, "(sum by (%s) (rate("
                 "servqual_request_events_total{%s%sevent=\"hsts\"}[%s])) "
                 "/ %s)", by, sel, sep, w, c);
        return 0;

    case SQ_IND_INTACT_SHARE:
        snprintf(buf, size, "(1 - (sum by (%s) (rate("
                 "servqual_request_events_total{%s%sevent=\"body_incomplete\"}"
                 "[%s])) + sum by (%s) (rate("
                 "servqual_request_events_total{%s%sevent=\"compressible\"}"
                 "[%s])) - sum by (%s) (rate("
                 "servqual_request_events_total{%s%sevent=\"compressed\"}"
                 "[%s])) + sum by (%s) (rate("
                 "servqual_responses_total{%s%sclass=\"5xx\"}[%s]))) / %s)",
                 by, sel, sep, w, by, sel, sep, w, by, sel, sep, w,
                 by, sel, sep, w, c);
        return 0;

    case SQ_IND_LCP_QUANTILE:
    case SQ_IND_INP_QUANTILE:
    case SQ_IND_CLS_QUANTILE:
        snprintf(buf, size, "histogram_quantile(%g, sum by (endpoint, "
                 "region, segment, le) (rate(servqual_browser_%s_bucket"
                 "{%s}[%s])))", dc->quantile,
                 dc->indicator == SQ_IND_LCP_QUANTILE ? "lcp_seconds"
                 : dc->indicator == SQ_IND_INP_QUANTILE ? "inp_seconds"
                 : "cls", sel, w);
        return 0;
    }

    /* not expressible: empathy; a browser part beside the server's
       (dimensions.md: the worse placed decides) is left to the collector */

    return 1;
}


int
sq_rules_print(const sq_conf_t *conf, FILE *out, FILE *err)
{
    int                   d, k, rc, sev;
    char                  ws[32], wl[32], e_short[8192], e_long[8192];
    char                  cmp[8], lab[256], by[1024], where[1024];
    char                  fc[32], fw[32], adequate[64], desired[64];
    double                level;
    size_t                i, j, n, len;
    sq_layer_t           *layers, *l;
    const sq_override_t  *m;

    static const char  *sevs[] = { "critical", "warning" };

    layers = calloc(conf->noverrides + 1, sizeof(sq_layer_t));
    if (layers == NULL) {
        return SQ_ERR_NOMEM;
    }

    /* the bounds past the cap are missing: the rules needing them fail */

    (void) sq_metrics_bounds(conf, sq_rules_bounds, &sq_rules_nbounds, err);

    sq_rules_dur(ws, sizeof(ws), conf->short_window);
    sq_rules_dur(wl, sizeof(wl), conf->long_window);

    /* pending for a fifth of the short window (critical), or all of it */

    sq_rules_dur(fc, sizeof(fc),
                 conf->short_window >= 5 ? conf->short_window / 5 : 1);
    sq_rules_dur(fw, sizeof(fw), conf->short_window);

    /* the labels every sum keeps, and the summary's words for them */

    len = (size_t) snprintf(by, sizeof(by), SQ_ROW);
    where[0] = '\0';

    for (i = 0; i < conf->nsite_labels && len < sizeof(by); i++) {
        len += (size_t) snprintf(by + len, sizeof(by) - len, ", %s",
                                 conf->site_labels[i]);
        n = strlen(where);
        snprintf(where + n, sizeof(where) - n, "{{ with $labels.%s }}, %s "
                 "{{ . }}{{ end }}", conf->site_labels[i],
                 conf->site_labels[i]);
    }

    fprintf(out,
        "# Prometheus rules for the servqual zones of tolerance, made by\n"
        "#   servqual-collector --prometheus-rules%s%s\n"
        "# Windows: short %s, long %s.  An alert fires when a dimension "
        "is\n"
        "# below its zone in both windows for %s (critical), or has used "
        "up\n"
        "# %d %% of the zone for %s (warning); it is pending before.  "
        "Sums keep\n"
        "# the labels (%s),\n"
        "# so that sites and collectors are judged apart.  Empathy is "
        "judged\n"
        "# by the collector only.\n"
        "groups:\n"
        "  - name: servqual-recording\n"
        "    rules:\n"
        "      - record: servqual:requests:rate%s\n"
        "        expr: sum by (%s) (rate(servqual_requests_total[%s]))\n"
        "      - record: servqual:requests:rate%s\n"
        "        expr: sum by (%s) (rate(servqual_requests_total[%s]))\n"
        "  - name: servqual-zones\n"
        "    rules:\n",
        conf->file ? " -c " : "", conf->file ? conf->file : "",
        ws, wl, fc, (int) (SQ_RULES_WARN * 100), fw, by,
        ws, by, ws, wl, by, wl);

    rc = SQ_OK;

    for (d = 0; d < SQ_NDIMS; d++) {

        /* the layers that set this dimension: global, then overrides */

        n = 0;
        layers[n].o = NULL;
        sq_conf_effective(conf, d, NULL, NULL, NULL, NULL, &layers[n].dc);
        layers[n].sel[0] = '\0';
        n++;

        for (i = 0; i < conf->noverrides; i++) {
            if (conf->overrides[i].dims[d].set == 0) {
                continue;
            }

            layers[n].o = &conf->overrides[i];
            sq_conf_effective(conf, d, conf->overrides[i].endpoint,
                              conf->overrides[i].region,
                              conf->overrides[i].segment, NULL,
                              &layers[n].dc);
            sq_rules_sel(layers[n].sel, sizeof(layers[n].sel),
                         layers[n].o);
            n++;
        }

        for (i = 0; i < n; i++) {
            l = &layers[i];

            k = sq_rules_expr(e_short, sizeof(e_short), &l->dc, by, l->sel,
                              ws, err);
            if (k < 0) {
                rc = SQ_ERR_INVALID;
                continue;
            }

            if (k > 0) {
                continue;
            }

            (void) sq_rules_expr(e_long, sizeof(e_long), &l->dc, by, l->sel,
                                 wl, err);

            strcpy(cmp, l->dc.desired > l->dc.adequate ? "<" : ">");

            sq_rules_level(adequate, sizeof(adequate), &l->dc,
                           l->dc.adequate);
            sq_rules_level(desired, sizeof(desired), &l->dc, l->dc.desired);

            for (sev = 0; sev < 2; sev++) {
                level = sev == 0
                        ? l->dc.adequate
                        : l->dc.adequate + (1 - SQ_RULES_WARN)
                                           * (l->dc.desired - l->dc.adequate);

                fprintf(out,
                    "      - alert: %s\n"
                    "        expr: |\n"
                    "          (\n"
                    "            %s %s %.10g\n"
                    "            and\n"
                    "            %s %s %.10g\n"
                    "            and\n"
                    "            sum by (%s) (increase("
                    "servqual_requests_total{%s}[%s])) >= %llu\n"
                    "          )\n",
                    sev == 0 ? "ServqualBelowZone" : "ServqualZoneWarning",
                    e_short, cmp, level, e_long, cmp, level, by, l->sel, ws,
                    (unsigned long long) l->dc.min_requests);

                /* series that a more specific override judges instead */

                for (j = 0; j < n; j++) {
                    m = layers[j].o;

                    if (j == i || m == NULL
                        || (l->o && sq_override_cmp(m, l->o) <= 0)
                        || (l->o && !sq_override_matches(l->o, m->endpoint,
                                                         m->region,
                                                         m->segment)))
                    {
                        continue;
                    }

                    fprintf(out, "          unless on (" SQ_ROW ")\n"
                            "          group by (" SQ_ROW ") "
                            "(servqual_requests_total{%s})\n",
                            layers[j].sel);
                }

                fprintf(out,
                    "        for: %s\n"
                    "        labels:\n"
                    "          severity: %s\n"
                    "          dimension: %s\n"
                    "          indicator: %s\n"
                    "          adequate: \"%.10g\"\n"
                    "          desired: \"%.10g\"\n",
                    sev == 0 ? fc : fw, sevs[sev], sq_dim_names[d],
                    sq_indicator_names[l->dc.indicator], l->dc.adequate,
                    l->dc.desired);

                for (j = 0; l->o && j < l->o->nlabels; j++) {
                    sq_rules_esc(lab, sizeof(lab), l->o->labels[j].value);
                    fprintf(out, "          %s: \"%s\"\n",
                            l->o->labels[j].key, lab);
                }

                /*
                 * An empty segment and absent site labels leave no
                 * trace: "shop in BR: below ...", or "shop in BR,
                 * segment gold, site eu-1: below ...".
                 */

                fprintf(out,
                    "        annotations:\n"
                    "          summary: \"{{ $labels.endpoint }} in "
                    "{{ $labels.region }}{{ with $labels.segment }}, "
                    "segment {{ . }}{{ end }}%s: %s on %s\"\n"
                    "          description: \"%s (%s) is %s; adequate %s, "
                    "desired %s; in the last %s and the last %s.\"\n",
                    where,
                    sev == 0 ? "below the adequate level"
                             : "close to the adequate level",
                    sq_dim_names[d], sq_dim_names[d],
                    sq_indicator_names[l->dc.indicator],
                    sq_rules_value(&l->dc), adequate, desired, ws, wl);
            }
        }
    }

    free(layers);

    return rc;
}
