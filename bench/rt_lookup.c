/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * The region table's lookup alone: builds the country table of a
 * MaxMind DB with the module's own code and looks up every address of
 * a sample file (one a line) of one family, in lookup_all(), which
 * bench/rtable.pl runs under callgrind --toggle-collect=lookup_all.
 *
 *   rt_lookup DB SAMPLE 4|6
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <maxminddb.h>
#include <stdio.h>
#include <arpa/inet.h>

#include "ngx_http_servqual_rtable.h"


#define RT_MAX  100000


void lookup_all(ngx_http_servqual_rtable_t *rt, struct sockaddr_in6 *a,
    ngx_uint_t n) __attribute__((noinline));


static struct sockaddr_in6  addrs[RT_MAX];
volatile ngx_uint_t         sink;


/* the nginx functions the table code calls */

void *
ngx_alloc(size_t size, ngx_log_t *log)
{
    return malloc(size);
}


u_char *
ngx_cpystrn(u_char *dst, u_char *src, size_t n)
{
    if (n == 0) {
        return dst;
    }

    while (--n && (*dst = *src) != '\0') {
        dst++;
        src++;
    }

    *dst = '\0';

    return dst;
}


u_char *
ngx_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    return ngx_cpystrn(buf, (u_char *) fmt, max);
}


void
lookup_all(ngx_http_servqual_rtable_t *rt, struct sockaddr_in6 *a,
    ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        sink += ngx_http_servqual_rtable_find(rt, 0,
                                              (struct sockaddr *) &a[i]);
    }
}


int
main(int argc, char **argv)
{
    int                          fam;
    FILE                        *f;
    MMDB_s                       mmdb;
    ngx_uint_t                   n;
    ngx_log_t                    log;
    struct sockaddr_in          *sin;
    ngx_http_servqual_rtable_t  *rt;
    u_char                       err[256];
    char                         line[128];

    if (argc != 4) {
        fprintf(stderr, "usage: %s DB SAMPLE 4|6\n", argv[0]);
        return 2;
    }

    fam = atoi(argv[3]);
    ngx_memzero(&log, sizeof(ngx_log_t));

    if (MMDB_open(argv[1], MMDB_MODE_MMAP, &mmdb) != MMDB_SUCCESS) {
        fprintf(stderr, "%s: cannot open\n", argv[1]);
        return 1;
    }

    rt = ngx_http_servqual_rtable_build(&mmdb, 1, &log, err, sizeof(err));
    if (rt == NULL) {
        fprintf(stderr, "%s: %s\n", argv[1], err);
        return 1;
    }

    f = fopen(argv[2], "r");
    if (f == NULL) {
        perror(argv[2]);
        return 1;
    }

    n = 0;

    while (n < RT_MAX && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        sin = (struct sockaddr_in *) &addrs[n];

        if (fam == 4 && inet_pton(AF_INET, line, &sin->sin_addr) == 1) {
            sin->sin_family = AF_INET;
            n++;

        } else if (fam == 6
                   && inet_pton(AF_INET6, line, &addrs[n].sin6_addr) == 1)
        {
            addrs[n].sin6_family = AF_INET6;
            n++;
        }
    }

    (void) fclose(f);

    lookup_all(rt, addrs, n);

    printf("%lu\n", (unsigned long) n);

    return 0;
}
