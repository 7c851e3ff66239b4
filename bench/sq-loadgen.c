
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * sq-loadgen: sends valid servqual datagrams (include/servqual_wire.h) to
 * a collector as fast as it can, or at a given rate, from many simulated
 * workers, each datagram with N series.  For measuring ingest.
 *
 *   sq-loadgen [-a HOST:PORT] [-w WORKERS] [-s SERIES] [-u UNIVERSE]
 *              [-d SECONDS] [-r DATAGRAMS_PER_SECOND] [-k KEYFILE] [-g]
 *              [-b N]
 *
 * By default every series answers 1 request in 20 with a 5xx and a
 * quarter of them in 600 ms: every series is below its zone.  With -g a
 * series is healthy (no 5xx, nothing over 200 ms) but for one in 1000,
 * as at a real site: alerts are evaluated, few fire.  -b N is -g with
 * one series in N below its zone instead (-b 0: none).
 *
 * With -k each datagram is signed as nginx signs it with key=KEYFILE
 * (include/servqual_sign.h): the trailer computed per datagram.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "servqual_hist.h"
#include "servqual_sign.h"
#include "servqual_wire.h"
#include "sq_lg_gen.h"


#define SQ_LG_BATCH  64


typedef struct {
    msgpack_sbuffer  sb;
    size_t           seq_off;         /* where the uint32 seq is */
    uint32_t         seq;
    unsigned char   *sealed;          /* -k: the map and its trailer */
} sq_lg_worker_t;


static int       sq_lg_good;         /* -g */
static uint32_t  sq_lg_every = 1000; /* -b */


static double
sq_lg_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


static void
sq_lg_build(sq_lg_worker_t *w, uint32_t id, uint32_t nseries,
    uint32_t universe)
{
    sq_lg_gen(&w->sb, &w->seq_off, id, nseries, universe, sq_lg_good,
              sq_lg_every, 0);
    w->seq = 0;
}


