
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "servqual_wire.h"
#include "sq_wal.h"


#define SQ_WAL_HEAD     12        /* length and receive time */
#define SQ_WAL_MAX      1024      /* segments replayed at most */
#define SQ_WAL_BATCH    64        /* records in one write */
/*
 * Segments closed and awaiting the sync thread.  While the disk stalls,
 * the thread waits in fdatasync() and closed segments pile up here; the
 * appending thread syncs one itself (and waits) only past this many.  At
 * 20,000 datagrams/s of 7.3 KB (146 MB/s of log, a 64 MB segment every
 * 0.44 s) that is 28 s of a stall; eight, as it was, lasted 3.5 s.  A
 * disk that far behind has the kernel throttle the writes anyway (its
 * dirty page limit).
 */
#define SQ_WAL_PEND     64


/* a segment file: the new layout by position, the earlier by slot */

typedef struct {
    int64_t        key;           /* position, or slot */
    int            legacy;
} sq_wal_seg_t;


struct sq_wal_s {
    char            *dir;
    pthread_mutex_t  lock;        /* what the three threads share */
    int              fd;          /* the segment being appended to */
    int              prev;        /* the one before, not synced yet */
    uint64_t         base;        /* its first byte's position */
    uint64_t         size;        /* bytes in it */
    int64_t          opened;      /* when it was started, seconds */
    int              dirty;       /* appended to since the last sync */
    uint64_t         stored;      /* records ending here or before are
                                     in the database */
    uint64_t         errors;

    /*
     * The sync thread (sq_wal_start()): the loop's sync and stored
     * position are requests it carries out, and a segment the receive
     * thread closes waits for it in pend[], so that neither waits on
     * the disk.  Its failures are reported by the next request.
     */
    pthread_t        thread;
    pthread_cond_t   wake;
    unsigned         running:1;
    unsigned         stop:1;
    unsigned         sync:1;      /* a sync was asked for */
    unsigned         store:1;     /* a stored position was asked for */
    int              pend[SQ_WAL_PEND];
    size_t           npend;
    uint64_t         store_pos;
    int64_t          store_slot;
    int              failed;      /* failures not reported yet */
    int              failed_errno;
};


static void sq_wal_name(const sq_wal_t *wal, const sq_wal_seg_t *s,
    char *buf, size_t len);
static int sq_wal_segments(const sq_wal_t *wal, sq_wal_seg_t *segs,
    size_t max, size_t *n);
static int sq_wal_cmp(const void *a, const void *b);
static int sq_wal_rotate(sq_wal_t *wal, int64_t now);
static void *sq_wal_thread(void *data);
static int sq_wal_sync_now(sq_wal_t *wal);
static int sq_wal_store_now(sq_wal_t *wal, uint64_t pos, int64_t slot);
static int sq_wal_failed(sq_wal_t *wal);
static int sq_wal_replay_one(sq_wal_t *wal, const sq_wal_seg_t *s,
    sq_wal_pt cb, void *data, int64_t *oldest, size_t *n);


static void
sq_wal_name(const sq_wal_t *wal, const sq_wal_seg_t *s, char *buf,
    size_t len)
{
    if (s->legacy) {
        snprintf(buf, len, "%s/%lld.log", wal->dir, (long long) s->key);

    } else {
        snprintf(buf, len, "%s/%020llu.wal", wal->dir,
                 (unsigned long long) s->key);
    }
}


