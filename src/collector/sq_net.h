/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_NET_H_INCLUDED_
#define _SQ_NET_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "sq_collector.h"
#include "sq_decode.h"


/*
 * sq_net_datagram() (sq_collector.h) for a datagram the receive thread
 * has already decoded (sq_ingest.c): rc is what sq_decode() said of its
 * payload (the bytes without a signature's envelope), d the decoded form
 * when rc is SQ_DECODE_OK.  The signature is checked on buf as for any
 * datagram, then the decoding is not done again.
 */

void sq_net_decoded(sq_ctx_t *ctx, const char *buf, size_t len,
    int64_t now_ms, uint64_t end, const sq_dgram_t *d, int rc);


#endif /* _SQ_NET_H_INCLUDED_ */
