
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <maxminddb.h>

#include "ngx_http_servqual_module.h"
#include "ngx_http_servqual_agg.h"
#include "ngx_http_servqual_geo.h"
#include "ngx_http_servqual_rtable.h"


static void ngx_http_servqual_geo_cleanup(void *data);
static void ngx_http_servqual_geo_table_cleanup(void *data);


ngx_conf_enum_t  ngx_http_servqual_region_modes[] = {
    { ngx_string("country"), NGX_HTTP_SERVQUAL_REGION_COUNTRY },
    { ngx_string("continent"), NGX_HTTP_SERVQUAL_REGION_CONTINENT },
    { ngx_string("subdivision"), NGX_HTTP_SERVQUAL_REGION_SUBDIVISION },
    { ngx_null_string, 0 }
};


MMDB_s *
ngx_http_servqual_geo_open(ngx_conf_t *cf, ngx_str_t *name)
{
    int                  rc;
    MMDB_s              *mmdb;
    ngx_err_t            err;
    ngx_str_t            file;
    ngx_pool_cleanup_t  *cln;

    file = *name;

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NULL;
    }

    mmdb = ngx_pcalloc(cf->pool, sizeof(MMDB_s));
    if (mmdb == NULL) {
        return NULL;
    }

    rc = MMDB_open((char *) file.data, MMDB_MODE_MMAP, mmdb);

    if (rc != MMDB_SUCCESS) {
        err = (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR)
              ? ngx_errno : 0;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           "MMDB_open(\"%V\") failed: %s",
                           &file, MMDB_strerror(rc));
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        MMDB_close(mmdb);
        return NULL;
    }

    cln->handler = ngx_http_servqual_geo_cleanup;
    cln->data = mmdb;

    if (ngx_strstr(mmdb->metadata.database_type, "Country") == NULL
        && ngx_strstr(mmdb->metadata.database_type, "City") == NULL
        && ngx_strstr(mmdb->metadata.database_type, "Enterprise") == NULL)
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\" is a \"%s\" database, not a Country or "
                           "City one: regions may come out \"unknown\"",
                           &file, mmdb->metadata.database_type);
    }

    return mmdb;
}


static void
ngx_http_servqual_geo_cleanup(void *data)
{
    MMDB_s  *mmdb = data;

    MMDB_close(mmdb);
}


/*
 * The region table of the configuration's database and modes, built in
 * the master (or by nginx -t) when the configuration is read, freed with
 * the cycle.  Workers inherit it.
 */

ngx_int_t
ngx_http_servqual_geo_build(ngx_conf_t *cf,
    ngx_http_servqual_main_conf_t *mcf, ngx_uint_t modes)
{
    ngx_msec_t                   start;
    ngx_time_t                  *tp;
    ngx_pool_cleanup_t          *cln;
    ngx_http_servqual_rtable_t  *rt;
    u_char                       err[NGX_MAX_ERROR_STR];

    if (modes == 0) {
        return NGX_OK;
    }

    ngx_time_update();
    tp = ngx_timeofday();
    start = tp->sec * 1000 + tp->msec;

    rt = ngx_http_servqual_rtable_build(mcf->mmdb, modes, cf->log, err,
                                        sizeof(err));
    if (rt == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "servqual cannot build the region table of "
                           "\"%s\": %s", mcf->mmdb->filename, err);
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_http_servqual_rtable_free(rt);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_servqual_geo_table_cleanup;
    cln->data = rt;

    mcf->rtable = rt;

    ngx_time_update();
    tp = ngx_timeofday();

    ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                  "servqual region table of \"%s\": %ui networks, "
                  "%ui records, %ui regions, %uz KiB, %M ms",
                  mcf->mmdb->filename, rt->networks, rt->leaves,
                  rt->nlabels - 1, rt->size / 1024,
                  tp->sec * 1000 + tp->msec - start);

    return NGX_OK;
}


static void
ngx_http_servqual_geo_table_cleanup(void *data)
{
    ngx_http_servqual_rtable_free(data);
}


/* what ngx_http_servqual_geo_init() allocates */

size_t
ngx_http_servqual_geo_size(ngx_http_servqual_main_conf_t *mcf)
{
    if (mcf->rtable == NULL) {
        return 0;
    }

    return mcf->rtable->nlabels * sizeof(ngx_http_servqual_geo_t)
           + NGX_ALIGNMENT;
}


ngx_int_t
ngx_http_servqual_geo_init(ngx_http_servqual_worker_t *w, ngx_pool_t *pool)
{
    if (w->conf->rtable == NULL) {
        return NGX_OK;
    }

    /* a table label's region id in this worker, + 1; 0: not seen yet */

    w->geo = ngx_pcalloc(pool, w->conf->rtable->nlabels
                               * sizeof(ngx_http_servqual_geo_t));
    if (w->geo == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * At the worker's start, after the aggregate's own labels: every label of
 * the table interned, so that the request path takes a region id straight
 * from w->geo[] and never interns.  Left to the first sight of each label
 * when the table has more labels than half the worker's regions (the
 * other half kept for servqual_region $variable).
 */

void
ngx_http_servqual_geo_intern_all(ngx_http_servqual_worker_t *w)
{
    ngx_uint_t                   label;
    ngx_http_servqual_rtable_t  *rt;

    rt = w->conf->rtable;

    if (rt == NULL || rt->nlabels > NGX_HTTP_SERVQUAL_REGIONS / 2) {
        return;
    }

    for (label = 1; label < rt->nlabels; label++) {
        (void) ngx_http_servqual_geo_intern(w, label);
    }
}


/*
 * Out of the request path (ngx_http_servqual_region() is inline in
 * ngx_http_servqual_geo.h): a table label's first sight in this worker,
 * and a region from a variable, both of which need a label buffer.
 */

ngx_uint_t
ngx_http_servqual_geo_intern(ngx_http_servqual_worker_t *w, ngx_uint_t label)
{
    ngx_uint_t                     id;
    ngx_http_servqual_rt_label_t  *l;
    u_char                         buf[SQ_WIRE_MAX_REGION];

    l = &w->conf->rtable->labels[label];

    ngx_memcpy(buf, l->data, l->len);

    id = ngx_http_servqual_region_id(w, buf, l->len);

    /* "_other" when the worker's regions are full: asked again next time */

    if (id != NGX_HTTP_SERVQUAL_REGION_OTHER) {
        w->geo[label] = (ngx_http_servqual_geo_t) (id + 1);
    }

    return id;
}


ngx_uint_t
ngx_http_servqual_region_variable(ngx_http_request_t *r,
    ngx_http_servqual_worker_t *w, ngx_http_servqual_loc_conf_t *lcf)
{
    size_t                      len;
    ngx_http_variable_value_t  *v;
    u_char                      buf[SQ_WIRE_MAX_REGION];

    v = ngx_http_get_indexed_variable(r, lcf->region_index);

    len = ngx_http_servqual_label(v, buf, SQ_WIRE_MAX_REGION);
    if (len == 0) {
        return NGX_HTTP_SERVQUAL_REGION_UNKNOWN;
    }

    return ngx_http_servqual_region_id(w, buf, len);
}
