
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_SERVQUAL_SIGN_H_INCLUDED_
#define _NGX_HTTP_SERVQUAL_SIGN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"


/*
 * Signing datagrams (servqual_collector key=FILE): the envelope of
 * include/servqual_sign.h, a trailer with the key id, the time and an
 * HMAC-SHA256 after the msgpack map.
 */

NGX_HTTP_SERVQUAL_HIDDEN_BEGIN

/*
 * Reads the key file at configuration time (so nginx -t refuses one that
 * group or others may read); NGX_CONF_OK or NGX_CONF_ERROR after the
 * error was logged.  The key is wiped when the cycle's pool is destroyed.
 */
char *ngx_http_servqual_sign_key(ngx_conf_t *cf, ngx_str_t *file,
    sq_sign_key_t **key);

/*
 * Seals the map of len bytes at p, which has SQ_SIGN_TRAILER bytes of
 * room after it; returns the length to send (len itself without a key).
 */
size_t ngx_http_servqual_sign(ngx_http_servqual_worker_t *w, u_char *p,
    size_t len);

NGX_HTTP_SERVQUAL_HIDDEN_END


#endif /* _NGX_HTTP_SERVQUAL_SIGN_H_INCLUDED_ */
