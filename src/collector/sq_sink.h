
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_SINK_H_INCLUDED_
#define _SQ_SINK_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <event2/event.h>
#include <event2/dns.h>


/*
 * A sink: notifications POSTed as JSON to one URL from a bounded queue,
 * one request at a time, never blocking (libevent's HTTP client), each
 * retried with backoff (1 s, 2 s, 4 s ... up to backoff_max) until its
 * attempts are spent.  When the queue is full the oldest is dropped.
 */

enum {
    SQ_NOTE_SENT = 0,
    SQ_NOTE_RETRIED,
    SQ_NOTE_FAILED,
    SQ_NOTE_DROPPED,
    SQ_NOTE_NRESULTS
};


typedef struct sq_sink_s  sq_sink_t;


typedef struct {
    const char      *name;        /* for the log: "webhook" */
    const char      *url;
    const char      *api;         /* appended to the URL's path, or NULL */
    size_t           queue;
    int64_t          timeout;     /* seconds, per send */
    uint64_t         attempts;    /* per notification */
    int64_t          backoff_max; /* seconds */
} sq_sink_conf_t;


extern const char  *sq_note_names[SQ_NOTE_NRESULTS];


/*
 * A sink for sc (copied); counts[SQ_NOTE_NRESULTS] are counted up, and
 * outlive the sink (a reload replaces the sink, not its counts).  NULL:
 * a URL that does not parse, or out of memory.
 */
sq_sink_t *sq_sink_new(struct event_base *base, struct evdns_base *dns,
    const sq_sink_conf_t *sc, uint64_t *counts);

/* a reload that keeps the URL: new timeout, attempts and backoff */
void sq_sink_configure(sq_sink_t *s, const sq_sink_conf_t *sc);

/* queues a notification (takes the JSON) */
void sq_sink_push(sq_sink_t *s, json_t *json);

const char *sq_sink_url(const sq_sink_t *s);

/* the notifications the queue holds at most */
size_t sq_sink_capacity(const sq_sink_t *s);

/*
 * n notifications that would have been pushed and then dropped by the
 * ones pushed after them: counted as dropped, never built
 */
void sq_sink_drop(sq_sink_t *s, uint64_t n);

/* notifications waiting, the one in hand included */
size_t sq_sink_queued(const sq_sink_t *s);

/* frees the sink; what was waiting is counted as dropped */
void sq_sink_free(sq_sink_t *s);


#endif /* _SQ_SINK_H_INCLUDED_ */
