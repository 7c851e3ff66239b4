
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_TAP_H_INCLUDED_
#define _SQ_TAP_H_INCLUDED_


/* A minimal TAP producer for the C unit tests, run by prove. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int  tap_n;
static int  tap_failed;


#define ok(cond, ...)                                                        \
    tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...)                                               \
    do {                                                                     \
        long long  g_ = (long long) (got), w_ = (long long) (want);          \
        if (!tap_ok(g_ == w_, __FILE__, __LINE__, __VA_ARGS__)) {            \
            printf("#   got: %lld\n#   expected: %lld\n", g_, w_);           \
        }                                                                    \
    } while (0)

#define is_num(got, want, eps, ...)                                          \
    do {                                                                     \
        double  g_ = (double) (got), w_ = (double) (want);                   \
        if (!tap_ok(g_ - w_ <= (eps) && w_ - g_ <= (eps),                    \
                    __FILE__, __LINE__, __VA_ARGS__))                        \
        {                                                                    \
            printf("#   got: %.9g\n#   expected: %.9g\n", g_, w_);           \
        }                                                                    \
    } while (0)

#define is_str(got, want, ...)                                               \
    do {                                                                     \
        const char  *g_ = (got), *w_ = (want);                               \
        if (!tap_ok(g_ != NULL && strcmp(g_, w_) == 0,                       \
                    __FILE__, __LINE__, __VA_ARGS__))                        \
        {                                                                    \
            printf("#   got: '%s'\n#   expected: '%s'\n",                    \
                   g_ ? g_ : "(null)", w_);                                  \
        }                                                                    \
    } while (0)


static int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>

static int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list  ap;

    printf("%sok %d - ", pass ? "" : "not ", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");

    if (!pass) {
        tap_failed++;
        printf("#   Failed test at %s line %d.\n", file, line);
    }

    fflush(stdout);

    return pass;
}


static int
done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}


#endif /* _SQ_TAP_H_INCLUDED_ */
