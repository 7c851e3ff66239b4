
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SERVQUAL_WIRE_H_INCLUDED_
#define _SERVQUAL_WIRE_H_INCLUDED_


/*
 * The datagram format shared by the module (encoder) and the collector
 * (decoder).  docs/wire-format.md describes it in full, with test vectors.
 *
 * A datagram is one msgpack map:
 *
 *   "v"    uint    format version, SQ_WIRE_VERSION
 *   "node" str     node name (<= SQ_WIRE_MAX_NODE bytes)
 *   "pid"  uint    worker pid
 *   "seq"  uint    datagram sequence number of this worker, from 1
 *   "ws"   uint    window start, milliseconds since the Unix epoch
 *   "we"   uint    window end, milliseconds since the Unix epoch
 *   "dd"   uint    datagrams this worker failed to send since the last one
 *                  that was sent
 *   "dr"   uint    requests those datagrams carried
 *   "so"   uint    requests folded into endpoint "_other" by
 *                  servqual_max_series in this window
 *   "go"   uint    requests whose segment was folded into "_other" by the
 *                  segment cap in this window
 *   "cr"   uint    (version 2) requests in the datagrams this worker made
 *                  before this one, since it started, sent or not
 *   "cs"   uint    (version 2) datagrams it has sent (with any forwarded
 *                  from an exited worker's spool): informative
 *   "cx"   uint    (version 2) of "cr", the requests in datagrams it could
 *                  not send
 *   "s"    array   series, each an array of 6:
 *                  [ endpoint str, region str, segment str,
 *                    counters array (SQ_WIRE_NCOUNTERS uints),
 *                    request time histogram, time to first byte histogram ]
 *                  or, from version 3, of 12 when the series carries the
 *                  browser's measurements (servqual_beacon):
 *                  [ the 6 above,
 *                    browser counters array (SQ_WIRE_NBCOUNTERS uints),
 *                    LCP, INP, CLS, FCP and browser TTFB histograms ]
 *                  A version 3 series without browser measurements has 6.
 *
 * A histogram is a flat array of pairs [d0, c0, d1, c1, ...]: d0 is the
 * first non-empty bucket index, each later d is the distance to the next
 * non-empty bucket (> 0), each c the bucket's count (> 0).  The browser's
 * time histograms (LCP, INP, FCP, TTFB) are in microseconds like the
 * server's; the CLS histogram holds the layout shift score times
 * SQ_WIRE_CLS_SCALE (0.1 is 10000), in the same buckets.
 */

/* the version a module writes, and the oldest a collector reads */
#define SQ_WIRE_VERSION       3
#define SQ_WIRE_VERSION_MIN   1

#define SQ_WIRE_MAX_NODE      64
#define SQ_WIRE_MAX_ENDPOINT  128
#define SQ_WIRE_MAX_REGION    32
#define SQ_WIRE_MAX_SEGMENT   64
#define SQ_WIRE_MAX_SERIES    65536
#define SQ_WIRE_MAX_DATAGRAM  65507


/*
 * The keys of the datagram map, in the order the module writes them; the
 * series array, SQ_K_SERIES, comes last.  SQ_WIRE_KEY_NAMES is indexed by
 * the SQ_K_* enum; the Perl test helpers read both from this file.
 */

enum {
    SQ_K_VERSION = 0,        /* "v" */
    SQ_K_NODE,               /* "node" */
    SQ_K_PID,                /* "pid" */
    SQ_K_SEQ,                /* "seq" */
    SQ_K_WS,                 /* "ws" */
    SQ_K_WE,                 /* "we" */
    SQ_K_DD,                 /* "dd" */
    SQ_K_DR,                 /* "dr" */
    SQ_K_SO,                 /* "so" */
    SQ_K_GO,                 /* "go" */
    SQ_K_CR,                 /* "cr", version 2 */
    SQ_K_CS,                 /* "cs", version 2 */
    SQ_K_CX,                 /* "cx", version 2 */
    SQ_K_SERIES,             /* "s" */
    SQ_WIRE_NKEYS
};

#define SQ_WIRE_KEY_NAMES                                                    \
    "v", "node", "pid", "seq", "ws", "we", "dd", "dr", "so", "go", "cr",     \
    "cs", "cx", "s"

/* the longest key, in bytes */
#define SQ_WIRE_KEY_MAX       4

_Static_assert(sizeof((const char *[]) { SQ_WIRE_KEY_NAMES })
               == SQ_WIRE_NKEYS * sizeof(const char *),
               "SQ_WIRE_KEY_NAMES: one name per SQ_K_*");


/* the fields of a series array, in order */

enum {
    SQ_F_ENDPOINT = 0,
    SQ_F_REGION,
    SQ_F_SEGMENT,
    SQ_F_COUNTERS,
    SQ_F_HIST_RT,            /* request time histogram */
    SQ_F_HIST_TTFB,          /* time to first byte histogram */
    SQ_WIRE_SERIES_FIELDS
};


/*
 * Version 3: the browser's measurements, all or none, after the fields
 * above: a series' field SQ_WIRE_SERIES_FIELDS + SQ_FB_*.
 */

