
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* The ingest log: records replayed from the stored position on, a record
   cut short ending its segment, segments before the position deleted,
   the earlier layout replayed and deleted with its slot. */

#define _GNU_SOURCE

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <dirent.h>
#include <sys/uio.h>

#include "tap.h"
#include "sq_status.h"
#include "sq_wal.h"


typedef struct {
    size_t     n;
    char       first[64];
    char       last[64];
    uint64_t   end;
    int64_t    received;
} seen_t;


static int
note(void *data, const char *buf, size_t len, int64_t received, uint64_t end)
{
    seen_t  *s = data;

    if (s->n++ == 0) {
        snprintf(s->first, sizeof(s->first), "%.*s", (int) len, buf);
    }

    snprintf(s->last, sizeof(s->last), "%.*s", (int) len, buf);
    s->end = end;
    s->received = received;

    return 0;
}


static size_t
files(const char *dir, const char *ext)
{
    DIR            *d;
    size_t          n, l;
    struct dirent  *e;

    n = 0;
    d = opendir(dir);

    while (d && (e = readdir(d)) != NULL) {
        l = strlen(e->d_name);

        if (l > 4 && strcmp(e->d_name + l - 4, ext) == 0) {
            n++;
        }
    }

    if (d) {
        closedir(d);
    }

    return n;
}


/*
 * A stalled disk: the log's fdatasync() calls come here (the test is
 * linked with --wrap=fdatasync).  While stalled, the sync thread's call
 * waits until the stall ends; a call from any other thread (the one
 * appending, the receive thread in the collector) is counted.
 */

int __real_fdatasync(int fd);

static pthread_mutex_t  stall_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t   stall_end = PTHREAD_COND_INITIALIZER;
static int              stalled;       /* the disk stalls */
static int              stuck;         /* the sync thread waits in it */
static int              others;        /* syncs by other threads meanwhile */


/* whether the calling thread is the one named */

static int
called_by(const char *thread)
{
    char  name[16];

    return pthread_getname_np(pthread_self(), name, sizeof(name)) == 0
           && strcmp(name, thread) == 0;
}


int
__wrap_fdatasync(int fd)
{
    pthread_mutex_lock(&stall_lock);

    if (stalled && called_by("sq-wal-sync")) {
        stuck = 1;

        while (stalled) {
            pthread_cond_wait(&stall_end, &stall_lock);
        }

        stuck = 0;

    } else if (stalled) {
        others++;
    }

    pthread_mutex_unlock(&stall_lock);

    return __real_fdatasync(fd);
}


/*
 * ... and its writes: while wstalled, a write by the thread named
 * "appender" waits until the stall ends.
 */

ssize_t __real_writev(int fd, const struct iovec *iov, int n);

static int  wstalled;
static int  wstuck;


ssize_t
__wrap_writev(int fd, const struct iovec *iov, int n)
{
    pthread_mutex_lock(&stall_lock);

    if (wstalled && called_by("appender")) {
        wstuck = 1;

        while (wstalled) {
            pthread_cond_wait(&stall_end, &stall_lock);
        }

        wstuck = 0;
    }

    pthread_mutex_unlock(&stall_lock);

    return __real_writev(fd, iov, n);
}


static int
waits(int *flag)
{
    int              i, s;
    struct timespec  ts = { 0, 10000000 };

    for (i = 0; i < 500; i++) {
        pthread_mutex_lock(&stall_lock);
        s = *flag;
        pthread_mutex_unlock(&stall_lock);

        if (s) {
            return 1;
        }

        nanosleep(&ts, NULL);
    }

    return 0;
}


static seen_t
replay(const char *dir)
{
    char       err[256];
    size_t     n;
    int64_t    oldest;
    seen_t     s;
    sq_wal_t  *wal;

    memset(&s, 0, sizeof(s));
    wal = sq_wal_open(dir, err, sizeof(err));

    if (wal == NULL || sq_wal_replay(wal, note, &s, &oldest, &n) != SQ_OK) {
        s.n = (size_t) -1;
    }

    sq_wal_close(wal);

    return s;
}


