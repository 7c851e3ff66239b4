
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>

#include "sq_smap.h"
#include "sq_status.h"


#define SQ_SMAP_MIN  16


static size_t sq_smap_find(const sq_smap_t *m, const char *key,
    uint32_t h);
static int sq_smap_grow(sq_smap_t *m);


uint32_t
sq_smap_hash(const char *s)
{
    uint32_t  h;

    h = 2166136261u;

    for ( /* void */ ; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 16777619u;
    }

    return h;
}


int
sq_smap_init(sq_smap_t *m, size_t hint)
{
    size_t  n;

    n = SQ_SMAP_MIN;

    while (n < 2 * hint && n < ((size_t) -1) / 4) {
        n *= 2;
    }

    m->slot = calloc(n, sizeof(sq_smap_slot_t));
    m->mask = n - 1;
    m->n = 0;

    return m->slot ? SQ_OK : SQ_ERR_NOMEM;
}


void
sq_smap_free(sq_smap_t *m)
{
    free(m->slot);
    m->slot = NULL;
    m->mask = 0;
    m->n = 0;
}


/* the slot of key, or the empty one where it would go */

static size_t
sq_smap_find(const sq_smap_t *m, const char *key, uint32_t h)
{
    size_t           i;
    sq_smap_slot_t  *s;

    for (i = h & m->mask; /* void */ ; i = (i + 1) & m->mask) {
        s = &m->slot[i];

        if (s->key == NULL
            || (s->hash == h && (s->key == key || strcmp(s->key, key) == 0)))
        {
            return i;
        }
    }
}


static int
sq_smap_grow(sq_smap_t *m)
{
    size_t           i, j, n;
    sq_smap_slot_t  *old, *s;

    old = m->slot;
    n = 2 * (m->mask + 1);

    s = calloc(n, sizeof(sq_smap_slot_t));
    if (s == NULL) {
        return SQ_ERR_NOMEM;
    }

    m->slot = s;

    for (i = 0; i <= m->mask; i++) {
        if (old[i].key == NULL) {
            continue;
        }

        for (j = old[i].hash & (n - 1); s[j].key; j = (j + 1) & (n - 1)) {
            /* void */
        }

        s[j] = old[i];
    }

    m->mask = n - 1;
    free(old);

    return SQ_OK;
}


size_t
sq_smap_get(const sq_smap_t *m, const char *key)
{
    size_t  i;

    if (m->slot == NULL) {
        return SQ_SMAP_NONE;
    }

    i = sq_smap_find(m, key, sq_smap_hash(key));

    return m->slot[i].key ? m->slot[i].val : SQ_SMAP_NONE;
}


sq_smap_slot_t *
sq_smap_put(sq_smap_t *m, const char *key, size_t val, int *added)
{
    size_t    i;
    uint32_t  h;

    *added = 0;
    h = sq_smap_hash(key);
    i = sq_smap_find(m, key, h);

    if (m->slot[i].key) {
        return &m->slot[i];
    }

    if (2 * (m->n + 1) > m->mask + 1) {
        if (sq_smap_grow(m) != SQ_OK) {
            return NULL;
        }

        i = sq_smap_find(m, key, h);
    }

    m->slot[i].key = key;
    m->slot[i].hash = h;
    m->slot[i].val = val;
    m->n++;
    *added = 1;

    return &m->slot[i];
}


void
sq_smap_del(sq_smap_t *m, const char *key)
{
    size_t  i, j, k;

    if (m->slot == NULL) {
        return;
    }

    i = sq_smap_find(m, key, sq_smap_hash(key));

    if (m->slot[i].key == NULL) {
        return;
    }

    m->slot[i].key = NULL;
    m->n--;

    /* move up what probed past i */

    for (j = (i + 1) & m->mask; m->slot[j].key; j = (j + 1) & m->mask) {
        k = m->slot[j].hash & m->mask;

        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            m->slot[i] = m->slot[j];
            m->slot[j].key = NULL;
            i = j;
        }
    }
}
