
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "sq_collector.h"
#include "sq_alert.h"
#include "sq_http.h"
#include "sq_ingest.h"
#include "sq_persist.h"
#include "sq_metrics.h"
#include "sq_rules.h"
#include "sq_status.h"
#include "sq_view.h"


#define SQ_DEFAULT_CONF  "/etc/servqual/servqual-collector.yaml"
#define SQ_TICK          1
#define SQ_VIEW_TICK_MS  250        /* the scored view's tick */

/*
 * For tests: while the file this names exists, a view build waits at its
 * first yield (after a few hundred series), merging what is queued.
 */
#define SQ_BUILD_HOLD_ENV  "SERVQUAL_TEST_BUILD_HOLD"


static void sq_usage(FILE *f);
static void sq_on_signal(evutil_socket_t sig, short what, void *data);
static void sq_on_timer(evutil_socket_t fd, short what, void *data);
static void sq_on_view_timer(evutil_socket_t fd, short what, void *data);
static void sq_view_update(sq_ctx_t *ctx, int force);
static void sq_view_yield(void *data);
static void sq_reload(sq_ctx_t *ctx);
static int sq_same_ingest(const sq_conf_t *a, const sq_conf_t *b);


static void
sq_usage(FILE *f)
{
    fprintf(f,
        "usage: servqual-collector [-c FILE] [-t] [-v] [-h] "
        "[--prometheus-rules]\n"
        "\n"
        "  -c FILE  the configuration file (default " SQ_DEFAULT_CONF ")\n"
        "  -t       check the configuration and exit\n"
        "  -v       print the version and exit\n"
        "  -h       this help\n"
        "  --prometheus-rules\n"
        "           print Prometheus rules for the configured zones and "
        "exit\n");
}


static int
sq_same_ingest(const sq_conf_t *a, const sq_conf_t *b)
{
    size_t  i;

    if (a->ningest != b->ningest) {
        return 0;
    }

    for (i = 0; i < a->ningest; i++) {
        if (strcmp(a->ingest[i], b->ingest[i]) != 0) {
            return 0;
        }
    }

    return 1;
}


static void
sq_reload(sq_ctx_t *ctx)
{
    size_t                       n;
    sq_conf_t                   *conf;
    sq_listener_t               *l;
    struct evhttp               *old_http;
    struct evhttp_bound_socket  *old_sock;

    sq_log(SQ_LOG_INFO, "reloading \"%s\"", ctx->conf_file);

    conf = sq_conf_load(ctx->conf_file, stderr);

    if (conf == NULL) {
        goto failed;
    }

    if (sq_metrics_configure(conf, stderr) != SQ_OK) {
        sq_conf_free(conf);
        goto failed;
    }

    if (!sq_same_ingest(ctx->conf, conf)) {
        /* close the old first: the new list may reuse an address; the
           receive thread waits, what it queued stays */
        sq_ingest_pause(ctx);
        sq_net_close(ctx->listeners, ctx->nlisteners);
        ctx->listeners = NULL;
        ctx->nlisteners = 0;

        if (sq_net_open(ctx, conf, &l, &n) != 0) {
            sq_log(SQ_LOG_ERROR, "cannot listen on the new ingest "
                   "addresses, keeping the old ones");

            if (sq_net_open(ctx, ctx->conf, &ctx->listeners,
                            &ctx->nlisteners) != 0)
            {
                sq_log(SQ_LOG_ERROR, "cannot listen on the old ingest "
                       "addresses either");
            }

            (void) sq_ingest_resume(ctx);
            sq_conf_free(conf);
            goto failed;
        }

        ctx->listeners = l;
        ctx->nlisteners = n;
        (void) sq_ingest_resume(ctx);
    }

    if (strcmp(ctx->conf->http, conf->http) != 0) {
        old_http = ctx->http;
        old_sock = ctx->http_sock;
        ctx->http = NULL;

        if (old_http) {
            evhttp_free(old_http);
        }

        if (sq_http_open(ctx, conf->http) != 0) {
            (void) old_sock;

            if (sq_http_open(ctx, ctx->conf->http) != 0) {
                sq_log(SQ_LOG_ERROR, "cannot listen for HTTP on the old "
                       "address either");
            }

            sq_conf_free(conf);
            goto failed;
        }
    }

    if (sq_windows_configure(&ctx->windows, conf->slot, conf->short_window,
                         conf->long_window, conf->max_series,
                         conf->series_ttl, conf->max_workers)
        != 0)
    {
        sq_conf_free(conf);
        goto failed;
    }

    sq_conf_free(ctx->conf);
    ctx->conf = conf;
    sq_log_level = conf->log_level;
    ctx->reloads_ok++;

    if (ctx->alert) {
        sq_alert_configure(ctx->alert);
    }

    /* the new levels at once: the old view's labels and zones are gone */

    sq_view_stale(&ctx->views);
    sq_view_update(ctx, 1);

    sq_log(SQ_LOG_INFO, "reloaded \"%s\"", ctx->conf_file);

    return;

failed:

    ctx->reloads_failed++;
    sq_log(SQ_LOG_ERROR, "reload of \"%s\" failed, the old configuration "
           "stays in effect", ctx->conf_file);
}


