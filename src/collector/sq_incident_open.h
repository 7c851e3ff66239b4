
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_INCIDENT_OPEN_H_INCLUDED_
#define _SQ_INCIDENT_OPEN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "sq_incident.h"
#include "sq_smap.h"


/*
 * The open incidents: what the alerts keep of each from one evaluation
 * to the next (its id, trend, what was last said of it), found by its
 * cause key in a hash map, so that an evaluation with thousands of
 * incidents matches them in linear time.
 */

typedef struct {
    char                 *key;
    uint64_t              gen;        /* the grouping that last saw it */
    unsigned              dims;
    int                   severity;
    size_t                nmembers;
    sq_incident_state_t   st;
    json_t               *last;       /* its latest JSON */
} sq_open_t;


typedef struct {
    sq_open_t            *open;
    size_t                n;
    size_t                cap;
    sq_smap_t             bykey;      /* key -> index in open */
} sq_opens_t;


/* SQ_OK or SQ_ERR_NOMEM */
int sq_opens_init(sq_opens_t *o);

void sq_opens_free(sq_opens_t *o);

/* the open incident of key, NULL if none */
sq_open_t *sq_opens_get(sq_opens_t *o, const char *key);

/*
 * The open incident of inc's key; a new one (its id from inc and its
 * since, or now) if there is none.  NULL when out of memory.
 */
sq_open_t *sq_opens_open(sq_opens_t *o, const sq_incident_t *inc,
    int64_t now);

/* forgets open incident i: the last one takes its place */
void sq_opens_close(sq_opens_t *o, size_t i);


#endif /* _SQ_INCIDENT_OPEN_H_INCLUDED_ */
