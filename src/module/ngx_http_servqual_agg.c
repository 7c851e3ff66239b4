
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"
#include "ngx_http_servqual_agg.h"


/*
 * The per-worker aggregate of one flush window.
 *
 * Series live in a flat array indexed by an open-addressing table of
 * slot numbers.  Histogram buckets of all series share one open-addressing
 * table of cells keyed by (slot + 1, histogram, bucket), so memory follows
 * the buckets actually hit, not 1728 counters per series.  Everything is
 * allocated once at worker start: the request path neither allocates nor
 * makes a system call.
 */


static ngx_http_servqual_series_t *ngx_http_servqual_agg_lookup(
    ngx_http_servqual_worker_t *w, uint64_t key, ngx_uint_t limit);
static int ngx_libc_cdecl ngx_http_servqual_cmp(const void *a,
    const void *b);
static void ngx_http_servqual_agg_browser_reset(
    ngx_http_servqual_worker_t *w);


static ngx_str_t  ngx_http_servqual_unknown = ngx_string(SQ_WIRE_UNKNOWN);
static ngx_str_t  ngx_http_servqual_other = ngx_string(SQ_WIRE_OTHER);


static uint32_t
ngx_http_servqual_pow2(uint64_t n)
{
    uint32_t  p;

    for (p = 1; p < n; p <<= 1) { /* void */ }

    return p;
}


/* what ngx_http_servqual_agg_init() allocates, at most */

size_t
ngx_http_servqual_agg_size(ngx_http_servqual_main_conf_t *mcf)
{
    size_t    size;
    uint64_t  cap;

    cap = mcf->max_series + NGX_HTTP_SERVQUAL_OTHER_RESERVE;

    size = cap * sizeof(ngx_http_servqual_series_t)
           + ngx_http_servqual_pow2(2 * cap) * sizeof(uint32_t)
           + ngx_http_servqual_pow2(ngx_max(65536, 32 * cap))
             * (sizeof(ngx_http_servqual_cell_t) + sizeof(uint64_t))
           + NGX_HTTP_SERVQUAL_REGIONS * (sizeof(ngx_http_servqual_label_t)
                                          + 2 * sizeof(uint16_t));

    /* one alignment gap an allocation */

    return size + 8 * NGX_ALIGNMENT;
}


ngx_int_t
ngx_http_servqual_agg_init(ngx_http_servqual_worker_t *w, ngx_pool_t *pool)
{
    uint32_t  n;

    w->series_cap = w->conf->max_series + NGX_HTTP_SERVQUAL_OTHER_RESERVE;

    w->series = ngx_palloc(pool,
                        w->series_cap * sizeof(ngx_http_servqual_series_t));
    if (w->series == NULL) {
        return NGX_ERROR;
    }

    n = ngx_http_servqual_pow2(2 * w->series_cap);

    w->index = ngx_pcalloc(pool, n * sizeof(uint32_t));
    if (w->index == NULL) {
        return NGX_ERROR;
    }

    w->index_mask = n - 1;

    /* room for 16 buckets a series at half load, at least 64k cells */

    n = ngx_http_servqual_pow2(ngx_max(65536, 32 * w->series_cap));

    w->cells = ngx_pcalloc(pool, n * sizeof(ngx_http_servqual_cell_t));
    if (w->cells == NULL) {
        return NGX_ERROR;
    }

    w->cells_mask = n - 1;

    w->sorted = ngx_palloc(pool, n * sizeof(uint64_t));
    if (w->sorted == NULL) {
        return NGX_ERROR;
    }

    /* regions: ids 0 and 1 are "unknown" and "_other" */

    w->regions = ngx_palloc(pool, NGX_HTTP_SERVQUAL_REGIONS
                                  * sizeof(ngx_http_servqual_label_t));
    if (w->regions == NULL) {
        return NGX_ERROR;
    }

    w->region_index = ngx_pcalloc(pool, 2 * NGX_HTTP_SERVQUAL_REGIONS
                                        * sizeof(uint16_t));
    if (w->region_index == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_http_servqual_region_id(w, ngx_http_servqual_unknown.data,
                                       ngx_http_servqual_unknown.len);
    (void) ngx_http_servqual_region_id(w, ngx_http_servqual_other.data,
                                       ngx_http_servqual_other.len);

    ngx_http_servqual_agg_reset(w);

    return NGX_OK;
}


/*
 * The id of a region label, interned on first sight.  When the table is
 * full (NGX_HTTP_SERVQUAL_REGIONS distinct labels in this worker's life,
 * only possible with servqual_region $variable), new labels are "_other"
 * and the request is counted as folded.
 */

ngx_uint_t
ngx_http_servqual_region_id(ngx_http_servqual_worker_t *w, u_char *data,
    size_t len)
{
    uint32_t                    h, i, mask;
    ngx_http_servqual_label_t  *l;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h = (h ^ data[i]) * 16777619u;
    }

    mask = 2 * NGX_HTTP_SERVQUAL_REGIONS - 1;

    for (i = h & mask; w->region_index[i]; i = (i + 1) & mask) {
        l = &w->regions[w->region_index[i] - 1];

        if (l->len == len && ngx_memcmp(l->data, data, len) == 0) {
            return w->region_index[i] - 1;
        }
    }

    if (w->nregions == NGX_HTTP_SERVQUAL_REGIONS) {
        w->series_overflow++;
        return NGX_HTTP_SERVQUAL_REGION_OTHER;
    }

    l = &w->regions[w->nregions++];
    l->len = (u_char) len;
    ngx_memcpy(l->data, data, len);
    w->region_index[i] = (uint16_t) w->nregions;

    return w->nregions - 1;
}


