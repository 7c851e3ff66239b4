
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "servqual_wire.h"
#include "sq_wal.h"


#define SQ_WAL_HEAD  12           /* length and receive time */
#define SQ_WAL_MAX   1024         /* segments replayed at most */


struct sq_wal_s {
    char          *dir;
    int            fd;            /* the segment being appended to */
    int64_t        slot;          /* its slot */
    int            dirty;         /* appended to since the last sync */
};


static void sq_wal_name(const sq_wal_t *wal, int64_t slot, char *buf,
    size_t len);
static int sq_wal_slots(const sq_wal_t *wal, int64_t *slots, size_t max,
    size_t *n);
static int sq_wal_cmp(const void *a, const void *b);
static int sq_wal_replay_one(sq_wal_t *wal, int64_t slot, sq_wal_pt cb,
    void *data, size_t *n);


static void
sq_wal_name(const sq_wal_t *wal, int64_t slot, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%lld.log", wal->dir, (long long) slot);
}


sq_wal_t *
sq_wal_open(const char *dir, char *err, size_t len)
{
    sq_wal_t  *wal;

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
    if (wal->dir == NULL) {
        snprintf(err, len, "%s: out of memory", dir);
        free(wal);
        return NULL;
    }

    wal->fd = -1;

    return wal;
}


void
sq_wal_close(sq_wal_t *wal)
{
    if (wal == NULL) {
        return;
    }

    if (wal->fd != -1) {
        (void) fdatasync(wal->fd);
        close(wal->fd);
    }

    free(wal->dir);
    free(wal);
}


const char *
sq_wal_dir(const sq_wal_t *wal)
{
    return wal->dir;
}


int
sq_wal_append(sq_wal_t *wal, int64_t slot, int64_t received,
    const char *buf, size_t len)
{
    int            i;
    char           name[4096];
    ssize_t        n;
    unsigned char  head[SQ_WAL_HEAD];
    struct iovec   iov[2];

    if (wal->fd == -1 || wal->slot != slot) {
        if (wal->fd != -1) {
            /* the finished segment is made durable before it is left */
            (void) fdatasync(wal->fd);
            close(wal->fd);
            wal->fd = -1;
        }

        sq_wal_name(wal, slot, name, sizeof(name));

        wal->fd = open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (wal->fd == -1) {
            return SQ_ERR_IO;
        }

        wal->slot = slot;
    }

    head[0] = (unsigned char) (len >> 24);
    head[1] = (unsigned char) (len >> 16);
    head[2] = (unsigned char) (len >> 8);
    head[3] = (unsigned char) len;

    for (i = 0; i < 8; i++) {
        head[4 + i] = (unsigned char) ((uint64_t) received >> (56 - 8 * i));
    }

    iov[0].iov_base = head;
    iov[0].iov_len = SQ_WAL_HEAD;
    iov[1].iov_base = (void *) buf;
    iov[1].iov_len = len;

    n = writev(wal->fd, iov, 2);

    if (n != (ssize_t) (SQ_WAL_HEAD + len)) {
        if (n >= 0) {
            errno = ENOSPC;
        }

        return SQ_ERR_IO;
    }

    wal->dirty = 1;

    return SQ_OK;
}


int
sq_wal_sync(sq_wal_t *wal)
{
    if (wal->fd == -1 || !wal->dirty) {
        return SQ_OK;
    }

    wal->dirty = 0;

    if (fdatasync(wal->fd) == -1) {
        return SQ_ERR_IO;
    }

    return SQ_OK;
}


/* the slots of the segments in the directory, unsorted */

static int
sq_wal_slots(const sq_wal_t *wal, int64_t *slots, size_t max, size_t *n)
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

        if (errno != 0 || end == e->d_name || strcmp(end, ".log") != 0) {
            continue;
        }

        slots[(*n)++] = (int64_t) v;
    }

    closedir(d);

    return SQ_OK;
}


static int
sq_wal_cmp(const void *a, const void *b)
{
    int64_t  x, y;

    x = *(const int64_t *) a;
    y = *(const int64_t *) b;

    return (x > y) - (x < y);
}


void
sq_wal_trim(sq_wal_t *wal, int64_t upto)
{
    char      name[4096];
    size_t    i, n;
    int64_t   slots[SQ_WAL_MAX];

    if (sq_wal_slots(wal, slots, SQ_WAL_MAX, &n) != SQ_OK) {
        return;
    }

    for (i = 0; i < n; i++) {
        if (slots[i] > upto) {
            continue;
        }

        if (wal->fd != -1 && wal->slot == slots[i]) {
            close(wal->fd);
            wal->fd = -1;
            wal->dirty = 0;
        }

        sq_wal_name(wal, slots[i], name, sizeof(name));
        (void) unlink(name);
    }
}


static int
sq_wal_replay_one(sq_wal_t *wal, int64_t slot, sq_wal_pt cb, void *data,
    size_t *n)
{
    int             i, rc;
    char            name[4096], *buf;
    FILE           *f;
    size_t          len;
    int64_t         received;
    unsigned char   head[SQ_WAL_HEAD];

    sq_wal_name(wal, slot, name, sizeof(name));

    f = fopen(name, "rb");
    if (f == NULL) {
        return SQ_ERR_IO;
    }

    buf = malloc(SQ_WIRE_MAX_DATAGRAM);
    if (buf == NULL) {
        fclose(f);
        return SQ_ERR_NOMEM;
    }

    rc = SQ_OK;

    while (fread(head, 1, SQ_WAL_HEAD, f) == SQ_WAL_HEAD) {
        len = ((size_t) head[0] << 24) | ((size_t) head[1] << 16)
              | ((size_t) head[2] << 8) | head[3];

        received = 0;

        for (i = 0; i < 8; i++) {
            received = (int64_t) (((uint64_t) received << 8) | head[4 + i]);
        }

        if (len > SQ_WIRE_MAX_DATAGRAM || fread(buf, 1, len, f) != len) {
            /* cut short by a kill: the rest never was */
            break;
        }

        (*n)++;

        if (cb(data, buf, len, received) != 0) {
            break;
        }
    }

    free(buf);
    fclose(f);

    return rc;
}


int
sq_wal_replay(sq_wal_t *wal, sq_wal_pt cb, void *data, int64_t *oldest,
    size_t *n)
{
    int       rc;
    size_t    i, nslots;
    int64_t   slots[SQ_WAL_MAX];

    *oldest = INT64_MAX;
    *n = 0;

    rc = sq_wal_slots(wal, slots, SQ_WAL_MAX, &nslots);
    if (rc != SQ_OK) {
        return rc;
    }

    qsort(slots, nslots, sizeof(int64_t), sq_wal_cmp);

    for (i = 0; i < nslots; i++) {
        if (i == 0) {
            *oldest = slots[i];
        }

        rc = sq_wal_replay_one(wal, slots[i], cb, data, n);

        if (rc != SQ_OK) {
            return rc;
        }
    }

    return SQ_OK;
}