sq_wal_t *
sq_wal_open(const char *dir, char *err, size_t len)
{
    FILE          *f;
    char           name[4096];
    size_t         i, n;
    uint64_t       end;
    sq_wal_t      *wal;
    struct stat    sb;
    unsigned long long  v;
    sq_wal_seg_t   segs[SQ_WAL_MAX];

    if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
        snprintf(err, len, "%s: %s", dir, strerror(errno));
        return NULL;
    }

    wal = calloc(1, sizeof(sq_wal_t));
    if (wal == NULL) {
        snprintf(err, len, "%s: out of memory", dir);
        return NULL;
    }

    wal->dir = strdup(dir);
    if (wal->dir == NULL || pthread_mutex_init(&wal->lock, NULL) != 0) {
        snprintf(err, len, "%s: out of memory", dir);
        free(wal->dir);
        free(wal);
        return NULL;
    }

    wal->fd = -1;
    wal->prev = -1;

    /* where the stored part ends, and where the log ends */

    snprintf(name, sizeof(name), "%s/stored", dir);

    f = fopen(name, "r");
    if (f != NULL) {
        if (fscanf(f, "%llu", &v) == 1) {
            wal->stored = (uint64_t) v;
        }

        fclose(f);
    }

    end = wal->stored;

    if (sq_wal_segments(wal, segs, SQ_WAL_MAX, &n) == SQ_OK) {
        for (i = 0; i < n; i++) {
            if (segs[i].legacy) {
                continue;
            }

            sq_wal_name(wal, &segs[i], name, sizeof(name));

            if (stat(name, &sb) == 0
                && (uint64_t) segs[i].key + (uint64_t) sb.st_size > end)
            {
                end = (uint64_t) segs[i].key + (uint64_t) sb.st_size;
            }
        }
    }

    wal->base = end;

    return wal;
}


void
sq_wal_close(sq_wal_t *wal)
{
    size_t  i;

    if (wal == NULL) {
        return;
    }

    /* the thread carries out what was asked before it ends */

    if (wal->running) {
        pthread_mutex_lock(&wal->lock);
        wal->stop = 1;
        pthread_cond_signal(&wal->wake);
        pthread_mutex_unlock(&wal->lock);

        pthread_join(wal->thread, NULL);
        pthread_cond_destroy(&wal->wake);
        wal->running = 0;
    }

    for (i = 0; i < wal->npend; i++) {
        (void) fdatasync(wal->pend[i]);
        close(wal->pend[i]);
    }

    if (wal->prev != -1) {
        (void) fdatasync(wal->prev);
        close(wal->prev);
    }

    if (wal->fd != -1) {
        (void) fdatasync(wal->fd);
        close(wal->fd);
    }

    pthread_mutex_destroy(&wal->lock);
    free(wal->dir);
    free(wal);
}


const char *
sq_wal_dir(const sq_wal_t *wal)
{
    return wal->dir;
}


/*
 * A new segment at the log's end.  Only the appending thread changes fd,
 * base, size and opened: it reads them without the lock, and takes the
 * lock only to change them and the state the sync thread and the loop
 * read.  What waits on the disk (the open, which waits on the file
 * system's journal while the disk stalls, and the sync of a segment the
 * sync thread is too far behind for) is done outside the lock, so that
 * the loop's requests (sq_wal_sync(), sq_wal_stored(), the figures)
 * never wait on the disk.
 */

static int
sq_wal_rotate(sq_wal_t *wal, int64_t now)
{
    int           fd, late, done;
    char          name[4096];
    struct stat   sb;
    sq_wal_seg_t  s;

    late = -1;
    done = -1;

    pthread_mutex_lock(&wal->lock);

    if (wal->fd != -1) {
        if (wal->prev != -1) {
            if (wal->running && wal->npend < SQ_WAL_PEND) {
                /* two segments within a sync: the older to the thread */
                wal->pend[wal->npend++] = wal->prev;
                pthread_cond_signal(&wal->wake);

            } else {
                /* the thread is that far behind: made durable here */
                late = wal->prev;
            }
        }

        wal->prev = wal->dirty ? wal->fd : -1;

        if (wal->prev == -1) {
            done = wal->fd;
        }

        wal->fd = -1;
        wal->base += wal->size;
        wal->size = 0;
    }

    pthread_mutex_unlock(&wal->lock);

    if (late != -1) {
        (void) fdatasync(late);
        close(late);
    }

    if (done != -1) {
        close(done);
    }

    s.key = (int64_t) wal->base;
    s.legacy = 0;
    sq_wal_name(wal, &s, name, sizeof(name));

    fd = open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd == -1) {
        return SQ_ERR_IO;
    }

    /* a segment left past the ones counted at start: positions go on */

    if (fstat(fd, &sb) != 0) {
        sb.st_size = 0;
    }

    pthread_mutex_lock(&wal->lock);
    wal->fd = fd;
    wal->size = (uint64_t) sb.st_size;
    wal->opened = now;
    pthread_mutex_unlock(&wal->lock);

    return SQ_OK;
}


