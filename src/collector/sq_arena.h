
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_ARENA_H_INCLUDED_
#define _SQ_ARENA_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * An arena: allocations that live and die together (a scored view's
 * names, labels, level sets and browser blocks), in chunks of 64 KB
 * freed at once, with no allocation of their own.
 */

#define SQ_ARENA_CHUNK  (64 * 1024)

typedef struct sq_chunk_s  sq_chunk_t;

typedef struct {
    sq_chunk_t     *head;
    size_t          bytes;        /* the chunks' memory, all told */
} sq_arena_t;


/*
 * An open-addressed table of interned keys: a string (str: compared by
 * strcmp) or len bytes, each with the value it stands for.  At most half
 * full; an entry's key is NULL while its slot is free.
 */

typedef struct {
    uint32_t        hash;
    uint32_t        len;
    const void     *key;
    void           *val;
} sq_itab_ent_t;


typedef struct {
    sq_itab_ent_t  *b;
    uint32_t        nb;           /* a power of two */
    uint32_t        n;
} sq_itab_t;


/* size bytes aligned for any type; NULL: out of memory */
void *sq_arena_alloc(sq_arena_t *a, size_t size);
void sq_arena_free(sq_arena_t *a);

/* a table for about n keys: SQ_OK or SQ_ERR_NOMEM */
int sq_itab_init(sq_itab_t *t, uint32_t n);

/* the key's entry, or the free one where it goes */
sq_itab_ent_t *sq_itab_find(sq_itab_t *t, uint32_t hash, const void *key,
    uint32_t len, int str);

/* room for one more key (entries found before move): SQ_OK or NOMEM */
int sq_itab_grow(sq_itab_t *t, int str);

void sq_itab_free(sq_itab_t *t);


#endif /* _SQ_ARENA_H_INCLUDED_ */
