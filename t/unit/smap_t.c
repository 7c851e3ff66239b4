
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * The string map the alerts group by (sq_smap.c): 100,000 keys put, found
 * and deleted in a random order against a plain array, so that growth and
 * the backward shift on delete keep every key findable.
 */

#include "tap.h"
#include "sq_smap.h"
#include "sq_status.h"


#define NKEYS  100000


static char    keys[NKEYS][16];
static size_t  val[NKEYS];          /* SQ_SMAP_NONE: not in the map */


int
main(void)
{
    int              added, bad;
    size_t           i, k, round;
    sq_smap_t        m;
    sq_smap_slot_t  *s;

    srand(16);

    ok(sq_smap_init(&m, 0) == SQ_OK, "a map");

    for (i = 0; i < NKEYS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
        val[i] = SQ_SMAP_NONE;
    }

    ok(sq_smap_get(&m, "k1") == SQ_SMAP_NONE, "empty: nothing found");

    /* puts and deletes at random, checked against val[] */

    bad = 0;

    for (round = 0; round < 4 * NKEYS; round++) {
        k = (size_t) rand() % NKEYS;

        if (rand() % 3) {
            s = sq_smap_put(&m, keys[k], round, &added);

            if (s == NULL || added != (val[k] == SQ_SMAP_NONE)) {
                bad++;
            }

            if (added) {
                val[k] = round;
            }

        } else {
            sq_smap_del(&m, keys[k]);
            val[k] = SQ_SMAP_NONE;
        }
    }

    is_int(bad, 0, "put says whether the key was new");

    bad = 0;
    k = 0;

    for (i = 0; i < NKEYS; i++) {
        if (sq_smap_get(&m, keys[i]) != val[i]) {
            bad++;
        }

        k += val[i] != SQ_SMAP_NONE;
    }

    is_int(bad, 0, "every key found with its value, none of the deleted");
    is_int(m.n, k, "the count");
    ok(m.n < (m.mask + 1) / 2 + 1, "the load stays under a half");

    sq_smap_free(&m);

    return done_testing();
}
