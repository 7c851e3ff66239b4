
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"
#include "ngx_http_servqual_agg.h"
#include "ngx_http_servqual_beacon.h"
#include "ngx_http_servqual_geo.h"


/*
 * The beacon: a POST of at most servqual_beacon_max_body bytes,
 *
 *   p=/checkout&n=navigate&lcp=1840&inp=96&cls=0.0213&fcp=912&ttfb=180
 *
 * pairs "key=value" joined by "&", each key at most once, in any order:
 *
 *   p     the page: 1 to 128 of [A-Za-z0-9_./:~-] (required)
 *   n     the navigation type, as web-vitals names it: [a-z-], 1 to 32
 *   lcp inp fcp ttfb
 *         milliseconds: digits, optionally "." and digits
 *   cls   the layout shift score: digits, optionally "." and digits
 *
 * Anything else ("-1", "NaN", "1e300", a percent-encoded byte, a key
 * twice) makes the whole beacon a 400 and nothing of it is counted.
 * Unknown keys of that form are skipped, so that a newer script works
 * with an older module.  Values past the bounds below are clamped to
 * them and the beacon counted in SQ_BC_CLAMPED.  Nothing is allocated:
 * the body is in the request's buffer, the parse on the stack.
 */

#define NGX_HTTP_SERVQUAL_BEACON_TIME_MAX   60000000         /* 60 s, us */
#define NGX_HTTP_SERVQUAL_BEACON_CLS_MAX    (10 * SQ_WIRE_CLS_SCALE)
#define NGX_HTTP_SERVQUAL_BEACON_NAV_MAX    32
#define NGX_HTTP_SERVQUAL_BEACON_KEY_MAX    16
#define NGX_HTTP_SERVQUAL_BEACON_BODY_MAX   65536
#define NGX_HTTP_SERVQUAL_BEACON_SCRIPT_MAX (256 * 1024)

/* a beacon's keys: the times and CLS by their SQ_B_* index, "p", "n" */

#define NGX_HTTP_SERVQUAL_BEACON_KEY_P        SQ_WIRE_NBHISTS
#define NGX_HTTP_SERVQUAL_BEACON_KEY_N        (SQ_WIRE_NBHISTS + 1)
#define NGX_HTTP_SERVQUAL_BEACON_KEY_UNKNOWN  (SQ_WIRE_NBHISTS + 2)

#define NGX_HTTP_SERVQUAL_KEY3(k, a, b, c)                                   \
    ((k)[0] == (a) && (k)[1] == (b) && (k)[2] == (c))


/* a configured page and the endpoint it is reported as */

typedef struct {
    ngx_str_t                      page;
    ngx_uint_t                     endpoint;
} ngx_http_servqual_page_t;


typedef struct {
    u_char                        *page;
    size_t                         page_len;
    ngx_uint_t                     nav;
    ngx_uint_t                     have;       /* 1 << SQ_B_* */
    ngx_uint_t                     seen;       /* keys met, 1 << key */
    ngx_uint_t                     clamped;
    uint64_t                       value[SQ_WIRE_NBHISTS];
} ngx_http_servqual_beacon_t;


static ngx_int_t ngx_http_servqual_beacon_handler(ngx_http_request_t *r);
static void ngx_http_servqual_beacon_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_servqual_beacon_parse(ngx_http_servqual_beacon_t *b,
    u_char *p, u_char *last);
static ngx_int_t ngx_http_servqual_beacon_number(u_char *p, u_char *last,
    uint64_t scale, uint64_t max, uint64_t *v);
static ngx_uint_t ngx_http_servqual_beacon_page(
    ngx_http_servqual_loc_conf_t *lcf, u_char *p, size_t len);
static ngx_uint_t ngx_http_servqual_beacon_key(u_char *key, size_t len);
static ngx_uint_t ngx_http_servqual_page_char(u_char ch);
static ngx_int_t ngx_http_servqual_script_handler(ngx_http_request_t *r);


/* web-vitals' navigation types; the rest are SQ_BC_NAV_OTHER */

static ngx_conf_enum_t  ngx_http_servqual_beacon_navs[] = {
    { ngx_string("navigate"), SQ_BC_NAV_NAVIGATE },
    { ngx_string("reload"), SQ_BC_NAV_RELOAD },
    { ngx_string("back-forward"), SQ_BC_NAV_BACK_FORWARD },
    { ngx_null_string, 0 }
};


static ngx_str_t  ngx_http_servqual_script_type =
    ngx_string("application/javascript");


