
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_SMAP_H_INCLUDED_
#define _SQ_SMAP_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * A string map: keys (not copied: they must outlive the map) to a size_t,
 * open addressing with linear probing, grown to keep the load under a
 * half.  What the alerts group by (a region, an endpoint, an incident's
 * cause key) is found in one probe or two, never by comparing every pair.
 */

#define SQ_SMAP_NONE  ((size_t) -1)


typedef struct {
    const char  *key;
    uint32_t     hash;
    size_t       val;
} sq_smap_slot_t;


typedef struct {
    sq_smap_slot_t  *slot;
    size_t           mask;        /* slots - 1, a power of two */
    size_t           n;
} sq_smap_t;


/* FNV-1a of a string */
uint32_t sq_smap_hash(const char *s);

/* a map sized for about hint keys; SQ_OK or SQ_ERR_NOMEM */
int sq_smap_init(sq_smap_t *m, size_t hint);

void sq_smap_free(sq_smap_t *m);

/* the value of key, SQ_SMAP_NONE if absent */
size_t sq_smap_get(const sq_smap_t *m, const char *key);

/*
 * The slot of key, added with val if absent (*added set then); NULL when
 * out of memory.  The slot's address holds until the next add.
 */
sq_smap_slot_t *sq_smap_put(sq_smap_t *m, const char *key, size_t val,
    int *added);

/* removes key if present (backward shift: no tombstones) */
void sq_smap_del(sq_smap_t *m, const char *key);


#endif /* _SQ_SMAP_H_INCLUDED_ */