int
main(int argc, char **argv)
{
    int                  c, fd;
    char                 host[64], *port, err[512];
    const char          *keyfile;
    double               duration, rate, t0, t, next;
    uint32_t             i, n, nworkers, nseries, universe, cur;
    uint64_t             sent, failed;
    unsigned char       *p;
    EVP_MAC_CTX         *mac;
    sq_sign_key_t        key;
    sq_lg_worker_t      *w;
    struct iovec         iov[SQ_LG_BATCH];
    struct mmsghdr       msg[SQ_LG_BATCH];
    struct timespec      rt;
    struct sockaddr_in   sin;

    strcpy(host, "127.0.0.1:5170");
    keyfile = NULL;
    nworkers = 64;
    nseries = 50;
    universe = 0;
    duration = 10;
    rate = 0;

    while ((c = getopt(argc, argv, "a:w:s:u:d:r:k:gb:")) != -1) {
        switch (c) {
        case 'g':
            sq_lg_good = 1;
            break;
        case 'b':
            sq_lg_good = 1;
            sq_lg_every = (uint32_t) atoi(optarg);
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 'a':
            snprintf(host, sizeof(host), "%s", optarg);
            break;
        case 'w':
            nworkers = (uint32_t) atoi(optarg);
            break;
        case 's':
            nseries = (uint32_t) atoi(optarg);
            break;
        case 'u':
            universe = (uint32_t) atoi(optarg);
            break;
        case 'd':
            duration = atof(optarg);
            break;
        case 'r':
            rate = atof(optarg);
            break;
        default:
            fprintf(stderr, "usage: sq-loadgen [-a HOST:PORT] [-w WORKERS] "
                    "[-s SERIES] [-u UNIVERSE] [-d SECONDS] [-r RATE] "
                    "[-k KEYFILE] [-g] [-b N]\n");
            return 2;
        }
    }

    if (nworkers == 0 || nseries == 0) {
        return 2;
    }

    if (universe == 0) {
        universe = nworkers * nseries;
    }

    port = strrchr(host, ':');
    if (port == NULL) {
        return 2;
    }

    *port++ = '\0';

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) atoi(port));

    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fprintf(stderr, "sq-loadgen: invalid address %s\n", host);
        return 2;
    }

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd == -1 || connect(fd, (struct sockaddr *) &sin, sizeof(sin))) {
        perror("sq-loadgen: socket");
        return 1;
    }

    w = calloc(nworkers, sizeof(sq_lg_worker_t));
    if (w == NULL) {
        return 1;
    }

    for (i = 0; i < nworkers; i++) {
        sq_lg_build(&w[i], i, nseries, universe);
    }

    mac = NULL;

    if (keyfile != NULL) {
        if (sq_sign_read_key(keyfile, &key, err, sizeof(err)) != NULL) {
            fprintf(stderr, "sq-loadgen: %s\n", err);
            return 1;
        }

        mac = sq_sign_mac_new(&key);

        for (i = 0; mac && i < nworkers; i++) {
            w[i].sealed = malloc(w[i].sb.size + SQ_SIGN_TRAILER);

            if (w[i].sealed == NULL) {
                return 1;
            }
        }

        if (mac == NULL) {
            fprintf(stderr, "sq-loadgen: no HMAC-SHA256 in libcrypto\n");
            return 1;
        }
    }

    fprintf(stderr, "sq-loadgen: %u workers, %u series a datagram "
            "(%zu bytes), %u distinct series\n", nworkers, nseries,
            w[0].sb.size, universe < nworkers * nseries
                          ? universe : nworkers * nseries);

    sent = 0;
    failed = 0;
    cur = 0;
    t0 = sq_lg_now();
    next = t0;

    for ( ;; ) {
        t = sq_lg_now();

        if (t - t0 >= duration) {
            break;
        }

        if (rate > 0 && t < next) {
            usleep(200);
            continue;
        }

        n = SQ_LG_BATCH;

        for (i = 0; i < n; i++) {
            sq_lg_worker_t  *x = &w[cur];

            x->seq++;
            p = (unsigned char *) x->sb.data + x->seq_off;
            p[0] = (unsigned char) (x->seq >> 24);
            p[1] = (unsigned char) (x->seq >> 16);
            p[2] = (unsigned char) (x->seq >> 8);
            p[3] = (unsigned char) x->seq;

            iov[i].iov_base = x->sb.data;
            iov[i].iov_len = x->sb.size;

            if (mac != NULL) {
                clock_gettime(CLOCK_REALTIME, &rt);
                memcpy(x->sealed, x->sb.data, x->sb.size);
                iov[i].iov_base = x->sealed;
                iov[i].iov_len = sq_sign_seal(mac, key.id,
                                              (uint64_t) rt.tv_sec * 1000
                                              + rt.tv_nsec / 1000000,
                                              x->sealed, x->sb.size);
            }
            memset(&msg[i], 0, sizeof(msg[i]));
            msg[i].msg_hdr.msg_iov = &iov[i];
            msg[i].msg_hdr.msg_iovlen = 1;

            /* sendmmsg reads the buffers at once: one datagram per worker
               per batch */
            cur = (cur + 1) % nworkers;

            if (cur == 0) {
                n = i + 1;
                break;
            }
        }

        c = sendmmsg(fd, msg, n, 0);

        if (c < 0) {
            failed += n;

            if (errno != ENOBUFS && errno != EAGAIN
                && errno != ECONNREFUSED)
            {
                perror("sq-loadgen: sendmmsg");
                return 1;
            }

            continue;
        }

        sent += (uint64_t) c;

        if (rate > 0) {
            next += (double) n / rate;
        }
    }

    t = sq_lg_now() - t0;

    printf("sent %llu datagrams (%llu series updates) in %.2f s: "
           "%.0f datagrams/s, %.0f series updates/s; %llu failed\n",
           (unsigned long long) sent,
           (unsigned long long) sent * nseries, t, (double) sent / t,
           (double) sent * nseries / t, (unsigned long long) failed);

    return 0;
}
