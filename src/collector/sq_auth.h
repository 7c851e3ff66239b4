
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_AUTH_H_INCLUDED_
#define _SQ_AUTH_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "sq_conf_yaml.h"
#include "sq_config.h"


/*
 * Signed datagrams (include/servqual_sign.h): once auth.keys names a key,
 * a datagram counts only with a good HMAC-SHA256 by one of the keys, a
 * time within auth.max_age of the collector's clock, and a MAC not seen
 * before; this is checked before the datagram is decoded, so nothing in
 * it (a sequence number) can change state unless it is authentic.
 *
 * Replays are found by the MACs seen: three generations of auth.max_age
 * each, so a MAC is remembered at least twice as long as its time is
 * fresh (a time ahead of the clock by up to max_age included).
 */

#define SQ_AUTH_GENS         3
#define SQ_AUTH_SEEN_MAX     (1u << 21)   /* slots of one generation */


typedef struct {
    uint64_t      *slots;          /* a MAC's first 8 bytes, 0: empty */
    uint32_t       cap;
    uint32_t       n;
    int64_t        start;          /* ms, when this generation began */
} sq_auth_seen_t;


typedef struct {
    sq_sign_key_t    *keys;        /* a copy of the keys the MACs have */
    EVP_MAC_CTX     **macs;
    size_t            n;
    unsigned          cur;
    sq_auth_seen_t    seen[SQ_AUTH_GENS];
} sq_auth_t;


/* the auth section's check: reads every key file (sq_config.c's table) */
void sq_auth_conf_check(sq_conf_reader_t *rd, yaml_node_t *node,
    char *base, size_t index, const char *path);

/* frees the key files' names and wipes the keys */
void sq_auth_conf_free(sq_conf_t *conf);

/*
 * Checks the datagram buf of *len bytes against conf's keys.  Returns
 * SQ_DECODE_OK with *len cut to the map when it may be decoded, else the
 * rejection: SQ_REJ_UNSIGNED, SQ_REJ_BAD_MAC, SQ_REJ_STALE or
 * SQ_REJ_REPLAY.  Without keys every datagram may be decoded (a trailer
 * is cut off unchecked).  now is in milliseconds since the epoch.
 */
int sq_auth_check(sq_auth_t *a, const sq_conf_t *conf, const char *buf,
    size_t *len, int64_t now);

/* the time sq_auth_check() compares with, ms since the epoch */
int64_t sq_auth_now(void);

void sq_auth_free(sq_auth_t *a);


#endif /* _SQ_AUTH_H_INCLUDED_ */
