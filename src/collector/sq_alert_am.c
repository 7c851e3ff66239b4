
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdio.h>
#include <time.h>
#include <jansson.h>

#include "sq_alert.h"
#include "sq_alert_am.h"
#include "sq_json.h"
#include "sq_status.h"
#include "sq_view.h"


static void sq_alert_am_post(sq_alert_am_t *am, sq_sink_t *sink,
    json_t **batch, json_t *alert);


int
sq_alert_am_init(sq_alert_am_t *am)
{
    am->prev = json_object();
    am->sent = 0;
    am->posts = 0;

    return am->prev ? SQ_OK : SQ_ERR_NOMEM;
}


void
sq_alert_am_free(sq_alert_am_t *am)
{
    json_decref(am->prev);
    am->prev = NULL;
}


/* adds alert (a reference taken) to the batch, posted when full */

static void
sq_alert_am_post(sq_alert_am_t *am, sq_sink_t *sink, json_t **batch,
    json_t *alert)
{
    if (alert) {
        if (*batch == NULL) {
            *batch = json_array();

            if (*batch == NULL) {
                json_decref(alert);
                return;
            }
        }

        json_array_append_new(*batch, alert);

        if (json_array_size(*batch) < SQ_ALERT_AM_BATCH) {
            return;
        }
    }

    if (*batch && json_array_size(*batch)) {
        sq_sink_push(sink, *batch);
        am->posts++;
        *batch = NULL;
    }
}


void
sq_alert_am_update(sq_alert_am_t *am, sq_sink_t *sink,
    const sq_incidents_t *inc, sq_incident_state_t *const *st, int changed,
    int64_t now, const sq_conf_t *conf)
{
    int                   d;
    char                  key[128], ts[32];
    size_t                i;
    time_t                tt;
    json_t               *cur, *batch, *v, *t;
    struct tm             tm;
    const char           *k;
    const sq_incident_t  *in;

    if (sink == NULL) {
        return;
    }

    cur = json_object();
    if (cur == NULL) {
        return;
    }

    batch = NULL;

    for (i = 0; i < inc->n; i++) {
        in = &inc->inc[i];

        if (st[i] == NULL) {
            continue;
        }

        for (d = 0; d < SQ_NDIMS; d++) {
            if (!(in->dims & (1u << d))) {
                continue;
            }

            snprintf(key, sizeof(key), "%s/%s/%d", st[i]->id,
                     sq_dim_names[d], in->dim_severity[d]);
            json_object_set_new(cur, key, sq_json_incident_am(in, st[i], d,
                                                    0, now, conf));
        }
    }

    tt = (time_t) now;
    gmtime_r(&tt, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    /* the alerts that are over, once, resolved */

    json_object_foreach(am->prev, k, v) {
        if (json_object_get(cur, k) == NULL) {
            t = json_deep_copy(v);
            json_object_set_new(t, "endsAt", json_string(ts));
            sq_alert_am_post(am, sink, &batch, t);
            changed = 1;
        }
    }

    if (changed || json_object_size(cur) != json_object_size(am->prev)
        || now - am->sent >= conf->alerts.resend)
    {
        json_object_foreach(cur, k, v) {
            sq_alert_am_post(am, sink, &batch, json_incref(v));
        }

        am->sent = now;
    }

    sq_alert_am_post(am, sink, &batch, NULL);

    json_decref(am->prev);
    am->prev = cur;
}
