
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <dirent.h>
#include <msgpack.h>

#include "ngx_http_servqual_module.h"
#include "ngx_http_servqual_agg.h"
#include "ngx_http_servqual_send.h"
#include "ngx_http_servqual_sign.h"


/*
 * Encoding a window into datagrams (docs/wire-format.md) and sending them.
 *
 * msgpack-c's packer writes through a callback into the worker's buffer.
 * Arrays whose length is known only at the end (the series of a datagram,
 * the pairs of a histogram) get a 5-byte array32 header that is patched
 * when they are closed; this lets one pass fill a datagram up to the
 * configured size and continue a long histogram in the next datagram.
 */


#define NGX_HTTP_SERVQUAL_PAIR_MAX     (3 + 5)
#define NGX_HTTP_SERVQUAL_CLOSE_MAX    5

/*
 * A series with the browser's data (wire version 3) has 8 fields after
 * its counters: the two server histograms, the browser counters (field
 * NGX_HTTP_SERVQUAL_FIELD_BC), then the five browser histograms.  Closing
 * one early takes at most an array32, the browser counters and five
 * more array32s.
 */
#define NGX_HTTP_SERVQUAL_FIELD_BC     SQ_WIRE_NHISTS
#define NGX_HTTP_SERVQUAL_BFIELDS      (SQ_WIRE_NHISTS + 1 + SQ_WIRE_NBHISTS)
#define NGX_HTTP_SERVQUAL_BCLOSE_MAX   (5 + 1 + 9 * SQ_WIRE_NBCOUNTERS     \
                                        + 5 * SQ_WIRE_NBHISTS)

/*
 * The delivery queue: each datagram made waits here until it is known
 * delivered, so that one the collector could not take (down, restarting,
 * socket refused or full) is sent again later instead of being lost.  A
 * record is the datagram's length (4 bytes), its requests (8) and its
 * bytes.  Past the budget the oldest datagrams are dropped and counted
 * ("dd", "dr", "cx").
 */
#define NGX_HTTP_SERVQUAL_QUEUE        (1024 * 1024)
#define NGX_HTTP_SERVQUAL_QHEAD        12

/*
 * A datagram's head (the map up to the series' array32 header) is made
 * again for each collector, with that collector's delivery counts; it
 * is at most this long (14 keys, a 64-byte node, 12 integers: about 230
 * bytes).
 */
#define NGX_HTTP_SERVQUAL_HEAD_MAX     320


typedef struct {
    ngx_http_servqual_worker_t   *w;
    msgpack_packer                pk;
    u_char                       *pos;
    u_char                       *end;
    u_char                       *series;      /* "s" array32 header */
    uint32_t                      nseries;
    uint64_t                      requests;

    /* the head's values that are the same for every collector */
    uint64_t                      seq;
    uint64_t                      ws;
    uint64_t                      we;
    uint64_t                      so;
    uint64_t                      go;
    uint64_t                      cr;
} ngx_http_servqual_dgram_t;


static void ngx_http_servqual_flush_window(ngx_http_servqual_worker_t *w,
    ngx_uint_t force);
static int ngx_http_servqual_write(void *data, const char *buf, size_t len);
static void ngx_http_servqual_begin(ngx_http_servqual_dgram_t *d);
static void ngx_http_servqual_head(ngx_http_servqual_dgram_t *d,
    uint64_t dd, uint64_t dr, uint64_t cs, uint64_t cx);
static void ngx_http_servqual_end(ngx_http_servqual_dgram_t *d);
static void ngx_http_servqual_pack_key(ngx_http_servqual_dgram_t *d,
    ngx_uint_t key);
static void ngx_http_servqual_pack_str(ngx_http_servqual_dgram_t *d,
    u_char *p, size_t len);
static u_char *ngx_http_servqual_array32(ngx_http_servqual_dgram_t *d);
static void ngx_http_servqual_patch(u_char *p, uint32_t n);
static void ngx_http_servqual_labels(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t *s, ngx_str_t *labels);
static size_t ngx_http_servqual_head_size(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t *s);
static void ngx_http_servqual_series_head(ngx_http_servqual_dgram_t *d,
    ngx_http_servqual_series_t *s, ngx_uint_t with_counters,
    ngx_uint_t browser);
static void ngx_http_servqual_bcounters(ngx_http_servqual_dgram_t *d,
    uint64_t *bc);
static void ngx_http_servqual_fill(ngx_http_servqual_dgram_t *d,
    uint64_t *bc, ngx_uint_t from, ngx_uint_t to);
static void ngx_http_servqual_split(ngx_http_servqual_dgram_t *d,
    ngx_http_servqual_series_t *s, uint64_t *bc, ngx_uint_t from,
    ngx_uint_t nf, ngx_uint_t with);
