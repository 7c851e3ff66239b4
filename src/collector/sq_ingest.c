
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "sq_http.h"
#include "sq_ingest.h"
#include "sq_persist.h"
#include "sq_status.h"
#include "sq_wal.h"


/*
 * The queue is one ring of bytes, written by the receive thread and read
 * by the loop.  A record is a header and the datagram, padded to 8 bytes;
 * a record that does not fit before the ring's end starts again at its
 * beginning, the rest of the end marked as skipped.  The thread takes
 * room for a batch and copies the datagrams in.  With storage on, the
 * log thread then appends them to the ingest log (sq_wal.h) from there
 * and only then counts them in queued: the receive thread never waits on
 * the disk (a write to a file waits on the file system's journal while
 * the disk stalls), the queue holds what arrives meanwhile, and the loop
 * merges only what is logged.  The loop reads the records counted when
 * it looked, without the lock (the threads write only outside them), and
 * gives their bytes back under the lock when it has merged them.
 *
 * The ring is an anonymous mapping: untouched pages cost no memory, and
 * an empty ring starts again at 0, so a steady flow keeps to its first
 * pages.  A burst makes more resident; once it is merged (nothing in use
 * past SQ_INGEST_KEEP), the loop gives the pages past SQ_INGEST_KEEP back
 * with a fence up: meanwhile the thread takes room below it only, and
 * waits if a datagram does not fit there.  While a backlog lasts, the
 * loop hands what it merged back to the thread a MB at a time
 * (sq_ingest_hand_back()), the pages past SQ_INGEST_KEEP first given
 * back to the system: a small backlog that never empties (the merge
 * yielding to a long scrape) walks the whole ring, and would otherwise
 * keep every page it passed resident (256 MB).  The ring's resident
 * memory is its first pages and what is queued.
 */

#define SQ_INGEST_BATCH     32        /* datagrams a recvmmsg() call takes */
#define SQ_INGEST_ROUNDS    8         /* recvmmsg() calls on one socket */
#define SQ_INGEST_LAST_ROUNDS  64     /* ... when the thread stops */
#define SQ_INGEST_BUDGET    512       /* datagrams merged before yielding */
#define SQ_INGEST_SLICE     8         /* datagrams between two clock reads */
#define SQ_INGEST_TURN      2000000   /* ns: a merge turn at most, about */
#define SQ_INGEST_LONG_TURN 50000000  /* ... past SQ_INGEST_BACKLOG */
#define SQ_INGEST_BACKLOG   (16 << 20) /* queued bytes HTTP may leave */
#define SQ_INGEST_BUF       (SQ_WIRE_MAX_DATAGRAM + 1)
#define SQ_INGEST_SKIP      UINT32_MAX
#define SQ_INGEST_ALIGN(n)  (((n) + 7) & ~(size_t) 7)
#define SQ_INGEST_KEEP      (4 << 20) /* bytes of the ring kept resident */
#define SQ_INGEST_ZAP       (1 << 20) /* merged bytes given back at once */
#define SQ_INGEST_CATCH_UP  (2 << 20) /* queued bytes a long task merges */
#define SQ_INGEST_CATCH_UP_TURN  50000000  /* ns: one catch-up at most */

/*
 * For tests: while the file this names exists, the loop merges nothing,
 * so a backlog builds up in the queue on demand (t/270).
 */
#define SQ_INGEST_HOLD_ENV  "SERVQUAL_TEST_MERGE_HOLD"

/*
 * For tests: while the file this names exists, the log thread writes
 * nothing, as if the disk stalled (t/298).
 */
#define SQ_INGEST_LOG_HOLD_ENV  "SERVQUAL_TEST_LOG_HOLD"


typedef struct {
    uint32_t             len;         /* SQ_INGEST_SKIP: to the ring's end */
    uint32_t             pad;
    uint64_t             end;         /* its position in the ingest log */
} sq_ingest_rec_t;


struct sq_ingest_s {
    pthread_t            thread;
    int                  running;
    int                  ctl;         /* eventfd: the thread stops */
    int                  wake;        /* eventfd: datagrams are queued */
    struct event        *ev;
    const char          *hold;        /* SQ_INGEST_HOLD_ENV */
    struct event        *hold_ev;

    pthread_mutex_t      lock;
    char                *ring;
    size_t               cap;
    size_t               head;        /* the thread writes here */
    size_t               tail;        /* the loop reads here */
    size_t               used;        /* bytes, skipped ends included */
    uint64_t             queued;      /* records, logged */
    uint64_t             unlogged;    /* records before them, from lpos */
    size_t               lpos;        /* the first record not logged */
    uint64_t             received;
    uint64_t             overflow;
    uint64_t             peak;
    uint64_t             released;    /* bytes given back to the system */
    size_t               touched;     /* the ring's bytes made resident */
    size_t               fence;       /* room is taken below this only */
    /* the loop's own: merged and not yet handed back to the thread */
    size_t               rtail;       /* the next record to merge */
    size_t               pend;        /* bytes from tail to rtail */
    size_t               zap;         /* from here (its page excluded) to
                                         rtail: pages not yet given back
                                         to the system */
    pthread_cond_t       lifted;      /* the fence is back at cap */