/*
 * The records appended, their ends noted; the writes are made outside
 * the lock (see sq_wal_rotate()) and counted under it.
 */

int
sq_wal_append(sq_wal_t *wal, int64_t received, const struct iovec *dg,
    size_t n, uint64_t *end)
{
    int            i, err;
    off_t          off;
    size_t         j, k, m, total;
    ssize_t        w;
    uint64_t       at;
    unsigned char  head[SQ_WAL_BATCH][SQ_WAL_HEAD];
    struct iovec   iov[2 * SQ_WAL_BATCH];

    for (j = 0; j < n; j++) {
        end[j] = SQ_WAL_NONE;
    }

    if (wal->fd == -1 || wal->size >= SQ_WAL_SEGMENT_BYTES
        || received / 1000 - wal->opened >= SQ_WAL_SEGMENT_SECONDS)
    {
        if (sq_wal_rotate(wal, received / 1000) != SQ_OK) {
            goto failed;
        }
    }

    for (j = 0; j < n; j += m) {
        m = (n - j < SQ_WAL_BATCH) ? n - j : SQ_WAL_BATCH;
        total = 0;
        at = wal->base + wal->size;

        for (k = 0; k < m; k++) {
            head[k][0] = (unsigned char) (dg[j + k].iov_len >> 24);
            head[k][1] = (unsigned char) (dg[j + k].iov_len >> 16);
            head[k][2] = (unsigned char) (dg[j + k].iov_len >> 8);
            head[k][3] = (unsigned char) dg[j + k].iov_len;

            for (i = 0; i < 8; i++) {
                head[k][4 + i] = (unsigned char)
                                 ((uint64_t) received >> (56 - 8 * i));
            }

            iov[2 * k].iov_base = head[k];
            iov[2 * k].iov_len = SQ_WAL_HEAD;
            iov[2 * k + 1] = dg[j + k];

            total += SQ_WAL_HEAD + dg[j + k].iov_len;
            at += SQ_WAL_HEAD + dg[j + k].iov_len;
            end[j + k] = at;
        }

        w = writev(wal->fd, iov, (int) (2 * m));

        if (w != (ssize_t) total) {
            goto torn;
        }

        pthread_mutex_lock(&wal->lock);
        wal->size += total;
        wal->dirty = 1;
        pthread_mutex_unlock(&wal->lock);
    }

    return SQ_OK;

torn:

    /* a record cut short ends its segment: the next starts past it */

    err = (w >= 0) ? ENOSPC : errno;

    for ( /* void */ ; j < n; j++) {
        end[j] = SQ_WAL_NONE;
    }

    off = lseek(wal->fd, 0, SEEK_END);

    pthread_mutex_lock(&wal->lock);

    if (off > 0) {
        wal->size = (uint64_t) off;
    }

    if (wal->prev != -1) {
        close(wal->prev);
    }

    wal->prev = wal->fd;
    wal->fd = -1;
    wal->base += wal->size;
    wal->size = 0;
    wal->errors++;

    pthread_mutex_unlock(&wal->lock);

    errno = err;

    return SQ_ERR_IO;

failed:

    err = errno;
    pthread_mutex_lock(&wal->lock);
    wal->errors++;
    pthread_mutex_unlock(&wal->lock);
    errno = err;

    return SQ_ERR_IO;
}


/*
 * With the thread, a request: it syncs within the second; a failure of
 * an earlier sync or position is reported here (SQ_ERR_IO, errno).
 */

