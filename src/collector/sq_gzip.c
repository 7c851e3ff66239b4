
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <isa-l/igzip_lib.h>

#include "sq_gzip.h"
#include "sq_status.h"


/*
 * ISA-L's igzip at its level 1: a scrape is text that compresses about
 * 28-fold, and the time spent is the loop's.  On a 100000-series scrape
 * (594 MB of text) igzip level 1 takes 0.23 s of CPU for 22.4 MB, zlib's
 * level 1 1.2 s for 21.7 MB (bench/RESULTS.md section 8).  IGZIP_GZIP: a
 * gzip header and trailer (CRC-32, length) around the deflate stream, one
 * member however many parts.
 */

#define SQ_GZIP_LEVEL  1
#define SQ_GZIP_BUF    ISAL_DEF_LVL1_DEFAULT
#define SQ_GZIP_OUT    65536


struct sq_gzip_s {
    struct isal_zstream   zs;
    uint8_t               level_buf[SQ_GZIP_BUF];
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

    z = malloc(sizeof(sq_gzip_t));
    if (z == NULL) {
        return NULL;
    }

    isal_deflate_init(&z->zs);

    z->zs.level = SQ_GZIP_LEVEL;
    z->zs.level_buf = z->level_buf;
    z->zs.level_buf_size = SQ_GZIP_BUF;
    z->zs.gzip_flag = IGZIP_GZIP;
    z->zs.flush = NO_FLUSH;

    return z;
}


/* deflates what zs holds onto out until igzip wants more input */

static int
sq_gzip_run(sq_gzip_t *z, struct evbuffer *out, int finish)
{
    int                     rc;
    struct evbuffer_iovec   v;

    z->zs.end_of_stream = finish ? 1 : 0;

    do {
        if (evbuffer_reserve_space(out, SQ_GZIP_OUT, &v, 1) < 1) {
            return SQ_ERR_NOMEM;
        }

        z->zs.next_out = v.iov_base;
        z->zs.avail_out = (uint32_t) v.iov_len;

        rc = isal_deflate(&z->zs);

        v.iov_len -= z->zs.avail_out;

        if (evbuffer_commit_space(out, &v, 1) != 0 || rc != COMP_OK) {
            return SQ_ERR_NOMEM;
        }

    } while (z->zs.avail_in || z->zs.avail_out == 0
             || (finish && z->zs.internal_state.state != ZSTATE_END));

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
            z->zs.avail_in = (uint32_t) v[i].iov_len;

            rc = sq_gzip_run(z, out, 0);
            if (rc != SQ_OK) {
                return rc;
            }

            done += v[i].iov_len;
        }

        evbuffer_drain(in, done);
    }

    if (!finish) {
        return SQ_OK;
    }

    z->zs.next_in = NULL;
    z->zs.avail_in = 0;

    return sq_gzip_run(z, out, 1);
}


void
sq_gzip_free(sq_gzip_t *z)
{
    free(z);
}
