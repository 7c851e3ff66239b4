
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq_incident_open.h"
#include "sq_status.h"
#include "sq_view.h"


int
sq_opens_init(sq_opens_t *o)
{
    memset(o, 0, sizeof(sq_opens_t));

    return sq_smap_init(&o->bykey, 16);
}


void
sq_opens_free(sq_opens_t *o)
{
    while (o->n) {
        sq_opens_close(o, o->n - 1);
    }

    free(o->open);
    sq_smap_free(&o->bykey);
    memset(o, 0, sizeof(sq_opens_t));
}


sq_open_t *
sq_opens_get(sq_opens_t *o, const char *key)
{
    size_t  i;

    i = sq_smap_get(&o->bykey, key);

    return i == SQ_SMAP_NONE ? NULL : &o->open[i];
}


sq_open_t *
sq_opens_open(sq_opens_t *o, const sq_incident_t *inc, int64_t now)
{
    int         d, added;
    size_t      n;
    sq_open_t  *op;

    op = sq_opens_get(o, inc->key);
    if (op) {
        return op;
    }

    if (o->n == o->cap) {
        n = o->cap ? 2 * o->cap : 16;
        op = realloc(o->open, n * sizeof(sq_open_t));

        if (op == NULL) {
            return NULL;
        }

        o->open = op;
        o->cap = n;
    }

    op = &o->open[o->n];
    memset(op, 0, sizeof(sq_open_t));

    op->key = strdup(inc->key);
    if (op->key == NULL) {
        return NULL;
    }

    if (sq_smap_put(&o->bykey, op->key, o->n, &added) == NULL) {
        free(op->key);
        return NULL;
    }

    op->st.since = inc->since ? inc->since : now;
    snprintf(op->st.id, sizeof(op->st.id), "%08x-%lld",
             sq_incident_hash(inc), (long long) op->st.since);

    for (d = 0; d < SQ_NDIMS; d++) {
        op->st.msa0[d] = NAN;
    }

    o->n++;

    return op;
}


void
sq_opens_close(sq_opens_t *o, size_t i)
{
    int         added;
    sq_open_t  *op;

    op = &o->open[i];
    sq_smap_del(&o->bykey, op->key);
    free(op->key);
    json_decref(op->last);

    o->n--;

    if (i == o->n) {
        return;
    }

    /* the key is in the map already: only its index changes */

    o->open[i] = o->open[o->n];
    sq_smap_put(&o->bykey, o->open[i].key, i, &added)->val = i;
}
