
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "sq_collector.h"
#include "sq_score.h"
#include "sq_history.h"
#include "sq_http.h"
#include "sq_json.h"


/* the slot being gathered: the selection, with what empathy needs */

typedef struct {
    const char          *region;      /* NULL: all */
    const char          *segment;     /* NULL: all */
    sq_history_point_pt  cb;
    void                *data;
    int                  stop;
    int                  failed;

    int64_t              start;
    int64_t              secs;
    int                  matched;
    sq_win_t             sel;
    sq_win_t             ep;
    sq_win_t            *regs;
    char               **names;
    size_t               nregs;
    size_t               used;

    uint64_t             kmin;        /* the privacy floor, 0: off */
    sq_win_t            *sregs;       /* per region: the selected segment */
    unsigned char       *hit;         /* per region: a row selected */
} sq_hacc_t;


typedef struct {
    sq_ctx_t            *ctx;
    const char          *endpoint;
    const char          *region;      /* NULL: all */
    const char          *segment;
    json_t              *points;
    int64_t              secs;
} sq_hist_req_t;


static int sq_hacc_emit(sq_hacc_t *h);
static void sq_hacc_fold(sq_hacc_t *h);
static sq_win_t *sq_hacc_region(sq_hacc_t *h, const char *name);
static int sq_hacc_row(void *data, const sq_store_row_t *row);
static int sq_history_point(void *data, const sq_history_point_t *p);
static void sq_history_bad(struct evhttp_request *req, int code,
    const char *msg);
static int sq_history_arg(struct evkeyvalq *args, const char *name,
    int64_t *v);


static int
sq_hacc_emit(sq_hacc_t *h)
{
    int                 rc;
    sq_history_point_t  p;

    rc = 0;

    if (h->kmin) {
        sq_hacc_fold(h);
    }

    if (h->matched) {
        p.start = h->start;
        p.secs = h->secs;
        p.win = &h->sel;
        p.endpoint = &h->ep;
        p.regions = h->regs;
        p.names = (const char *const *) h->names;
        p.nregions = h->used;

        rc = h->cb(h->data, &p);
    }

    sq_win_reset(&h->sel);
    sq_win_reset(&h->ep);
    h->matched = 0;
    h->used = 0;

    return rc;
}


/*
 * The privacy floor over a slot: the regions below kmin merged into the
 * first of them, named _other; then the selection made from the regions
 * as they are named now.
 */

static void
sq_hacc_fold(sq_hacc_t *h)
{
    char    *other;
    size_t   i, j, o;

    o = h->used;

    for (i = 0; i < h->used; i++) {
        if (h->regs[i].c[SQ_C_REQUESTS] >= h->kmin
            && strcmp(h->names[i], SQ_WIRE_OTHER) != 0)
        {
            continue;
        }

        if (o == h->used) {
            o = i;
            continue;
        }

        (void) sq_win_merge(&h->regs[o], &h->regs[i]);
        (void) sq_win_merge(&h->sregs[o], &h->sregs[i]);
        h->hit[o] |= h->hit[i];
        h->regs[i].c[SQ_C_REQUESTS] = 0;
        h->names[i][0] = '\0';         /* merged away */
    }

    if (o < h->used && strcmp(h->names[o], SQ_WIRE_OTHER) != 0) {
        other = strdup(SQ_WIRE_OTHER);

        if (other == NULL) {
            h->failed = 1;
            h->matched = 0;
            return;
        }

        free(h->names[o]);
        h->names[o] = other;
    }

    /* the merged-away regions out of the baseline */

    for (i = 0, j = 0; i < h->used; i++) {
        if (h->names[i][0] == '\0') {
            continue;
        }

        if (i != j) {
            sq_win_t        tw = h->regs[j];
            sq_win_t        ts = h->sregs[j];
            char           *tn = h->names[j];
            unsigned char   th = h->hit[j];

            h->regs[j] = h->regs[i];
            h->sregs[j] = h->sregs[i];
            h->names[j] = h->names[i];
            h->hit[j] = h->hit[i];
            h->regs[i] = tw;
            h->sregs[i] = ts;
            h->names[i] = tn;
            h->hit[i] = th;
        }

        j++;
    }

    h->used = j;

    for (i = 0; i < h->used; i++) {
        if (h->hit[i]
            && (h->region == NULL || strcmp(h->region, h->names[i]) == 0))
        {
            if (sq_win_merge(&h->sel, &h->sregs[i]) != SQ_OK) {
                h->failed = 1;
            }

            h->matched = 1;
        }
    }
}


