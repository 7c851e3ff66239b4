
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "sq_writer.h"


/*
 * Why a thread and not slices on the loop: a slot's rows at 100k series
 * are one transaction (with the workers' state that makes the counts
 * exact across kill -9), 0.7-1.2 s of SQLite; cut into slices it would
 * no longer be one transaction, and every other write (expiry, the tier
 * merge, the alert history) would still be SQLite time on the loop.  On
 * a thread the loop's part is copying the slot's packed bytes (a few ms
 * at 100k series) and the bookkeeping when the result comes back.  One
 * job at a time: the writes keep the order they had on the loop, and the
 * thread's memory is the one job's.
 */

/*
 * The thread's nice value: its writes can wait a little, the merge
 * cannot.  When every core is busy, the scheduler gives the loop (and
 * the receive thread) the core and the storage thread what is left; on
 * a machine with a core to spare it makes no difference.
 */
#define SQ_WRITER_NICE  10


typedef enum {
    SQ_WRITER_IDLE = 0,           /* nothing handed over */
    SQ_WRITER_QUEUED,             /* handed over, not started */
    SQ_WRITER_RUNNING,
    SQ_WRITER_DONE                /* written, the result not taken */
} sq_writer_state_t;


struct sq_writer_s {
    pthread_t            thread;
    pthread_mutex_t      lock;
    pthread_cond_t       cond;
    int                  state;       /* sq_writer_state_t, under lock */
    int                  quit;        /* under lock */
    sq_write_job_t      *job;

    sq_store_t          *store;       /* the thread's connection */
    sq_compact_t        *compact;
    const char          *hold;

    int                  efd;         /* eventfd: a job is done */
    struct event        *ev;
    sq_writer_done_pt    done;
    void                *data;
};


static void *sq_writer_thread(void *data);
static void sq_writer_run(sq_writer_t *w, sq_write_job_t *job);
static void sq_writer_on_done(evutil_socket_t fd, short what, void *data);


sq_writer_t *
sq_writer_start(const char *path, struct event_base *base,
    sq_writer_done_pt done, void *data, char *err, size_t len)
{
    const char   *env;
    sq_writer_t  *w;

    w = calloc(1, sizeof(sq_writer_t));
    if (w == NULL) {
        snprintf(err, len, "%s", sq_strerror(SQ_ERR_NOMEM));
        return NULL;
    }

    w->efd = -1;
    w->done = done;
    w->data = data;

    env = getenv("SERVQUAL_TEST_STORE_HOLD");
    w->hold = (env && env[0]) ? env : NULL;

    w->store = sq_store_open(path, err, len);

    if (w->store == NULL) {
        free(w);
        return NULL;
    }

    w->compact = sq_compact_open(w->store);

    if (w->compact == NULL) {
        snprintf(err, len, "%s", sq_store_strerror(w->store));
        goto failed;
    }

    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    if (w->efd == -1) {
        snprintf(err, len, "eventfd() failed: %s", strerror(errno));
        goto failed;
    }

    w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, sq_writer_on_done,
                      w);

    if (w->ev == NULL || event_add(w->ev, NULL) != 0) {
        snprintf(err, len, "cannot watch the storage thread's eventfd");
        goto failed;
    }

    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);

    if (pthread_create(&w->thread, NULL, sq_writer_thread, w) != 0) {
        snprintf(err, len, "cannot start the storage thread: %s",
                 strerror(errno));
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        goto failed;
    }

    (void) pthread_setname_np(w->thread, "sq-storage");

    return w;

failed:

    if (w->ev) {
        event_free(w->ev);
    }

    if (w->efd != -1) {
        close(w->efd);
    }

    sq_compact_close(w->compact);
    sq_store_close(w->store);
    free(w);

    return NULL;
}


const char *
sq_writer_hold(const sq_writer_t *w)
{
    return w->hold;
}


