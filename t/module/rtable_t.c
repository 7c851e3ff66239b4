
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * rtable_t [-n N] [-s SEED] [-b [-m MODES]] DB...: the region table against
 * libmaxminddb.  For each database the table of all three modes is built
 * and N addresses (default 1M) are looked up in it and with
 * MMDB_lookup_sockaddr() plus the value lookup the request path made
 * before the table: the labels must be equal for every address and mode.
 * The addresses: random IPv4; IPv4 and IPv6 at, just before and just
 * after the table's range boundaries (where an off-by-one would show);
 * random IPv6 in 2000::/3 and anywhere (mostly in no network);
 * IPv4-mapped (::ffff:a.b.c.d) and the other aliases of the IPv4
 * subtree (::a.b.c.d, 2002::/16, 2001::/32).  TAP output.
 *
 * -b prints build time and size instead (for bench/): of the modes in
 * the bit mask MODES (default 1: country; 7: all three), one line per
 * database: file, modes, networks, data records, labels, IPv4 ranges,
 * IPv6 ranges, IPv4 nodes, IPv6 nodes (summed over the modes), bytes,
 * milliseconds.
 *
 * The table's code is the module's own, compiled with nginx's headers;
 * the few nginx functions it calls are stood in for below.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <maxminddb.h>
#include <stdio.h>
#include <stdarg.h>
#include <time.h>

#include "ngx_http_servqual_rtable.h"


#define RT_MODES  NGX_HTTP_SERVQUAL_RT_MODES


static const char  *mode_name[] = { "country", "continent", "subdivision" };


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

    while (--n) {
        *dst = *src;

        if (*dst == '\0') {
            return dst;
        }

        dst++;
        src++;
    }

    *dst = '\0';

    return dst;
}


u_char *
ngx_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    /* the format's text, not its values: enough to say what failed */
    return ngx_cpystrn(buf, (u_char *) fmt, max);
}


static uint64_t  rnd_state = 0x9e3779b97f4a7c15ULL;


static uint64_t
rnd(void)
{
    uint64_t  x = rnd_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rnd_state = x;

    return x * 0x2545f4914f6cdd1dULL;
}


static void
put64(u_char *p, uint64_t v)
{
    int  i;

    for (i = 7; i >= 0; i--) {
        p[i] = (u_char) v;
        v >>= 8;
    }
}


/* the label libmaxminddb gives, the way the request path got it */

static size_t
reference(MMDB_s *mmdb, struct sockaddr *sa, ngx_uint_t mode, u_char *buf)
{
    int                   rc;
    MMDB_lookup_result_s  res;

    res = MMDB_lookup_sockaddr(mmdb, sa, &rc);

    if (rc != MMDB_SUCCESS || !res.found_entry) {
        return 0;
    }

    return ngx_http_servqual_rtable_label(&res.entry, mode, buf);
}


/* an address of kind k, as a sockaddr */

static void
address(ngx_http_servqual_rtable_t *rt, ngx_uint_t k,
    struct sockaddr_storage *ss, char *text, size_t size)
{
    uint32_t                      a;
    uint64_t                      hi, lo, r;
    ngx_uint_t                    i;
    struct sockaddr_in           *sin;
    struct sockaddr_in6          *sin6;
    ngx_http_servqual_rt_tree_t  *t;

    memset(ss, 0, sizeof(*ss));
    sin = (struct sockaddr_in *) ss;
    sin6 = (struct sockaddr_in6 *) ss;

    r = rnd();
    a = (uint32_t) rnd();
    hi = 0;
    lo = 0;

    switch (k) {

    case 0:             /* random IPv4 */
        break;

    case 1:             /* IPv4 at a boundary, -1, +1 */
        t = &rt->v4[r % 2 ? 0 : 2];
        i = (rnd() >> 8) % t->nranges;
        a = t->start4[i] + (uint32_t) (r >> 8) % 3 - 1;
        break;

    case 2:             /* IPv6 at a boundary, -1, +1 */
        if (!rt->ipv6) {
            break;
        }

        t = &rt->v6[r % 2 ? 0 : 2];
        i = (rnd() >> 8) % t->nranges;
        hi = t->start_hi[i];
        lo = t->start_lo[i] + (r >> 8) % 3 - 1;

        if (lo == (uint64_t) -1 && (r >> 8) % 3 == 0) {
            hi--;
        } else if (lo == 0 && (r >> 8) % 3 == 2) {
            hi++;
        }

        goto v6;

    case 3:             /* random in 2000::/3 */
        hi = (rnd() >> 3) | 0x2000000000000000ULL;
        lo = rnd();
        goto v6;

    case 4:             /* anywhere */
        hi = rnd();
        lo = rnd();
        goto v6;

    case 5:             /* IPv4-mapped */
        hi = 0;
        lo = 0x0000ffff00000000ULL | a;
        goto v6;

    case 6:             /* the other IPv4 aliases */
        switch (r % 3) {
        case 0:
            hi = 0;
            lo = a;
            break;
        case 1:
            hi = 0x2002000000000000ULL | (uint64_t) a << 16 | (rnd() & 0xffff);
            lo = rnd();
            break;
        default:
            hi = 0x2001000000000000ULL | a;
            lo = rnd();
        }

        goto v6;
    }

    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(a);
    inet_ntop(AF_INET, &sin->sin_addr, text, size);

    return;

v6:

    sin6->sin6_family = AF_INET6;
    put64(sin6->sin6_addr.s6_addr, hi);
    put64(sin6->sin6_addr.s6_addr + 8, lo);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, size);
}


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static size_t
tree_bytes(ngx_http_servqual_rt_tree_t *t, ngx_uint_t v4)
{
    if (t->root == NULL) {
        return 0;
    }

    return 65536 * 4 + t->nnodes * 4 + t->nranges * (v4 ? 6 : 18);
}


