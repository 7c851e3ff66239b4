
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


/* size bytes aligned for any type; NULL: out of memory */
void *sq_arena_alloc(sq_arena_t *a, size_t size);
void sq_arena_free(sq_arena_t *a);


#endif /* _SQ_ARENA_H_INCLUDED_ */
