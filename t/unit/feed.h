
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_T_FEED_H_INCLUDED_
#define _SQ_T_FEED_H_INCLUDED_


/* A window store fed with test datagrams, and the rows of its view. */

#include "wire.h"
#include "sq_decode.h"
#include "sq_view.h"
#include "sq_windows.h"


static sq_windows_t     a;
static sq_dgram_t       d;
static msgpack_sbuffer  sb;


static int
feed(const char *node, uint64_t pid, uint64_t seq, t_series_t *s,
    uint32_t n, int64_t now)
{
    t_pack(&sb, node, pid, seq, s, n);

    if (sq_decode(&d, sb.data, sb.size) != SQ_DECODE_OK) {
        return -1;
    }

    return sq_windows_ingest(&a, &d, now);
}


static void
mk(t_series_t *s, const char *e, const char *r, uint64_t req, uint64_t err,
    uint32_t bucket)
{
    memset(s, 0, sizeof(*s));
    s->endpoint = e;
    s->region = r;
    s->segment = "";
    s->c[SQ_C_REQUESTS] = req;
    s->c[SQ_C_2XX] = req - err;
    s->c[SQ_C_5XX] = err;
    s->c[SQ_C_TLS_13] = req;
    s->nbuckets = 1;
    s->bucket[0] = bucket;
    s->count[0] = req;
}


static const sq_row_t *
find(const sq_view_t *v, int scope, const char *e, const char *r)
{
    size_t  i;

    for (i = 0; i < v->n; i++) {
        if (v->rows[i].scope == scope && strcmp(v->rows[i].endpoint, e) == 0
            && strcmp(v->rows[i].region, r) == 0)
        {
            return &v->rows[i];
        }
    }

    return NULL;
}


/* a row's window scored in full (sq_view_score), valid for two calls */

static inline const sq_win_score_t *
rw(const sq_row_t *row, int k)
{
    static int             i;
    static sq_win_score_t  ws[2];

    i = !i;
    sq_view_score(row, k, &ws[i]);

    return &ws[i];
}


#endif /* _SQ_T_FEED_H_INCLUDED_ */
