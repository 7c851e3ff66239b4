
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <netdb.h>
#include <event2/util.h>

#include "sq_collector.h"
#include "sq_auth.h"
#include "sq_persist.h"


/*
 * Datagram ingest: UDP and unix datagram sockets, non-blocking, read by
 * the receive thread (sq_ingest.c) into the ingest log and a queue that
 * the event loop empties.  Each datagram is decoded and validated whole,
 * then merged; a rejection is counted by reason and logged at most once a
 * minute per reason.
 */


static int sq_net_bind(const char *addr, const sq_conf_t *conf,
    char **path);
static int sq_net_own(const char *addr, const char *path,
    const sq_conf_t *conf);


/*
 * A UDP socket is bound without SO_REUSEADDR and SO_REUSEPORT: with
 * either, another local user could bind the same port and take a share
 * of the datagrams (SO_REUSEPORT) or all of them (SO_REUSEADDR on a more
 * specific address); without, that bind fails with "address in use".
 * UDP has no TIME_WAIT, so a restart binds at once all the same.
 */

static int
sq_net_bind(const char *addr, const sq_conf_t *conf, char **path)
{
    int                  fd, rc, one;
    char                 host[256], *port;
    const char          *name;
    size_t               len;
    struct addrinfo      hints, *res;
    struct sockaddr_un   sun;

    *path = NULL;
    name = addr;

    if (strncmp(addr, "unix:", 5) == 0) {
        len = strlen(addr + 5);

        if (len == 0 || len >= sizeof(sun.sun_path)) {
            sq_log(SQ_LOG_ERROR, "invalid unix socket path \"%s\"", addr);
            return -1;
        }

        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, addr + 5, len);

        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd == -1) {
            sq_log(SQ_LOG_ERROR, "socket() for \"%s\" failed: %s", addr,
                   strerror(errno));
            return -1;
        }

        (void) unlink(sun.sun_path);

        if (bind(fd, (struct sockaddr *) &sun, sizeof(sun)) == -1) {
            sq_log(SQ_LOG_ERROR, "bind() to \"%s\" failed: %s", addr,
                   strerror(errno));
            close(fd);
            return -1;
        }

        if (sq_net_own(addr, sun.sun_path, conf) != SQ_OK) {
            (void) unlink(sun.sun_path);
            close(fd);
            return -1;
        }

        *path = strdup(sun.sun_path);

    } else {
        /* name without "udp://", addr as given for the messages */

        if (strncmp(addr, "udp://", 6) == 0) {
            name += 6;
        }

        if (strlen(name) >= sizeof(host)) {
            sq_log(SQ_LOG_ERROR, "invalid address \"%s\"", addr);
            return -1;
        }

        strcpy(host, name);
        port = strrchr(host, ':');

        if (port == NULL) {
            sq_log(SQ_LOG_ERROR, "address \"%s\" needs a port", addr);
            return -1;
        }

        *port++ = '\0';

        if (host[0] == '[' && port[-2] == ']') {
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = '\0';
        }

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_DGRAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;

        rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
        if (rc != 0) {
            sq_log(SQ_LOG_ERROR, "invalid address \"%s\": %s", addr,
                   gai_strerror(rc));
            return -1;
        }

        fd = socket(res->ai_family,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd == -1) {
            sq_log(SQ_LOG_ERROR, "socket() for \"%s\" failed: %s", addr,
                   strerror(errno));
            freeaddrinfo(res);
            return -1;
        }

        if (bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
            sq_log(SQ_LOG_ERROR, "bind() to \"%s\" failed: %s", addr,
                   strerror(errno));
            freeaddrinfo(res);
            close(fd);
            return -1;
        }

        freeaddrinfo(res);
    }

    /* a large receive buffer rides out bursts and scheduling delays;
       beyond net.core.rmem_max only with CAP_NET_ADMIN */

    one = (int) (conf->rcvbuf_mb << 20);

    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &one, sizeof(one)) != 0)
    {
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
    }

    /* each datagram read tells how many the kernel dropped so far */

    one = 1;
    (void) setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));

    return fd;
}