static void
rm_dir(const char *dir)
{
    DIR            *d;
    char            name[600];
    struct dirent  *e;

    d = opendir(dir);

    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            snprintf(name, sizeof(name), "%s/%s", dir, e->d_name);
            (void) unlink(name);
        }
    }

    if (d) {
        closedir(d);
    }

    (void) rmdir(dir);
}


/*
 * A disk that stalls: the sync thread waits in fdatasync() while
 * segments go on closing, a minute each.  Appending never waits on it
 * for 40 segments (the receive thread would stop reading its sockets,
 * and the kernel drop datagrams); only past 64 waiting does the appender
 * sync one itself.  Once the disk is back every record is there.
 */

static void
stall_test(void)
{
    int           rc;
    char          dir[] = "/tmp/wal_tXXXXXX", err[256];
    char          rec[16];
    size_t        i, bad, n;
    seen_t        s;
    uint64_t      end;
    sq_wal_t     *wal;
    struct iovec  dg;

    ok(mkdtemp(dir) != NULL, "stall: a directory");

    wal = sq_wal_open(dir, err, sizeof(err));
    is_int(sq_wal_start(wal), SQ_OK, "stall: the sync thread started");

    memcpy(rec, "stalled", 8);
    dg.iov_base = rec;
    dg.iov_len = 7;

    pthread_mutex_lock(&stall_lock);
    stalled = 1;
    others = 0;
    pthread_mutex_unlock(&stall_lock);

    (void) sq_wal_append(wal, 1700000000000, &dg, 1, &end);
    (void) sq_wal_sync(wal);
    ok(waits(&stuck), "the sync thread waits on the stalled disk");

    bad = 0;
    n = 1;

    for (i = 1; i <= 40; i++, n++) {
        if (sq_wal_append(wal, 1700000000000 + (int64_t) i * 61000,
                          &dg, 1, &end) != SQ_OK)
        {
            bad++;
        }
    }

    pthread_mutex_lock(&stall_lock);
    rc = others;
    pthread_mutex_unlock(&stall_lock);

    is_int(bad, 0, "40 segments closed during the stall, every append "
           "done");
    is_int(rc, 0, "and none of them synced by the appending thread");

    for (i = 41; i <= 80; i++, n++) {
        (void) sq_wal_append(wal, 1700000000000 + (int64_t) i * 61000,
                             &dg, 1, &end);
    }

    pthread_mutex_lock(&stall_lock);
    rc = others;
    pthread_mutex_unlock(&stall_lock);

    ok(rc > 0, "past 64 segments waiting the appender syncs one itself "
       "(%d)", rc);

    pthread_mutex_lock(&stall_lock);
    stalled = 0;
    pthread_cond_broadcast(&stall_end);
    pthread_mutex_unlock(&stall_lock);

    sq_wal_close(wal);

    s = replay(dir);
    is_int(s.n, n, "the disk back: all %zu records replayed", n);

    rm_dir(dir);
}


/*
 * A write that waits on the disk (the journal of a stalled file system)
 * holds no lock the loop takes: its requests and figures are answered
 * meanwhile.  Were they not, the alarm ends the test.
 */

static sq_wal_t  *appending;
static uint64_t   appended;


static void *
appender(void *data)
{
    char          rec[] = "written late";
    struct iovec  dg = { rec, sizeof(rec) - 1 };

    (void) data;
    (void) pthread_setname_np(pthread_self(), "appender");

    if (sq_wal_append(appending, 1700000000000, &dg, 1, &appended)
        != SQ_OK)
    {
        appended = 0;
    }

    return NULL;
}


static void
on_alarm(int sig)
{
    static const char  msg[] = "not ok - the loop's requests waited on a "
                               "write stalled on the disk\n";

    (void) sig;

    if (write(1, msg, sizeof(msg) - 1) == -1) {
        /* the exit status says it all the same */
    }

    _exit(1);
}


