
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <string.h>

#include "sq_conf_zone.h"


typedef struct {
    double   adequate;
    double   desired;
    double   apdex_t;
    double   quantile;
} sq_ind_default_t;


static int sq_label_matches(const char *want, const char *row);
static void sq_dim_reset(sq_dim_conf_t *d, int indicator);


const char  *sq_dim_names[SQ_NDIMS] = {
    "reliability", "responsiveness", "assurance", "empathy", "tangibles"
};

const char  *sq_indicator_names[SQ_NINDICATORS] = {
    "success_ratio", "apdex", "ttfb_quantile", "tls_share", "hsts_share",
    "latency_ratio", "intact_share", "lcp_quantile", "inp_quantile",
    "cls_quantile"
};

static const int  sq_ind_dim[SQ_NINDICATORS] = {
    SQ_DIM_RELIABILITY, SQ_DIM_RESPONSIVENESS, SQ_DIM_RESPONSIVENESS,
    SQ_DIM_ASSURANCE, SQ_DIM_ASSURANCE, SQ_DIM_EMPATHY, SQ_DIM_TANGIBLES,
    SQ_DIM_RESPONSIVENESS, SQ_DIM_RESPONSIVENESS, SQ_DIM_TANGIBLES
};

static const int  sq_ind_unit[SQ_NINDICATORS] = {
    SQ_UNIT_SHARE, SQ_UNIT_SHARE, SQ_UNIT_SECONDS, SQ_UNIT_SHARE,
    SQ_UNIT_SHARE, SQ_UNIT_RATIO, SQ_UNIT_SHARE, SQ_UNIT_SECONDS,
    SQ_UNIT_SECONDS, SQ_UNIT_SCORE
};

/* docs/dimensions.md gives the source of each */

static const sq_ind_default_t  sq_ind_defaults[SQ_NINDICATORS] = {
    { 0.995, 0.999, 0.5, 0.75 },      /* success_ratio */
    { 0.85,  0.94,  0.5, 0.75 },      /* apdex, T = 0.5 s */
    { 1.8,   0.8,   0.5, 0.75 },      /* ttfb_quantile, p75 */
    { 0.99,  1.0,   0.5, 0.75 },      /* tls_share */
    { 0.99,  1.0,   0.5, 0.75 },      /* hsts_share */
    { 2.0,   1.25,  0.5, 0.75 },      /* latency_ratio, p75 */
    { 0.99,  0.999, 0.5, 0.75 },      /* intact_share */
    { 4.0,   2.5,   0.5, 0.75 },      /* lcp_quantile, p75 (web.dev) */
    { 0.5,   0.2,   0.5, 0.75 },      /* inp_quantile, p75 (web.dev) */
    { 0.25,  0.1,   0.5, 0.75 }       /* cls_quantile, p75 (web.dev) */
};

static const int  sq_dim_default_ind[SQ_NDIMS] = {
    SQ_IND_SUCCESS_RATIO, SQ_IND_APDEX, SQ_IND_TLS_SHARE,
    SQ_IND_LATENCY_RATIO, SQ_IND_INTACT_SHARE
};

/* the browser's view of each dimension, by default */

static const int  sq_dim_default_browser[SQ_NDIMS] = {
    SQ_IND_NONE, SQ_IND_LCP_QUANTILE, SQ_IND_NONE, SQ_IND_NONE,
    SQ_IND_CLS_QUANTILE
};

/*
 * beacons a browser indicator needs before it is judged: a p75 of fewer
 * page views says little (docs/dimensions.md)
 */
#define SQ_DEFAULT_MIN_BEACONS   20

static const double  sq_dim_default_weight[SQ_NDIMS] = {
    32, 22, 19, 16, 11
};

#define SQ_DEFAULT_MIN_REQUESTS  100

/*
 * latency_ratio: request times under this are taken as this before they
 * are compared (0.1 s: what a person perceives as instantaneous, so a
 * difference below it is invisible to a customer; docs/dimensions.md)
 */
#define SQ_DEFAULT_MIN_LATENCY   0.1


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


int
sq_indicator_browser(int indicator)
{
    return indicator >= SQ_IND_LCP_QUANTILE && indicator < SQ_NINDICATORS;
}


