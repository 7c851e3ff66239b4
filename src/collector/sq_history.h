
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_HISTORY_H_INCLUDED_
#define _SQ_HISTORY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "sq_config.h"
#include "sq_score.h"
#include "sq_slot.h"
#include "sq_store.h"


struct evhttp_request;


/*
 * /api/v1/history: an endpoint's stored rollups, a selection of its
 * regions and segments merged per slot and scored the way its windows
 * are.
 *
 * One point: the selected series merged, and for the empathy indicator
 * the endpoint's traffic over all regions and segments and each region's
 * over all segments.
 */

typedef struct {
    int64_t            start;         /* epoch seconds */
    int64_t            secs;          /* slot length */
    const sq_win_t    *win;           /* the selection */
    const sq_win_t    *endpoint;
    const sq_win_t    *regions;       /* nregions windows, with names */
    const char *const *names;
    size_t             nregions;
} sq_history_point_t;

/* the point lives until the callback returns; non-zero stops the walk */
typedef int (*sq_history_point_pt)(void *data, const sq_history_point_t *p);


/*
 * The slots of endpoint with start in [from, to) in which a series
 * matches region and segment (NULL or "*": all, merged), oldest first,
 * one callback per slot (fine or coarse, p->secs; at one start the
 * coarse one first): SQ_OK or the store's status.
 */
int sq_history_points(sq_store_t *st, const char *endpoint,
    const char *region, const char *segment, int64_t from, int64_t to,
    sq_history_point_pt cb, void *data);

/*
 * The same under the privacy floor kmin (privacy.min_requests, 0: off):
 * in each slot the regions with fewer than kmin requests are one region
 * _other, for the selection and for the empathy baseline.
 */
int sq_history_points_k(sq_store_t *st, const char *endpoint,
    const char *region, const char *segment, int64_t from, int64_t to,
    uint64_t kmin, sq_history_point_pt cb, void *data);

/* the HTTP handler; data is the collector's sq_ctx_t */
/*
 * Scores a stored slot through sq_score_window(), as the view scores a
 * window: w the selected traffic of endpoint e, region r and segment g
 * (NULL for all); ep the endpoint's traffic over all regions and
 * segments, regs[] its regions' (all segments), named by names[], for
 * the empathy indicator.
 */
void sq_history_score(const sq_conf_t *conf, const char *e, const char *r,
    const char *g, const sq_win_t *w, const sq_win_t *ep,
    const sq_win_t *regs, const char *const *names, size_t nregs,
    sq_win_score_t *ws);

void sq_store_http_history(struct evhttp_request *req, void *data);


#endif /* _SQ_HISTORY_H_INCLUDED_ */
