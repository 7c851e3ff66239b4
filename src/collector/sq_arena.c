
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>

#include "sq_arena.h"
#include "sq_status.h"


struct sq_chunk_s {
    sq_chunk_t   *next;
    size_t        used;
    size_t        size;
    max_align_t   data[];
};


void *
sq_arena_alloc(sq_arena_t *a, size_t size)
{
    void        *p;
    size_t       n;
    sq_chunk_t  *c;

    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    c = a->head;

    if (c == NULL || c->size - c->used < size) {
        n = size > SQ_ARENA_CHUNK ? size : SQ_ARENA_CHUNK;

        c = malloc(sizeof(sq_chunk_t) + n);
        if (c == NULL) {
            return NULL;
        }

        c->next = a->head;
        c->used = 0;
        c->size = n;
        a->head = c;
        a->bytes += sizeof(sq_chunk_t) + n;
    }

    p = (char *) c->data + c->used;
    c->used += size;

    return p;
}


void
sq_arena_free(sq_arena_t *a)
{
    sq_chunk_t  *c, *next;

    for (c = a->head; c; c = next) {
        next = c->next;
        free(c);
    }

    a->head = NULL;
    a->bytes = 0;
}


int
sq_itab_init(sq_itab_t *t, uint32_t n)
{
    t->nb = 64;

    while (t->nb < 2 * n) {
        t->nb *= 2;
    }

    t->n = 0;
    t->b = calloc(t->nb, sizeof(sq_itab_ent_t));

    return t->b ? SQ_OK : SQ_ERR_NOMEM;
}


sq_itab_ent_t *
sq_itab_find(sq_itab_t *t, uint32_t hash, const void *key, uint32_t len,
    int str)
{
    uint32_t        i;
    sq_itab_ent_t  *e;

    for (i = hash & (t->nb - 1); /* void */; i = (i + 1) & (t->nb - 1)) {
        e = &t->b[i];

        if (e->key == NULL) {
            return e;
        }

        if (e->hash == hash && e->len == len
            && (str ? strcmp(e->key, key) == 0
                    : memcmp(e->key, key, len) == 0))
        {
            return e;
        }
    }
}


int
sq_itab_grow(sq_itab_t *t, int str)
{
    uint32_t        i;
    sq_itab_t       nt;
    sq_itab_ent_t  *e;

    if (2 * (t->n + 1) <= t->nb) {
        return SQ_OK;
    }

    nt.nb = t->nb * 2;
    nt.n = t->n;
    nt.b = calloc(nt.nb, sizeof(sq_itab_ent_t));

    if (nt.b == NULL) {
        return SQ_ERR_NOMEM;
    }

    for (i = 0; i < t->nb; i++) {
        if (t->b[i].key) {
            e = sq_itab_find(&nt, t->b[i].hash, t->b[i].key, t->b[i].len,
                             str);
            *e = t->b[i];
        }
    }

    free(t->b);
    *t = nt;

    return SQ_OK;
}


void
sq_itab_free(sq_itab_t *t)
{
    free(t->b);
    t->b = NULL;
    t->nb = 0;
    t->n = 0;
}
