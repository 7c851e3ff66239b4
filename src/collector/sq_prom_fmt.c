
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sq_prom_fmt.h"


static int sq_prom_fmt_fast(char *buf, double v);


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
 * %.15g without printf for 1e-4 <= |v| < 1e15, where %.15g writes no
 * exponent: the 15 significant digits are v * 10^d rounded to an integer
 * (d = 14 - the exponent of v).  The product in long double (64 bits of
 * mantissa) is within 2^-14 of the exact one below 2^50; when it lies
 * that close to a half, where rounding it could differ from rounding the
 * exact product, the answer is printf's (returns 0).  A histogram's sum
 * per series is one of these: snprintf() cost about 1.5 us each.
 */

static int
sq_prom_fmt_fast(char *buf, double v)
{
    int           e, d, i, n, lead;
    char          dig[16], *q;
    uint64_t      m;
    long double   a, x, f;

    static const long double  pow10[] = {
        1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L,
        1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L
    };

    static const long double  low[] = {
        1e-4L, 1e-3L, 1e-2L, 1e-1L, 1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L,
        1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L, 1e12L, 1e13L, 1e14L
    };

    a = fabsl((long double) v);

    if (!(a >= 1e-4L && a < 1e15L)) {
        return 0;
    }

    /* the exponent: 10^e <= a < 10^(e + 1), e from -4 to 14 */

    for (e = 14; e > -4 && a < low[e + 4]; e--) {
        /* void */
    }

    d = 14 - e;
    x = a * pow10[d];

    if (x < 1e14L || x >= 1e15L) {
        return 0;
    }

    f = x - floorl(x);

    if (fabsl(f - 0.5L) < 1.0L / 4096) {
        return 0;
    }

    m = (uint64_t) x + (f > 0.5L);

    if (m == 1000000000000000ULL) {
        /* rounded up to the next power of ten: one digit fewer */
        m /= 10;
        d--;

        if (d < 0) {
            return 0;
        }
    }

    for (i = 14; i >= 0; i--) {
        dig[i] = (char) ('0' + m % 10);
        m /= 10;
    }

    /* the fraction's zeros dropped */

    n = 15;

    while (n > 15 - d && n > 0 && dig[n - 1] == '0') {
        n--;
    }

    q = buf;

    if (v < 0) {
        *q++ = '-';
    }

    if (d <= 14) {
        /* 15 - d digits before the point */
        lead = 15 - d;
        memcpy(q, dig, lead);
        q += lead;

        if (n > lead) {
            *q++ = '.';
            memcpy(q, dig + lead, n - lead);
            q += n - lead;
        }

    } else {
        /* below 1: 0.000ddd */
        *q++ = '0';
        *q++ = '.';

        for (i = 15; i < d; i++) {
            *q++ = '0';
        }

        memcpy(q, dig, n);
        q += n;
    }

    *q = '\0';

    return (int) (q - buf);
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

    n = sq_prom_fmt_fast(buf, v);

    if (n > 0) {
        return (size_t) n;
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