int
sq_wal_sync(sq_wal_t *wal)
{
    if (!wal->running) {
        return sq_wal_sync_now(wal);
    }

    pthread_mutex_lock(&wal->lock);
    wal->sync = 1;
    pthread_cond_signal(&wal->wake);
    pthread_mutex_unlock(&wal->lock);

    return sq_wal_failed(wal);
}


/* syncs outside the lock: the receive thread keeps appending */

static int
sq_wal_sync_now(sq_wal_t *wal)
{
    int     fd, prev, rc;
    int     pend[SQ_WAL_PEND];
    size_t  i, npend;

    pthread_mutex_lock(&wal->lock);

    prev = wal->prev;
    wal->prev = -1;
    fd = -1;

    npend = wal->npend;
    memcpy(pend, wal->pend, npend * sizeof(int));
    wal->npend = 0;

    if (wal->fd != -1 && wal->dirty) {
        fd = dup(wal->fd);
        wal->dirty = 0;
    }

    pthread_mutex_unlock(&wal->lock);

    rc = SQ_OK;

    for (i = 0; i < npend; i++) {
        if (fdatasync(pend[i]) == -1) {
            rc = SQ_ERR_IO;
        }

        close(pend[i]);
    }

    if (prev != -1) {
        if (fdatasync(prev) == -1) {
            rc = SQ_ERR_IO;
        }

        close(prev);
    }

    if (fd != -1) {
        if (fdatasync(fd) == -1) {
            rc = SQ_ERR_IO;
        }

        close(fd);
    }

    return rc;
}


/* the first failure the thread had since the last report */

static int
sq_wal_failed(sq_wal_t *wal)
{
    int  failed, err;

    pthread_mutex_lock(&wal->lock);
    failed = wal->failed;
    err = wal->failed_errno;
    wal->failed = 0;
    pthread_mutex_unlock(&wal->lock);

    if (failed) {
        errno = err;
        return SQ_ERR_IO;
    }

    return SQ_OK;
}


int
sq_wal_start(sq_wal_t *wal)
{
    if (wal->running) {
        return SQ_OK;
    }

    if (pthread_cond_init(&wal->wake, NULL) != 0) {
        return SQ_ERR_NOMEM;
    }

    if (pthread_create(&wal->thread, NULL, sq_wal_thread, wal) != 0) {
        pthread_cond_destroy(&wal->wake);
        return SQ_ERR_NOMEM;
    }

    pthread_mutex_lock(&wal->lock);
    wal->running = 1;
    pthread_mutex_unlock(&wal->lock);

    return SQ_OK;
}


/*
 * The sync thread: a closed segment, a sync or a stored position asked
 * for is carried out at once, and the log synced at least once a second
 * while it is appended to.
 */

static void *
sq_wal_thread(void *data)
{
    int              rc, sync, store, stop, err;
    int64_t          slot;
    uint64_t         pos;
    sq_wal_t        *wal;
    struct timespec  ts;

    wal = data;

    (void) pthread_setname_np(pthread_self(), "sq-wal-sync");

    pthread_mutex_lock(&wal->lock);

    for ( ;; ) {
        if (!wal->sync && !wal->store && wal->npend == 0 && !wal->stop) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            (void) pthread_cond_timedwait(&wal->wake, &wal->lock, &ts);
        }

        sync = wal->sync || wal->npend || wal->dirty || wal->prev != -1;
        store = wal->store;
        pos = wal->store_pos;
        slot = wal->store_slot;
        stop = wal->stop;
        wal->sync = 0;
        wal->store = 0;

        pthread_mutex_unlock(&wal->lock);

        rc = SQ_OK;
        err = 0;

        if (sync && sq_wal_sync_now(wal) != SQ_OK) {
            rc = SQ_ERR_IO;
            err = errno;
        }

        if (store && sq_wal_store_now(wal, pos, slot) != SQ_OK) {
            rc = SQ_ERR_IO;
            err = errno;
        }

        pthread_mutex_lock(&wal->lock);

        if (rc != SQ_OK && !wal->failed) {
            wal->failed = 1;
            wal->failed_errno = err;
        }

        if (stop && !wal->sync && !wal->store && wal->npend == 0) {
            break;
        }
    }

    pthread_mutex_unlock(&wal->lock);

    return NULL;
}


