
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#include "sq_auth.h"
#include "sq_conf_listen.h"
#include "sq_decode.h"


/*
 * Keys by id, verification and the replay window of signed datagrams.
 * The keys are read from their files with the config (so -t and a
 * reload refuse a bad or too open file); MAC contexts are keyed on the
 * first datagram after the config changed.  No key is ever logged.
 */


static int sq_auth_rekey(sq_auth_t *a, const sq_conf_t *conf);
static void sq_auth_unkey(sq_auth_t *a);
static int sq_auth_seen(sq_auth_t *a, uint64_t tag, int64_t now,
    int64_t max_age);
static int sq_auth_seen_add(sq_auth_seen_t *s, uint64_t tag);
static int sq_auth_seen_has(const sq_auth_seen_t *s, uint64_t tag);


void
sq_auth_conf_check(sq_conf_reader_t *rd, yaml_node_t *node, char *base,
    size_t index, const char *path)
{
    int            line;
    char           err[512];
    size_t         i, j;
    sq_conf_t     *conf;
    yaml_node_t   *v, *item;
    sq_sign_key_t *k;

    conf = sq_conf_field(base, 0, sq_conf_t);

    if (conf->nkey_files == 0) {
        return;
    }

    v = sq_conf_value(rd, node, "keys");
    line = sq_conf_line(v ? v : node);

    conf->keys = calloc(conf->nkey_files, sizeof(sq_sign_key_t));
    if (conf->keys == NULL) {
        sq_conf_error(rd, line, "auth.keys", "out of memory");
        return;
    }

    for (i = 0; i < conf->nkey_files; i++) {
        item = (v && v->type == YAML_SEQUENCE_NODE && i < sq_conf_nitems(v))
               ? sq_conf_item(rd, v, i) : v;
        k = &conf->keys[conf->nkeys];

        if (sq_sign_read_key(conf->key_files[i], k, err, sizeof(err))
            != NULL)
        {
            sq_conf_error(rd, sq_conf_line(item ? item : node), "auth.keys",
                          "%s", err);
            continue;
        }

        for (j = 0; j < conf->nkeys; j++) {
            if (conf->keys[j].id == k->id) {
                sq_conf_error(rd, sq_conf_line(item ? item : node),
                              "auth.keys", "key id %u of \"%s\" is also "
                              "the id of \"%s\"", (unsigned) k->id,
                              conf->key_files[i], conf->key_files[j]);
                break;
            }
        }

        if (j == conf->nkeys) {
            conf->nkeys++;

        } else {
            OPENSSL_cleanse(k, sizeof(sq_sign_key_t));
        }
    }
}


void
sq_auth_conf_free(sq_conf_t *conf)
{
    size_t  i;

    for (i = 0; i < conf->nkey_files; i++) {
        free(conf->key_files[i]);
    }

    free(conf->key_files);

    if (conf->keys != NULL) {
        OPENSSL_cleanse(conf->keys, conf->nkey_files * sizeof(sq_sign_key_t));
        free(conf->keys);
    }
}