char *
ngx_http_servqual_beacon(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate or conflicts with another content handler";
    }

    clcf->handler = ngx_http_servqual_beacon_handler;

    return NGX_CONF_OK;
}


char *
ngx_http_servqual_beacon_max_body(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_servqual_loc_conf_t *lcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (lcf->beacon_max_body != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size < 16 || size > NGX_HTTP_SERVQUAL_BEACON_BODY_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid beacon body size \"%V\", "
                           "it must be between 16 and %d bytes",
                           &value[1], NGX_HTTP_SERVQUAL_BEACON_BODY_MAX);
        return NGX_CONF_ERROR;
    }

    lcf->beacon_max_body = (size_t) size;

    return NGX_CONF_OK;
}


/*
 * servqual_beacon_pages name | page=name ...: the pages whose beacons
 * are reported under their own series, each as the endpoint "name" (a
 * page the script names "page", e.g. "/" or "/checkout", reported as
 * "name"); the beacons of any other page are reported as "_other".
 */

char *
ngx_http_servqual_beacon_pages(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_servqual_loc_conf_t *lcf = conf;

    u_char                         *eq;
    ngx_str_t                      *value, page, name;
    ngx_uint_t                      i, j, id;
    ngx_http_servqual_page_t       *pg;
    ngx_http_servqual_main_conf_t  *mcf;

    if (lcf->beacon_pages != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts - 1 > NGX_HTTP_SERVQUAL_BEACON_PAGES_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many beacon pages, at most %d",
                           NGX_HTTP_SERVQUAL_BEACON_PAGES_MAX);
        return NGX_CONF_ERROR;
    }

    lcf->beacon_pages = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                         sizeof(ngx_http_servqual_page_t));
    if (lcf->beacon_pages == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_servqual_module);

    for (i = 1; i < cf->args->nelts; i++) {

        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');

        page.data = value[i].data;
        page.len = eq ? (size_t) (eq - value[i].data) : value[i].len;
        name.data = eq ? eq + 1 : value[i].data;
        name.len = value[i].data + value[i].len - name.data;

        for (j = 0; j < page.len; j++) {
            if (!ngx_http_servqual_page_char(page.data[j])) {
                break;
            }
        }

        if (page.len == 0 || page.len > SQ_WIRE_MAX_ENDPOINT
            || j < page.len)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid beacon page \"%V\", it must be 1 to "
                               "%d of the characters A-Z a-z 0-9 _ . / : ~ -",
                               &value[i], SQ_WIRE_MAX_ENDPOINT);
            return NGX_CONF_ERROR;
        }

        for (j = 0; j < name.len; j++) {
            if (name.data[j] < 0x20 || name.data[j] == 0x7f
                || name.data[j] == '"' || name.data[j] == '\\')
            {
                break;
            }
        }

        if (name.len == 0 || name.len > SQ_WIRE_MAX_ENDPOINT
            || j < name.len)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid beacon page endpoint name \"%V\", it "
                               "must be 1 to %d bytes, with no control "
                               "characters, quotes or backslashes",
                               &value[i], SQ_WIRE_MAX_ENDPOINT);
            return NGX_CONF_ERROR;
        }

        pg = lcf->beacon_pages->elts;

        for (j = 0; j < lcf->beacon_pages->nelts; j++) {
            if (pg[j].page.len == page.len
                && ngx_memcmp(pg[j].page.data, page.data, page.len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate beacon page \"%V\"", &page);
                return NGX_CONF_ERROR;
            }
        }

        /* the endpoint's id, interned as servqual_endpoint's are */

        id = ngx_http_servqual_endpoint_id(cf, mcf, &name);
        if (id == (ngx_uint_t) NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        pg = ngx_array_push(lcf->beacon_pages);
        if (pg == NULL) {
            return NGX_CONF_ERROR;
        }

        pg->page = page;
        pg->endpoint = id;
    }

    return NGX_CONF_OK;
}


/* servqual_beacon_script file: the file, read once, served from memory */

