
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_GZIP_H_INCLUDED_
#define _SQ_GZIP_H_INCLUDED_


#include <event2/buffer.h>


/*
 * A streamed gzip body (RFC 1952, ISA-L's igzip): each part of an answer
 * is compressed as it is produced, so memory stays that of the
 * compressor's state (about 400 KB) and one part, however long the answer.
 */

typedef struct sq_gzip_s  sq_gzip_t;


/* 1 when an Accept-Encoding header value takes gzip (q not 0) */
int sq_gzip_accepted(const char *accept_encoding);

/* NULL: out of memory */
sq_gzip_t *sq_gzip_new(void);

/*
 * Compresses all of in (drained) onto out; finish ends the stream (the
 * gzip trailer).  SQ_OK or SQ_ERR_NOMEM.
 */
int sq_gzip_add(sq_gzip_t *z, struct evbuffer *in, struct evbuffer *out,
    int finish);

void sq_gzip_free(sq_gzip_t *z);


#endif /* _SQ_GZIP_H_INCLUDED_ */
