
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "sq_gzip.h"
#include "sq_status.h"


/*
 * Level 1: a scrape is text that compresses about tenfold at any level,
 * and the time spent is the loop's.  Window 15 + 16: a gzip header and
 * trailer around the deflate stream.
 */

#define SQ_GZIP_LEVEL  1
#define SQ_GZIP_OUT    65536


struct sq_gzip_s {
    z_stream   zs;
};


static int sq_gzip_run(sq_gzip_t *z, struct evbuffer *out, int flush);


int
sq_gzip_accepted(const char *ae)
{
    size_t       len;
    const char  *p, *end, *q;

    if (ae == NULL) {
        return 0;
    }

    for (p = ae; *p; p = *end ? end + 1 : end) {
        end = strchr(p, ',');
        if (end == NULL) {
            end = p + strlen(p);
        }

        while (p < end && isspace((unsigned char) *p)) {
            p++;
        }

        for (q = p; q < end && *q != ';' && !isspace((unsigned char) *q);
             q++)
        {
            /* void */
        }

        len = (size_t) (q - p);

        if (!(len == 4 && strncasecmp(p, "gzip", 4) == 0)
            && !(len == 1 && *p == '*'))
        {
            continue;
        }

        /* q=0 (0, 0.0, 0.000) refuses it */

        q = strstr(p, "q=");

        if (q && q < end && strtod(q + 2, NULL) == 0) {
            continue;
        }

        return 1;
    }

    return 0;
}


sq_gzip_t *
sq_gzip_new(void)
{
    sq_gzip_t  *z;

    z = calloc(1, sizeof(sq_gzip_t));
    if (z == NULL) {
        return NULL;
    }

    if (deflateInit2(&z->zs, SQ_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY)
        != Z_OK)
    {
        free(z);
        return NULL;
    }

    return z;
}


/* deflates what zs holds onto out until zlib wants more input */

static int
sq_gzip_run(sq_gzip_t *z, struct evbuffer *out, int flush)
{
    int                     rc;
    struct evbuffer_iovec   v;

    do {
        if (evbuffer_reserve_space(out, SQ_GZIP_OUT, &v, 1) < 1) {
            return SQ_ERR_NOMEM;
        }

        z->zs.next_out = v.iov_base;
        z->zs.avail_out = (uInt) v.iov_len;

        rc = deflate(&z->zs, flush);

        v.iov_len -= z->zs.avail_out;

        if (evbuffer_commit_space(out, &v, 1) != 0) {
            return SQ_ERR_NOMEM;
        }

        if (rc == Z_STREAM_ERROR) {
            return SQ_ERR_NOMEM;
        }

    } while (z->zs.avail_out == 0 || (flush == Z_FINISH
                                      && rc != Z_STREAM_END));

    return SQ_OK;
}


int
sq_gzip_add(sq_gzip_t *z, struct evbuffer *in, struct evbuffer *out,
    int finish)
{
    int                     i, n, rc;
    size_t                  done;
    struct evbuffer_iovec   v[16];

    while (evbuffer_get_length(in)) {
        n = evbuffer_peek(in, -1, NULL, v, 16);

        if (n > 16) {
            n = 16;
        }

        done = 0;

        for (i = 0; i < n; i++) {
            z->zs.next_in = v[i].iov_base;
            z->zs.avail_in = (uInt) v[i].iov_len;

            rc = sq_gzip_run(z, out, Z_NO_FLUSH);
            if (rc != SQ_OK) {
                return rc;
            }

            done += v[i].iov_len;
        }

        evbuffer_drain(in, done);
    }

    return finish ? sq_gzip_run(z, out, Z_FINISH) : SQ_OK;
}


void
sq_gzip_free(sq_gzip_t *z)
{
    if (z) {
        deflateEnd(&z->zs);
        free(z);
    }
}