/*
 * The request path's series lookup and histogram update are inline in
 * ngx_http_servqual_agg.h; what they do the first time a series or a
 * cell is seen in a window is here, out of line.
 */

ngx_http_servqual_series_t *
ngx_http_servqual_agg_add(ngx_http_servqual_worker_t *w, uint64_t key)
{
    ngx_http_servqual_series_t  *s;

    s = ngx_http_servqual_agg_lookup(w, key, w->conf->max_series);
    if (s) {
        return s;
    }

    /*
     * servqual_max_series is reached: the request is counted under
     * endpoint "_other" with its region and segment, and when even the
     * reserve for those is used up, under "_other" alone
     */

    w->series_overflow++;

    key &= ~NGX_HTTP_SERVQUAL_KEY(NGX_HTTP_SERVQUAL_ENDPOINTS - 1, 0, 0);

    s = ngx_http_servqual_agg_lookup(w, key, w->series_cap - 1);
    if (s) {
        return s;
    }

    key = NGX_HTTP_SERVQUAL_KEY(NGX_HTTP_SERVQUAL_ENDPOINT_OTHER,
                                NGX_HTTP_SERVQUAL_REGION_OTHER,
                                NGX_HTTP_SERVQUAL_SEGMENT_OTHER);

    return ngx_http_servqual_agg_lookup(w, key, w->series_cap);
}


static ngx_http_servqual_series_t *
ngx_http_servqual_agg_lookup(ngx_http_servqual_worker_t *w, uint64_t key,
    ngx_uint_t limit)
{
    uint32_t                     i, slot;
    ngx_http_servqual_series_t  *s;

    i = (uint32_t) ((key * 0x9e3779b97f4a7c15ULL) >> 32) & w->index_mask;

    for ( /* void */ ; w->index[i]; i = (i + 1) & w->index_mask) {

        s = &w->series[w->index[i] - 1];

        if (s->key == key) {
            return s;
        }
    }

    if (w->nseries >= limit) {
        return NULL;
    }

    slot = (uint32_t) w->nseries++;
    w->index[i] = slot + 1;

    s = &w->series[slot];
    s->key = key;
    s->pos = i;
    s->cell = NGX_HTTP_SERVQUAL_CELL_KEY(slot, 0, 0);
    ngx_memzero(s->counters, sizeof(s->counters));

    return s;
}


/*
 * a new cell at i of the table when the inline path finds the table at half
 * load: the bucket's first sample this window, and a flush posted
 */