/* the segment files in the directory, unsorted */

static int
sq_wal_segments(const sq_wal_t *wal, sq_wal_seg_t *segs, size_t max,
    size_t *n)
{
    DIR            *d;
    char           *end;
    long long       v;
    struct dirent  *e;

    *n = 0;

    d = opendir(wal->dir);
    if (d == NULL) {
        return SQ_ERR_IO;
    }

    while ((e = readdir(d)) != NULL && *n < max) {
        errno = 0;
        v = strtoll(e->d_name, &end, 10);

        if (errno != 0 || end == e->d_name || v < 0) {
            continue;
        }

        if (strcmp(end, ".wal") == 0) {
            segs[*n].legacy = 0;

        } else if (strcmp(end, ".log") == 0) {
            segs[*n].legacy = 1;

        } else {
            continue;
        }

        segs[(*n)++].key = (int64_t) v;
    }

    closedir(d);

    return SQ_OK;
}


/* the earlier layout first, then by position */

static int
sq_wal_cmp(const void *a, const void *b)
{
    const sq_wal_seg_t  *x = a, *y = b;

    if (x->legacy != y->legacy) {
        return y->legacy - x->legacy;
    }

    return (x->key > y->key) - (x->key < y->key);
}


/* with the thread, a request; the position is remembered at once */

int
sq_wal_stored(sq_wal_t *wal, uint64_t pos, int64_t slot)
{
    if (!wal->running) {
        return sq_wal_store_now(wal, pos, slot);
    }

    pthread_mutex_lock(&wal->lock);

    if (pos > wal->stored) {
        wal->stored = pos;
    }

    if (!wal->store || slot > wal->store_slot) {
        wal->store_slot = slot;
    }

    wal->store_pos = wal->stored;
    wal->store = 1;
    pthread_cond_signal(&wal->wake);
    pthread_mutex_unlock(&wal->lock);

    return sq_wal_failed(wal);
}


static int
sq_wal_store_now(sq_wal_t *wal, uint64_t pos, int64_t slot)
{
    int            fd, rc;
    char           name[4096], tmp[4096], buf[32];
    size_t         i, n, len;
    uint64_t       cur;
    struct stat    sb;
    sq_wal_seg_t   segs[SQ_WAL_MAX];

    rc = SQ_OK;

    pthread_mutex_lock(&wal->lock);
    cur = wal->base;

    if (pos > wal->stored) {
        wal->stored = pos;
    }

    pos = wal->stored;
    pthread_mutex_unlock(&wal->lock);

    /* the position first: a segment is deleted only once it is passed */

    snprintf(tmp, sizeof(tmp), "%s/stored.tmp", wal->dir);
    snprintf(name, sizeof(name), "%s/stored", wal->dir);
    len = (size_t) snprintf(buf, sizeof(buf), "%" PRIu64 "\n", pos);

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd == -1
        || write(fd, buf, len) != (ssize_t) len
        || fdatasync(fd) == -1
        || rename(tmp, name) == -1)
    {
        rc = SQ_ERR_IO;
    }

    if (fd != -1) {
        close(fd);
    }

    if (rc != SQ_OK) {
        return rc;
    }

    if (sq_wal_segments(wal, segs, SQ_WAL_MAX, &n) != SQ_OK) {
        return SQ_ERR_IO;
    }

    for (i = 0; i < n; i++) {
        sq_wal_name(wal, &segs[i], name, sizeof(name));

        if (segs[i].legacy) {
            if (segs[i].key <= slot) {
                (void) unlink(name);
            }

            continue;
        }

        /* the segment being appended to is never passed */

        if ((uint64_t) segs[i].key >= cur || stat(name, &sb) != 0) {
            continue;
        }

        if ((uint64_t) segs[i].key + (uint64_t) sb.st_size <= pos) {
            (void) unlink(name);
        }
    }

    return SQ_OK;
}