static void ngx_http_servqual_enqueue(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest, u_char *p, size_t len,
    uint64_t requests);
static ngx_int_t ngx_http_servqual_connect(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest);
static void ngx_http_servqual_refused(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest);
static void ngx_http_servqual_spool_name(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest, u_char *buf, size_t size,
    ngx_pid_t pid, const char *suffix);
static void ngx_http_servqual_spool_write(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest);
static void ngx_http_servqual_spool_read(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest);
static void ngx_http_servqual_drain(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest);
static void ngx_http_servqual_dest_close(ngx_http_servqual_dest_t *dest);
static void ngx_http_servqual_rearm(ngx_http_servqual_worker_t *w);


/* the datagram map's keys, by SQ_K_* */
static const char  *ngx_http_servqual_keys[SQ_WIRE_NKEYS] = {
    SQ_WIRE_KEY_NAMES
};


ngx_int_t
ngx_http_servqual_send_init(ngx_http_servqual_worker_t *w, ngx_pool_t *pool)
{
    ngx_str_t                   *name;
    ngx_uint_t                   i;
    ngx_http_servqual_dest_t    *dest;
    ngx_http_core_srv_conf_t   **cscfp;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_core_main_conf_t   *cmcf;

    w->size = w->conf->buffer;

    w->buf = ngx_palloc(pool, w->size + SQ_SIGN_TRAILER);
    if (w->buf == NULL) {
        return NGX_ERROR;
    }

    /* each collector its own socket and queue, allocated at once */

    w->ndests = w->conf->ncollectors;

    w->dests = ngx_pcalloc(pool, w->ndests * sizeof(ngx_http_servqual_dest_t));
    if (w->dests == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < w->ndests; i++) {
        dest = &w->dests[i];

        dest->collector = &w->conf->collectors[i];
        dest->index = i;
        dest->fd = (ngx_socket_t) -1;

        dest->queue = ngx_palloc(pool, NGX_HTTP_SERVQUAL_QUEUE);
        if (dest->queue == NULL) {
            return NGX_ERROR;
        }
    }

    /* the spool: nginx's client body temp path, the workers' own */

    cmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_core_module);

    if (cmcf && cmcf->servers.nelts) {
        cscfp = cmcf->servers.elts;
        clcf = cscfp[0]->ctx->loc_conf[ngx_http_core_module.ctx_index];

        if (clcf->client_body_temp_path) {
            name = &clcf->client_body_temp_path->name;

            w->spool = ngx_pnalloc(pool, name->len + 1);
            if (w->spool == NULL) {
                return NGX_ERROR;
            }

            ngx_cpystrn(w->spool, name->data, name->len + 1);
        }
    }

    return NGX_OK;
}


/*
 * A worker that exits with datagrams it could not deliver (the collector
 * down during a reload) leaves them in a spool file in nginx's client
 * body temp path, servqual.PID.spool for the first collector and
 * servqual.PID.N.spool for the Nth after it; the workers that run on
 * adopt such files at their flushes (claimed by a rename, so one worker
 * takes each) and send the datagrams as their own queue's, in order, to
 * the collector of the same place in servqual_collector.
 */

static void
ngx_http_servqual_spool_name(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest, u_char *buf, size_t size, ngx_pid_t pid,
    const char *suffix)
{
    if (dest->index == 0) {
        ngx_snprintf(buf, size, "%s/servqual.%P.%s%Z", w->spool, pid, suffix);

    } else {
        ngx_snprintf(buf, size, "%s/servqual.%P.%ui.%s%Z", w->spool, pid,
                     dest->index, suffix);
    }
}


static void
ngx_http_servqual_spool_write(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest)
{
    int     fd;
    u_char  tmp[NGX_MAX_PATH], name[NGX_MAX_PATH];

    if (w->spool == NULL || dest->qlen == 0) {
        return;
    }

    ngx_http_servqual_spool_name(w, dest, tmp, sizeof(tmp), ngx_pid, "tmp");
    ngx_http_servqual_spool_name(w, dest, name, sizeof(name), ngx_pid,
                                 "spool");

    fd = open((char *) tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd == -1
        || write(fd, dest->queue, dest->qlen) != (ssize_t) dest->qlen
        || close(fd) == -1
        || rename((char *) tmp, (char *) name) == -1)
    {
        ngx_log_error(NGX_LOG_ERR, w->log, ngx_errno,
                      "servqual: cannot spool %uz bytes of datagrams "
                      "for collector \"%V\" to \"%s\"",
                      dest->qlen, &dest->collector->address, tmp);
        (void) unlink((char *) tmp);
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                  "servqual: %uz bytes of datagrams for collector \"%V\" "
                  "left in \"%s\" for the next worker",
                  dest->qlen, &dest->collector->address, name);
}


