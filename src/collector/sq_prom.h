
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_PROM_H_INCLUDED_
#define _SQ_PROM_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <event2/buffer.h>

#include "sq_collector.h"


/*
 * /metrics in the Prometheus text format, written in parts: a stream
 * holds the view that was the latest when it was opened (retained) and
 * walks the series by index, so that parts written over several loop
 * iterations stay valid while new views replace it and series expire.
 */

typedef struct sq_prom_s  sq_prom_t;


/* a new stream; NULL: out of memory */
sq_prom_t *sq_prom_open(sq_ctx_t *ctx, int64_t now);

/* appends about budget series or rows to b; 1 while there is more */
int sq_prom_next(sq_prom_t *p, struct evbuffer *b, size_t budget);

void sq_prom_close(sq_prom_t *p);

/*
 * For parts that add families of their own (called from sq_prom_next()):
 * a family's # HELP and # TYPE, then its samples; labels are written
 * without braces, already escaped ("" or NULL: none), values without
 * float noise.
 */
void sq_prom_family(struct evbuffer *b, const char *name, const char *type,
    const char *help);
void sq_prom_sample(struct evbuffer *b, const char *name, const char *labels,
    double v);


#endif /* _SQ_PROM_H_INCLUDED_ */
