
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


static ngx_uint_t ngx_http_servqual_region_variable(ngx_http_request_t *r,
    ngx_http_servqual_worker_t *w, ngx_http_servqual_loc_conf_t *lcf)
    NGX_HTTP_SERVQUAL_NOINLINE;
static ngx_uint_t ngx_http_servqual_geo_lookup(ngx_http_servqual_worker_t *w,
    struct sockaddr *sa, ngx_int_t kind) NGX_HTTP_SERVQUAL_NOINLINE;
static void ngx_http_servqual_geo_cleanup(void *data);


ngx_conf_enum_t  ngx_http_servqual_region_modes[] = {
    { ngx_string("country"), NGX_HTTP_SERVQUAL_REGION_COUNTRY },
    { ngx_string("continent"), NGX_HTTP_SERVQUAL_REGION_CONTINENT },
    { ngx_string("subdivision"), NGX_HTTP_SERVQUAL_REGION_SUBDIVISION },
    { ngx_null_string, 0 }
};


/* lookup paths as arrays: MMDB_get_value() would allocate one per call */

static const char  *ngx_http_servqual_country_path[] =
    { "country", "iso_code", NULL };
static const char  *ngx_http_servqual_continent_path[] =
    { "continent", "code", NULL };
static const char  *ngx_http_servqual_subdivision_path[] =
    { "subdivisions", "0", "iso_code", NULL };


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


ngx_int_t
ngx_http_servqual_geo_init(ngx_http_servqual_worker_t *w, ngx_pool_t *pool)
{
    w->geo = ngx_pcalloc(pool, NGX_HTTP_SERVQUAL_GEO_CACHE
                               * sizeof(ngx_http_servqual_geo_t));
    if (w->geo == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The request path: a cache hit costs a hash and a compare.  What needs
 * a label buffer (a variable, a lookup) is kept out of line, so that the
 * hit path has no stack array to guard.
 */

ngx_uint_t
ngx_http_servqual_region(ngx_http_request_t *r, ngx_http_servqual_worker_t *w,
    ngx_http_servqual_loc_conf_t *lcf)
{
    u_char                   *addr;
    uint32_t                  h;
    uint64_t                  a0, a1;
    ngx_uint_t                alen;
    struct sockaddr          *sa;
    ngx_http_servqual_geo_t  *e;

    if (lcf->region == NGX_HTTP_SERVQUAL_REGION_VARIABLE) {
        return ngx_http_servqual_region_variable(r, w, lcf);
    }

    if (w->conf->mmdb == NULL) {
        return NGX_HTTP_SERVQUAL_REGION_UNKNOWN;
    }

    /*
     * the client address as realip left it, as two 64-bit words,
     * zero-padded
     */

    sa = r->connection->sockaddr;

    switch (sa->sa_family) {

#if (NGX_HAVE_INET6)
    case AF_INET6:
        addr = ((struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;
        ngx_memcpy(&a0, addr, 8);
        ngx_memcpy(&a1, addr + 8, 8);
        alen = 16;
        break;
#endif

    case AF_INET:
        addr = (u_char *) &((struct sockaddr_in *) sa)->sin_addr;
        a0 = 0;
        ngx_memcpy(&a0, addr, 4);
        a1 = 0;
        alen = 4;
        break;

    default:
        return NGX_HTTP_SERVQUAL_REGION_UNKNOWN;
    }

    /* a per-worker cache of lookups, direct mapped on the address */

    h = (uint32_t) (((a0 ^ (a1 * 0x9e3779b97f4a7c15ULL)) + lcf->region)
                    * 0x9e3779b97f4a7c15ULL >> 40);

    e = &w->geo[h & (NGX_HTTP_SERVQUAL_GEO_CACHE - 1)];

    if (e->kind != lcf->region + 1
        || e->addr_len != alen
        || e->addr[0] != a0
        || e->addr[1] != a1)
    {
        e->region = (uint16_t) ngx_http_servqual_geo_lookup(w, sa,
                                                            lcf->region);
        e->kind = (u_char) (lcf->region + 1);
        e->addr_len = (u_char) alen;
        e->addr[0] = a0;
        e->addr[1] = a1;
    }

    return e->region;
}


static ngx_uint_t
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


/* a MaxMind lookup: the region's id, NGX_HTTP_SERVQUAL_REGION_UNKNOWN */

static ngx_uint_t
ngx_http_servqual_geo_lookup(ngx_http_servqual_worker_t *w,
    struct sockaddr *sa, ngx_int_t kind)
{
    int                    rc;
    u_char                *p;
    MMDB_entry_data_s      data;
    MMDB_lookup_result_s   res;
    u_char                 buf[SQ_WIRE_MAX_REGION];

    res = MMDB_lookup_sockaddr(w->conf->mmdb, sa, &rc);

    if (rc != MMDB_SUCCESS || !res.found_entry) {
        return NGX_HTTP_SERVQUAL_REGION_UNKNOWN;
    }

    if (kind == NGX_HTTP_SERVQUAL_REGION_CONTINENT) {
        rc = MMDB_aget_value(&res.entry, &data,
                             ngx_http_servqual_continent_path);

    } else {
        rc = MMDB_aget_value(&res.entry, &data,
                             ngx_http_servqual_country_path);
    }

    if (rc != MMDB_SUCCESS
        || !data.has_data
        || data.type != MMDB_DATA_TYPE_UTF8_STRING
        || data.data_size == 0
        || data.data_size > 3)
    {
        return NGX_HTTP_SERVQUAL_REGION_UNKNOWN;
    }

    p = ngx_cpymem(buf, data.utf8_string, data.data_size);

    if (kind != NGX_HTTP_SERVQUAL_REGION_SUBDIVISION) {
        return ngx_http_servqual_region_id(w, buf, p - buf);
    }

    /* ISO 3166-2: country, hyphen, subdivision code ("US-CA") */

    rc = MMDB_aget_value(&res.entry, &data,
                         ngx_http_servqual_subdivision_path);

    if (rc == MMDB_SUCCESS
        && data.has_data
        && data.type == MMDB_DATA_TYPE_UTF8_STRING
        && data.data_size > 0
        && data.data_size <= 3)
    {
        *p++ = '-';
        p = ngx_cpymem(p, data.utf8_string, data.data_size);
    }

    return ngx_http_servqual_region_id(w, buf, p - buf);
}
