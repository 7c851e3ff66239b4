
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdio.h>
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
 * %.15g: the shortest form of at most 15 significant digits (%g drops
 * trailing zeros).  A decimal of up to 15 digits read from the
 * configuration, or a count divided by a count, comes out as written
 * (0.85, not the %.17g 0.84999999999999998): the double nearest to it is
 * within 2^-53 of it, so its first 15 digits are the decimal's.  A value
 * that would need 16 or 17 digits to read back exactly is the rounding
 * error of a computation (0.85 * 0.85 is 0.7224999999999999), printed to
 * 15 digits (0.7225): no measurement here has more.  Without an
 * exponent from 1e-12 up (0.000065803 seconds, not 6.5803e-05).
 */

size_t
sq_prom_fmt_double(char *buf, double v)
{
    int  n, digits;

    if (isnan(v)) {
        memcpy(buf, "NaN", 4);
        return 3;
    }

    if (isinf(v)) {
        memcpy(buf, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }

    if (v >= 0 && v < 1e15 && v == (double) (uint64_t) v) {
        return sq_prom_fmt_u64(buf, (uint64_t) v);
    }

    n = snprintf(buf, SQ_PROM_FMT_NUM, "%.15g", v);

    if (strchr(buf, 'e') == NULL || fabs(v) < 1e-12 || fabs(v) >= 1e15) {
        return (size_t) n;
    }

    /*
     * A short time (6.5803e-05) as a person reads it: 0.000065803, the
     * same 15 significant digits without the exponent, zeros dropped.
     */

    digits = 14 - (int) floor(log10(fabs(v)));
    n = snprintf(buf, SQ_PROM_FMT_NUM, "%.*f", digits, v);

    while (n > 1 && buf[n - 1] == '0') {
        n--;
    }

    if (buf[n - 1] == '.') {
        n--;
    }

    buf[n] = '\0';

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