    /* the receive thread's own */
    sq_listener_t      **ls;
    size_t               nls;
    char                *bufs;

    /* the log thread's (with storage on) */
    pthread_t            lthread;
    pthread_cond_t       logc;        /* records to log, or stop */
    int                  lrunning;
    int                  lstop;
    const char          *lhold;       /* SQ_INGEST_LOG_HOLD_ENV */
    sq_wal_t            *wal;         /* NULL: storage is off */
    int64_t              wal_logged;  /* when an append error was logged */
    uint64_t             wal_unlogged;
};


static void *sq_ingest_thread(void *data);
static void *sq_ingest_log_thread(void *data);
static int sq_ingest_read(sq_ingest_t *in, sq_listener_t *l,
    struct mmsghdr *msg, struct iovec *iov, char (*cmsg)[64]);
static sq_ingest_rec_t *sq_ingest_reserve(sq_ingest_t *in, size_t len);
static int sq_ingest_publish(sq_ingest_t *in, size_t n);
static void sq_ingest_log(sq_ingest_t *in, sq_ingest_rec_t **recs,
    size_t n);
static void sq_ingest_release(sq_ingest_t *in);
static size_t sq_ingest_used(sq_ingest_t *in);
static uint64_t sq_ingest_resident(sq_ingest_t *in);
static uint64_t sq_ingest_resident_in(char *p, size_t len);
static void sq_ingest_zap(sq_ingest_t *in, size_t from, size_t to);
static void sq_ingest_hand_back(sq_ingest_t *in);
static void sq_ingest_on_wake(evutil_socket_t fd, short what, void *data);
static size_t sq_ingest_merge(sq_ctx_t *ctx, size_t budget);
static void sq_ingest_on_hold(evutil_socket_t fd, short what, void *data);