void
ngx_http_servqual_agg_cell(ngx_http_servqual_worker_t *w, uint32_t key,
    uint32_t i)
{
    ngx_http_servqual_cell_t  *cell;

    if (w->ncells >= w->cells_mask) {
        /* cannot happen: the table is flushed at half load */
        return;
    }

    cell = &w->cells[i];
    cell->key = key;
    cell->count = 1;

    /* until the flush sorts them, sorted[] lists the cells in use */
    w->sorted[w->ncells] = i;

    if (++w->ncells > w->cells_mask / 2 && !w->posted.posted) {
        /* flush as soon as this event is done, not on the request path */
        ngx_post_event(&w->posted, &ngx_posted_events);
    }
}


ngx_uint_t
ngx_http_servqual_agg_sort(ngx_http_servqual_worker_t *w)
{
    ngx_uint_t                 i;
    ngx_http_servqual_cell_t  *cell;

    /*
     * the cells in use become (key, count) pairs in place and are emptied:
     * the work is proportional to what the window used, not to the table
     */

    for (i = 0; i < w->ncells; i++) {
        cell = &w->cells[(uint32_t) w->sorted[i]];

        w->sorted[i] = ((uint64_t) cell->key << 32) | cell->count;

        cell->key = 0;
        cell->count = 0;
    }

    ngx_qsort(w->sorted, w->ncells, sizeof(uint64_t), ngx_http_servqual_cmp);

    return w->ncells;
}


static int ngx_libc_cdecl
ngx_http_servqual_cmp(const void *a, const void *b)
{
    uint64_t  x, y;

    x = *(const uint64_t *) a;
    y = *(const uint64_t *) b;

    return (x > y) - (x < y);
}


void
ngx_http_servqual_agg_reset(ngx_http_servqual_worker_t *w)
{
    ngx_uint_t   i;

    /* the cells were emptied by ngx_http_servqual_agg_sort() */

    for (i = 0; i < w->nseries; i++) {
        w->index[w->series[i].pos] = 0;
    }

    w->nseries = 0;
    w->ncells = 0;
    w->requests = 0;
    w->series_overflow = 0;
    w->segment_overflow = 0;

    /* the next window starts with its first request */
    w->window_start = 0;

    if (w->browser) {
        ngx_http_servqual_agg_browser_reset(w);
    }
}


void
ngx_http_servqual_agg_start(ngx_http_servqual_worker_t *w)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();
    w->window_start = (uint64_t) tp->sec * 1000 + tp->msec;
}


ngx_uint_t
ngx_http_servqual_segment(ngx_http_request_t *r,
    ngx_http_servqual_worker_t *w, ngx_http_servqual_loc_conf_t *lcf)
{
    size_t                      len;
    ngx_uint_t                  i;
    ngx_http_variable_value_t  *v;
    u_char                      buf[SQ_WIRE_MAX_SEGMENT];

    if (lcf->segment_index == NGX_CONF_UNSET) {
        return NGX_HTTP_SERVQUAL_SEGMENT_NONE;
    }

    v = ngx_http_get_indexed_variable(r, lcf->segment_index);

    len = ngx_http_servqual_label(v, buf, SQ_WIRE_MAX_SEGMENT);
    if (len == 0) {
        return NGX_HTTP_SERVQUAL_SEGMENT_NONE;
    }

    for (i = 0; i < w->nsegments; i++) {
        if (w->segment_len[i] == len
            && ngx_memcmp(w->segments[i], buf, len) == 0)
        {
            return i + 1;
        }
    }

    if (w->nsegments < lcf->segment_max) {
        ngx_memcpy(w->segments[w->nsegments], buf, len);
        w->segment_len[w->nsegments] = (u_char) len;
        return ++w->nsegments;
    }

    w->segment_overflow++;

    return NGX_HTTP_SERVQUAL_SEGMENT_OTHER;
}


/*
 * A region or segment label: at most size bytes, anything outside
 * [A-Za-z0-9_.:-] replaced by "_", so label values stay printable.
 */

