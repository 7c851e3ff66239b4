
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_COLLECTOR_H_INCLUDED_
#define _SQ_COLLECTOR_H_INCLUDED_


#include <stdint.h>
#include <event2/event.h>
#include <event2/http.h>

#include "sq_windows.h"
#include "sq_config.h"
#include "sq_decode.h"
#include "sq_store.h"
#include "sq_view.h"
#include "sq_auth.h"


#define SQ_VERSION  "0.1.0"

#define SQ_LOG_ERROR  0
#define SQ_LOG_WARN   1
#define SQ_LOG_INFO   2
#define SQ_LOG_DEBUG  3


typedef struct {
    int                  fd;
    char                *addr;
    char                *path;          /* unix socket to unlink */
    uint64_t             drops;         /* the kernel's (sq_ingest.c) */
} sq_listener_t;


typedef struct sq_alert_s  sq_alert_t;


typedef struct sq_ctx_s {
    struct event_base   *base;
    sq_conf_t           *conf;
    const char          *conf_file;

    sq_windows_t         windows;
    sq_store_t          *store;         /* NULL when storage is off */
    struct sq_persist_s *persist;       /* its timetable (sq_persist.c) */
    sq_alert_t          *alert;
    sq_view_pub_t        views;         /* the latest scored view */
    sq_dgram_t           dgram;
    sq_auth_t            auth;          /* signed datagrams' keys, replays */

    sq_listener_t       *listeners;
    size_t               nlisteners;
    struct sq_ingest_s  *ingest;        /* receive thread (sq_ingest.c) */

    struct evhttp       *http;
    struct evhttp_bound_socket  *http_sock;
    struct sq_http_srv_s *http_srv;     /* its connections (sq_http.c) */

    struct event        *sighup;
    struct event        *sigterm;
    struct event        *sigint;
    struct event        *timer;
    struct event        *view_timer;

    int64_t              started;
    uint64_t             reloads_ok;
    uint64_t             reloads_failed;
    uint64_t             http_requests;

    int64_t              reject_logged[SQ_NREJECTS];
    uint64_t             reject_unlogged[SQ_NREJECTS];
} sq_ctx_t;


extern int  sq_log_level;

void sq_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int64_t sq_now(void);

int sq_net_open(sq_ctx_t *ctx, sq_conf_t *conf, sq_listener_t **out,
    size_t *n);
void sq_net_close(sq_listener_t *l, size_t n);
int sq_net_start(sq_ctx_t *ctx);
void sq_net_datagram(sq_ctx_t *ctx, const char *buf, size_t len,
    int64_t now_ms, uint64_t end);

void sq_store_http_history(struct evhttp_request *req, void *data);


#endif /* _SQ_COLLECTOR_H_INCLUDED_ */
