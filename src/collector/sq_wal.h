
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_WAL_H_INCLUDED_
#define _SQ_WAL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "sq_status.h"


/*
 * The ingest log: every datagram read from the sockets, as received,
 * appended by the ingest's log thread before the loop may merge it
 * (sq_ingest.h), so that a collector killed with -9 loses only what the
 * kernel still held (and, while the disk stalls, what waits to be
 * logged).  It is synced at least once a second by its own thread
 * (sq_wal_start()), so that neither the appending thread nor the loop
 * waits on a sync; the appender writes and opens segments outside the
 * lock the loop's requests take.
 *
 * The log is one sequence of bytes cut into segment files, each named by
 * the position of its first byte (DIR/POSITION.wal, 20 digits); a new
 * segment starts every SQ_WAL_SEGMENT_BYTES or SQ_WAL_SEGMENT_SECONDS.
 * Each record's end is its position: the queue carries it to the loop,
 * and once the slots its datagrams were merged into are in the database
 * (with the workers' state that goes with them), the position is stored
 * (DIR/stored, written and renamed) and the segments wholly before it
 * are deleted.  At start every record after the stored position is
 * replayed, merged or not before the kill: each is checked, decoded and
 * counted as it was live, once.
 *
 * A record is a 4-byte length (big-endian), the 8-byte receive time
 * (milliseconds since the epoch, big-endian) and the datagram.  A record
 * cut short by the kill ends the replay of its segment.
 *
 * Segments of the earlier layout (DIR/SLOT.log: accepted datagrams only,
 * the receive time in seconds) are replayed first and deleted once their
 * slot is written.
 */

#define SQ_WAL_SEGMENT_BYTES    (64 << 20)
#define SQ_WAL_SEGMENT_SECONDS  60
#define SQ_WAL_NONE             0         /* not logged: no position */


typedef struct sq_wal_s  sq_wal_t;

/*
 * Called once per record at replay, oldest first; end is the record's
 * position (SQ_WAL_NONE for the earlier layout); non-zero stops it.
 */
typedef int (*sq_wal_pt)(void *data, const char *buf, size_t len,
    int64_t received, uint64_t end);


/* opens (creating it) the directory dir: NULL and the reason in err */
sq_wal_t *sq_wal_open(const char *dir, char *err, size_t len);
void sq_wal_close(sq_wal_t *wal);

/*
 * Appends n datagrams received at received (ms), in one write; end[i]
 * gets each one's position.  Safe from any thread.  SQ_OK, or SQ_ERR_IO
 * (errno tells) and every end[] SQ_WAL_NONE.
 */
int sq_wal_append(sq_wal_t *wal, int64_t received, const struct iovec *dg,
    size_t n, uint64_t *end);

/*
 * Starts the sync thread (sq-wal-sync): from then on sq_wal_sync() and
 * sq_wal_stored() are requests it carries out within the second, each
 * returning the failure of an earlier one, if any (SQ_ERR_IO, errno), and
 * a segment closed by the appending thread is synced by it.  SQ_OK or
 * SQ_ERR_NOMEM (the log then works as without it).  sq_wal_close() lets
 * it finish what was asked and joins it.
 */
int sq_wal_start(sq_wal_t *wal);

/* makes what was appended durable: SQ_OK or SQ_ERR_IO */
int sq_wal_sync(sq_wal_t *wal);

/*
 * Everything before pos is stored, and so is every slot up to slot: pos
 * is remembered and the segments before it deleted.  SQ_OK or SQ_ERR_IO.
 */
int sq_wal_stored(sq_wal_t *wal, uint64_t pos, int64_t slot);

/* the stored position, and the position the next record ends past */
uint64_t sq_wal_stored_pos(sq_wal_t *wal);
uint64_t sq_wal_end(sq_wal_t *wal);

/*
 * Replays every record after the stored position, oldest first; *oldest
 * gets the receive time (s) of the first (INT64_MAX when none), *n the
 * number of records.
 */
int sq_wal_replay(sq_wal_t *wal, sq_wal_pt cb, void *data, int64_t *oldest,
    size_t *n);

/* appends that failed, since the start */
uint64_t sq_wal_errors(sq_wal_t *wal);

const char *sq_wal_dir(const sq_wal_t *wal);


#endif /* _SQ_WAL_H_INCLUDED_ */