int
sq_ingest_start(sq_ctx_t *ctx)
{
    sq_ingest_t     *in;
    struct timeval   tv;

    in = calloc(1, sizeof(sq_ingest_t));
    if (in == NULL) {
        return SQ_ERR_NOMEM;
    }

    in->ctl = -1;
    in->wake = -1;
    in->cap = SQ_INGEST_ALIGN((size_t) ctx->conf->queue_mb << 20);
    in->wal = sq_persist_wal(ctx);

    /* untouched pages cost no memory: the ring is resident as it fills */

    in->ring = mmap(NULL, in->cap, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    in->bufs = malloc((size_t) SQ_INGEST_BATCH * SQ_INGEST_BUF);

    in->fence = in->cap;

    if (in->ring == MAP_FAILED || in->bufs == NULL
        || pthread_mutex_init(&in->lock, NULL) != 0
        || pthread_cond_init(&in->lifted, NULL) != 0
        || pthread_cond_init(&in->logc, NULL) != 0)
    {
        if (in->ring != MAP_FAILED) {
            (void) munmap(in->ring, in->cap);
        }

        free(in->bufs);
        free(in);
        return SQ_ERR_NOMEM;
    }

    in->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    in->ctl = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    ctx->ingest = in;

    if (in->wake == -1 || in->ctl == -1) {
        sq_log(SQ_LOG_ERROR, "eventfd() failed: %s", strerror(errno));
        return SQ_ERR_IO;
    }

    in->ev = event_new(ctx->base, in->wake, EV_READ | EV_PERSIST,
                       sq_ingest_on_wake, ctx);

    if (in->ev == NULL || event_add(in->ev, NULL) != 0) {
        sq_log(SQ_LOG_ERROR, "cannot watch the ingest queue");
        return SQ_ERR_IO;
    }

    in->hold = getenv(SQ_INGEST_HOLD_ENV);
    in->lhold = getenv(SQ_INGEST_LOG_HOLD_ENV);

    if (in->hold != NULL) {
        tv.tv_sec = 0;
        tv.tv_usec = 100000;

        in->hold_ev = event_new(ctx->base, -1, EV_PERSIST, sq_ingest_on_hold,
                                ctx);

        if (in->hold_ev == NULL || event_add(in->hold_ev, &tv) != 0) {
            return SQ_ERR_IO;
        }

        sq_log(SQ_LOG_WARN, "merging is held while \"%s\" exists (%s)",
               in->hold, SQ_INGEST_HOLD_ENV);
    }

    return sq_ingest_resume(ctx);
}


int
sq_ingest_resume(sq_ctx_t *ctx)
{
    int           rc;
    size_t        i;
    sq_ingest_t  *in;

    in = ctx->ingest;

    if (in == NULL || in->running) {
        return SQ_OK;
    }

    free(in->ls);
    in->nls = ctx->nlisteners;
    in->ls = calloc(in->nls ? in->nls : 1, sizeof(sq_listener_t *));

    if (in->ls == NULL) {
        return SQ_ERR_NOMEM;
    }

    for (i = 0; i < in->nls; i++) {
        in->ls[i] = &ctx->listeners[i];
    }

    rc = pthread_create(&in->thread, NULL, sq_ingest_thread, in);

    if (rc != 0) {
        sq_log(SQ_LOG_ERROR, "cannot start the receive thread: %s",
               strerror(rc));
        return SQ_ERR_IO;
    }

    /* apart in top -H and perf */
    (void) pthread_setname_np(in->thread, "sq-receive");

    in->running = 1;

    if (in->wal == NULL) {
        return SQ_OK;
    }

    in->lstop = 0;
    rc = pthread_create(&in->lthread, NULL, sq_ingest_log_thread, in);

    if (rc != 0) {
        sq_log(SQ_LOG_ERROR, "cannot start the ingest log thread: %s",
               strerror(rc));
        return SQ_ERR_IO;
    }

    (void) pthread_setname_np(in->lthread, "sq-ingest-log");

    in->lrunning = 1;

    return SQ_OK;
}


void
sq_ingest_pause(sq_ctx_t *ctx)
{
    uint64_t      one;
    sq_ingest_t  *in;

    in = ctx->ingest;

    if (in == NULL || !in->running) {
        return;
    }

    one = 1;

    if (write(in->ctl, &one, sizeof(one)) != sizeof(one)) {
        sq_log(SQ_LOG_ERROR, "cannot stop the receive thread: %s",
               strerror(errno));
        return;
    }

    (void) pthread_join(in->thread, NULL);
    in->running = 0;

    while (read(in->ctl, &one, sizeof(one)) > 0) {
        /* void */
    }

    /* what the receive thread read is logged and queued before this
       returns: a drain after it merges everything */

    if (in->lrunning) {
        pthread_mutex_lock(&in->lock);
        __atomic_store_n(&in->lstop, 1, __ATOMIC_RELAXED);
        pthread_cond_signal(&in->logc);
        pthread_mutex_unlock(&in->lock);

        (void) pthread_join(in->lthread, NULL);
        in->lrunning = 0;
    }
}


void
sq_ingest_stop(sq_ctx_t *ctx)
{
    sq_ingest_t  *in;

    in = ctx->ingest;

    if (in == NULL) {
        return;
    }

    sq_ingest_pause(ctx);

    if (in->ev) {
        event_free(in->ev);
    }

    if (in->hold_ev) {
        event_free(in->hold_ev);
    }

    if (in->wake != -1) {
        close(in->wake);
    }

    if (in->ctl != -1) {
        close(in->ctl);
    }

    pthread_mutex_destroy(&in->lock);
    pthread_cond_destroy(&in->lifted);
    pthread_cond_destroy(&in->logc);
    free(in->ls);
    free(in->bufs);
    (void) munmap(in->ring, in->cap);
    free(in);
    ctx->ingest = NULL;
}


/* the receive thread: the sockets into the queue, nothing else */

static void *
sq_ingest_thread(void *data)
{
    int              round;
    size_t           i, n;
    sq_ingest_t     *in = data;
    struct pollfd   *pfd;
    struct iovec     iov[SQ_INGEST_BATCH];
    struct mmsghdr   msg[SQ_INGEST_BATCH];
    char             cmsg[SQ_INGEST_BATCH][64];

    n = in->nls;

    pfd = calloc(n + 1, sizeof(struct pollfd));
    if (pfd == NULL) {
        sq_log(SQ_LOG_ERROR, "receive thread: out of memory");
        return NULL;
    }

    for (i = 0; i < n; i++) {
        pfd[i].fd = in->ls[i]->fd;
        pfd[i].events = POLLIN;
    }

    pfd[n].fd = in->ctl;
    pfd[n].events = POLLIN;

    for (i = 0; i < SQ_INGEST_BATCH; i++) {
        iov[i].iov_base = in->bufs + i * SQ_INGEST_BUF;
        iov[i].iov_len = SQ_INGEST_BUF;
    }

    for ( ;; ) {
        if (poll(pfd, n + 1, -1) == -1) {
            if (errno == EINTR) {
                continue;
            }

            sq_log(SQ_LOG_ERROR, "receive thread: poll() failed: %s",
                   strerror(errno));
            break;
        }

        if (pfd[n].revents) {
            /* what the kernel holds now would die with the sockets */

            for (i = 0; i < n; i++) {
                for (round = 0; round < SQ_INGEST_LAST_ROUNDS; round++) {
                    if (sq_ingest_read(in, in->ls[i], msg, iov, cmsg)
                        < SQ_INGEST_BATCH)
                    {
                        break;
                    }
                }
            }

            break;
        }

        /* a socket is read empty (up to a bound) before the next: what
           one worker sent over two sockets keeps its order, as it did
           when the loop read them */

        for (i = 0; i < n; i++) {
            for (round = 0;
                 pfd[i].revents && round < SQ_INGEST_ROUNDS;
                 round++)
            {
                if (sq_ingest_read(in, in->ls[i], msg, iov, cmsg)
                    < SQ_INGEST_BATCH)
                {
                    break;
                }
            }
        }
    }

    free(pfd);

    return NULL;
}


/*
 * one batch from a socket, the number read: into the queue, then into the
 * ingest log, then counted; the kernel's drop count rides on each datagram
 */

static int
sq_ingest_read(sq_ingest_t *in, sq_listener_t *l, struct mmsghdr *msg,
    struct iovec *iov, char (*cmsg)[64])
{
    int               i, n;
    size_t            len, k;
    uint32_t          drops;
    uint64_t          one;
    struct cmsghdr   *cm;
    sq_ingest_rec_t  *r, *recs[SQ_INGEST_BATCH];

    for (i = 0; i < SQ_INGEST_BATCH; i++) {
        memset(&msg[i], 0, sizeof(struct mmsghdr));
        msg[i].msg_hdr.msg_iov = &iov[i];
        msg[i].msg_hdr.msg_iovlen = 1;
        msg[i].msg_hdr.msg_control = cmsg[i];
        msg[i].msg_hdr.msg_controllen = sizeof(cmsg[i]);
    }

    n = recvmmsg(l->fd, msg, SQ_INGEST_BATCH, MSG_DONTWAIT, NULL);

    if (n == -1) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            sq_log(SQ_LOG_ERROR, "recvmmsg() failed: %s", strerror(errno));
        }

        return 0;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        for (cm = CMSG_FIRSTHDR(&msg[i].msg_hdr);
             cm != NULL;
             cm = CMSG_NXTHDR(&msg[i].msg_hdr, cm))
        {
            if (cm->cmsg_level == SOL_SOCKET
                && cm->cmsg_type == SO_RXQ_OVFL)
            {
                memcpy(&drops, CMSG_DATA(cm), sizeof(drops));
                __atomic_store_n(&l->drops, (uint64_t) drops,
                                 __ATOMIC_RELAXED);
            }
        }

        len = msg[i].msg_len;

        /* a datagram cut to the buffer is longer than any may be */

        if (msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
            len = SQ_INGEST_BUF;
        }

        r = sq_ingest_reserve(in, len);

        if (r != NULL) {
            memcpy(r + 1, iov[i].iov_base, len);
            recs[k++] = r;
        }
    }

    if (k == 0) {
        return n;
    }

    if (in->wal != NULL) {
        /* to the log thread, which counts them once logged */

        pthread_mutex_lock(&in->lock);
        in->unlogged += k;
        pthread_cond_signal(&in->logc);
        pthread_mutex_unlock(&in->lock);

        return n;
    }

    sq_ingest_log(in, recs, k);

    if (sq_ingest_publish(in, k)) {
        one = 1;

        if (write(in->wake, &one, sizeof(one)) == -1) {
            /* the counter is at its limit: the loop is awake anyway */
        }
    }

    return n;
}