static void
write_stall_test(void)
{
    char        dir[] = "/tmp/wal_tXXXXXX", err[256];
    size_t      i;
    seen_t      s;
    pthread_t   t;
    sq_wal_t   *wal;

    ok(mkdtemp(dir) != NULL, "write stall: a directory");

    wal = sq_wal_open(dir, err, sizeof(err));
    is_int(sq_wal_start(wal), SQ_OK, "write stall: the sync thread started");

    pthread_mutex_lock(&stall_lock);
    wstalled = 1;
    pthread_mutex_unlock(&stall_lock);

    appending = wal;
    ok(pthread_create(&t, NULL, appender, NULL) == 0, "an append begins");
    ok(waits(&wstuck), "its write waits on the stalled disk");

    fflush(stdout);
    signal(SIGALRM, on_alarm);
    alarm(10);

    for (i = 0; i < 100; i++) {
        (void) sq_wal_sync(wal);
        (void) sq_wal_stored(wal, 0, 0);
        (void) sq_wal_stored_pos(wal);
        (void) sq_wal_end(wal);
        (void) sq_wal_errors(wal);
    }

    alarm(0);
    ok(1, "meanwhile the loop's syncs, stored positions and figures were "
       "answered, 100 times each");

    pthread_mutex_lock(&stall_lock);
    wstalled = 0;
    pthread_cond_broadcast(&stall_end);
    pthread_mutex_unlock(&stall_lock);

    pthread_join(t, NULL);
    ok(appended > 0, "the disk back: the append done, ending at %llu",
       (unsigned long long) appended);
    is_int(sq_wal_end(wal), appended, "and the log's end is there");
    sq_wal_close(wal);

    s = replay(dir);
    is_int(s.n, 1, "the record is replayed");
    is_str(s.last, "written late", "whole");

    rm_dir(dir);
}