static void
ngx_http_servqual_spool_read(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest)
{
    int              fd;
    DIR             *dir;
    u_char          *p, *last;
    size_t           len;
    ssize_t          n;
    struct stat      st;
    struct dirent   *de;
    u_char           name[NGX_MAX_PATH], mine[NGX_MAX_PATH];
    u_char           suffix[NGX_INT_T_LEN + 8];

    if (w->spool == NULL) {
        return;
    }

    /* what follows the pid in this collector's spool files */

    if (dest->index == 0) {
        ngx_snprintf(suffix, sizeof(suffix), ".spool%Z");

    } else {
        ngx_snprintf(suffix, sizeof(suffix), ".%ui.spool%Z", dest->index);
    }

    dir = opendir((char *) w->spool);
    if (dir == NULL) {
        return;
    }

    while ((de = readdir(dir)) != NULL) {
        len = ngx_strlen(de->d_name);

        if (len < 15 || ngx_strncmp(de->d_name, "servqual.", 9) != 0) {
            continue;
        }

        p = (u_char *) de->d_name + 9;
        last = (u_char *) de->d_name + len;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == (u_char *) de->d_name + 9
            || ngx_strcmp(p, suffix) != 0)
        {
            continue;
        }

        ngx_snprintf(name, sizeof(name), "%s/%s%Z", w->spool, de->d_name);
        ngx_http_servqual_spool_name(w, dest, mine, sizeof(mine), ngx_pid,
                                     "adopted");

        if (stat((char *) name, &st) == -1
            || (size_t) st.st_size > NGX_HTTP_SERVQUAL_QUEUE - dest->qlen)
        {
            /* no room now: later, or for another worker */
            continue;
        }

        if (rename((char *) name, (char *) mine) == -1) {
            continue;
        }

        fd = open((char *) mine, O_RDONLY);

        if (fd == -1) {
            continue;
        }

        n = read(fd, dest->queue + dest->qlen, (size_t) st.st_size);
        close(fd);

        if (n == (ssize_t) st.st_size) {
            dest->qlen += (size_t) n;
            (void) unlink((char *) mine);

            ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                          "servqual: %z bytes of datagrams adopted from "
                          "\"%s\"", n, name);

        } else {
            /* put back for another try */
            (void) rename((char *) mine, (char *) name);
        }
    }

    closedir(dir);
}


void
ngx_http_servqual_flush(ngx_http_servqual_worker_t *w)
{
    ngx_http_servqual_flush_window(w, 0);
}


/*
 * At exit a worker that has ever sent says its final totals, even with
 * nothing new: the collector then sees any gap before them.
 */

void
ngx_http_servqual_flush_final(ngx_http_servqual_worker_t *w)
{
    ngx_uint_t  i;

    ngx_http_servqual_flush_window(w, w->seq > 0);

    /* what was refused or could not go is left for the next worker */

    for (i = 0; i < w->ndests; i++) {
        ngx_http_servqual_refused(w, &w->dests[i]);
        ngx_http_servqual_spool_write(w, &w->dests[i]);
    }
}


