
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"
#include "ngx_http_servqual_sign.h"


/*
 * The MAC context is keyed once per worker process, on its first
 * datagram: a worker serves one configuration for its whole life.
 */


static void ngx_http_servqual_sign_wipe(void *data);


static EVP_MAC_CTX    *ngx_http_servqual_mac;
static sq_sign_key_t  *ngx_http_servqual_mac_key;


char *
ngx_http_servqual_sign_key(ngx_conf_t *cf, ngx_str_t *file,
    sq_sign_key_t **key)
{
    char                 err[NGX_MAX_ERROR_STR];
    ngx_str_t            name;
    sq_sign_key_t       *k;
    ngx_pool_cleanup_t  *cln;

    name = *file;

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "servqual_collector: empty key file name");
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(sq_sign_key_t));
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    k = cln->data;
    cln->handler = ngx_http_servqual_sign_wipe;

    if (sq_sign_read_key((char *) name.data, k, err, sizeof(err)) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "servqual_collector: %s",
                           err);
        return NGX_CONF_ERROR;
    }

    *key = k;

    return NGX_CONF_OK;
}


static void
ngx_http_servqual_sign_wipe(void *data)
{
    OPENSSL_cleanse(data, sizeof(sq_sign_key_t));
}


size_t
ngx_http_servqual_sign(ngx_http_servqual_worker_t *w, u_char *p, size_t len)
{
    size_t          n;
    ngx_time_t     *tp;
    sq_sign_key_t  *key;

    key = w->conf->key;

    if (key == NULL) {
        return len;
    }

    if (ngx_http_servqual_mac_key != key) {
        if (ngx_http_servqual_mac != NULL) {
            EVP_MAC_CTX_free(ngx_http_servqual_mac);
        }

        ngx_http_servqual_mac = sq_sign_mac_new(key);
        ngx_http_servqual_mac_key = ngx_http_servqual_mac ? key : NULL;
    }

    tp = ngx_timeofday();
    n = 0;

    if (ngx_http_servqual_mac != NULL) {
        n = sq_sign_seal(ngx_http_servqual_mac, key->id,
                         (uint64_t) tp->sec * 1000 + tp->msec, p, len);
    }

    if (n == 0) {
        /* sent unsigned: the collector rejects and counts it */

        if (ngx_time() - w->error_logged >= 60) {
            w->error_logged = ngx_time();
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "servqual: signing a datagram failed");
        }

        return len;
    }

    return n;
}