size_t
ngx_http_servqual_label(ngx_http_variable_value_t *v, u_char *buf,
    size_t size)
{
    u_char  ch;
    size_t  i, len;

    if (v == NULL || v->not_found || v->len == 0) {
        return 0;
    }

    len = ngx_min(v->len, size);

    for (i = 0; i < len; i++) {
        ch = v->data[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9')
            || ch == '_' || ch == '.' || ch == ':' || ch == '-')
        {
            buf[i] = ch;

        } else {
            buf[i] = '_';
        }
    }

    return len;
}


/*
 * The browser's measurements (servqual_beacon), apart from the request
 * path: a block of counters for each series a beacon reached, found from
 * the series' slot, and the samples of its five histograms in a table of
 * their own, keyed by (slot + 1, histogram, bucket).  All of it is
 * allocated on the first beacon a worker takes, so that a worker without
 * beacons carries none of it and an ordinary request does not touch it.
 */

#define NGX_HTTP_SERVQUAL_BROWSER_MAX     4096
#define NGX_HTTP_SERVQUAL_BROWSER_CELLS   32768

#define NGX_HTTP_SERVQUAL_BCELL_KEY(slot, kind, bucket)                      \
    ((((uint64_t) (slot) + 1) << 16) | ((uint64_t) (kind) << 11)            \
     | (uint64_t) (bucket))


struct ngx_http_servqual_browser_s {
    uint32_t                      *block;      /* series slot -> block + 1 */
    uint32_t                      *slot;       /* block -> series slot */
    uint64_t                     (*counters)[SQ_WIRE_NBCOUNTERS];
    ngx_uint_t                     nblocks;
    ngx_uint_t                     cap;
    ngx_http_servqual_bcell_t     *cells;
    uint32_t                       mask;
    ngx_uint_t                     ncells;
    uint32_t                      *used;       /* cells in use */
    ngx_http_servqual_bcell_t     *sorted;
};


static int ngx_libc_cdecl ngx_http_servqual_bcell_cmp(const void *a,
    const void *b);


static ngx_int_t
ngx_http_servqual_agg_browser_init(ngx_http_servqual_worker_t *w)
{
    ngx_pool_t                   *pool;
    ngx_http_servqual_browser_t  *b;

    pool = ngx_cycle->pool;

    b = ngx_pcalloc(pool, sizeof(ngx_http_servqual_browser_t));
    if (b == NULL) {
        return NGX_ERROR;
    }

    /* one block more than the cap: the "_other" series' */

    b->cap = ngx_min(w->series_cap, NGX_HTTP_SERVQUAL_BROWSER_MAX);

    b->block = ngx_pcalloc(pool, w->series_cap * sizeof(uint32_t));
    b->slot = ngx_palloc(pool, (b->cap + 1) * sizeof(uint32_t));
    b->counters = ngx_palloc(pool, (b->cap + 1) * sizeof(b->counters[0]));
    b->cells = ngx_pcalloc(pool, NGX_HTTP_SERVQUAL_BROWSER_CELLS
                                 * sizeof(ngx_http_servqual_bcell_t));
    b->used = ngx_palloc(pool, NGX_HTTP_SERVQUAL_BROWSER_CELLS
                               * sizeof(uint32_t));
    b->sorted = ngx_palloc(pool, NGX_HTTP_SERVQUAL_BROWSER_CELLS
                                 * sizeof(ngx_http_servqual_bcell_t));

    if (b->block == NULL || b->slot == NULL || b->counters == NULL
        || b->cells == NULL || b->used == NULL || b->sorted == NULL)
    {
        return NGX_ERROR;
    }

    b->mask = NGX_HTTP_SERVQUAL_BROWSER_CELLS - 1;

    w->browser = b;

    return NGX_OK;
}


/*
 * The browser counters of a series, its block made on first use.  Past
 * the cap of blocks a window holds, the beacon is counted under the
 * series ("_other", "_other", "_other"), which *sp then points to.
 */