static void
ngx_http_servqual_flush_window(ngx_http_servqual_worker_t *w,
    ngx_uint_t force)
{
    size_t                       reserve;
    uint32_t                     slot, bucket, prev, npairs;
    uint64_t                     cell, key, count, *bc;
    ngx_uint_t                   i, j, n, nb, f, nf, with, dropped;
    u_char                      *hist;
    ngx_http_servqual_bcell_t   *bcells;
    ngx_http_servqual_series_t  *s;
    ngx_http_servqual_dgram_t    d;

    dropped = 0;

    for (i = 0; i < w->ndests; i++) {
        ngx_http_servqual_refused(w, &w->dests[i]);
        ngx_http_servqual_spool_read(w, &w->dests[i]);

        if (w->dests[i].dropped) {
            dropped = 1;
        }
    }

    if (w->requests == 0 && !dropped && !force) {
        ngx_http_servqual_agg_reset(w);

        for (i = 0; i < w->ndests; i++) {
            ngx_http_servqual_drain(w, &w->dests[i]);
        }

        ngx_http_servqual_rearm(w);
        return;
    }

    n = ngx_http_servqual_agg_sort(w);

    d.w = w;
    msgpack_packer_init(&d.pk, &d, ngx_http_servqual_write);
    ngx_http_servqual_begin(&d);

    i = 0;
    j = 0;
    nb = ngx_http_servqual_agg_browser_sort(w, &bcells);

    for (slot = 0; slot < w->nseries; slot++) {
        s = &w->series[slot];
        bc = ngx_http_servqual_agg_browser_counters(w, slot);

        /* the fields after the labels and counters; with browser data 8 */

        nf = bc ? NGX_HTTP_SERVQUAL_BFIELDS : SQ_WIRE_NHISTS;
        reserve = bc ? NGX_HTTP_SERVQUAL_BCLOSE_MAX
                     : NGX_HTTP_SERVQUAL_CLOSE_MAX;

        /* a series starts where its head and a first pair fit */

        if ((size_t) (d.end - d.pos) < ngx_http_servqual_head_size(w, s)
                                       + NGX_HTTP_SERVQUAL_PAIR_MAX
                                       + reserve)
        {
            ngx_http_servqual_end(&d);
            ngx_http_servqual_begin(&d);
        }

        ngx_http_servqual_series_head(&d, s, 1, bc != NULL);
        d.requests += s->counters[SQ_C_REQUESTS];
        with = 1;

        for (f = 0; f < nf; f++) {

            if (f == NGX_HTTP_SERVQUAL_FIELD_BC) {
                ngx_http_servqual_bcounters(&d, with ? bc : NULL);
                continue;
            }

            if (f > NGX_HTTP_SERVQUAL_FIELD_BC
                && (size_t) (d.end - d.pos)
                   < NGX_HTTP_SERVQUAL_PAIR_MAX + reserve)
            {
                /* this field and the rest in the next datagram */
                ngx_http_servqual_split(&d, s, bc, f, nf, with);
                ngx_http_servqual_fill(&d, NULL, 0, f);
                with = 0;
            }

            hist = ngx_http_servqual_array32(&d);
            npairs = 0;
            prev = 0;

            for ( ;; ) {

                /* the next cell of this field's histogram, if any */

                if (f < SQ_WIRE_NHISTS) {
                    if (i == n) {
                        break;
                    }

                    cell = w->sorted[i];

                    if ((cell >> 44) != slot + 1
                        || ((cell >> 43) & 1) != f)
                    {
                        break;
                    }

                    bucket = (uint32_t) (cell >> 32) & 0x7ff;
                    count = (uint32_t) cell;
                    i++;

                } else {
                    if (j == nb) {
                        break;
                    }

                    key = bcells[j].key;

                    if (NGX_HTTP_SERVQUAL_BCELL_SLOT(key) != slot
                        || NGX_HTTP_SERVQUAL_BCELL_KIND(key)
                           != f - NGX_HTTP_SERVQUAL_FIELD_BC - 1)
                    {
                        break;
                    }

                    bucket = NGX_HTTP_SERVQUAL_BCELL_BUCKET(key);
                    count = ngx_min(bcells[j].count, 0xffffffff);
                    j++;
                }

                if ((size_t) (d.end - d.pos)
                    < NGX_HTTP_SERVQUAL_PAIR_MAX + reserve)
                {
                    /* continue this histogram in the next datagram */

                    ngx_http_servqual_patch(hist, 2 * npairs);
                    ngx_http_servqual_split(&d, s, bc, f + 1, nf, with);
                    with = 0;

                    ngx_http_servqual_fill(&d, NULL, 0, f);

                    hist = ngx_http_servqual_array32(&d);
                    npairs = 0;
                    prev = 0;
                }

                msgpack_pack_uint32(&d.pk, npairs ? bucket - prev : bucket);
                msgpack_pack_uint32(&d.pk, (uint32_t) count);

                prev = bucket;
                npairs++;
            }

            ngx_http_servqual_patch(hist, 2 * npairs);
        }
    }

    ngx_http_servqual_end(&d);

    ngx_http_servqual_agg_reset(w);
    ngx_http_servqual_rearm(w);
}


/*
 * While datagrams wait in the queue, or spool files of exited workers may
 * come, the flush timer keeps running (a directory read a flush when idle).
 */

static void
ngx_http_servqual_rearm(ngx_http_servqual_worker_t *w)
{
    ngx_uint_t  i, waiting;

    waiting = (w->spool != NULL);

    for (i = 0; i < w->ndests; i++) {
        if (w->dests[i].qlen > w->dests[i].qsent) {
            waiting = 1;
        }
    }

    if (waiting && !w->timer.timer_set
        && !ngx_exiting && !ngx_terminate && !ngx_quit)
    {
        ngx_add_timer(&w->timer, w->conf->flush);
    }
}


/*
 * A datagram is made once, with a head that carries, of the counts that
 * differ between collectors ("dd", "dr", "cs", "cx"), the largest: the
 * head made again for each collector is no longer, so the datagram still
 * fits its buffer.
 */

