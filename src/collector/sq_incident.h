
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_INCIDENT_H_INCLUDED_
#define _SQ_INCIDENT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "sq_alert.h"


/*
 * Incidents: the firing alerts grouped by cause, the most specific scope
 * that explains them (docs/incidents.md):
 *
 *   region    a region with firing rows on two endpoints or more: every
 *             alert of that region, and the rollups it drags below;
 *   endpoint  an endpoint with firing rows in two regions or more that
 *             are not region incidents themselves;
 *   row       one endpoint in one region (its segments);
 *   journey   a journey that no region incident explains.
 *
 * A rollup (an endpoint over all regions, a region over all endpoints)
 * belongs to the incident of the row that drags it down (the worst on
 * the same dimension), so it is never an incident of its own while one
 * of its members explains it.
 */

#define SQ_INCIDENT_MEMBERS  100    /* listed in its JSON, the worst */


enum {
    SQ_CAUSE_REGION = 0,
    SQ_CAUSE_ENDPOINT,
    SQ_CAUSE_ROW,
    SQ_CAUSE_JOURNEY,
    SQ_NCAUSES
};


typedef struct {
    int                      cause;
    char                    *key;        /* "region\tBR", ... (malloc) */
    const char              *endpoint;   /* what every member shares; */
    const char              *region;     /* NULL: they differ */
    const char              *segment;
    const char              *journey;
    int                      severity;
    int64_t                  since;      /* the oldest member's */
    unsigned                 dims;       /* bit per dimension */
    int                      dim_severity[SQ_NDIMS];
    const sq_alert_info_t   *rep[SQ_NDIMS];   /* speaks for a dimension */
    const sq_alert_info_t  **members;
    size_t                   nmembers;
    char                    *look_at;    /* sq_incident_describe() */
} sq_incident_t;


typedef struct {
    sq_incident_t           *inc;        /* most severe, widest first */
    size_t                   n;
    const sq_alert_info_t  **pool;       /* the members of all */
} sq_incidents_t;


/* what the alerts keep of an incident from one evaluation to the next */

typedef struct {
    char                     id[48];     /* hash-since, stable while open */
    int64_t                  since;
    double                   msa0[SQ_NDIMS];   /* at first sight */
    const char              *trend[SQ_NDIMS];  /* "getting worse", ... */
    const char              *overall;
} sq_incident_state_t;


extern const char  *sq_cause_names[SQ_NCAUSES];


/*
 * Groups the firing alerts al[0..n - 1] (they must outlive out) into
 * incidents.  Returns SQ_OK or SQ_ERR_NOMEM.
 */
int sq_incident_group(const sq_alert_info_t **al, size_t n,
    sq_incidents_t *out);

void sq_incidents_free(sq_incidents_t *s);

/* the stable part of an incident's id: a hash of its key */
uint32_t sq_incident_hash(const sq_incident_t *inc);

/*
 * "Brazil: reliability 91.3 % (adequate 99.5 %), responsiveness Apdex
 * 0.54 (adequate 0.85), slower than other regions: p75 3.0 s vs 150 ms"
 */
void sq_incident_title(char *buf, size_t len, const sq_incident_t *inc);

/* "Brazil", "checkout in Brazil", "checkout in all regions", ... */
void sq_incident_where(char *buf, size_t len, const sq_incident_t *inc);

/*
 * Which requests to look at: the endpoints, regions and segments of the
 * member rows, most members first, and what in them (server errors, slow
 * responses, ...): "checkout, search, / in BR (free, pro): server errors
 * (5xx, upstream failures); slow responses".
 */
void sq_incident_look_at(char *buf, size_t len, const sq_incident_t *inc);

/*
 * Keeps inc's "look at" (a walk over every member) for the outputs of an
 * evaluation, which each ask for it: once per incident, not once each
 */
void sq_incident_describe(sq_incident_t *inc);

/*
 * The trend of each dimension since the incident opened, from st->msa0
 * (NAN ones are set now): worse or better by a tenth of the zone.
 */
void sq_incident_trend(const sq_incident_t *inc, sq_incident_state_t *st);

/* a country's name for an ISO 3166-1 code, the code itself if unknown */
const char *sq_region_name(const char *code);


#endif /* _SQ_INCIDENT_H_INCLUDED_ */
