
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>

#include "sq_arena.h"


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