static void
sq_on_signal(evutil_socket_t sig, short what, void *data)
{
    sq_ctx_t  *ctx = data;

    if (sig == SIGHUP) {
        sq_reload(ctx);
        return;
    }

    sq_log(SQ_LOG_INFO, "signal %d received, exiting", (int) sig);
    event_base_loopbreak(ctx->base);
}


static void
sq_on_timer(evutil_socket_t fd, short what, void *data)
{
    int64_t    now;
    sq_ctx_t  *ctx = data;

    now = sq_now();
    sq_persist_rewind(ctx);
    sq_persist_tick(ctx, now);
    sq_windows_expire(&ctx->windows, now);
}


/*
 * The view's tick: a new scored view when the windows changed since the
 * last one, at most every SQ_VIEW_TICK_MS and within the cost guard of
 * sq_view_tick(); alerts, /metrics, the API and the dashboard read it.
 */

static void
sq_view_update(sq_ctx_t *ctx, int force)
{
    int  built;

    if (sq_view_tick(&ctx->views, &ctx->windows, ctx->conf, sq_now(), force,
                     &built)
        != SQ_OK)
    {
        sq_log(SQ_LOG_ERROR, "cannot build the scored view: out of memory");
    }
}


/* a view build's yield: the merge keeps the ingest queue short */

static void
sq_view_yield(void *data)
{
    sq_ctx_t           *ctx = data;
    static const char  *hold;
    static int          looked;

    sq_ingest_catch_up(ctx);

    if (!looked) {
        hold = getenv(SQ_BUILD_HOLD_ENV);
        looked = 1;
    }

    while (hold != NULL && access(hold, F_OK) == 0) {
        usleep(5000);
        sq_ingest_catch_up(ctx);
    }
}


static void
sq_on_view_timer(evutil_socket_t fd, short what, void *data)
{
    sq_view_update(data, 0);
}