void
sq_indicator_levels(int indicator, double *adequate, double *desired)
{
    *adequate = sq_ind_defaults[indicator].adequate;
    *desired = sq_ind_defaults[indicator].desired;
}


static void
sq_dim_reset(sq_dim_conf_t *d, int indicator)
{
    d->indicator = indicator;
    d->adequate = sq_ind_defaults[indicator].adequate;
    d->desired = sq_ind_defaults[indicator].desired;
    d->apdex_t = sq_ind_defaults[indicator].apdex_t;
    d->quantile = sq_ind_defaults[indicator].quantile;
    d->min_latency = SQ_DEFAULT_MIN_LATENCY;
    d->akind = SQ_LIT_NUMBER;
    d->dkind = SQ_LIT_NUMBER;
}


void
sq_dim_defaults(int dim, sq_dim_conf_t *out)
{
    memset(out, 0, sizeof(sq_dim_conf_t));
    sq_dim_reset(out, sq_dim_default_ind[dim]);
    out->weight = sq_dim_default_weight[dim];
    out->min_requests = SQ_DEFAULT_MIN_REQUESTS;
    out->browser = sq_dim_default_browser[dim];
    out->min_beacons = SQ_DEFAULT_MIN_BEACONS;

    if (out->browser != SQ_IND_NONE) {
        sq_indicator_levels(out->browser, &out->badequate, &out->bdesired);
    }
}


void
sq_dim_apply(sq_dim_conf_t *eff, const sq_dim_conf_t *layer)
{
    /* another indicator brings its own default levels */

    if ((layer->set & SQ_SET_INDICATOR)
        && layer->indicator != eff->indicator)
    {
        sq_dim_reset(eff, layer->indicator);
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

    if (layer->set & SQ_SET_MIN_LATENCY) {
        eff->min_latency = layer->min_latency;
    }

    /* the browser's part: another indicator brings its own levels too */

    if ((layer->set & SQ_SET_BROWSER) && layer->browser != eff->browser) {
        eff->browser = layer->browser;
        eff->bakind = SQ_LIT_NUMBER;
        eff->bdkind = SQ_LIT_NUMBER;

        if (eff->browser != SQ_IND_NONE) {
            sq_indicator_levels(eff->browser, &eff->badequate,
                                &eff->bdesired);
        }
    }

    if (layer->set & SQ_SET_BADEQUATE) {
        eff->badequate = layer->badequate;
        eff->bakind = layer->bakind;
    }

    if (layer->set & SQ_SET_BDESIRED) {
        eff->bdesired = layer->bdesired;
        eff->bdkind = layer->bdkind;
    }

    if (layer->set & SQ_SET_MIN_BEACONS) {
        eff->min_beacons = layer->min_beacons;
    }

    eff->set |= layer->set;
}


/* an override's label (NULL: any) against a row's (NULL: a rollup) */

static int
sq_label_matches(const char *want, const char *row)
{
    return want == NULL || (row != NULL && strcmp(want, row) == 0);
}


int
sq_override_matches(const sq_override_t *o, const char *endpoint,
    const char *region, const char *segment)
{
    return sq_label_matches(o->endpoint, endpoint)
           && sq_label_matches(o->region, region)
           && sq_label_matches(o->segment, segment);
}


int
sq_override_cmp(const sq_override_t *a, const sq_override_t *b)
{
    if (a->nmatch != b->nmatch) {
        return a->nmatch - b->nmatch;
    }

    return a->line - b->line;
}


int
sq_override_within(const sq_override_t *a, const sq_override_t *b)
{
    if (a == b || b->nmatch > a->nmatch) {
        return 0;
    }

    return sq_override_matches(b, a->endpoint, a->region, a->segment);
}


void
sq_override_iter_init(sq_override_iter_t *it,
    const sq_override_t *overrides, size_t noverrides,
    const char *endpoint, const char *region, const char *segment)
{
    it->overrides = overrides;
    it->noverrides = noverrides;
    it->next = 0;
    it->endpoint = endpoint;
    it->region = region;
    it->segment = segment;
}


const sq_override_t *
sq_override_next(sq_override_iter_t *it)
{
    const sq_override_t  *o;

    while (it->next < it->noverrides) {
        o = &it->overrides[it->next++];

        if (sq_override_matches(o, it->endpoint, it->region, it->segment)) {
            return o;
        }
    }

    return NULL;
}