static void
ngx_http_servqual_begin(ngx_http_servqual_dgram_t *d)
{
    uint64_t                     dd, dr, cs, cx;
    ngx_uint_t                   i;
    ngx_time_t                  *tp;
    ngx_http_servqual_dest_t    *dest;
    ngx_http_servqual_worker_t  *w;

    w = d->w;

    d->pos = w->buf;
    d->end = w->buf + w->size;
    d->nseries = 0;
    d->requests = 0;

    tp = ngx_timeofday();

    d->seq = ++w->seq;
    d->we = (uint64_t) tp->sec * 1000 + tp->msec;

    /* a window with no request (drops to report) is an empty instant */

    d->ws = w->window_start ? w->window_start : d->we;

    /* the overflow counts of the window travel in its first datagram */

    d->so = w->series_overflow;
    w->series_overflow = 0;

    d->go = w->segment_overflow;
    w->segment_overflow = 0;

    /* the running totals of the datagrams before this one */

    d->cr = w->made_requests;

    dd = 0;
    dr = 0;
    cs = 0;
    cx = 0;

    for (i = 0; i < w->ndests; i++) {
        dest = &w->dests[i];

        dd = ngx_max(dd, dest->dropped);
        dr = ngx_max(dr, dest->dropped_requests);
        cs = ngx_max(cs, dest->sent);
        cx = ngx_max(cx, dest->unsent_requests);
    }

    ngx_http_servqual_head(d, dd, dr, cs, cx);

    d->series = ngx_http_servqual_array32(d);
}


static void
ngx_http_servqual_head(ngx_http_servqual_dgram_t *d, uint64_t dd,
    uint64_t dr, uint64_t cs, uint64_t cx)
{
    ngx_http_servqual_worker_t  *w;

    w = d->w;

    msgpack_pack_map(&d->pk, SQ_WIRE_NKEYS);

    ngx_http_servqual_pack_key(d, SQ_K_VERSION);
    msgpack_pack_uint32(&d->pk, SQ_WIRE_VERSION);

    ngx_http_servqual_pack_key(d, SQ_K_NODE);
    ngx_http_servqual_pack_str(d, w->conf->node.data, w->conf->node.len);

    ngx_http_servqual_pack_key(d, SQ_K_PID);
    msgpack_pack_uint64(&d->pk, (uint64_t) ngx_pid);

    ngx_http_servqual_pack_key(d, SQ_K_SEQ);
    msgpack_pack_uint64(&d->pk, d->seq);

    ngx_http_servqual_pack_key(d, SQ_K_WS);
    msgpack_pack_uint64(&d->pk, d->ws);

    ngx_http_servqual_pack_key(d, SQ_K_WE);
    msgpack_pack_uint64(&d->pk, d->we);

    ngx_http_servqual_pack_key(d, SQ_K_DD);
    msgpack_pack_uint64(&d->pk, dd);

    ngx_http_servqual_pack_key(d, SQ_K_DR);
    msgpack_pack_uint64(&d->pk, dr);

    ngx_http_servqual_pack_key(d, SQ_K_SO);
    msgpack_pack_uint64(&d->pk, d->so);

    ngx_http_servqual_pack_key(d, SQ_K_GO);
    msgpack_pack_uint64(&d->pk, d->go);

    ngx_http_servqual_pack_key(d, SQ_K_CR);
    msgpack_pack_uint64(&d->pk, d->cr);

    ngx_http_servqual_pack_key(d, SQ_K_CS);
    msgpack_pack_uint64(&d->pk, cs);

    ngx_http_servqual_pack_key(d, SQ_K_CX);
    msgpack_pack_uint64(&d->pk, cx);

    ngx_http_servqual_pack_key(d, SQ_K_SERIES);
}


/*
 * The same datagram, the same sequence number, to every collector: the
 * head is made again with the collector's own delivery counts, put
 * before the series, and the whole signed and queued for it.
 */

static void
ngx_http_servqual_end(ngx_http_servqual_dgram_t *d)
{
    u_char                      *body;
    size_t                       blen, hlen, len;
    ngx_uint_t                   i;
    ngx_http_servqual_dest_t    *dest;
    ngx_http_servqual_worker_t  *w;
    u_char                       head[NGX_HTTP_SERVQUAL_HEAD_MAX];

    w = d->w;

    if (d->series == NULL) {
        /* no room for the head: buffer= is at least 1k, never here */
        return;
    }

    ngx_http_servqual_patch(d->series, d->nseries);

    body = d->series;
    blen = d->pos - d->series;

    for (i = 0; i < w->ndests; i++) {
        dest = &w->dests[i];

        d->pos = head;
        d->end = head + sizeof(head);

        ngx_http_servqual_head(d, dest->dropped, dest->dropped_requests,
                               dest->sent, dest->unsent_requests);

        hlen = d->pos - head;

        ngx_memmove(w->buf + hlen, body, blen);
        ngx_memcpy(w->buf, head, hlen);
        body = w->buf + hlen;

        len = ngx_http_servqual_sign(w, w->buf, hlen + blen);

        ngx_http_servqual_enqueue(w, dest, w->buf, len, d->requests);
    }

    w->made_requests += d->requests;

    for (i = 0; i < w->ndests; i++) {
        ngx_http_servqual_drain(w, &w->dests[i]);
    }
}