int
main(int argc, char **argv)
{
    int              c, test, rules, rc, built;
    char             err[600];
    sq_ctx_t         ctx;
    const char      *file;
    struct timeval   tv, vtv;

    static const struct option  longopts[] = {
        { "prometheus-rules", no_argument, NULL, 'R' },
        { NULL, 0, NULL, 0 }
    };

    file = NULL;
    test = 0;
    rules = 0;

    while ((c = getopt_long(argc, argv, "c:tvh", longopts, NULL)) != -1) {
        switch (c) {

        case 'R':
            rules = 1;
            break;

        case 'c':
            file = optarg;
            break;

        case 't':
            test = 1;
            break;

        case 'v':
            printf("servqual-collector version %s\n", SQ_VERSION);
            return 0;

        case 'h':
            sq_usage(stdout);
            return 0;

        default:
            sq_usage(stderr);
            return 2;
        }
    }

    if (optind < argc) {
        sq_usage(stderr);
        return 2;
    }

    memset(&ctx, 0, sizeof(ctx));

    if (file == NULL && access(SQ_DEFAULT_CONF, F_OK) == 0) {
        file = SQ_DEFAULT_CONF;
    }

    ctx.conf_file = file;
    ctx.conf = file ? sq_conf_load(file, stderr) : sq_conf_default();

    if (rules) {
        if (ctx.conf == NULL) {
            return 1;
        }

        rc = sq_rules_print(ctx.conf, stdout, stderr);
        sq_conf_free(ctx.conf);

        return rc == 0 ? 0 : 1;
    }

    if (ctx.conf != NULL && sq_metrics_configure(ctx.conf, stderr) != SQ_OK) {
        sq_conf_free(ctx.conf);
        ctx.conf = NULL;
    }

    if (test) {
        if (ctx.conf != NULL && strcmp(ctx.conf->storage_path, "off") != 0
            && sq_store_check(ctx.conf->storage_path, err, sizeof(err))
               != SQ_OK)
        {
            fprintf(stderr, "servqual-collector: storage.path: %s\n", err);
            sq_conf_free(ctx.conf);
            ctx.conf = NULL;
        }

        if (ctx.conf == NULL) {
            fprintf(stderr, "servqual-collector: configuration file %s "
                    "test failed\n", file ? file : "(defaults)");
            return 1;
        }

        fprintf(stderr, "servqual-collector: the configuration file %s "
                "syntax is ok\n"
                "servqual-collector: configuration file %s "
                "test is successful\n", file ? file : "(defaults)",
                file ? file : "(defaults)");
        sq_conf_free(ctx.conf);
        return 0;
    }

    if (ctx.conf == NULL) {
        fprintf(stderr, "servqual-collector: configuration file %s "
                "test failed\n", file ? file : "(defaults)");
        return 1;
    }

    sq_log_level = ctx.conf->log_level;
    signal(SIGPIPE, SIG_IGN);

    rc = 1;
    ctx.started = sq_now();

    ctx.base = event_base_new();
    if (ctx.base == NULL) {
        sq_log(SQ_LOG_ERROR, "event_base_new() failed");
        goto done;
    }

    if (sq_windows_init(&ctx.windows, ctx.conf->slot, ctx.conf->short_window,
                    ctx.conf->long_window, ctx.conf->max_series,
                    ctx.conf->series_ttl, ctx.conf->max_workers)
        != 0)
    {
        sq_log(SQ_LOG_ERROR, "out of memory");
        goto done;
    }

    if (sq_net_start(&ctx) != 0) {
        goto done;
    }

    /* the windows from the store before the first datagram is read */

    if (sq_persist_start(&ctx) != SQ_OK) {
        goto done;
    }

    /* the first view, of what the store gave back */

    if (sq_view_tick(&ctx.views, &ctx.windows, ctx.conf, sq_now(), 1, &built)
        != SQ_OK)
    {
        sq_log(SQ_LOG_ERROR, "out of memory");
        goto done;
    }

    if (sq_http_open(&ctx, ctx.conf->http) != 0) {
        goto done;
    }

    ctx.sighup = evsignal_new(ctx.base, SIGHUP, sq_on_signal, &ctx);
    ctx.sigterm = evsignal_new(ctx.base, SIGTERM, sq_on_signal, &ctx);
    ctx.sigint = evsignal_new(ctx.base, SIGINT, sq_on_signal, &ctx);
    ctx.timer = event_new(ctx.base, -1, EV_PERSIST, sq_on_timer, &ctx);
    ctx.view_timer = event_new(ctx.base, -1, EV_PERSIST, sq_on_view_timer,
                               &ctx);

    tv.tv_sec = SQ_TICK;
    tv.tv_usec = 0;
    vtv.tv_sec = 0;
    vtv.tv_usec = SQ_VIEW_TICK_MS * 1000;

    if (ctx.sighup == NULL || ctx.sigterm == NULL || ctx.sigint == NULL
        || ctx.timer == NULL || ctx.view_timer == NULL
        || event_add(ctx.sighup, NULL) != 0
        || event_add(ctx.sigterm, NULL) != 0
        || event_add(ctx.sigint, NULL) != 0
        || event_add(ctx.timer, &tv) != 0
        || event_add(ctx.view_timer, &vtv) != 0)
    {
        sq_log(SQ_LOG_ERROR, "cannot set up signals and timers");
        goto done;
    }

    ctx.alert = sq_alert_new(&ctx);
    if (ctx.alert == NULL) {
        sq_log(SQ_LOG_ERROR, "cannot set up alerts");
        goto done;
    }

    /* the sockets are read from here on, by the receive thread */

    if (sq_ingest_start(&ctx) != SQ_OK) {
        sq_log(SQ_LOG_ERROR, "cannot start the receive thread");
        goto done;
    }

    /* a view build merges what queues up meanwhile */

    ctx.views.yield = sq_view_yield;
    ctx.views.yield_data = &ctx;

    sq_log(SQ_LOG_INFO, "servqual-collector %s started: ingest %s%s, "
           "http %s", SQ_VERSION, ctx.conf->ingest[0],
           ctx.conf->ningest > 1 ? " and more" : "", ctx.conf->http);

    event_base_dispatch(ctx.base);

    /* what was read is merged, and stored with the rest */

    sq_ingest_pause(&ctx);
    sq_ingest_drain(&ctx);
    sq_persist_rewind(&ctx);
    sq_persist_stop(&ctx);
    rc = 0;

done:

    if (ctx.sighup) {
        event_free(ctx.sighup);
    }

    if (ctx.sigterm) {
        event_free(ctx.sigterm);
    }

    if (ctx.sigint) {
        event_free(ctx.sigint);
    }

    if (ctx.timer) {
        event_free(ctx.timer);
    }

    if (ctx.view_timer) {
        event_free(ctx.view_timer);
    }

    sq_ingest_stop(&ctx);
    sq_alert_free(ctx.alert);
    sq_http_close(&ctx);
    sq_view_pub_free(&ctx.views);

    if (ctx.listeners) {
        sq_net_close(ctx.listeners, ctx.nlisteners);
    }

    /* after a failed start: nothing written yet, the store closed */
    sq_persist_stop(&ctx);

    if (ctx.windows.buckets) {
        sq_windows_free(&ctx.windows);
    }

    sq_dgram_free(&ctx.dgram);
    sq_auth_free(&ctx.auth);

    if (ctx.base) {
        event_base_free(ctx.base);
    }

    sq_conf_free(ctx.conf);

    if (rc == 0) {
        sq_log(SQ_LOG_INFO, "exited");
    }

    return rc;
}
