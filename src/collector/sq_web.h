
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_WEB_H_INCLUDED_
#define _SQ_WEB_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <openssl/ssl.h>

#include "sq_conf_yaml.h"


/*
 * The HTTP side's web config, in the web-config.yml conventions of
 * Prometheus's exporter toolkit:
 *
 *     tls_server_config:
 *       cert_file: collector.crt
 *       key_file: collector.key
 *       min_version: TLS12
 *     basic_auth_users:
 *       prometheus: $2y$10$...        # bcrypt
 *
 * cert_file and key_file are relative to the web config's directory.
 * The certificate and key are loaded when the file is read, so -t and a
 * reload find every error before the collector uses them.
 */

typedef struct {
    char            *name;
    char            *hash;            /* bcrypt: $2a$, $2b$ or $2y$ */
    unsigned char    ok[32];          /* SHA-256 of the last good password */
    int              cached;
} sq_web_user_t;


typedef struct sq_web_s {
    char            *file;
    char            *cert_file;
    char            *key_file;
    int              min_version;     /* index of sq_web_versions */
    sq_web_user_t   *users;
    size_t           nusers;
    SSL_CTX         *ssl;             /* NULL: plain HTTP */
    void            *crypt;           /* struct crypt_data */
    int64_t          second;          /* of the bcrypt checks counted */
    unsigned         checks;          /* bcrypt checks in that second */
} sq_web_t;


/*
 * Reads a web config.  NULL on error after writing every error found,
 * one a line "FILE:LINE: KEY: message", to err.
 */
sq_web_t *sq_web_load(const char *file, FILE *err);
void sq_web_free(sq_web_t *web);

/*
 * Checks an Authorization header against the users: SQ_OK when there
 * are no users or when it names a user with the right password, else
 * SQ_ERR_INVALID.  A password that matched once is remembered by its
 * SHA-256, so a scrape every few seconds costs one bcrypt.  A bcrypt
 * takes the event loop for tens of milliseconds: past SQ_WEB_CHECKS of
 * them in a second, SQ_ERR_LIMIT without checking (a 429), so guessing
 * cannot stall ingest.
 */

#define SQ_WEB_CHECKS  5
int sq_web_auth(sq_web_t *web, const char *authorization);

/* the setter of listen.web_config: a sq_web_t * at k->offset */
int sq_conf_set_web(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);


#endif /* _SQ_WEB_H_INCLUDED_ */
