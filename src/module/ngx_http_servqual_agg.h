
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_SERVQUAL_AGG_H_INCLUDED_
#define _NGX_HTTP_SERVQUAL_AGG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"


/*
 * The per-worker aggregate of one flush window: series by key, their
 * counters and histogram cells; and the region and segment labels the
 * worker has seen, interned to small ids for its lifetime.
 */

/* a browser histogram cell: (slot + 1) << 16 | histogram << 11 | bucket */

typedef struct {
    uint64_t                       key;
    uint64_t                       count;
} ngx_http_servqual_bcell_t;

#define NGX_HTTP_SERVQUAL_BCELL_SLOT(k)    ((ngx_uint_t) ((k) >> 16) - 1)
#define NGX_HTTP_SERVQUAL_BCELL_KIND(k)    ((ngx_uint_t) ((k) >> 11) & 0x1f)
#define NGX_HTTP_SERVQUAL_BCELL_BUCKET(k)  ((uint32_t) (k) & 0x7ff)


NGX_HTTP_SERVQUAL_HIDDEN_BEGIN

size_t ngx_http_servqual_agg_size(ngx_http_servqual_main_conf_t *mcf);
ngx_int_t ngx_http_servqual_agg_init(ngx_http_servqual_worker_t *w,
    ngx_pool_t *pool);
ngx_http_servqual_series_t *ngx_http_servqual_agg_add(
    ngx_http_servqual_worker_t *w, uint64_t key);
void ngx_http_servqual_agg_cell(ngx_http_servqual_worker_t *w, uint32_t key,
    uint32_t i);
ngx_uint_t ngx_http_servqual_agg_sort(ngx_http_servqual_worker_t *w);
void ngx_http_servqual_agg_reset(ngx_http_servqual_worker_t *w);

/* the window starts: its first request, at the cached time */
void ngx_http_servqual_agg_start(ngx_http_servqual_worker_t *w);

/* a region label's id, interned on first sight */
ngx_uint_t ngx_http_servqual_region_id(ngx_http_servqual_worker_t *w,
    u_char *data, size_t len);

/* the request's segment id from servqual_segment's variable */
ngx_uint_t ngx_http_servqual_segment(ngx_http_request_t *r,
    ngx_http_servqual_worker_t *w, ngx_http_servqual_loc_conf_t *lcf);

/* a variable's value as a label of at most size bytes; 0: none */
size_t ngx_http_servqual_label(ngx_http_variable_value_t *v, u_char *buf,
    size_t size);

/*
 * the browser's measurements (servqual_beacon): a series' browser
 * counters (*s may become the "_other" series past the cap; NULL: no
 * memory), a sample of SQ_B_* (microseconds, CLS scaled), and for the
 * flush the counters of a slot and the window's cells in key order
 */
uint64_t *ngx_http_servqual_agg_browser(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t **s);
void ngx_http_servqual_agg_browser_sample(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t *s, ngx_uint_t kind, uint64_t v);
uint64_t *ngx_http_servqual_agg_browser_counters(
    ngx_http_servqual_worker_t *w, ngx_uint_t slot);
ngx_uint_t ngx_http_servqual_agg_browser_sort(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_bcell_t **cells);

NGX_HTTP_SERVQUAL_HIDDEN_END


/*
 * The request path, inline in the log handler: a series found by its key
 * (a hash and, nearly always, one probe), and a histogram cell keyed by
 * (slot + 1, histogram, bucket) incremented in place.  A series not seen
 * yet this window goes out of line; a new cell is made in place.
 */

#define NGX_HTTP_SERVQUAL_CELL_KEY(slot, kind, bucket)                       \
    ((((uint32_t) (slot) + 1) << 12) | ((uint32_t) (kind) << 11)            \
     | (uint32_t) (bucket))


static ngx_inline ngx_http_servqual_series_t *
ngx_http_servqual_agg_series(ngx_http_servqual_worker_t *w, uint64_t key)
{
    uint32_t                     i, n;
    ngx_http_servqual_series_t  *s;

    i = (uint32_t) ((key * 0x9e3779b97f4a7c15ULL) >> 32) & w->index_mask;

    while ((n = w->index[i]) != 0) {
        s = &w->series[n - 1];

        if (s->key == key) {
            return s;
        }

        i = (i + 1) & w->index_mask;
    }

    return ngx_http_servqual_agg_add(w, key);
}


static ngx_inline void
ngx_http_servqual_agg_sample(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t *s, ngx_uint_t kind, uint64_t us)
{
    uint32_t                   key, i;
    ngx_http_servqual_cell_t  *cell;

    /* s->cell: the series' part of the key, NGX_HTTP_SERVQUAL_CELL_KEY() */
    key = s->cell | ((uint32_t) kind << 11) | (uint32_t) sq_hist_index(us);

    for (i = (key * 2654435761u) & w->cells_mask;
         /* void */ ;
         i = (i + 1) & w->cells_mask)
    {
        cell = &w->cells[i];

        if (cell->key == key) {
            cell->count++;
            return;
        }

        if (cell->key == 0) {

            /*
             * the bucket's first sample this window; out of line only
             * when the table reaches half load and a flush is posted
             */

            if (w->ncells < w->cells_mask / 2) {
                cell->key = key;
                cell->count = 1;
                w->sorted[w->ncells++] = i;
                return;
            }

            ngx_http_servqual_agg_cell(w, key, i);
            return;
        }
    }
}


/* a request's request time and time to first byte, in microseconds */

static ngx_inline void
ngx_http_servqual_agg_times(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t *s, uint64_t rt, uint64_t ttfb)
{
    ngx_http_servqual_agg_sample(w, s, SQ_H_RT, rt);
    ngx_http_servqual_agg_sample(w, s, SQ_H_TTFB, ttfb);
}


#endif /* _NGX_HTTP_SERVQUAL_AGG_H_INCLUDED_ */