int64_t
sq_auth_now(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int
sq_auth_check(sq_auth_t *a, const sq_conf_t *conf, const char *buf,
    size_t *len, int64_t now)
{
    size_t                i, map;
    int64_t               t, max_age;
    uint32_t              id;
    uint64_t              tag;
    const unsigned char  *p, *tail;
    unsigned char         mac[SQ_SIGN_MAC_LEN];

    p = (const unsigned char *) buf;

    if (!sq_sign_present(p, *len)) {
        return conf->nkeys ? SQ_REJ_UNSIGNED : SQ_DECODE_OK;
    }

    map = *len - SQ_SIGN_TRAILER;

    if (conf->nkeys == 0) {
        *len = map;
        return SQ_DECODE_OK;
    }

    if ((a->n != conf->nkeys
         || memcmp(a->keys, conf->keys, a->n * sizeof(sq_sign_key_t)) != 0)
        && sq_auth_rekey(a, conf) != SQ_OK)
    {
        return SQ_REJ_BAD_MAC;
    }

    tail = p + map;
    id = (uint32_t) sq_sign_get(tail + SQ_SIGN_OFF_KEY, 4);

    for (i = 0; i < a->n; i++) {
        if (a->keys[i].id == id) {
            break;
        }
    }

    if (i == a->n
        || sq_sign_mac(a->macs[i], p, map, tail + SQ_SIGN_MAC_LEN, mac) != 0
        || CRYPTO_memcmp(mac, tail, SQ_SIGN_MAC_LEN) != 0)
    {
        return SQ_REJ_BAD_MAC;
    }

    t = (int64_t) sq_sign_get(tail + SQ_SIGN_OFF_TIME, 8);
    max_age = conf->max_age * 1000;

    if (t < now - max_age || t > now + max_age) {
        return SQ_REJ_STALE;
    }

    memcpy(&tag, tail, sizeof(tag));

    if (sq_auth_seen(a, tag, now, max_age) != SQ_OK) {
        return SQ_REJ_REPLAY;
    }

    *len = map;

    return SQ_DECODE_OK;
}


/* a MAC context per key of the config in effect */

static int
sq_auth_rekey(sq_auth_t *a, const sq_conf_t *conf)
{
    size_t  i;

    sq_auth_unkey(a);

    a->macs = calloc(conf->nkeys, sizeof(EVP_MAC_CTX *));
    a->keys = malloc(conf->nkeys * sizeof(sq_sign_key_t));

    if (a->macs == NULL || a->keys == NULL) {
        sq_auth_unkey(a);
        return SQ_ERR_NOMEM;
    }

    for (i = 0; i < conf->nkeys; i++) {
        a->macs[i] = sq_sign_mac_new(&conf->keys[i]);

        if (a->macs[i] == NULL) {
            sq_auth_unkey(a);
            return SQ_ERR_NOMEM;
        }

        a->keys[i] = conf->keys[i];
        a->n++;
    }

    return SQ_OK;
}


static void
sq_auth_unkey(sq_auth_t *a)
{
    size_t  i;

    for (i = 0; i < a->n; i++) {
        EVP_MAC_CTX_free(a->macs[i]);
    }

    if (a->keys != NULL) {
        OPENSSL_cleanse(a->keys, a->n * sizeof(sq_sign_key_t));
    }

    free(a->macs);
    free(a->keys);

    a->macs = NULL;
    a->keys = NULL;
    a->n = 0;
}


/*
 * SQ_OK and remembered when tag was not seen in the window, else
 * SQ_ERR_DUPLICATE; SQ_ERR_LIMIT when a generation is full (a flood of
 * authentic datagrams: refused rather than let through unremembered).
 */

static int
sq_auth_seen(sq_auth_t *a, uint64_t tag, int64_t now, int64_t max_age)
{
    unsigned         g;
    sq_auth_seen_t  *s;

    tag = tag ? tag : 1;
    s = &a->seen[a->cur];

    if (s->start == 0) {
        s->start = now;

    } else if (now - s->start >= max_age) {
        a->cur = (a->cur + 1) % SQ_AUTH_GENS;
        s = &a->seen[a->cur];
        s->n = 0;
        s->start = now;

        if (s->slots != NULL) {
            memset(s->slots, 0, (size_t) s->cap * sizeof(uint64_t));
        }
    }

    for (g = 0; g < SQ_AUTH_GENS; g++) {
        if (sq_auth_seen_has(&a->seen[g], tag)) {
            return SQ_ERR_DUPLICATE;
        }
    }

    return sq_auth_seen_add(s, tag);
}


static int
sq_auth_seen_has(const sq_auth_seen_t *s, uint64_t tag)
{
    uint32_t  i;

    if (s->n == 0) {
        return 0;
    }

    for (i = (uint32_t) tag & (s->cap - 1);
         s->slots[i] != 0;
         i = (i + 1) & (s->cap - 1))
    {
        if (s->slots[i] == tag) {
            return 1;
        }
    }

    return 0;
}


static int
sq_auth_seen_add(sq_auth_seen_t *s, uint64_t tag)
{
    uint32_t   i, j, cap;
    uint64_t  *slots;

    if (s->slots == NULL || (s->n + 1) * 2 > s->cap) {
        cap = s->cap ? s->cap * 2 : 1024;

        if (cap > SQ_AUTH_SEEN_MAX) {
            return SQ_ERR_LIMIT;
        }

        slots = calloc(cap, sizeof(uint64_t));
        if (slots == NULL) {
            return SQ_ERR_NOMEM;
        }

        for (i = 0; i < s->cap; i++) {
            if (s->slots[i] == 0) {
                continue;
            }

            for (j = (uint32_t) s->slots[i] & (cap - 1);
                 slots[j] != 0;
                 j = (j + 1) & (cap - 1))
            {
                /* void */
            }

            slots[j] = s->slots[i];
        }

        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }

    for (i = (uint32_t) tag & (s->cap - 1);
         s->slots[i] != 0;
         i = (i + 1) & (s->cap - 1))
    {
        /* void */
    }

    s->slots[i] = tag;
    s->n++;

    return SQ_OK;
}


void
sq_auth_free(sq_auth_t *a)
{
    unsigned  g;

    sq_auth_unkey(a);

    for (g = 0; g < SQ_AUTH_GENS; g++) {
        free(a->seen[g].slots);
        a->seen[g].slots = NULL;
        a->seen[g].cap = 0;
        a->seen[g].n = 0;
    }
}