/*
 * endpoint, region and segment of a series, from their ids: the series
 * fields before SQ_F_COUNTERS
 */

static void
ngx_http_servqual_labels(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t *s, ngx_str_t *labels)
{
    ngx_str_t                  *endpoint;
    ngx_uint_t                  seg;
    ngx_http_servqual_label_t  *region;

    endpoint = w->conf->endpoints.elts;
    labels[SQ_F_ENDPOINT] = endpoint[NGX_HTTP_SERVQUAL_KEY_ENDPOINT(s->key)];

    region = &w->regions[NGX_HTTP_SERVQUAL_KEY_REGION(s->key)];
    labels[SQ_F_REGION].len = region->len;
    labels[SQ_F_REGION].data = region->data;

    seg = NGX_HTTP_SERVQUAL_KEY_SEGMENT(s->key);

    if (seg == NGX_HTTP_SERVQUAL_SEGMENT_NONE) {
        ngx_str_set(&labels[SQ_F_SEGMENT], "");

    } else if (seg == NGX_HTTP_SERVQUAL_SEGMENT_OTHER) {
        ngx_str_set(&labels[SQ_F_SEGMENT], SQ_WIRE_OTHER);

    } else {
        labels[SQ_F_SEGMENT].len = w->segment_len[seg - 1];
        labels[SQ_F_SEGMENT].data = w->segments[seg - 1];
    }
}


/* the bytes of a series up to its first histogram pair, as packed below */

static size_t
ngx_http_servqual_head_size(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_series_t *s)
{
    size_t      size;
    uint64_t    v;
    ngx_uint_t  i;
    ngx_str_t   labels[SQ_F_COUNTERS];

    ngx_http_servqual_labels(w, s, labels);

    size = 1 + 3 + 5;      /* fixarray, counters' array16, array32 */

    for (i = SQ_F_ENDPOINT; i < SQ_F_COUNTERS; i++) {
        size += labels[i].len + (labels[i].len < 32 ? 1 : 2);
    }

    for (i = 0; i < SQ_WIRE_NCOUNTERS; i++) {
        v = s->counters[i];
        size += v < 128 ? 1 : v < 256 ? 2 : v < 65536 ? 3
                : v <= 0xffffffff ? 5 : 9;
    }

    return size;
}


static void
ngx_http_servqual_series_head(ngx_http_servqual_dgram_t *d,
    ngx_http_servqual_series_t *s, ngx_uint_t with_counters,
    ngx_uint_t browser)
{
    ngx_uint_t  i;
    ngx_str_t   labels[SQ_F_COUNTERS];

    ngx_http_servqual_labels(d->w, s, labels);

    d->nseries++;

    msgpack_pack_array(&d->pk, browser ? SQ_WIRE_SERIES_FIELDS_BROWSER
                                       : SQ_WIRE_SERIES_FIELDS);

    for (i = SQ_F_ENDPOINT; i < SQ_F_COUNTERS; i++) {
        ngx_http_servqual_pack_str(d, labels[i].data, labels[i].len);
    }

    msgpack_pack_array(&d->pk, SQ_WIRE_NCOUNTERS);

    for (i = 0; i < SQ_WIRE_NCOUNTERS; i++) {
        msgpack_pack_uint64(&d->pk, with_counters ? s->counters[i] : 0);
    }
}


/* a series' browser counters; NULL: zeros (a continued series) */

static void
ngx_http_servqual_bcounters(ngx_http_servqual_dgram_t *d, uint64_t *bc)
{
    ngx_uint_t  i;

    msgpack_pack_array(&d->pk, SQ_WIRE_NBCOUNTERS);

    for (i = 0; i < SQ_WIRE_NBCOUNTERS; i++) {
        msgpack_pack_uint64(&d->pk, bc ? bc[i] : 0);
    }
}


/* the fields [from, to) after the counters, empty (array32, as all) */

