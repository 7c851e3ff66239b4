
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "servqual_wire.h"
#include "ngx_http_servqual_outcome.h"


/*
 * The classification itself is inline in the log handler
 * (ngx_http_servqual_outcome.h); here are its two tests that read
 * strings, taken only when the cheap ones pass.
 */


#if (NGX_HTTP_SSL)
static ngx_str_t  ngx_http_servqual_hsts =
    ngx_string("Strict-Transport-Security");
#endif


ngx_uint_t
ngx_http_servqual_compressible(ngx_str_t *type)
{
    u_char  *p, *last;

    /* text/..., */
    if (type->len >= 5 && ngx_strncasecmp(type->data, (u_char *) "text/", 5)
                          == 0)
    {
        return 1;
    }

    /* application/json, +json, +xml, javascript, image/svg+xml, ... */

    last = type->data + type->len;

    for (p = type->data; p < last && *p != ';'; p++) {

        switch (*p | 0x20) {

        case 'j':
            if (last - p >= 4
                && (ngx_strncasecmp(p, (u_char *) "json", 4) == 0
                    || (last - p >= 10
                        && ngx_strncasecmp(p, (u_char *) "javascript", 10)
                           == 0)))
            {
                return 1;
            }
            break;

        case 'x':
            if (last - p >= 3 && ngx_strncasecmp(p, (u_char *) "xml", 3) == 0)
            {
                return 1;
            }
            break;
        }
    }

    return 0;
}


#if (NGX_HTTP_SSL)

/* a response header Strict-Transport-Security; out of the common path */

ngx_uint_t
ngx_http_servqual_hsts_sent(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash
            && h[i].key.len == ngx_http_servqual_hsts.len
            && ngx_strncasecmp(h[i].key.data, ngx_http_servqual_hsts.data,
                               ngx_http_servqual_hsts.len)
               == 0)
        {
            return 1;
        }
    }
}

#endif