static void *
sq_writer_thread(void *data)
{
    sq_writer_t     *w = data;
    uint64_t         one;
    sq_write_job_t  *job;

    one = 1;

    /* Linux: a thread's own nice value (its tid for the process) */
    (void) setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid),
                       SQ_WRITER_NICE);

    pthread_mutex_lock(&w->lock);

    for ( ;; ) {
        while (w->state != SQ_WRITER_QUEUED && !w->quit) {
            pthread_cond_wait(&w->cond, &w->lock);
        }

        if (w->state != SQ_WRITER_QUEUED) {
            break;
        }

        w->state = SQ_WRITER_RUNNING;
        job = w->job;
        pthread_mutex_unlock(&w->lock);

        sq_writer_run(w, job);

        pthread_mutex_lock(&w->lock);
        w->state = SQ_WRITER_DONE;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);

        /* the loop's turn: sq_writer_on_done() */
        if (write(w->efd, &one, sizeof(one)) != sizeof(one)) {
            /* the counter is full: the loop has a wake-up pending */
        }

        pthread_mutex_lock(&w->lock);
    }

    pthread_mutex_unlock(&w->lock);

    return NULL;
}


static void
sq_writer_run(sq_writer_t *w, sq_write_job_t *job)
{
    struct timespec  t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);

    job->n = 0;
    job->err[0] = '\0';

    switch (job->op) {

    case SQ_WRITE_SLOT:
        job->rc = sq_store_write_batch(w->store, job->batch, &job->n);
        break;

    case SQ_WRITE_EXPIRE:
        job->rc = sq_store_expire(w->store, job->before, &job->n);
        break;

    case SQ_WRITE_COMPACT:
        job->rc = sq_compact_tick(w->compact, job->now, job->slot_retention,
                                  job->coarse_slot, job->guard);
        sq_compact_stats(w->compact, &job->cs);
        break;

    case SQ_WRITE_ALERTS:
        job->rc = sq_store_alert_events(w->store, job->events, job->nevents);
        job->n = job->nevents;
        break;

    default:
        job->rc = SQ_ERR_INVALID;
        break;
    }

    if (job->rc != SQ_OK) {
        snprintf(job->err, sizeof(job->err), "%s",
                 sq_store_strerror(w->store));
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    job->ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
}


static void
sq_writer_on_done(evutil_socket_t fd, short what, void *data)
{
    sq_writer_t  *w = data;
    uint64_t      n;

    if (read(w->efd, &n, sizeof(n)) != sizeof(n)) {
        return;
    }

    w->done(w->data);
}


int
sq_writer_busy(sq_writer_t *w)
{
    int  busy;

    pthread_mutex_lock(&w->lock);
    busy = (w->state != SQ_WRITER_IDLE);
    pthread_mutex_unlock(&w->lock);

    return busy;
}


void
sq_writer_submit(sq_writer_t *w, sq_write_job_t *job)
{
    pthread_mutex_lock(&w->lock);
    w->job = job;
    w->state = SQ_WRITER_QUEUED;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}


sq_write_job_t *
sq_writer_result(sq_writer_t *w)
{
    sq_write_job_t  *job;

    job = NULL;

    pthread_mutex_lock(&w->lock);

    if (w->state == SQ_WRITER_DONE) {
        job = w->job;
        w->job = NULL;
        w->state = SQ_WRITER_IDLE;
    }

    pthread_mutex_unlock(&w->lock);

    return job;
}


sq_write_job_t *
sq_writer_wait(sq_writer_t *w)
{
    pthread_mutex_lock(&w->lock);

    while (w->state == SQ_WRITER_QUEUED || w->state == SQ_WRITER_RUNNING) {
        pthread_cond_wait(&w->cond, &w->lock);
    }

    pthread_mutex_unlock(&w->lock);

    return sq_writer_result(w);
}


void
sq_writer_stop(sq_writer_t *w)
{
    if (w == NULL) {
        return;
    }

    (void) sq_writer_wait(w);

    pthread_mutex_lock(&w->lock);
    w->quit = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);

    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);

    event_free(w->ev);
    close(w->efd);
    sq_compact_close(w->compact);
    sq_store_close(w->store);
    free(w);
}