uint64_t *
ngx_http_servqual_agg_browser(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t **sp)
{
    uint32_t                      slot, n;
    ngx_http_servqual_series_t   *s;
    ngx_http_servqual_browser_t  *b;

    if (w->browser == NULL && ngx_http_servqual_agg_browser_init(w) != NGX_OK)
    {
        return NULL;
    }

    b = w->browser;
    s = *sp;

    slot = (uint32_t) (s - w->series);

    if (b->block[slot]) {
        return b->counters[b->block[slot] - 1];
    }

    if (b->nblocks >= b->cap) {
        s = ngx_http_servqual_agg_series(w,
                  NGX_HTTP_SERVQUAL_KEY(NGX_HTTP_SERVQUAL_ENDPOINT_OTHER,
                                        NGX_HTTP_SERVQUAL_REGION_OTHER,
                                        NGX_HTTP_SERVQUAL_SEGMENT_OTHER));
        *sp = s;
        slot = (uint32_t) (s - w->series);

        if (b->block[slot]) {
            return b->counters[b->block[slot] - 1];
        }
    }

    n = (uint32_t) b->nblocks++;

    b->block[slot] = n + 1;
    b->slot[n] = slot;
    ngx_memzero(b->counters[n], sizeof(b->counters[0]));

    return b->counters[n];
}


/* a browser measurement: microseconds, or CLS times SQ_WIRE_CLS_SCALE */

void
ngx_http_servqual_agg_browser_sample(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t *s, ngx_uint_t kind, uint64_t v)
{
    uint32_t                      i;
    uint64_t                      key;
    ngx_http_servqual_bcell_t    *cell;
    ngx_http_servqual_browser_t  *b;

    b = w->browser;

    key = NGX_HTTP_SERVQUAL_BCELL_KEY(s - w->series, kind, sq_hist_index(v));

    for (i = (uint32_t) ((key * 0x9e3779b97f4a7c15ULL) >> 40) & b->mask;
         /* void */ ;
         i = (i + 1) & b->mask)
    {
        cell = &b->cells[i];

        if (cell->key == key) {
            cell->count++;
            return;
        }

        if (cell->key == 0) {
            break;
        }
    }

    if (b->ncells >= b->mask) {
        /* cannot happen: the table is flushed at half load */
        return;
    }

    cell->key = key;
    cell->count = 1;
    b->used[b->ncells] = i;

    if (++b->ncells > b->mask / 2 && !w->posted.posted) {
        ngx_post_event(&w->posted, &ngx_posted_events);
    }
}


/* the browser counters of the series in a slot; NULL: it has none */

uint64_t *
ngx_http_servqual_agg_browser_counters(ngx_http_servqual_worker_t *w,
    ngx_uint_t slot)
{
    ngx_http_servqual_browser_t  *b;

    b = w->browser;

    if (b == NULL || b->block[slot] == 0) {
        return NULL;
    }

    return b->counters[b->block[slot] - 1];
}


/* the browser cells of the window, by key: slot, histogram, bucket */

ngx_uint_t
ngx_http_servqual_agg_browser_sort(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_bcell_t **cells)
{
    ngx_uint_t                    i;
    ngx_http_servqual_browser_t  *b;

    b = w->browser;

    if (b == NULL) {
        *cells = NULL;
        return 0;
    }

    for (i = 0; i < b->ncells; i++) {
        b->sorted[i] = b->cells[b->used[i]];
    }

    ngx_qsort(b->sorted, b->ncells, sizeof(ngx_http_servqual_bcell_t),
              ngx_http_servqual_bcell_cmp);

    *cells = b->sorted;

    return b->ncells;
}


static int ngx_libc_cdecl
ngx_http_servqual_bcell_cmp(const void *a, const void *b)
{
    uint64_t  x, y;

    x = ((const ngx_http_servqual_bcell_t *) a)->key;
    y = ((const ngx_http_servqual_bcell_t *) b)->key;

    return (x > y) - (x < y);
}


static void
ngx_http_servqual_agg_browser_reset(ngx_http_servqual_worker_t *w)
{
    ngx_uint_t                    i;
    ngx_http_servqual_bcell_t    *cell;
    ngx_http_servqual_browser_t  *b;

    b = w->browser;

    for (i = 0; i < b->ncells; i++) {
        cell = &b->cells[b->used[i]];
        cell->key = 0;
        cell->count = 0;
    }

    for (i = 0; i < b->nblocks; i++) {
        b->block[b->slot[i]] = 0;
    }

    b->ncells = 0;
    b->nblocks = 0;
}