char *
ngx_http_servqual_beacon_script(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_servqual_loc_conf_t *lcf = conf;

    u_char                    *p;
    ssize_t                    n;
    uint32_t                   crc;
    ngx_str_t                 *value, path;
    ngx_file_t                 file;
    ngx_file_info_t            fi;
    ngx_http_core_loc_conf_t  *clcf;

    if (lcf->beacon_script.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &path);
        goto failed;
    }

    if (ngx_file_size(&fi) == 0
        || ngx_file_size(&fi) > NGX_HTTP_SERVQUAL_BEACON_SCRIPT_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "beacon script \"%V\" is empty or larger than "
                           "%d KiB", &path,
                           NGX_HTTP_SERVQUAL_BEACON_SCRIPT_MAX / 1024);
        goto failed;
    }

    p = ngx_pnalloc(cf->pool, (size_t) ngx_file_size(&fi));
    if (p == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, p, (size_t) ngx_file_size(&fi), 0);
    if (n != (ssize_t) ngx_file_size(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "beacon script \"%V\" could not be read whole",
                           &path);
        goto failed;
    }

    (void) ngx_close_file(file.fd);

    lcf->beacon_script.data = p;
    lcf->beacon_script.len = (size_t) n;

    /* the ETag: the bytes' CRC-32 and length, a new one for any change */

    crc = ngx_crc32_long(p, (size_t) n);

    lcf->beacon_etag.data = ngx_pnalloc(cf->pool, NGX_INT32_LEN * 2 + 4);
    if (lcf->beacon_etag.data == NULL) {
        return NGX_CONF_ERROR;
    }

    lcf->beacon_etag.len = ngx_sprintf(lcf->beacon_etag.data, "\"%08xD-%xz\"",
                                       crc, (size_t) n)
                           - lcf->beacon_etag.data;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate or conflicts with another content handler";
    }

    clcf->handler = ngx_http_servqual_script_handler;

    return NGX_CONF_OK;

failed:

    (void) ngx_close_file(file.fd);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_servqual_beacon_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_servqual_loc_conf_t  *lcf;

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_servqual_module);

    if (r->headers_in.content_length_n > (off_t) lcf->beacon_max_body) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_servqual_beacon_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_servqual_beacon_body(ngx_http_request_t *r)
{
    u_char                        *p;
    size_t                         len;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl;
    ngx_http_servqual_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_servqual_module);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_BAD_REQUEST);
        return;
    }

    /* a chunked body's length is known only now; one in a file is long */

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file && !ngx_buf_in_memory(b)) {
            ngx_http_finalize_request(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
            return;
        }

        if (ngx_buf_in_memory(b)) {
            len += b->last - b->pos;
        }
    }

    if (len > lcf->beacon_max_body) {
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        return;
    }

    if (len == 0) {
        ngx_http_finalize_request(r, NGX_HTTP_BAD_REQUEST);
        return;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && ngx_buf_in_memory(cl->buf)) {
        p = cl->buf->pos;

    } else {
        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        for ( /* void */ ; cl; cl = cl->next) {
            b = cl->buf;

            if (ngx_buf_in_memory(b)) {
                p = ngx_cpymem(p, b->pos, b->last - b->pos);
            }
        }

        p -= len;
    }

    rc = ngx_http_servqual_beacon_add(r, p, len);

    ngx_http_finalize_request(r, rc == NGX_OK ? NGX_HTTP_NO_CONTENT : rc);
}