uint64_t
sq_wal_stored_pos(sq_wal_t *wal)
{
    uint64_t  pos;

    pthread_mutex_lock(&wal->lock);
    pos = wal->stored;
    pthread_mutex_unlock(&wal->lock);

    return pos;
}


uint64_t
sq_wal_end(sq_wal_t *wal)
{
    uint64_t  pos;

    pthread_mutex_lock(&wal->lock);
    pos = wal->base + wal->size;
    pthread_mutex_unlock(&wal->lock);

    return pos;
}


uint64_t
sq_wal_errors(sq_wal_t *wal)
{
    uint64_t  n;

    pthread_mutex_lock(&wal->lock);
    n = wal->errors;
    pthread_mutex_unlock(&wal->lock);

    return n;
}


static int
sq_wal_replay_one(sq_wal_t *wal, const sq_wal_seg_t *s, sq_wal_pt cb,
    void *data, int64_t *oldest, size_t *n)
{
    int             i;
    char            name[4096], *buf;
    FILE           *f;
    size_t          len;
    int64_t         received;
    uint64_t        at, end;
    unsigned char   head[SQ_WAL_HEAD];

    sq_wal_name(wal, s, name, sizeof(name));

    f = fopen(name, "rb");
    if (f == NULL) {
        return SQ_ERR_IO;
    }

    at = 0;

    if (!s->legacy && (uint64_t) s->key < wal->stored) {
        /* the stored part of the segment: a record's end is in stored */
        at = wal->stored - (uint64_t) s->key;

        if (fseeko(f, (off_t) at, SEEK_SET) != 0) {
            fclose(f);
            return SQ_ERR_IO;
        }
    }

    buf = malloc(SQ_WIRE_MAX_DATAGRAM + 1);
    if (buf == NULL) {
        fclose(f);
        return SQ_ERR_NOMEM;
    }

    while (fread(head, 1, SQ_WAL_HEAD, f) == SQ_WAL_HEAD) {
        len = ((size_t) head[0] << 24) | ((size_t) head[1] << 16)
              | ((size_t) head[2] << 8) | head[3];

        received = 0;

        for (i = 0; i < 8; i++) {
            received = (int64_t) (((uint64_t) received << 8) | head[4 + i]);
        }

        if (len > SQ_WIRE_MAX_DATAGRAM + 1 || fread(buf, 1, len, f) != len)
        {
            /* cut short by a kill: the rest never was */
            break;
        }

        at += SQ_WAL_HEAD + len;
        end = s->legacy ? SQ_WAL_NONE : (uint64_t) s->key + at;

        if (s->legacy) {
            received *= 1000;
        }

        if (*oldest == INT64_MAX) {
            *oldest = received / 1000;
        }

        (*n)++;

        if (cb(data, buf, len, received, end) != 0) {
            break;
        }
    }

    free(buf);
    fclose(f);

    return SQ_OK;
}


int
sq_wal_replay(sq_wal_t *wal, sq_wal_pt cb, void *data, int64_t *oldest,
    size_t *n)
{
    int            rc;
    char           name[4096];
    size_t         i, nsegs;
    struct stat    sb;
    sq_wal_seg_t   segs[SQ_WAL_MAX];

    *oldest = INT64_MAX;
    *n = 0;

    rc = sq_wal_segments(wal, segs, SQ_WAL_MAX, &nsegs);
    if (rc != SQ_OK) {
        return rc;
    }

    qsort(segs, nsegs, sizeof(sq_wal_seg_t), sq_wal_cmp);

    for (i = 0; i < nsegs; i++) {
        if (!segs[i].legacy) {
            sq_wal_name(wal, &segs[i], name, sizeof(name));

            if (stat(name, &sb) == 0
                && (uint64_t) segs[i].key + (uint64_t) sb.st_size
                   <= wal->stored)
            {
                continue;
            }
        }

        rc = sq_wal_replay_one(wal, &segs[i], cb, data, oldest, n);

        if (rc != SQ_OK) {
            return rc;
        }
    }

    return SQ_OK;
}
