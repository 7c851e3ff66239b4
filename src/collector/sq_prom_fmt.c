
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq_prom_fmt.h"


size_t
sq_prom_fmt_u64(char *buf, uint64_t v)
{
    char    tmp[SQ_PROM_FMT_NUM];
    size_t  n, i;

    n = 0;

    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    for (i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }

    buf[n] = '\0';

    return n;
}


/*
 * The shortest of %.15g, %.16g and %.17g that strtod() reads back to v:
 * %.17g always does, but shows the binary rounding of most decimals.
 */

size_t
sq_prom_fmt_double(char *buf, double v)
{
    int  prec, n;

    if (isnan(v)) {
        memcpy(buf, "NaN", 4);
        return 3;
    }

    if (isinf(v)) {
        memcpy(buf, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }

    if (v == 0) {
        memcpy(buf, "0", 2);
        return 1;
    }

    if (v >= 0 && v < 1e15 && v == (double) (uint64_t) v) {
        return sq_prom_fmt_u64(buf, (uint64_t) v);
    }

    n = 0;

    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, SQ_PROM_FMT_NUM, "%.*g", prec, v);

        if (strtod(buf, NULL) == v) {
            break;
        }
    }

    return (size_t) n;
}


size_t
sq_prom_fmt_esc(char *buf, const char *s)
{
    char  *p;

    for (p = buf; *s; s++) {
        switch (*s) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = *s;
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = *s;
        }
    }

    *p = '\0';

    return (size_t) (p - buf);
}