ngx_int_t
ngx_http_servqual_beacon_add(ngx_http_request_t *r, u_char *p, size_t len)
{
    uint64_t                       so, go, *bc;
    ngx_uint_t                     i, region, segment, endpoint;
    ngx_http_servqual_beacon_t     b;
    ngx_http_servqual_worker_t    *w;
    ngx_http_servqual_series_t    *s;
    ngx_http_servqual_loc_conf_t  *lcf;

    if (ngx_http_servqual_beacon_parse(&b, p, p + len) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "servqual: malformed beacon of %uz bytes", len);
        return NGX_HTTP_BAD_REQUEST;
    }

    w = ngx_http_servqual_worker;
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_servqual_module);

    /*
     * the module is idle in this worker, or off here: the beacon goes
     * with its request, which is not counted either (the window starts
     * and is sent with the requests it counts)
     */

    if (w == NULL || !lcf->enable) {
        return NGX_OK;
    }

    endpoint = ngx_http_servqual_beacon_page(lcf, b.page, b.page_len);

    /*
     * the region and segment as for any request; a fold they make is the
     * beacon request's own and counted once, by the log phase
     */

    so = w->series_overflow;
    go = w->segment_overflow;

    region = (w->conf->rtable
              || lcf->region == NGX_HTTP_SERVQUAL_REGION_VARIABLE)
             ? ngx_http_servqual_region(r, w, lcf)
             : NGX_HTTP_SERVQUAL_REGION_UNKNOWN;

    segment = (lcf->segment_index == NGX_CONF_UNSET)
              ? NGX_HTTP_SERVQUAL_SEGMENT_NONE
              : ngx_http_servqual_segment(r, w, lcf);

    s = ngx_http_servqual_agg_series(w, NGX_HTTP_SERVQUAL_KEY(endpoint,
                                                              region,
                                                              segment));

    bc = ngx_http_servqual_agg_browser(w, &s);

    w->series_overflow = so;
    w->segment_overflow = go;

    if (bc == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "servqual: no memory for the browser's measurements");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    bc[SQ_BC_BEACONS]++;
    bc[b.nav]++;

    if (b.clamped) {
        bc[SQ_BC_CLAMPED]++;
    }

    for (i = 0; i < SQ_WIRE_NBHISTS; i++) {
        if (b.have & (1 << i)) {
            ngx_http_servqual_agg_browser_sample(w, s, i, b.value[i]);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_servqual_beacon_parse(ngx_http_servqual_beacon_t *b, u_char *p,
    u_char *last)
{
    u_char          *key, *val, *end;
    size_t           klen, vlen;
    uint64_t         max, scale;
    ngx_int_t        rc;
    ngx_uint_t       k, i;
    ngx_conf_enum_t  *nav;

    ngx_memzero(b, sizeof(ngx_http_servqual_beacon_t));
    b->nav = SQ_BC_NAV_OTHER;

    while (p < last) {

        /* key */

        key = p;

        while (p < last && *p >= 'a' && *p <= 'z') {
            p++;
        }

        klen = p - key;

        if (klen == 0 || klen > NGX_HTTP_SERVQUAL_BEACON_KEY_MAX
            || p == last || *p != '=')
        {
            return NGX_ERROR;
        }

        /* value: up to the next "&" */

        val = ++p;
        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        vlen = end - val;
        p = (end == last) ? last : end + 1;

        if (vlen == 0 || (end < last && p == last)) {
            /* an empty value, or a trailing "&" */
            return NGX_ERROR;
        }

        k = ngx_http_servqual_beacon_key(key, klen);

        if (k == NGX_HTTP_SERVQUAL_BEACON_KEY_UNKNOWN) {

            /* an unknown key: its value must still be plain */

            for (i = 0; i < vlen; i++) {
                if (!ngx_http_servqual_page_char(val[i])) {
                    return NGX_ERROR;
                }
            }

            continue;
        }

        if (b->seen & (1 << k)) {
            return NGX_ERROR;
        }

        b->seen |= 1 << k;

        if (k == NGX_HTTP_SERVQUAL_BEACON_KEY_P) {

            if (vlen > SQ_WIRE_MAX_ENDPOINT) {
                return NGX_ERROR;
            }

            for (i = 0; i < vlen; i++) {
                if (!ngx_http_servqual_page_char(val[i])) {
                    return NGX_ERROR;
                }
            }

            b->page = val;
            b->page_len = vlen;
            continue;
        }

        if (k == NGX_HTTP_SERVQUAL_BEACON_KEY_N) {

            if (vlen > NGX_HTTP_SERVQUAL_BEACON_NAV_MAX) {
                return NGX_ERROR;
            }

            for (i = 0; i < vlen; i++) {
                if ((val[i] < 'a' || val[i] > 'z') && val[i] != '-') {
                    return NGX_ERROR;
                }
            }

            for (nav = ngx_http_servqual_beacon_navs; nav->name.len; nav++) {
                if (nav->name.len == vlen
                    && ngx_memcmp(nav->name.data, val, vlen) == 0)
                {
                    b->nav = nav->value;
                    break;
                }
            }

            continue;
        }

        /* a measurement: milliseconds to us, or CLS scaled */

        if (k == SQ_B_CLS) {
            scale = SQ_WIRE_CLS_SCALE;
            max = NGX_HTTP_SERVQUAL_BEACON_CLS_MAX;

        } else {
            scale = 1000;
            max = NGX_HTTP_SERVQUAL_BEACON_TIME_MAX;
        }

        rc = ngx_http_servqual_beacon_number(val, end, scale, max,
                                             &b->value[k]);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            b->clamped = 1;
        }

        b->have |= 1 << k;
    }

    if (b->page == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * digits, optionally "." and digits, times scale (a power of ten), its
 * further decimals dropped: NGX_OK, NGX_DECLINED when clamped to max,
 * NGX_ERROR when it is not such a number
 */

static ngx_int_t
ngx_http_servqual_beacon_number(u_char *p, u_char *last, uint64_t scale,
    uint64_t max, uint64_t *v)
{
    uint64_t    n, f;
    ngx_uint_t  digits, over;

    n = 0;
    over = 0;
    digits = 0;

    for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {
        digits++;

        if (n > max) {
            over = 1;
            continue;
        }

        n = n * 10 + (*p - '0');
    }

    if (digits == 0) {
        return NGX_ERROR;
    }

    if (n > max / scale) {
        over = 1;
    }

    n *= over ? 0 : scale;

    if (p < last) {

        if (*p++ != '.' || p == last) {
            return NGX_ERROR;
        }

        for (f = scale / 10; p < last && *p >= '0' && *p <= '9'; p++) {
            n += f * (*p - '0');
            f /= 10;
        }

        if (p < last) {
            return NGX_ERROR;
        }
    }

    if (over || n > max) {
        *v = max;
        return NGX_DECLINED;
    }

    *v = n;

    return NGX_OK;
}


/* a key's index: SQ_B_*, NGX_HTTP_SERVQUAL_BEACON_KEY_* */

static ngx_uint_t
ngx_http_servqual_beacon_key(u_char *key, size_t len)
{
    switch (len) {

    case 1:
        if (key[0] == 'p') {
            return NGX_HTTP_SERVQUAL_BEACON_KEY_P;
        }

        if (key[0] == 'n') {
            return NGX_HTTP_SERVQUAL_BEACON_KEY_N;
        }

        break;

    case 3:
        if (NGX_HTTP_SERVQUAL_KEY3(key, 'l', 'c', 'p')) {
            return SQ_B_LCP;
        }

        if (NGX_HTTP_SERVQUAL_KEY3(key, 'i', 'n', 'p')) {
            return SQ_B_INP;
        }

        if (NGX_HTTP_SERVQUAL_KEY3(key, 'c', 'l', 's')) {
            return SQ_B_CLS;
        }

        if (NGX_HTTP_SERVQUAL_KEY3(key, 'f', 'c', 'p')) {
            return SQ_B_FCP;
        }

        break;

    case 4:
        if (NGX_HTTP_SERVQUAL_KEY3(key, 't', 't', 'f') && key[3] == 'b') {
            return SQ_B_TTFB;
        }

        break;
    }

    return NGX_HTTP_SERVQUAL_BEACON_KEY_UNKNOWN;
}


/* the endpoint of a page: its configured name, or "_other" */

static ngx_uint_t
ngx_http_servqual_beacon_page(ngx_http_servqual_loc_conf_t *lcf, u_char *p,
    size_t len)
{
    ngx_uint_t                 i;
    ngx_http_servqual_page_t  *pg;

    if (lcf->beacon_pages == NULL) {
        return NGX_HTTP_SERVQUAL_ENDPOINT_OTHER;
    }

    pg = lcf->beacon_pages->elts;

    for (i = 0; i < lcf->beacon_pages->nelts; i++) {
        if (pg[i].page.len == len
            && ngx_memcmp(pg[i].page.data, p, len) == 0)
        {
            return pg[i].endpoint;
        }
    }

    return NGX_HTTP_SERVQUAL_ENDPOINT_OTHER;
}


static ngx_uint_t
ngx_http_servqual_page_char(u_char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9')
           || ch == '_' || ch == '.' || ch == '/' || ch == ':' || ch == '~'
           || ch == '-';
}


static ngx_int_t
ngx_http_servqual_script_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_chain_t                    out;
    ngx_table_elt_t               *etag, *cc;
    ngx_http_servqual_loc_conf_t  *lcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_servqual_module);

    etag = ngx_list_push(&r->headers_out.headers);
    if (etag == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag->hash = 1;
#if (nginx_version >= 1023000)
    etag->next = NULL;
#endif
    ngx_str_set(&etag->key, "ETag");
    etag->value = lcf->beacon_etag;
    r->headers_out.etag = etag;

    cc = ngx_list_push(&r->headers_out.headers);
    if (cc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cc->hash = 1;
#if (nginx_version >= 1023000)
    cc->next = NULL;
#endif
    ngx_str_set(&cc->key, "Cache-Control");
    /* a week; the ETag makes a changed script seen when revalidated */
    ngx_str_set(&cc->value, "public, max-age=604800");

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = lcf->beacon_script.len;
    r->headers_out.content_type = ngx_http_servqual_script_type;
    r->headers_out.content_type_len = ngx_http_servqual_script_type.len;
    r->allow_ranges = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = lcf->beacon_script.data;
    b->last = b->pos + lcf->beacon_script.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