/* the owner, group and mode listen.socket_* give a unix socket */

static int
sq_net_own(const char *addr, const char *path, const sq_conf_t *conf)
{
    uid_t  uid;
    gid_t  gid;

    if (conf->socket_owner != NULL || conf->socket_group != NULL) {
        uid = conf->socket_owner ? (uid_t) conf->socket_uid : (uid_t) -1;
        gid = conf->socket_group ? (gid_t) conf->socket_gid : (gid_t) -1;

        if (chown(path, uid, gid) != 0) {
            sq_log(SQ_LOG_ERROR, "chown() of \"%s\" to %s:%s failed: %s",
                   addr, conf->socket_owner ? conf->socket_owner : "",
                   conf->socket_group ? conf->socket_group : "",
                   strerror(errno));
            return SQ_ERR_IO;
        }
    }

    if (conf->socket_mode != NULL
        && chmod(path, (mode_t) conf->socket_perm) != 0)
    {
        sq_log(SQ_LOG_ERROR, "chmod() of \"%s\" to %s failed: %s", addr,
               conf->socket_mode, strerror(errno));
        return SQ_ERR_IO;
    }

    return SQ_OK;
}


int
sq_net_open(sq_ctx_t *ctx, sq_conf_t *conf, sq_listener_t **out, size_t *n)
{
    size_t          i;
    sq_listener_t  *l;

    l = calloc(conf->ningest ? conf->ningest : 1, sizeof(sq_listener_t));
    if (l == NULL) {
        return -1;
    }

    for (i = 0; i < conf->ningest; i++) {
        l[i].fd = sq_net_bind(conf->ingest[i], conf, &l[i].path);

        if (l[i].fd == -1) {
            sq_net_close(l, i);
            return -1;
        }

        l[i].addr = strdup(conf->ingest[i]);

        if (l[i].addr == NULL) {
            sq_net_close(l, i + 1);
            return -1;
        }
    }

    *out = l;
    *n = conf->ningest;

    return 0;
}


void
sq_net_close(sq_listener_t *l, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (l[i].fd != -1) {
            close(l[i].fd);
        }

        if (l[i].path) {
            (void) unlink(l[i].path);
        }

        free(l[i].path);
        free(l[i].addr);
    }

    free(l);
}


/*
 * A datagram from the queue, or replayed from the ingest log: verified,
 * decoded, merged or rejected as of now (ms), the time it is taken live
 * and the time it was received at replay.  Live it is filed by when it
 * is merged: a slot is written once it is over, so what is still queued
 * then goes to the next.  end is its position in the ingest log.
 */

void
sq_net_datagram(sq_ctx_t *ctx, const char *buf, size_t len, int64_t now_ms,
    uint64_t end)
{
    int            rc;
    int64_t        now;
    sq_windows_t  *a;

    a = &ctx->windows;
    a->stats.bytes += len;
    now = now_ms / 1000;

    rc = sq_auth_check(&ctx->auth, ctx->conf, buf, &len, now_ms);

    if (rc == SQ_DECODE_OK) {
        rc = sq_decode(&ctx->dgram, buf, len);
    }

    sq_persist_merged(ctx, end, now);

    if (rc == SQ_DECODE_OK) {
        (void) sq_windows_ingest(a, &ctx->dgram, now);
        return;
    }

    a->stats.rejected[rc]++;

    if (ctx->reject_logged[rc] + 60 <= now) {
        sq_log(SQ_LOG_WARN, "rejected a datagram of %zu bytes: %s"
               " (%llu more since the last report)", len,
               sq_reject_names[rc],
               (unsigned long long) ctx->reject_unlogged[rc]);
        ctx->reject_logged[rc] = now;
        ctx->reject_unlogged[rc] = 0;

    } else {
        ctx->reject_unlogged[rc]++;
    }
}


int
sq_net_start(sq_ctx_t *ctx)
{
    if (sq_dgram_init(&ctx->dgram) != 0) {
        return -1;
    }

    return sq_net_open(ctx, ctx->conf, &ctx->listeners, &ctx->nlisteners);
}
