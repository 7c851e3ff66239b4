
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_DECODE_H_INCLUDED_
#define _SQ_DECODE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "servqual_wire.h"
#include "sq_hist.h"
#include "sq_status.h"


/*
 * What sq_decode() found: SQ_DECODE_OK for a good datagram, else why it
 * was rejected, from 1.  sq_reject_names[] are the reasons' metric labels
 * (index SQ_DECODE_OK holds none), sq_decode_strerror() says them in words.
 */

typedef enum {
    SQ_DECODE_OK = 0,
    SQ_REJ_TOO_LARGE,
    SQ_REJ_MALFORMED,
    SQ_REJ_TRUNCATED,
    SQ_REJ_TRAILING,
    SQ_REJ_TOO_DEEP,
    SQ_REJ_NOT_MAP,
    SQ_REJ_VERSION,
    SQ_REJ_MISSING,
    SQ_REJ_TYPE,
    SQ_REJ_OVERSIZED,
    SQ_REJ_LABEL,
    SQ_REJ_HISTOGRAM,
    SQ_REJ_ABSURD,
    SQ_REJ_WINDOW,
    SQ_REJ_INCONSISTENT,
    SQ_REJ_UNSIGNED,          /* sq_auth.c: before decoding */
    SQ_REJ_BAD_MAC,
    SQ_REJ_STALE,
    SQ_REJ_REPLAY,
    SQ_NREJECTS
} sq_decode_status_t;

#define SQ_REJ_FIRST          SQ_REJ_TOO_LARGE

#define SQ_DECODE_MAX_DEPTH   6
#define SQ_DECODE_MAX_COUNT   (UINT64_C(1) << 40)
#define SQ_DECODE_MAX_SPAN    3600000           /* ms a window may cover */
#define SQ_DECODE_MAX_TOTAL   (UINT64_C(1) << 56) /* a running total */


typedef struct {
    const char   *ptr;
    uint32_t      len;
} sq_str_t;


/* a histogram of a datagram: absolute buckets, ascending, as sq_hist_t */

typedef struct {
    const sq_hbin_t         *bins;
    uint32_t                 n;
    uint64_t                 total;
} sq_dhist_t;


typedef struct {
    sq_str_t                 endpoint;
    sq_str_t                 region;
    sq_str_t                 segment;
    uint64_t                 c[SQ_WIRE_NCOUNTERS];
    uint32_t                 nz;        /* bit k: c[k] is not 0 */
    sq_dhist_t               hist[SQ_WIRE_NHISTS];    /* by SQ_H_* */

    /* version 3: the browser's fields, when browser is 1 */
    unsigned                 browser;
    uint64_t                 bc[SQ_WIRE_NBCOUNTERS];  /* by SQ_BC_* */
    sq_dhist_t               bhist[SQ_WIRE_NBHISTS];  /* by SQ_B_* */
} sq_dseries_t;


typedef struct {
    uint32_t                 version;
    sq_str_t                 node;
    uint64_t                 pid;
    uint64_t                 seq;
    uint64_t                 ws;
    uint64_t                 we;
    uint64_t                 dd;
    uint64_t                 dr;
    uint64_t                 so;
    uint64_t                 go;
    uint64_t                 cr;        /* version 2: running totals, */
    uint64_t                 cs;        /* 0 in version 1 */
    uint64_t                 cx;
    uint32_t                 nseries;
    uint64_t                 requests;

    sq_dseries_t            *series;    /* the "s" array, decoded */
    sq_hbin_t               *bins;      /* their histograms */
} sq_dgram_t;


/* the metric label of each reason, from SQ_REJ_FIRST */
extern const char  *sq_reject_names[SQ_NREJECTS];


/* SQ_OK, or SQ_ERR_NOMEM when the decoding arrays cannot be allocated */
int sq_dgram_init(sq_dgram_t *d);
void sq_dgram_free(sq_dgram_t *d);

/*
 * Validates a datagram as a whole and decodes it into d.  Returns
 * SQ_DECODE_OK when it is good, else the rejection reason; the decoded
 * series live in d until the next call.
 */
int sq_decode(sq_dgram_t *d, const char *buf, size_t len);
const char *sq_decode_strerror(int reason);

/*
 * The full check alone, what sq_decode() falls back to when its one-pass
 * fast path does not take a datagram: the same verdict and the same
 * decoded values; for tests that hold the fast path to it.
 */
int sq_decode_checked(sq_dgram_t *d, const char *buf, size_t len);

/* the i-th series of a decoded datagram (valid until the next decode) */
void sq_decode_series(const sq_dgram_t *d, uint32_t i, sq_dseries_t *s);


#endif /* _SQ_DECODE_H_INCLUDED_ */