enum {
    SQ_FB_COUNTERS = 0,      /* browser counters array */
    SQ_FB_HIST_LCP,          /* largest contentful paint */
    SQ_FB_HIST_INP,          /* interaction to next paint */
    SQ_FB_HIST_CLS,          /* cumulative layout shift, scaled */
    SQ_FB_HIST_FCP,          /* first contentful paint */
    SQ_FB_HIST_TTFB,         /* time to first byte, as the browser saw it */
    SQ_WIRE_BROWSER_FIELDS
};

#define SQ_WIRE_SERIES_FIELDS_BROWSER                                        \
    (SQ_WIRE_SERIES_FIELDS + SQ_WIRE_BROWSER_FIELDS)


/* the histograms of a series, in wire order: index = field - SQ_F_HIST_RT */

enum {
    SQ_H_RT = 0,
    SQ_H_TTFB,
    SQ_WIRE_NHISTS
};


/* the browser's histograms: index = SQ_FB_HIST_* - SQ_FB_HIST_LCP */

enum {
    SQ_B_LCP = 0,
    SQ_B_INP,
    SQ_B_CLS,
    SQ_B_FCP,
    SQ_B_TTFB,
    SQ_WIRE_NBHISTS
};

#define SQ_WIRE_BHIST_NAMES  "lcp", "inp", "cls", "fcp", "ttfb"

/* CLS is carried as an integer: the score times this */
#define SQ_WIRE_CLS_SCALE     100000


/* the browser counters of a series */

enum {
    SQ_BC_BEACONS = 0,       /* beacons accepted for the series */
    SQ_BC_NAV_NAVIGATE,      /* navigation types, as web-vitals names them */
    SQ_BC_NAV_RELOAD,
    SQ_BC_NAV_BACK_FORWARD,
    SQ_BC_NAV_OTHER,         /* prerender, restore, back-forward-cache */
    SQ_BC_CLAMPED,           /* beacons with a value clamped into range */
    SQ_WIRE_NBCOUNTERS
};

#define SQ_WIRE_BCOUNTER_NAMES                                               \
    "beacons", "nav_navigate", "nav_reload", "nav_back_forward",             \
    "nav_other", "beacons_clamped"

_Static_assert(sizeof((const char *[]) { SQ_WIRE_BCOUNTER_NAMES })
               == SQ_WIRE_NBCOUNTERS * sizeof(const char *),
               "SQ_WIRE_BCOUNTER_NAMES: one name per SQ_BC_*");

_Static_assert(sizeof((const char *[]) { SQ_WIRE_BHIST_NAMES })
               == SQ_WIRE_NBHISTS * sizeof(const char *),
               "SQ_WIRE_BHIST_NAMES: one name per SQ_B_*");

#define SQ_WIRE_OTHER         "_other"
#define SQ_WIRE_UNKNOWN       "unknown"


enum {
    SQ_C_REQUESTS = 0,
    SQ_C_1XX,
    SQ_C_2XX,
    SQ_C_3XX,
    SQ_C_4XX,
    SQ_C_5XX,
    SQ_C_ABORTED,            /* client closed before the response completed */
    SQ_C_INCOMPLETE,         /* body bytes sent < Content-Length */
    SQ_C_UPSTREAM_ERROR,     /* upstream failed: connect, protocol, 502 */
    SQ_C_UPSTREAM_TIMEOUT,   /* upstream timed out: 504 */
    SQ_C_BYTES,              /* bytes sent to the client, headers included */
    SQ_C_TLS_NONE,
    SQ_C_TLS_10,
    SQ_C_TLS_11,
    SQ_C_TLS_12,
    SQ_C_TLS_13,
    SQ_C_HTTP_10,            /* HTTP/0.9 and HTTP/1.0 */
    SQ_C_HTTP_11,
    SQ_C_HTTP_2,
    SQ_C_HTTP_3,
    SQ_C_COMPRESSIBLE,       /* 2xx, compressible type, >= 1 KiB body */
    SQ_C_COMPRESSED,         /* of those, sent with a Content-Encoding */
    SQ_C_HSTS,               /* HTTPS responses with HSTS */
    SQ_WIRE_NCOUNTERS
};


#define SQ_WIRE_COUNTER_NAMES                                                \
    "requests", "status_1xx", "status_2xx", "status_3xx", "status_4xx",      \
    "status_5xx", "client_aborts", "body_incomplete", "upstream_errors",     \
    "upstream_timeouts", "bytes_sent", "tls_none", "tls_1_0", "tls_1_1",     \
    "tls_1_2", "tls_1_3", "http_1_0", "http_1_1", "http_2", "http_3",        \
    "compressible", "compressed", "hsts"

_Static_assert(sizeof((const char *[]) { SQ_WIRE_COUNTER_NAMES })
               == SQ_WIRE_NCOUNTERS * sizeof(const char *),
               "SQ_WIRE_COUNTER_NAMES: one name per SQ_C_*");


#endif /* _SERVQUAL_WIRE_H_INCLUDED_ */