int
main(int argc, char **argv)
{
    int                          i, bench, test, rc;
    char                         text[INET6_ADDRSTRLEN];
    u_char                       err[256], ref[SQ_WIRE_MAX_REGION];
    size_t                       len;
    double                       t0, t1;
    uint64_t                     seed;
    ngx_uint_t                   n, j, k, mode, label, bad[RT_MODES];
    ngx_uint_t                   kinds[7], modes, r4, r6, n4, n6;
    MMDB_s                       mmdb;
    struct sockaddr_storage      ss;
    ngx_http_servqual_rtable_t  *rt;
    ngx_http_servqual_rt_label_t *l;

    n = 1000000;
    modes = 1;
    seed = 20261127;
    bench = 0;
    test = 0;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            n = strtoul(argv[++i], NULL, 10);

        } else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);

        } else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
            modes = strtoul(argv[++i], NULL, 10) & 7;

        } else if (strcmp(argv[i], "-b") == 0) {
            bench = 1;

        } else {
            fprintf(stderr, "usage: %s [-n N] [-s SEED] [-b [-m MODES]] "
                    "DB...\n",
                    argv[0]);
            return 2;
        }
    }

    rnd_state ^= seed * 0x9e3779b97f4a7c15ULL;

    if (!bench) {
        printf("1..%d\n", (argc - i) * (1 + RT_MODES));
        printf("# %lu addresses per database, seed %lu\n",
               (unsigned long) n, (unsigned long) seed);
    }

    for ( /* void */ ; i < argc; i++) {

        rc = MMDB_open(argv[i], MMDB_MODE_MMAP, &mmdb);

        if (rc != MMDB_SUCCESS) {
            printf("not ok %d - %s opens: %s\n", ++test, argv[i],
                   MMDB_strerror(rc));
            test += RT_MODES;
            continue;
        }

        t0 = now();
        rt = ngx_http_servqual_rtable_build(&mmdb, bench ? modes : 7, NULL,
                                            err, sizeof(err));
        t1 = now();

        if (bench) {
            if (rt == NULL) {
                fprintf(stderr, "%s: %s\n", argv[i], err);
                return 1;
            }

            r4 = r6 = n4 = n6 = 0;

            for (mode = 0; mode < RT_MODES; mode++) {
                r4 += rt->v4[mode].nranges;
                r6 += rt->v6[mode].nranges;
                n4 += rt->v4[mode].nnodes;
                n6 += rt->v6[mode].nnodes;
            }

            printf("%s %lu %lu %lu %lu %lu %lu %lu %lu %lu %.0f\n", argv[i],
                   (unsigned long) modes, (unsigned long) rt->networks,
                   (unsigned long) rt->leaves,
                   (unsigned long) rt->nlabels - 1,
                   (unsigned long) r4, (unsigned long) r6,
                   (unsigned long) n4, (unsigned long) n6,
                   (unsigned long) rt->size, (t1 - t0) * 1000);

            ngx_http_servqual_rtable_free(rt);
            MMDB_close(&mmdb);
            continue;
        }

        printf("%s %d - %s: table built in %.0f ms\n",
               rt ? "ok" : "not ok", ++test, argv[i], (t1 - t0) * 1000);

        if (rt == NULL) {
            printf("# %s\n", err);
            test += RT_MODES;
            MMDB_close(&mmdb);
            continue;
        }

        printf("# %lu networks, %lu records, %lu labels, %lu KiB; IPv4 "
               "%lu ranges %lu nodes (%lu KiB), IPv6 %lu ranges %lu nodes "
               "(%lu KiB), country mode\n",
               (unsigned long) rt->networks, (unsigned long) rt->leaves,
               (unsigned long) rt->nlabels, (unsigned long) rt->size / 1024,
               (unsigned long) rt->v4[0].nranges,
               (unsigned long) rt->v4[0].nnodes,
               (unsigned long) tree_bytes(&rt->v4[0], 1) / 1024,
               (unsigned long) rt->v6[0].nranges,
               (unsigned long) rt->v6[0].nnodes,
               (unsigned long) tree_bytes(&rt->v6[0], 0) / 1024);

        memset(bad, 0, sizeof(bad));
        memset(kinds, 0, sizeof(kinds));

        for (j = 0; j < n; j++) {
            k = (j * 7) / n;         /* a seventh of the addresses each */
            address(rt, k, &ss, text, sizeof(text));
            kinds[k]++;

            for (mode = 0; mode < RT_MODES; mode++) {
                len = reference(&mmdb, (struct sockaddr *) &ss, mode, ref);
                label = ngx_http_servqual_rtable_find(rt, mode,
                                                      (struct sockaddr *) &ss);
                l = &rt->labels[label];

                if (l->len == len && memcmp(l->data, ref, len) == 0) {
                    continue;
                }

                if (bad[mode]++ < 5) {
                    printf("# %s %s: table \"%.*s\", libmaxminddb "
                           "\"%.*s\"\n", mode_name[mode], text,
                           (int) l->len, l->data, (int) len, ref);
                }
            }
        }

        for (mode = 0; mode < RT_MODES; mode++) {
            printf("%s %d - %s: %s of %lu addresses as libmaxminddb "
                   "(%lu differ)\n", bad[mode] ? "not ok" : "ok", ++test,
                   argv[i], mode_name[mode], (unsigned long) n,
                   (unsigned long) bad[mode]);
        }

        ngx_http_servqual_rtable_free(rt);
        MMDB_close(&mmdb);
    }

    return 0;
}