/*
 * The log thread: the records the receive thread queued, in the ring's
 * order, appended to the ingest log a batch at a time and only then
 * counted in queued (logged before it is merged: a kill loses nothing
 * the log has).  While a write waits on the disk the receive thread goes
 * on reading the sockets into the ring.  At a stop, it logs what is left
 * first.
 */

static void *
sq_ingest_log_thread(void *data)
{
    size_t            i, n, pos;
    uint64_t          one;
    sq_ingest_t      *in = data;
    sq_ingest_rec_t  *r, *recs[SQ_INGEST_BATCH];
    struct timespec   ts = { 0, 100000000 };

    pthread_mutex_lock(&in->lock);

    for ( ;; ) {
        while (in->unlogged == 0 && !in->lstop) {
            pthread_cond_wait(&in->logc, &in->lock);
        }

        if (in->unlogged == 0) {
            break;
        }

        n = in->unlogged < SQ_INGEST_BATCH ? in->unlogged : SQ_INGEST_BATCH;
        pos = in->lpos;

        pthread_mutex_unlock(&in->lock);

        while (in->lhold != NULL
               && !__atomic_load_n(&in->lstop, __ATOMIC_RELAXED)
               && access(in->lhold, F_OK) == 0)
        {
            (void) nanosleep(&ts, NULL);
        }

        for (i = 0; i < n; i++) {
            if (in->cap - pos < sizeof(sq_ingest_rec_t)
                || ((sq_ingest_rec_t *) (in->ring + pos))->len
                   == SQ_INGEST_SKIP)
            {
                pos = 0;
            }

            r = (sq_ingest_rec_t *) (in->ring + pos);
            recs[i] = r;
            pos += sizeof(sq_ingest_rec_t) + SQ_INGEST_ALIGN(r->len);
        }

        sq_ingest_log(in, recs, n);

        pthread_mutex_lock(&in->lock);
        in->lpos = pos;
        in->unlogged -= n;
        pthread_mutex_unlock(&in->lock);

        if (sq_ingest_publish(in, n)) {
            one = 1;

            if (write(in->wake, &one, sizeof(one)) == -1) {
                /* the counter is at its limit: the loop is awake anyway */
            }
        }

        pthread_mutex_lock(&in->lock);
    }

    pthread_mutex_unlock(&in->lock);

    return NULL;
}


