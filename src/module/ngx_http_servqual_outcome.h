
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _NGX_HTTP_SERVQUAL_OUTCOME_H_INCLUDED_
#define _NGX_HTTP_SERVQUAL_OUTCOME_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_servqual_module.h"


/*
 * What the server observed of a finished request, added to a series'
 * counters (SQ_WIRE_NCOUNTERS of them, indexed by SQ_C_*): the status
 * class, client aborts, incomplete bodies, upstream errors and timeouts,
 * bytes sent, TLS protocol, HTTP version, compression and HSTS.
 */

NGX_HTTP_SERVQUAL_HIDDEN_BEGIN

void ngx_http_servqual_outcome(ngx_http_request_t *r, uint64_t *counters);

NGX_HTTP_SERVQUAL_HIDDEN_END


#endif /* _NGX_HTTP_SERVQUAL_OUTCOME_H_INCLUDED_ */