int
main(void)
{
    int           fd;
    char          dir[] = "/tmp/wal_tXXXXXX", err[256], name[600];
    char          rec[8][16];
    size_t        i;
    seen_t        s;
    uint64_t      end[8], mid, last;
    sq_wal_t     *wal;
    struct iovec  dg[8];

    ok(mkdtemp(dir) != NULL, "a directory");

    wal = sq_wal_open(dir, err, sizeof(err));
    ok(wal != NULL, "opened: %s", wal ? "" : err);

    for (i = 0; i < 8; i++) {
        snprintf(rec[i], sizeof(rec[i]), "datagram %zu", i);
        dg[i].iov_base = rec[i];
        dg[i].iov_len = strlen(rec[i]);
    }

    is_int(sq_wal_append(wal, 1700000000123, dg, 4, end), SQ_OK,
           "four appended");
    is_int(end[0], 12 + 10, "a record's end: 12 bytes of head and it");
    is_int(end[3], 4 * 22, "the fourth ends at 88");
    mid = end[1];

    /* a minute later: a new segment */

    is_int(sq_wal_append(wal, 1700000061000, dg + 4, 4, end), SQ_OK,
           "four more, a minute later");
    is_int(end[0], 5 * 22, "positions go on across segments");
    last = end[3];
    is_int(sq_wal_end(wal), last, "the log ends at the last record");
    is_int(sq_wal_sync(wal), SQ_OK, "synced");
    is_int(files(dir, ".wal"), 2, "two segments");
    sq_wal_close(wal);

    s = replay(dir);
    is_int(s.n, 8, "nothing stored: every record replayed");
    is_str(s.first, "datagram 0", "oldest first");
    is_int(s.end, last, "each with its end");
    is_int(s.received, 1700000061000, "and its receive time, ms");

    /* the first two stored: the rest replayed, from the middle of one */

    wal = sq_wal_open(dir, err, sizeof(err));
    is_int(sq_wal_stored(wal, mid, 0), SQ_OK, "the position stored");
    is_int(files(dir, ".wal"), 2, "the segment it is in is kept");
    sq_wal_close(wal);

    s = replay(dir);
    is_int(s.n, 6, "six after the stored position");
    is_str(s.first, "datagram 2", "from the record after it");

    /* a position never goes back; a segment passed is deleted */

    wal = sq_wal_open(dir, err, sizeof(err));
    is_int(sq_wal_stored_pos(wal), mid, "the position read back");
    is_int(sq_wal_stored(wal, 4 * 22, 0), SQ_OK, "the first segment passed");
    is_int(sq_wal_stored(wal, 10, 0), SQ_OK, "an older position");
    is_int(sq_wal_stored_pos(wal), 4 * 22, "is ignored");
    is_int(files(dir, ".wal"), 1, "the passed segment deleted");

    /* appends after a reopen: a new segment where the log ended */

    is_int(sq_wal_append(wal, 1700000062000, dg, 1, end), SQ_OK,
           "appended after a reopen");
    is_int(end[0], last + 22, "the log goes on where it ended");
    sq_wal_close(wal);

    s = replay(dir);
    is_int(s.n, 5, "four of the second segment and the new one");
    is_str(s.last, "datagram 0", "the new one last");

    /* a record cut short by a kill ends its segment's replay */

    snprintf(name, sizeof(name), "%s/%020llu.wal", dir,
             (unsigned long long) last);
    fd = open(name, O_WRONLY | O_APPEND);
    ok(fd != -1 && write(fd, "\0\0\0\x40partial", 11) == 11,
       "a record cut short");
    close(fd);

    s = replay(dir);
    is_int(s.n, 5, "the cut record is not replayed");

    wal = sq_wal_open(dir, err, sizeof(err));
    is_int(sq_wal_append(wal, 1700000063000, dg + 7, 1, end), SQ_OK,
           "appended after the cut record");
    is_int(end[0], last + 22 + 11 + 22, "in a new segment past it");
    sq_wal_close(wal);

    s = replay(dir);
    is_int(s.n, 6, "replayed past the cut segment");
    is_str(s.last, "datagram 7", "the last one");

    /* the earlier layout: replayed first, deleted with its slot */

    snprintf(name, sizeof(name), "%s/1700000000.log", dir);
    fd = open(name, O_WRONLY | O_CREAT, 0600);
    ok(fd != -1 && write(fd, "\0\0\0\x03\0\0\0\0\x65\x53\xf1\x00old", 15)
                   == 15, "a segment of the earlier layout");
    close(fd);

    s = replay(dir);
    is_int(s.n, 7, "replayed with the rest");
    is_str(s.first, "old", "first");

    wal = sq_wal_open(dir, err, sizeof(err));
    is_int(sq_wal_stored(wal, sq_wal_end(wal), 1699999999), SQ_OK,
           "stored up to a slot before it");
    is_int(files(dir, ".log"), 1, "kept");
    is_int(sq_wal_stored(wal, sq_wal_end(wal), 1700000000), SQ_OK,
           "stored up to its slot");
    is_int(files(dir, ".log"), 0, "deleted");
    is_int(files(dir, ".wal"), 0, "and every segment passed");
    sq_wal_close(wal);

    s = replay(dir);
    is_int(s.n, 0, "nothing left to replay");

    /*
     * With the sync thread: segments closed by appends go to it, the
     * stored position is a request it carries out, and what was asked
     * is done by the close, which joins it.
     */

    wal = sq_wal_open(dir, err, sizeof(err));
    is_int(sq_wal_start(wal), SQ_OK, "the sync thread started");

    for (i = 0; i < 4; i++) {
        is_int(sq_wal_append(wal, 1700000100000 + (int64_t) i * 61000,
                             dg + i, 1, end), SQ_OK,
               "a record a minute, %zu", i);
    }

    is_int(files(dir, ".wal"), 4, "four segments");
    is_int(sq_wal_sync(wal), SQ_OK, "a sync asked for");
    is_int(sq_wal_stored(wal, end[0], 0), SQ_OK, "a position asked for");
    is_int(sq_wal_stored_pos(wal), end[0], "remembered at once");
    sq_wal_close(wal);

    is_int(files(dir, ".wal"), 1, "the close carried it out: the passed "
           "segments deleted");
    s = replay(dir);
    is_int(s.n, 0, "nothing after the stored position");

    snprintf(name, sizeof(name), "%s/%020llu.wal", dir,
             (unsigned long long) (end[0] - 22));
    (void) unlink(name);

    snprintf(name, sizeof(name), "%s/stored", dir);
    (void) unlink(name);
    (void) rmdir(dir);

    stall_test();
    write_stall_test();

    return done_testing();
}