/* the records of a batch appended to the ingest log, their ends noted */

static void
sq_ingest_log(sq_ingest_t *in, sq_ingest_rec_t **recs, size_t n)
{
    size_t           i;
    int64_t          now;
    uint64_t         end[SQ_INGEST_BATCH];
    struct iovec     dg[SQ_INGEST_BATCH];
    struct timespec  ts;

    if (in->wal == NULL) {
        for (i = 0; i < n; i++) {
            recs[i]->end = SQ_WAL_NONE;
        }

        return;
    }

    (void) clock_gettime(CLOCK_REALTIME, &ts);
    now = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;

    for (i = 0; i < n; i++) {
        dg[i].iov_base = recs[i] + 1;
        dg[i].iov_len = recs[i]->len;
    }

    if (sq_wal_append(in->wal, now, dg, n, end) != SQ_OK) {
        /* counted in storage's ingest log errors; logged once a minute */

        if (ts.tv_sec - in->wal_logged >= 60) {
            sq_log(SQ_LOG_ERROR, "storage: ingest log \"%s\": cannot "
                   "append: %s (%llu more since the last report)",
                   sq_wal_dir(in->wal), strerror(errno),
                   (unsigned long long) in->wal_unlogged);
            in->wal_logged = ts.tv_sec;
            in->wal_unlogged = 0;

        } else {
            in->wal_unlogged++;
        }
    }

    for (i = 0; i < n; i++) {
        recs[i]->end = end[i];
    }
}


/*
 * Room for a record of len bytes, its length set; NULL when the queue is
 * full (counted).  The room is taken (head, used) but the record is not
 * counted in queued until sq_ingest_publish(): the loop does not read it.
 */

static sq_ingest_rec_t *
sq_ingest_reserve(sq_ingest_t *in, size_t len)
{
    size_t            need, at;
    sq_ingest_rec_t  *r;

    need = sizeof(sq_ingest_rec_t) + SQ_INGEST_ALIGN(len);

    pthread_mutex_lock(&in->lock);

    in->received++;

    if (in->used == 0) {
        in->head = 0;
        in->tail = 0;
        in->lpos = 0;
    }

    /* the loop gives pages back past the fence: below it only, or wait */

    while (in->fence < in->cap && in->head + need > in->fence) {
        pthread_cond_wait(&in->lifted, &in->lock);
    }

    at = (size_t) -1;

    if (in->used == 0 || in->head > in->tail) {
        /* free: from head to the end, and from 0 to tail */

        if (in->cap - in->head >= need) {
            at = in->head;

        } else if (in->tail >= need) {
            if (in->cap - in->head >= sizeof(sq_ingest_rec_t)) {
                r = (sq_ingest_rec_t *) (in->ring + in->head);
                r->len = SQ_INGEST_SKIP;
            }

            in->used += in->cap - in->head;
            at = 0;
        }

    } else if (in->head < in->tail && in->tail - in->head >= need) {
        at = in->head;
    }

    if (at == (size_t) -1) {
        in->overflow++;
        pthread_mutex_unlock(&in->lock);
        return NULL;
    }

    in->head = at + need;
    in->used += need;

    if (in->head > in->touched) {
        in->touched = in->head;
    }

    if (in->used > in->peak) {
        in->peak = in->used;
    }

    pthread_mutex_unlock(&in->lock);

    /* the loop reads only records counted in queued: this is outside */

    r = (sq_ingest_rec_t *) (in->ring + at);
    r->len = (uint32_t) len;
    r->pad = 0;
    r->end = SQ_WAL_NONE;

    return r;
}


/* n records reserved are counted; 1 when the loop is to be woken */

static int
sq_ingest_publish(sq_ingest_t *in, size_t n)
{
    int  was_empty;

    pthread_mutex_lock(&in->lock);

    /*
     * whether the loop must be woken is known only now: a merge that
     * took the records queued before may have finished since the space
     * was taken, and would not look again
     */

    was_empty = (in->queued == 0);
    in->queued += n;

    pthread_mutex_unlock(&in->lock);

    return was_empty;
}


