
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
 * The shortest form that strtod() reads back to v, of at most 15
 * significant digits: a decimal read from the configuration or a count
 * divided by a count comes out as written (0.85, not the %.17g
 * 0.84999999999999998), and a value that needs 16 or 17 digits to read
 * back exactly is the rounding error of a computation (0.85 * 0.85 is
 * 0.7224999999999999), so it is printed to 15 digits (0.7225): no
 * measurement here has more.
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

    for (prec = 6; prec <= 15; prec += (prec < 12 ? 3 : 1)) {
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
