
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_WAL_H_INCLUDED_
#define _SQ_WAL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "sq_status.h"


/*
 * The ingest log: every accepted datagram, as received, appended to a
 * segment file of the fine slot it was filed in (DIR/START.log), synced
 * once a second; a segment is deleted once its slot is in the database
 * with the workers' state that goes with it.  At start the segments left
 * are replayed, so a collector killed with -9 loses at most the last
 * second of datagrams.
 *
 * A record is a 4-byte length (big-endian), the 8-byte receive time
 * (epoch seconds, big-endian) and the datagram.  A record cut short by
 * the kill ends the replay of its segment.
 */

typedef struct sq_wal_s  sq_wal_t;

/* called once per record at replay, oldest first; non-zero stops it */
typedef int (*sq_wal_pt)(void *data, const char *buf, size_t len,
    int64_t received);


/* opens (creating it) the directory dir: NULL and the reason in err */
sq_wal_t *sq_wal_open(const char *dir, char *err, size_t len);
void sq_wal_close(sq_wal_t *wal);

/* SQ_OK or SQ_ERR_IO (errno tells) */
int sq_wal_append(sq_wal_t *wal, int64_t slot, int64_t received,
    const char *buf, size_t len);

/* makes what was appended durable: SQ_OK or SQ_ERR_IO */
int sq_wal_sync(sq_wal_t *wal);

/* deletes the segments of slots up to upto, included */
void sq_wal_trim(sq_wal_t *wal, int64_t upto);

/*
 * Replays every segment, oldest first; *oldest gets the first slot that
 * had records (INT64_MAX when none), *n the number of records.
 */
int sq_wal_replay(sq_wal_t *wal, sq_wal_pt cb, void *data, int64_t *oldest,
    size_t *n);

const char *sq_wal_dir(const sq_wal_t *wal);


#endif /* _SQ_WAL_H_INCLUDED_ */