static void
sq_ingest_on_wake(evutil_socket_t fd, short what, void *data)
{
    int               yield;
    long              ns;
    size_t            done, left;
    uint64_t          v;
    sq_ctx_t         *ctx = data;
    sq_ingest_t      *in;
    struct timespec   t0, t1;

    in = ctx->ingest;

    if (read(fd, &v, sizeof(v)) == -1) {
        /* woken by sq_ingest_merge() itself: nothing to read */
    }

    if (in->hold != NULL && access(in->hold, F_OK) == 0) {
        return;
    }

    /*
     * A turn merges up to SQ_INGEST_BUDGET datagrams.  When HTTP work
     * waits (a scrape under way, a request) it stops after about
     * SQ_INGEST_TURN ns (a datagram of 100 series at 100000 live series
     * is about 70 us) and wakes the loop through the eventfd: the loop
     * polls, the HTTP answers run, then the next turn, the queue
     * absorbing what arrives meanwhile, up to SQ_INGEST_BACKLOG bytes:
     * past that a turn goes on until the queue is back under it (or for
     * SQ_INGEST_LONG_TURN), so that a long scrape of a busy collector
     * costs it time, not memory.  Otherwise what is left waits as
     * before, with event_active(): an event made active from its own
     * callback runs again before the loop polls (timers included).
     */

    clock_gettime(CLOCK_MONOTONIC, &t0);
    done = 0;
    yield = 0;

    for ( ;; ) {
        left = sq_ingest_merge(ctx, SQ_INGEST_SLICE);
        done += SQ_INGEST_SLICE;

        if (left == 0) {
            break;
        }

        clock_gettime(CLOCK_MONOTONIC, &t1);
        ns = (t1.tv_sec - t0.tv_sec) * 1000000000L
             + (t1.tv_nsec - t0.tv_nsec);

        if (done >= SQ_INGEST_BUDGET || ns >= SQ_INGEST_TURN) {
            if (ns < SQ_INGEST_LONG_TURN && sq_ingest_used(in)
                                            > SQ_INGEST_BACKLOG)
            {
                continue;
            }

            if (sq_http_waiting(ctx)) {
                yield = 1;
                break;
            }

            if (done >= SQ_INGEST_BUDGET) {
                break;
            }
        }
    }

    if (left > 0 && yield) {
        v = 1;

        if (write(in->wake, &v, sizeof(v)) == -1) {
            /* the counter is full: the loop is woken all the same */
        }

    } else if (left > 0) {
        event_active(in->ev, EV_READ, 0);
    }
}


static size_t
sq_ingest_used(sq_ingest_t *in)
{
    size_t  used;

    pthread_mutex_lock(&in->lock);
    used = in->used;
    pthread_mutex_unlock(&in->lock);

    return used;
}


/* tests: once the hold is gone, what waits is merged */

static void
sq_ingest_on_hold(evutil_socket_t fd, short what, void *data)
{
    sq_ctx_t     *ctx = data;
    sq_ingest_t  *in;

    in = ctx->ingest;

    if (access(in->hold, F_OK) != 0) {
        event_active(in->ev, EV_READ, 0);
    }
}


/*
 * Called from inside a long task on the loop (a view build, every
 * millisecond or so of it): once SQ_INGEST_CATCH_UP bytes are queued,
 * what is queued is merged, to the last datagram or for
 * SQ_INGEST_CATCH_UP_TURN at most.  Emptied, the ring starts again at its
 * first pages, so a 0.4 s build at 20,000 datagrams/s keeps a few MB
 * resident instead of the 60 MB that would otherwise wait for it, and
 * the backlog it leaves is small.  HTTP and timers wait for the task, as
 * they would without this.
 */

void
sq_ingest_catch_up(void *data)
{
    size_t            left;
    sq_ctx_t         *ctx = data;
    sq_ingest_t      *in;
    struct timespec   t0, t1;

    in = ctx->ingest;

    if (in == NULL) {
        return;
    }

    if (sq_ingest_used(in) < SQ_INGEST_CATCH_UP
        || (in->hold != NULL && access(in->hold, F_OK) == 0))
    {
        return;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);

    for ( ;; ) {
        left = sq_ingest_merge(ctx, SQ_INGEST_SLICE);

        if (left == 0) {
            return;
        }

        clock_gettime(CLOCK_MONOTONIC, &t1);

        if ((t1.tv_sec - t0.tv_sec) * 1000000000L
            + (t1.tv_nsec - t0.tv_nsec) >= SQ_INGEST_CATCH_UP_TURN)
        {
            return;
        }
    }
}


/* up to budget queued datagrams merged; returns how many remain */