static sq_win_t *
sq_hacc_region(sq_hacc_t *h, const char *name)
{
    size_t          i;
    char          **nn;
    sq_win_t       *nw;
    unsigned char  *nh;

    for (i = 0; i < h->used; i++) {
        if (strcmp(h->names[i], name) == 0) {
            return &h->regs[i];
        }
    }

    if (h->used == h->nregs) {
        nw = realloc(h->regs, (h->nregs * 2 + 8) * sizeof(sq_win_t));
        if (nw == NULL) {
            return NULL;
        }

        h->regs = nw;

        nn = realloc(h->names, (h->nregs * 2 + 8) * sizeof(char *));
        if (nn == NULL) {
            return NULL;
        }

        h->names = nn;

        nw = realloc(h->sregs, (h->nregs * 2 + 8) * sizeof(sq_win_t));
        if (nw == NULL) {
            return NULL;
        }

        h->sregs = nw;

        nh = realloc(h->hit, h->nregs * 2 + 8);
        if (nh == NULL) {
            return NULL;
        }

        h->hit = nh;

        for (i = h->nregs; i < h->nregs * 2 + 8; i++) {
            sq_win_init(&h->regs[i]);
            sq_win_init(&h->sregs[i]);
            h->names[i] = NULL;
        }

        h->nregs = h->nregs * 2 + 8;
    }

    free(h->names[h->used]);
    h->names[h->used] = strdup(name);

    if (h->names[h->used] == NULL) {
        return NULL;
    }

    sq_win_reset(&h->regs[h->used]);
    sq_win_reset(&h->sregs[h->used]);
    h->hit[h->used] = 0;

    return &h->regs[h->used++];
}


static int
sq_hacc_row(void *data, const sq_store_row_t *row)
{
    size_t      i;
    sq_win_t   *rw;
    sq_hacc_t  *h = data;

    /* a start and a length make a point: at the start of a coarse slot
       whose fine rows are being merged, a series' coarse row and
       another's fine one are two points, each counted once */

    if (row->start != h->start || row->secs != h->secs) {
        if (sq_hacc_emit(h) != 0) {
            h->stop = 1;
            return 1;
        }

        h->start = row->start;
        h->secs = row->secs;
    }

    rw = sq_hacc_region(h, row->region);

    if (rw == NULL
        || sq_win_merge(rw, row->win) != SQ_OK
        || sq_win_merge(&h->ep, row->win) != SQ_OK)
    {
        h->failed = 1;
        return 1;
    }

    /* under the privacy floor the region is known at the slot's end */

    if (h->kmin
        && (h->segment == NULL || strcmp(h->segment, row->segment) == 0))
    {
        i = (size_t) (rw - h->regs);
        h->hit[i] = 1;

        if (sq_win_merge(&h->sregs[i], row->win) != SQ_OK) {
            h->failed = 1;
            return 1;
        }

    } else if (h->kmin == 0
        && (h->region == NULL || strcmp(h->region, row->region) == 0)
        && (h->segment == NULL || strcmp(h->segment, row->segment) == 0))
    {
        if (sq_win_merge(&h->sel, row->win) != SQ_OK) {
            h->failed = 1;
            return 1;
        }

        h->matched = 1;
    }

    return 0;
}


int
sq_history_points(sq_store_t *st, const char *endpoint, const char *region,
    const char *segment, int64_t from, int64_t to, sq_history_point_pt cb,
    void *data)
{
    return sq_history_points_k(st, endpoint, region, segment, from, to, 0,
                               cb, data);
}


int
sq_history_points_k(sq_store_t *st, const char *endpoint,
    const char *region, const char *segment, int64_t from, int64_t to,
    uint64_t kmin, sq_history_point_pt cb, void *data)
{
    int        rc;
    size_t     i;
    sq_hacc_t  h;

    memset(&h, 0, sizeof(sq_hacc_t));
    h.kmin = kmin;
    h.region = (region && strcmp(region, SQ_ALL) != 0) ? region : NULL;
    h.segment = (segment && strcmp(segment, SQ_ALL) != 0) ? segment : NULL;
    h.cb = cb;
    h.data = data;
    h.start = INT64_MIN;
    sq_win_init(&h.sel);
    sq_win_init(&h.ep);

    rc = sq_store_rollups(st, endpoint, from, to, sq_hacc_row, &h);

    if (rc == SQ_OK && h.failed) {
        rc = SQ_ERR_NOMEM;
    }

    if (rc == SQ_OK && !h.stop) {
        (void) sq_hacc_emit(&h);
    }

    for (i = 0; i < h.nregs; i++) {
        sq_win_free(&h.regs[i]);
        sq_win_free(&h.sregs[i]);
        free(h.names[i]);
    }

    free(h.regs);
    free(h.sregs);
    free(h.hit);
    free(h.names);
    sq_win_free(&h.sel);
    sq_win_free(&h.ep);

    return rc;
}


/* /api/v1/history */

static int
sq_history_point(void *data, const sq_history_point_t *p)
{
    sq_hist_req_t   *hr = data;
    json_t          *pt;
    sq_win_score_t   ws;

    sq_history_score(hr->ctx->conf, hr->endpoint, hr->region, hr->segment,
                     p->win, p->endpoint, p->regions, p->names, p->nregions,
                     &ws);

    /* "slot" of the answer is the fine slot; a point of the older tier
       says its own length */

    pt = sq_json_point(p->start, &ws);
    json_object_set_new(pt, "secs", json_integer(p->secs));
    json_array_append_new(hr->points, pt);

    return 0;
}


