
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_CONFIG_H_INCLUDED_
#define _SQ_CONFIG_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sq_status.h"
#include "sq_conf_zone.h"
#include "servqual_sign.h"


/* alerts: evaluation and sinks (sq_alert.c) */

typedef struct {
    int64_t         interval;         /* seconds between evaluations */
    double          warning_share;    /* of the zone used up: a warning */
    unsigned        scopes;           /* bit per SQ_SCOPE_*: rows judged */
    char           *alertmanager;     /* base URL, NULL: no Alertmanager */
    int64_t         resend;           /* seconds, re-sent while firing */
    char           *webhook;          /* URL, NULL: no webhook */
    char           *generator_url;    /* NULL: the collector's own page */
    int64_t         timeout;          /* seconds, per send */
    uint64_t        attempts;         /* per notification */
    int64_t         backoff_max;      /* seconds */
    uint64_t        queue;            /* notifications waiting, per sink */
    uint64_t        history;          /* transitions in /api/v1/alerts */
} sq_alert_conf_t;


typedef struct {
    char           *file;

    char          **ingest;
    size_t          ningest;
    char           *http;
    struct sq_web_s *web;         /* listen.web_config, NULL: none */
    uint64_t        http_connections;
    int64_t         http_timeout; /* seconds for a whole request */
    uint64_t        rcvbuf_mb;    /* SO_RCVBUF of each ingest socket */
    uint64_t        queue_mb;     /* the ingest queue (sq_ingest.c) */

    /* unix ingest sockets (sq_conf_listen.c): the names as given, NULL
       for as created, and what they resolve to */
    char           *socket_owner;
    char           *socket_group;
    char           *socket_mode;
    uint32_t        socket_uid;
    uint32_t        socket_gid;
    uint32_t        socket_perm;

    /* signed datagrams (sq_auth.c): the keys read from auth.keys */
    char          **key_files;
    size_t          nkey_files;
    sq_sign_key_t  *keys;
    size_t          nkeys;
    int64_t         max_age;      /* seconds a signature stays fresh */

    char           *storage_path;
    int64_t         retention;    /* seconds */
    int64_t         slot_retention;   /* fine rows, then coarse ones */
    int64_t         coarse_slot;      /* a coarse row's length */

    int64_t         slot;         /* seconds */
    int64_t         short_window;
    int64_t         long_window;

    uint64_t        max_series;
    int64_t         series_ttl;
    uint64_t        max_workers;

    int             log_level;

    int             metrics_series;   /* per-series counters, histograms */
    unsigned        metrics_scopes;   /* bit per SQ_SCOPE_*: scores */
    int             metrics_row_levels;  /* levels per row, not only per
                                            dimension and override */

    sq_dim_conf_t   dims[SQ_NDIMS];

    sq_override_t  *overrides;    /* sorted by specificity, least first */
    size_t          noverrides;

    sq_journey_t   *journeys;
    size_t          njourneys;

    sq_alert_conf_t alerts;

    uint64_t        privacy_min;  /* requests a region needs, 0: off */

    /* prometheus.site_labels: what --prometheus-rules keeps apart */
    char          **site_labels;
    size_t          nsite_labels;
} sq_conf_t;


/*
 * Loads and validates a config file.  Returns NULL on error after writing
 * every error found, one a line "FILE:LINE: KEY: message", to err.
 */
sq_conf_t *sq_conf_load(const char *file, FILE *err);

/* the built-in defaults, the same as an empty file; NULL: out of memory */
sq_conf_t *sq_conf_default(void);

void sq_conf_free(sq_conf_t *conf);

/*
 * The effective settings of a dimension for a row: defaults, then the
 * global dimensions section, then each matching override, least specific
 * first, then the journey's own.  NULL endpoint/region/segment means the
 * row is a rollup over all.
 */
void sq_conf_effective(const sq_conf_t *conf, int dim, const char *endpoint,
    const char *region, const char *segment, const sq_journey_t *journey,
    sq_dim_conf_t *out);

/* starts an iteration over the overrides of conf that apply to a row */
void sq_conf_overrides(const sq_conf_t *conf, sq_override_iter_t *it,
    const char *endpoint, const char *region, const char *segment);


#endif /* _SQ_CONFIG_H_INCLUDED_ */