static void
ngx_http_servqual_fill(ngx_http_servqual_dgram_t *d, uint64_t *bc,
    ngx_uint_t from, ngx_uint_t to)
{
    ngx_uint_t  f;

    for (f = from; f < to; f++) {

        if (f == NGX_HTTP_SERVQUAL_FIELD_BC) {
            ngx_http_servqual_bcounters(d, bc);

        } else {
            ngx_http_servqual_patch(ngx_http_servqual_array32(d), 0);
        }
    }
}


/*
 * A series continues in the next datagram: its fields [from, nf) are
 * closed empty here (the browser counters as they are if they were not
 * sent yet), and the next datagram gets its head with zero counters
 * (ngx_http_servqual_series_head) and nothing else, the caller's next.
 */

static void
ngx_http_servqual_split(ngx_http_servqual_dgram_t *d,
    ngx_http_servqual_series_t *s, uint64_t *bc, ngx_uint_t from,
    ngx_uint_t nf, ngx_uint_t with)
{
    ngx_http_servqual_fill(d, with ? bc : NULL, from, nf);

    ngx_http_servqual_end(d);
    ngx_http_servqual_begin(d);

    ngx_http_servqual_series_head(d, s, 0, bc != NULL);
}


static void
ngx_http_servqual_pack_key(ngx_http_servqual_dgram_t *d, ngx_uint_t key)
{
    const char  *name;

    name = ngx_http_servqual_keys[key];

    msgpack_pack_str_with_body(&d->pk, name, ngx_strlen(name));
}


static void
ngx_http_servqual_pack_str(ngx_http_servqual_dgram_t *d, u_char *p,
    size_t len)
{
    msgpack_pack_str_with_body(&d->pk, p, len);
}


static u_char *
ngx_http_servqual_array32(ngx_http_servqual_dgram_t *d)
{
    u_char  *p;

    p = d->pos;

    if (d->end - d->pos < 5) {
        return NULL;
    }

    *d->pos = 0xdd;
    d->pos += 5;

    return p;
}


static void
ngx_http_servqual_patch(u_char *p, uint32_t n)
{
    if (p == NULL) {
        return;
    }

    p[1] = (u_char) (n >> 24);
    p[2] = (u_char) (n >> 16);
    p[3] = (u_char) (n >> 8);
    p[4] = (u_char) n;
}


static int
ngx_http_servqual_write(void *data, const char *buf, size_t len)
{
    ngx_http_servqual_dgram_t  *d = data;

    /* the encoder reserves room before each element; this is a backstop */

    if ((size_t) (d->end - d->pos) < len) {
        return -1;
    }

    d->pos = ngx_cpymem(d->pos, buf, len);

    return 0;
}


static void
ngx_http_servqual_enqueue(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest, u_char *p, size_t len, uint64_t requests)
{
    u_char    *q;
    size_t     need;
    uint32_t   n;
    uint64_t   r;

    need = NGX_HTTP_SERVQUAL_QHEAD + len;

    /* past the budget the oldest datagrams go, counted as not sent */

    while (dest->qlen + need > NGX_HTTP_SERVQUAL_QUEUE && dest->qlen) {
        q = dest->queue;
        n = ((uint32_t) q[0] << 24) | ((uint32_t) q[1] << 16)
            | ((uint32_t) q[2] << 8) | q[3];
        ngx_memcpy(&r, q + 4, sizeof(uint64_t));

        if (dest->qsent == 0) {
            dest->dropped++;
            dest->dropped_requests += r;
            dest->unsent_requests += r;

        } else {
            /* sent, not yet known delivered: taken as delivered */
            dest->qsent -= NGX_HTTP_SERVQUAL_QHEAD + n;
        }

        dest->qlen -= NGX_HTTP_SERVQUAL_QHEAD + n;
        ngx_memmove(dest->queue, q + NGX_HTTP_SERVQUAL_QHEAD + n, dest->qlen);
    }

    q = dest->queue + dest->qlen;
    q[0] = (u_char) (len >> 24);
    q[1] = (u_char) (len >> 16);
    q[2] = (u_char) (len >> 8);
    q[3] = (u_char) len;
    ngx_memcpy(q + 4, &requests, sizeof(uint64_t));
    ngx_memcpy(q + NGX_HTTP_SERVQUAL_QHEAD, p, len);
    dest->qlen += need;
}


/* sends the queued datagrams not sent yet, in order, until one fails */