static void
sq_history_bad(struct evhttp_request *req, int code, const char *msg)
{
    sq_http_json(req, code, json_pack("{ss}", "error", msg));
}


static int
sq_history_arg(struct evkeyvalq *args, const char *name, int64_t *v)
{
    char        *end;
    const char  *s;
    long long    n;

    s = evhttp_find_header(args, name);

    if (s == NULL) {
        return 0;
    }

    errno = 0;
    n = strtoll(s, &end, 10);

    if (*s == '\0' || *end != '\0' || errno != 0 || n < 0) {
        return -1;
    }

    *v = n;

    return 1;
}


void
sq_history_score(const sq_conf_t *conf, const char *e, const char *r,
    const char *g, const sq_win_t *w, const sq_win_t *ep,
    const sq_win_t *regs, const char *const *names, size_t nregs,
    sq_win_score_t *ws)
{
    size_t          i, n;
    sq_where_t      where;
    sq_baseline_t  *base;

    base = nregs ? calloc(nregs, sizeof(sq_baseline_t)) : NULL;
    n = 0;

    for (i = 0; base && i < nregs; i++) {
        if (r && strcmp(r, names[i]) != 0) {
            continue;
        }

        base[n].h = r ? &w->h[SQ_H_RT] : &regs[i].h[SQ_H_RT];
        base[n].all = &ep->h[SQ_H_RT];
        base[n].self = &regs[i].h[SQ_H_RT];
        base[n].region = names[i];
        n++;
    }

    where.endpoint = e;
    where.region = r;
    where.segment = g;
    where.journey = NULL;

    /* out of memory: scored without the empathy baseline */

    sq_score_window(conf, &where, w, base, n, ws);

    free(base);
}


void
sq_store_http_history(struct evhttp_request *req, void *data)
{
    int                    rc, rf, rt, rm;
    int64_t                now, from, to, minutes;
    json_t                *root;
    sq_ctx_t              *ctx = data;
    const char            *q, *e, *r, *g;
    sq_hist_req_t          hr;
    struct evkeyvalq       args;
    enum evhttp_cmd_type   cmd;

    cmd = evhttp_request_get_command(req);

    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET, HEAD");
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }

    memset(&args, 0, sizeof(args));
    q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));

    if (q && evhttp_parse_query_str(q, &args) != 0) {
        sq_history_bad(req, 400, "invalid query string");
        return;
    }

    e = evhttp_find_header(&args, "endpoint");
    r = evhttp_find_header(&args, "region");
    g = evhttp_find_header(&args, "segment");

    now = sq_now();
    minutes = 60;
    to = now + 1;
    from = 0;

    rm = sq_history_arg(&args, "minutes", &minutes);
    rf = sq_history_arg(&args, "from", &from);
    rt = sq_history_arg(&args, "to", &to);

    if (e == NULL || *e == '\0') {
        sq_history_bad(req, 400, "endpoint is required");
        goto done;
    }

    if (rm < 0 || rf < 0 || rt < 0 || minutes < 1
        || minutes > ctx->conf->retention / 60 + 1)
    {
        sq_history_bad(req, 400, "minutes, from and to are whole numbers: "
                       "minutes from 1 to the retention, from and to in "
                       "seconds since the epoch");
        goto done;
    }

    if (rf == 0) {
        from = to - minutes * 60;
    }

    if (to <= from) {
        sq_history_bad(req, 400, "to must be after from");
        goto done;
    }

    if (ctx->store == NULL) {
        sq_history_bad(req, 503, "storage is off");
        goto done;
    }

    hr.ctx = ctx;
    hr.endpoint = e;
    hr.region = (r && *r && strcmp(r, SQ_ALL) != 0) ? r : NULL;
    hr.segment = (g && strcmp(g, SQ_ALL) != 0) ? g : NULL;
    hr.secs = ctx->windows.slot;
    hr.points = json_array();

    rc = sq_history_points_k(ctx->store, e, hr.region, hr.segment, from,
                             to, ctx->conf->privacy_min, sq_history_point,
                             &hr);

    if (rc != SQ_OK) {
        sq_log(SQ_LOG_ERROR, "storage: %s", rc == SQ_ERR_NOMEM
                                            ? sq_strerror(rc)
                                            : sq_store_strerror(ctx->store));
        json_decref(hr.points);
        sq_history_bad(req, 500, "cannot read the history");
        goto done;
    }

    root = json_object();
    json_object_set_new(root, "endpoint", json_string(e));
    json_object_set_new(root, "region", json_string(hr.region ? r : SQ_ALL));
    json_object_set_new(root, "segment",
                        json_string(hr.segment ? g : SQ_ALL));
    json_object_set_new(root, "from", json_integer(from));
    json_object_set_new(root, "to", json_integer(to));
    json_object_set_new(root, "slot", json_integer(hr.secs));
    json_object_set_new(root, "points", hr.points);

    sq_http_json(req, 200, root);

done:

    evhttp_clear_headers(&args);
}