static size_t
sq_ingest_merge(sq_ctx_t *ctx, size_t budget)
{
    size_t            n, i, tail, left;
    sq_ingest_t      *in;
    sq_ingest_rec_t  *r;

    in = ctx->ingest;

    pthread_mutex_lock(&in->lock);
    n = in->queued;

    if (in->pend == 0) {
        /* all handed back: the thread may have started the ring over */
        in->rtail = in->tail;
        in->zap = in->tail;
    }

    pthread_mutex_unlock(&in->lock);

    if (n == 0) {
        sq_ingest_hand_back(in);
        return 0;
    }

    if (n > budget) {
        n = budget;
    }

    tail = in->rtail;

    for (i = 0; i < n; i++) {
        if (in->cap - tail < sizeof(sq_ingest_rec_t)
            || ((sq_ingest_rec_t *) (in->ring + tail))->len
               == SQ_INGEST_SKIP)
        {
            /* the thread started again at 0: the end is all merged */
            in->pend += in->cap - tail;
            sq_ingest_zap(in, in->zap, in->cap);
            in->zap = 0;
            tail = 0;
        }

        r = (sq_ingest_rec_t *) (in->ring + tail);

        sq_net_datagram(ctx, (const char *) (r + 1), r->len, sq_auth_now(),
                        r->end);

        tail += sizeof(sq_ingest_rec_t) + SQ_INGEST_ALIGN(r->len);
        in->pend += sizeof(sq_ingest_rec_t) + SQ_INGEST_ALIGN(r->len);
    }

    in->rtail = tail;

    pthread_mutex_lock(&in->lock);
    in->queued -= n;
    left = in->queued;
    pthread_mutex_unlock(&in->lock);

    if (left == 0 || in->pend >= SQ_INGEST_ZAP) {
        sq_ingest_hand_back(in);
    }

    if (left == 0) {
        sq_ingest_release(in);
    }

    return left;
}


/*
 * The records merged since the last hand-back given back to the thread
 * (in->tail moves up to them), their whole pages past SQ_INGEST_KEEP
 * first given back to the system: until in->tail moves the thread does
 * not write there.  The page that holds the new tail stays: the thread
 * may write below the tail once it is handed back.
 */

static void
sq_ingest_hand_back(sq_ingest_t *in)
{
    if (in->pend == 0) {
        return;
    }

    sq_ingest_zap(in, in->zap, in->rtail);

    pthread_mutex_lock(&in->lock);
    in->tail = in->rtail;
    in->used -= in->pend;
    pthread_mutex_unlock(&in->lock);

    in->pend = 0;
    in->zap = in->rtail;
}


/*
 * The whole pages within [from, to) past SQ_INGEST_KEEP given back to the
 * system: bytes the loop has merged and not handed back to the thread.
 */

static void
sq_ingest_zap(sq_ingest_t *in, size_t from, size_t to)
{
    size_t  page, a, b;

    page = (size_t) sysconf(_SC_PAGESIZE);

    a = from < SQ_INGEST_KEEP ? SQ_INGEST_KEEP : from;
    a = (a + page - 1) & ~(page - 1);
    b = to & ~(page - 1);

    if (b > a && madvise(in->ring + a, b - a, MADV_DONTNEED) == 0) {
        __atomic_add_fetch(&in->released, (uint64_t) (b - a),
                           __ATOMIC_RELAXED);
    }
}


/*
 * The ring's pages past SQ_INGEST_KEEP given back once a burst is merged:
 * when nothing in use lies past it, behind a fence the thread waits at.
 */

static void
sq_ingest_release(sq_ingest_t *in)
{
    size_t     page, hw;
    uint64_t   res;
    uintptr_t  a, b;

    pthread_mutex_lock(&in->lock);

    hw = in->touched;

    if (hw < SQ_INGEST_KEEP + (SQ_INGEST_KEEP >> 2)
        || !(in->used == 0
             || (in->tail <= in->head && in->head <= SQ_INGEST_KEEP)))
    {
        pthread_mutex_unlock(&in->lock);
        return;
    }

    in->fence = SQ_INGEST_KEEP;
    in->touched = SQ_INGEST_KEEP;

    pthread_mutex_unlock(&in->lock);

    page = (size_t) sysconf(_SC_PAGESIZE);
    a = ((uintptr_t) in->ring + SQ_INGEST_KEEP + page - 1)
        & ~((uintptr_t) page - 1);
    b = ((uintptr_t) in->ring + hw + page - 1) & ~((uintptr_t) page - 1);

    if (b > (uintptr_t) in->ring + in->cap) {
        b = (uintptr_t) in->ring + in->cap;
    }

    if (b > a) {
        /* what a backlog's hand-backs gave back is not counted again */
        res = sq_ingest_resident_in((char *) a, b - a);

        if (madvise((void *) a, b - a, MADV_DONTNEED) == 0) {
            __atomic_add_fetch(&in->released, res, __ATOMIC_RELAXED);
        }
    }

    pthread_mutex_lock(&in->lock);
    in->fence = in->cap;
    pthread_cond_broadcast(&in->lifted);
    pthread_mutex_unlock(&in->lock);
}


void
sq_ingest_drain(sq_ctx_t *ctx)
{
    if (ctx->ingest == NULL) {
        return;
    }

    while (sq_ingest_merge(ctx, SQ_INGEST_BUDGET) > 0) {
        /* void */
    }
}