static void
ngx_http_servqual_drain(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest)
{
    u_char     *q;
    ssize_t     n;
    uint32_t    len;
    uint64_t    r;
    ngx_err_t   err;

    while (dest->qsent < dest->qlen) {

        if (dest->fd == (ngx_socket_t) -1
            && ngx_http_servqual_connect(w, dest) != NGX_OK)
        {
            return;
        }

        q = dest->queue + dest->qsent;
        len = ((uint32_t) q[0] << 24) | ((uint32_t) q[1] << 16)
              | ((uint32_t) q[2] << 8) | q[3];
        ngx_memcpy(&r, q + 4, sizeof(uint64_t));

        n = send(dest->fd, q + NGX_HTTP_SERVQUAL_QHEAD, len, 0);

        if (n == (ssize_t) len) {
            dest->qsent += NGX_HTTP_SERVQUAL_QHEAD + len;
            dest->sent++;
            dest->last_sent++;
            dest->last_requests += r;
            dest->dropped = 0;
            dest->dropped_requests = 0;
            continue;
        }

        err = (n == -1) ? ngx_socket_errno : 0;

        if (err == NGX_ECONNREFUSED) {
            /* a datagram sent before was refused: all since the last
               flush are sent again */
            dest->sent -= dest->last_sent;
            dest->qsent = 0;
            dest->last_sent = 0;
            dest->last_requests = 0;
        }

        if (ngx_time() - dest->error_logged >= 60) {
            dest->error_logged = ngx_time();
            ngx_log_error(NGX_LOG_ERR, w->log, err,
                          "servqual: send() to collector \"%V\" failed, "
                          "%uz bytes of datagrams kept to send later",
                          &dest->collector->address, dest->qlen);
        }

        if (err != NGX_EAGAIN && err != ENOBUFS) {
            /* start afresh with a new socket next time */
            ngx_http_servqual_dest_close(dest);
        }

        return;
    }
}


static ngx_int_t
ngx_http_servqual_connect(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest)
{
    ngx_err_t      err;
    ngx_socket_t   fd;
    ngx_addr_t    *addr;
    const char    *what;

    addr = dest->collector->addr;

    fd = ngx_socket(addr->sockaddr->sa_family, SOCK_DGRAM, 0);
    if (fd == (ngx_socket_t) -1) {
        what = ngx_socket_n;
        goto failed;
    }

    if (ngx_nonblocking(fd) == -1) {
        what = ngx_nonblocking_n;
        goto failed;
    }

    if (connect(fd, addr->sockaddr, addr->socklen) == -1) {
        what = "connect()";
        goto failed;
    }

    dest->fd = fd;

    return NGX_OK;

failed:

    err = ngx_socket_errno;

    if (ngx_time() - dest->error_logged >= 60) {
        dest->error_logged = ngx_time();
        ngx_log_error(NGX_LOG_ERR, w->log, err,
                      "servqual: %s to collector \"%V\" failed, "
                      "%uL datagrams dropped so far",
                      what, &dest->collector->address, dest->dropped + 1);
    }

    if (fd != (ngx_socket_t) -1) {
        (void) ngx_close_socket(fd);
    }

    return NGX_ERROR;
}


/*
 * A connected UDP socket learns that a datagram was refused (ICMP port
 * unreachable: no collector listens) after the send, and reports it on
 * the next send, which then fails in its place.  The error is read here
 * before each flush instead: the datagrams sent since the last flush are
 * sent again (the collector drops any it had as duplicates); without an
 * error they are taken as delivered and leave the queue.
 */

static void
ngx_http_servqual_refused(ngx_http_servqual_worker_t *w,
    ngx_http_servqual_dest_t *dest)
{
    int        err;
    socklen_t  len;

    err = 0;

    if (dest->fd != (ngx_socket_t) -1) {
        len = sizeof(int);

        if (getsockopt(dest->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }
    }

    if (err) {
        dest->sent -= dest->last_sent;
        dest->qsent = 0;

        if (ngx_time() - dest->error_logged >= 60) {
            dest->error_logged = ngx_time();
            ngx_log_error(NGX_LOG_ERR, w->log, err,
                          "servqual: collector \"%V\" refused datagrams, "
                          "%uz bytes of datagrams kept to send later",
                          &dest->collector->address, dest->qlen);
        }

        ngx_http_servqual_dest_close(dest);

    } else if (dest->qsent) {
        dest->qlen -= dest->qsent;
        ngx_memmove(dest->queue, dest->queue + dest->qsent, dest->qlen);
        dest->qsent = 0;
    }

    dest->last_sent = 0;
    dest->last_requests = 0;
}


static void
ngx_http_servqual_dest_close(ngx_http_servqual_dest_t *dest)
{
    if (dest->fd != (ngx_socket_t) -1) {
        (void) ngx_close_socket(dest->fd);
        dest->fd = (ngx_socket_t) -1;
    }
}


void
ngx_http_servqual_send_close(ngx_http_servqual_worker_t *w)
{
    ngx_uint_t  i;

    for (i = 0; i < w->ndests; i++) {
        ngx_http_servqual_dest_close(&w->dests[i]);
    }
}
