
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sq_http.h"
#include "sq_view.h"


/*
 * libFuzzer: the query string of an API request through sq_http_query(),
 * and what it returns checked against its contract.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              rc;
    char            *s;
    sq_http_query_t  q;

    s = malloc(size + 1);
    if (s == NULL) {
        return 0;
    }

    memcpy(s, data, size);
    s[size] = '\0';

    rc = sq_http_query(&q, s);

    if (rc == SQ_OK
        && (q.dim < -1 || q.dim >= SQ_NDIMS
            || q.scope < -1 || q.scope >= SQ_NSCOPES
            || q.win < -1 || q.win > 1
            || q.limit == 0 || q.limit > 10000))
    {
        abort();
    }

    sq_http_query_free(&q);
    free(s);

    return 0;
}