void
sq_ingest_stats(const sq_ctx_t *ctx, sq_ingest_stats_t *st)
{
    sq_ingest_t  *in;

    memset(st, 0, sizeof(sq_ingest_stats_t));
    in = ctx->ingest;

    if (in == NULL) {
        return;
    }

    pthread_mutex_lock(&in->lock);
    st->received = in->received;
    st->overflow = in->overflow;
    st->queued = in->queued;
    st->unlogged = in->unlogged;
    st->bytes = in->used;
    st->peak = in->peak;
    st->capacity = in->cap;
    pthread_mutex_unlock(&in->lock);

    st->released = __atomic_load_n(&in->released, __ATOMIC_RELAXED);
    st->resident = sq_ingest_resident(in);
}


/* the ring's pages in memory now (mincore), in bytes */

static uint64_t
sq_ingest_resident(sq_ingest_t *in)
{
    return sq_ingest_resident_in(in->ring, in->cap);
}


/* ... from p (page-aligned), len bytes */

static uint64_t
sq_ingest_resident_in(char *p, size_t len)
{
    size_t          page, n, i;
    uint64_t        r;
    unsigned char  *vec;

    page = (size_t) sysconf(_SC_PAGESIZE);
    n = (len + page - 1) / page;

    vec = malloc(n ? n : 1);
    if (vec == NULL) {
        return 0;
    }

    r = 0;

    if (mincore(p, len, vec) == 0) {
        for (i = 0; i < n; i++) {
            r += vec[i] & 1;
        }
    }

    free(vec);

    return r * page;
}


uint64_t
sq_ingest_kernel_drops(const sq_listener_t *l)
{
    return __atomic_load_n(&l->drops, __ATOMIC_RELAXED);
}


void
sq_ingest_prom(sq_ctx_t *ctx, struct evbuffer *b)
{
    size_t             i;
    sq_ingest_stats_t  st;

    sq_ingest_stats(ctx, &st);

    evbuffer_add_printf(b,
        "# HELP servqual_receive_buffer_drops_total Datagrams the kernel "
        "dropped because the socket's receive buffer was full "
        "(SO_RXQ_OVFL), per ingest address, since it was opened.\n"
        "# TYPE servqual_receive_buffer_drops_total counter\n");

    for (i = 0; i < ctx->nlisteners; i++) {
        evbuffer_add_printf(b,
            "servqual_receive_buffer_drops_total{listen=\"%s\"} %llu\n",
            ctx->listeners[i].addr,
            (unsigned long long) sq_ingest_kernel_drops(&ctx->listeners[i]));
    }

    evbuffer_add_printf(b,
        "# HELP servqual_ingest_queue_overflow_total Datagrams read from "
        "the sockets and dropped because the ingest queue was full.\n"
        "# TYPE servqual_ingest_queue_overflow_total counter\n"
        "servqual_ingest_queue_overflow_total %llu\n"
        "# HELP servqual_ingest_queue_received_total Datagrams the "
        "receive thread read from the sockets.\n"
        "# TYPE servqual_ingest_queue_received_total counter\n"
        "servqual_ingest_queue_received_total %llu\n"
        "# HELP servqual_ingest_queue_datagrams Datagrams waiting in the "
        "ingest queue to be merged (with storage on, those written to "
        "the ingest log).\n"
        "# TYPE servqual_ingest_queue_datagrams gauge\n"
        "servqual_ingest_queue_datagrams %llu\n"
        "# HELP servqual_ingest_queue_unlogged_datagrams Datagrams in the "
        "ingest queue not yet written to the ingest log (a slow or "
        "stalled disk); they are merged once written.\n"
        "# TYPE servqual_ingest_queue_unlogged_datagrams gauge\n"
        "servqual_ingest_queue_unlogged_datagrams %llu\n"
        "# HELP servqual_ingest_queue_bytes Bytes of the ingest queue in "
        "use, now and at the most since the start, its size, and its "
        "pages in memory now.\n"
        "# TYPE servqual_ingest_queue_bytes gauge\n"
        "servqual_ingest_queue_bytes{of=\"used\"} %llu\n"
        "servqual_ingest_queue_bytes{of=\"peak\"} %llu\n"
        "servqual_ingest_queue_bytes{of=\"capacity\"} %llu\n"
        "servqual_ingest_queue_bytes{of=\"resident\"} %llu\n"
        "# HELP servqual_ingest_queue_released_bytes_total Bytes of the "
        "ingest queue given back to the system after a backlog was "
        "merged.\n"
        "# TYPE servqual_ingest_queue_released_bytes_total counter\n"
        "servqual_ingest_queue_released_bytes_total %llu\n",
        (unsigned long long) st.overflow,
        (unsigned long long) st.received,
        (unsigned long long) st.queued,
        (unsigned long long) st.unlogged,
        (unsigned long long) st.bytes,
        (unsigned long long) st.peak,
        (unsigned long long) st.capacity,
        (unsigned long long) st.resident,
        (unsigned long long) st.released);
}
