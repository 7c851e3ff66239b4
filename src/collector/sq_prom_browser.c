
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdio.h>
#include <string.h>
#include <event2/buffer.h>

#include "servqual_wire.h"
#include "sq_prom_browser.h"
#include "sq_prom_fmt.h"


typedef struct {
    const char  *name;
    const char  *type;
    const char  *help;
} sq_bfamily_t;


static void sq_prom_browser_esc(struct evbuffer *b, const char *s);
static void sq_prom_browser_labels(struct evbuffer *b, const sq_series_t *s,
    const char *metric);
static void sq_prom_browser_hist(struct evbuffer *b, const sq_series_t *s,
    const char *name, const sq_hist_t *h, double scale, const double *le,
    int nle);


/* the thresholds of web.dev's "good" and "poor" are bucket bounds */

const double  sq_prom_browser_le[SQ_PROM_BROWSER_NLE] = {
    0.05, 0.1, 0.2, 0.5, 0.8, 1, 1.8, 2.5, 3, 4, 6, 10
};

const double  sq_prom_cls_le[SQ_PROM_CLS_NLE] = {
    0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2
};


/* by SQ_B_*, then the beacon counters */

static const sq_bfamily_t  sq_bfamilies[SQ_WIRE_NBHISTS] = {
    { "servqual_browser_lcp_seconds", "histogram",
      "Largest contentful paint the visitors' browsers measured." },
    { "servqual_browser_inp_seconds", "histogram",
      "Interaction to next paint the visitors' browsers measured." },
    { "servqual_browser_cls", "histogram",
      "Cumulative layout shift score the visitors' browsers measured." },
    { "servqual_browser_fcp_seconds", "histogram",
      "First contentful paint the visitors' browsers measured." },
    { "servqual_browser_ttfb_seconds", "histogram",
      "Time to first byte as the visitors' browsers measured it." }
};

static const sq_bfamily_t  sq_bbeacons = {
    "servqual_browser_beacons_total", "counter",
    "Beacons of browser measurements accepted, by navigation type."
};

static const struct {
    int          c;
    const char  *label;
} sq_bnavs[] = {
    { SQ_BC_NAV_NAVIGATE, "navigate" },
    { SQ_BC_NAV_RELOAD, "reload" },
    { SQ_BC_NAV_BACK_FORWARD, "back_forward" },
    { SQ_BC_NAV_OTHER, "other" }
};


static void
sq_prom_browser_esc(struct evbuffer *b, const char *s)
{
    const char  *p;

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


/* "metric{endpoint="..",region="..",segment=".."" without the brace */

static void
sq_prom_browser_labels(struct evbuffer *b, const sq_series_t *s,
    const char *metric)
{
    evbuffer_add_printf(b, "%s{endpoint=\"", metric);
    sq_prom_browser_esc(b, s->endpoint);
    evbuffer_add(b, "\",region=\"", 10);
    sq_prom_browser_esc(b, s->region);
    evbuffer_add(b, "\",segment=\"", 11);
    sq_prom_browser_esc(b, s->segment);
    evbuffer_add(b, "\"", 1);
}


/* one histogram: values are bucket midpoints over scale */

static void
sq_prom_browser_hist(struct evbuffer *b, const sq_series_t *s,
    const char *name, const sq_hist_t *h, double scale, const double *le,
    int nle)
{
    int       j;
    char      metric[64], num[SQ_PROM_FMT_NUM];
    double    v, sum;
    uint32_t  i;
    uint64_t  cum;

    snprintf(metric, sizeof(metric), "%s_bucket", name);

    i = 0;
    cum = 0;

    for (j = 0; j < nle; j++) {
        for ( /* void */ ; i < h->n; i++) {
            v = sq_hist_mid(sq_hbin_idx(h->bins[i])) / scale;

            if (v > le[j]) {
                break;
            }

            cum += sq_hbin_count(h->bins[i]);
        }

        sq_prom_browser_labels(b, s, metric);
        evbuffer_add_printf(b, ",le=\"%g\"} %llu\n", le[j],
                            (unsigned long long) cum);
    }

    sq_prom_browser_labels(b, s, metric);
    evbuffer_add_printf(b, ",le=\"+Inf\"} %llu\n",
                        (unsigned long long) h->total);

    sum = 0;

    for (i = 0; i < h->n; i++) {
        sum += sq_hist_mid(sq_hbin_idx(h->bins[i])) / scale
               * (double) sq_hbin_count(h->bins[i]);
    }

    snprintf(metric, sizeof(metric), "%s_sum", name);
    sq_prom_browser_labels(b, s, metric);
    evbuffer_add(b, "} ", 2);
    evbuffer_add(b, num, sq_prom_fmt_double(num, sum));
    evbuffer_add(b, "\n", 1);

    snprintf(metric, sizeof(metric), "%s_count", name);
    sq_prom_browser_labels(b, s, metric);
    evbuffer_add_printf(b, "} %llu\n", (unsigned long long) h->total);
}


void
sq_prom_browser(const sq_windows_t *a, const sq_conf_t *conf,
    struct evbuffer *b)
{
    int                 k;
    size_t              j;
    uint32_t            i, n;
    const sq_series_t  *s;

    if (conf->privacy_min || !conf->metrics_series) {
        return;
    }

    n = a->n + (a->other ? 1 : 0);

    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", sq_bbeacons.name,
                        sq_bbeacons.help, sq_bbeacons.name,
                        sq_bbeacons.type);

    for (i = 0; i < n; i++) {
        s = i < a->n ? a->all[i] : a->other;

        if (s->browser == NULL) {
            continue;
        }

        for (j = 0; j < sizeof(sq_bnavs) / sizeof(sq_bnavs[0]); j++) {
            sq_prom_browser_labels(b, s, sq_bbeacons.name);
            evbuffer_add_printf(b, ",navigation=\"%s\"} %llu\n",
                                sq_bnavs[j].label, (unsigned long long)
                                s->browser->c[sq_bnavs[j].c]);
        }
    }

    for (k = 0; k < SQ_WIRE_NBHISTS; k++) {
        evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n",
                            sq_bfamilies[k].name, sq_bfamilies[k].help,
                            sq_bfamilies[k].name, sq_bfamilies[k].type);

        for (i = 0; i < n; i++) {
            s = i < a->n ? a->all[i] : a->other;

            if (s->browser == NULL) {
                continue;
            }

            if (k == SQ_B_CLS) {
                sq_prom_browser_hist(b, s, sq_bfamilies[k].name,
                                     &s->browser->h[k], SQ_WIRE_CLS_SCALE,
                                     sq_prom_cls_le, SQ_PROM_CLS_NLE);

            } else {
                sq_prom_browser_hist(b, s, sq_bfamilies[k].name,
                                     &s->browser->h[k], 1e6,
                                     sq_prom_browser_le,
                                     SQ_PROM_BROWSER_NLE);
            }
        }
    }
}
