
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <crypt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "sq_web.h"


/*
 * The web config (sq_web.h): its keys as tables for the config reader,
 * the TLS context built from it, and basic auth with bcrypt hashes.
 */

#define SQ_WEB_AUTH_MAX  1024         /* an Authorization header, bytes */


static int sq_web_user(sq_conf_reader_t *rd, yaml_node_t *key,
    yaml_node_t *value, char *base, const char *path);
static void sq_web_check(sq_conf_reader_t *rd, yaml_node_t *node,
    char *base, size_t index, const char *path);
static char *sq_web_path(const char *file, const char *name);
static void sq_web_ssl_error(sq_conf_reader_t *rd, int line,
    const char *what, const char *name);


static const char  *sq_web_version_names[] = {
    "TLS10", "TLS11", "TLS12", "TLS13"
};

static const int  sq_web_versions[] = {
    TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION
};

static const sq_conf_enum_t  sq_web_version_words = {
    sq_web_version_names, 4, "unknown TLS version",
    "TLS10, TLS11, TLS12 or TLS13"
};

static const sq_conf_key_t  sq_web_tls_keys[] = {
    { .name = "cert_file", .set = sq_conf_set_str,
      .offset = offsetof(sq_web_t, cert_file) },
    { .name = "key_file", .set = sq_conf_set_str,
      .offset = offsetof(sq_web_t, key_file) },
    { .name = "min_version", .set = sq_conf_set_enum,
      .offset = offsetof(sq_web_t, min_version),
      .words = &sq_web_version_words, .dflt = "TLS12" },
    { .name = NULL }
};

static const sq_conf_table_t  sq_web_tls_table = { .keys = sq_web_tls_keys };

static const sq_conf_table_t  sq_web_users_table = { .other = sq_web_user };

static const sq_conf_key_t  sq_web_keys[] = {
    { .name = "tls_server_config", .set = sq_conf_set_map,
      .sub = &sq_web_tls_table },
    { .name = "basic_auth_users", .set = sq_conf_set_map,
      .sub = &sq_web_users_table },
    { .name = NULL }
};

static const sq_conf_table_t  sq_web_table = { .keys = sq_web_keys };


/* a user of basic_auth_users: name: bcrypt hash */

static int
sq_web_user(sq_conf_reader_t *rd, yaml_node_t *key, yaml_node_t *value,
    char *base, const char *path)
{
    char           *name, *hash;
    sq_web_t       *web = (sq_web_t *) base;
    const char     *h;
    sq_web_user_t  *u;

    if (sq_conf_expect(rd, value, YAML_SCALAR_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    h = sq_conf_scalar(value);

    if (strncmp(h, "$2a$", 4) != 0 && strncmp(h, "$2b$", 4) != 0
        && strncmp(h, "$2y$", 4) != 0)
    {
        sq_conf_error(rd, sq_conf_line(value), path,
                      "not a bcrypt hash (one starts with $2y$, $2b$ or "
                      "$2a$; htpasswd -nbBC 10 USER PASSWORD makes one)");
        return SQ_ERR_INVALID;
    }

    if (strlen(h) != 60 || crypt_checksalt(h) != CRYPT_SALT_OK) {
        sq_conf_error(rd, sq_conf_line(value), path,
                      "a bcrypt hash this system cannot check");
        return SQ_ERR_INVALID;
    }

    name = sq_conf_strdup(rd, key, path);
    hash = sq_conf_strdup(rd, value, path);
    u = realloc(web->users, (web->nusers + 1) * sizeof(sq_web_user_t));

    if (name == NULL || hash == NULL || u == NULL) {
        free(name);
        free(hash);

        if (u) {
            web->users = u;
        }

        return SQ_ERR_NOMEM;
    }

    web->users = u;
    u = &web->users[web->nusers++];
    memset(u, 0, sizeof(sq_web_user_t));
    u->name = name;
    u->hash = hash;

    return SQ_OK;
}


/* a file named in the web config: relative to the web config's place */

static char *
sq_web_path(const char *file, const char *name)
{
    char    *copy, *dir, *p;
    size_t   len;

    if (name[0] == '/') {
        return strdup(name);
    }

    copy = strdup(file);
    if (copy == NULL) {
        return NULL;
    }

    dir = dirname(copy);
    len = strlen(dir) + strlen(name) + 2;

    p = malloc(len);
    if (p) {
        snprintf(p, len, "%s/%s", dir, name);
    }

    free(copy);

    return p;
}


static void
sq_web_ssl_error(sq_conf_reader_t *rd, int line, const char *what,
    const char *name)
{
    char           buf[256];
    unsigned long  e;

    e = ERR_peek_last_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();

    sq_conf_error(rd, line, "tls_server_config", "cannot load %s \"%s\": %s",
                  what, name, e ? buf : "unknown error");
}


/* the TLS context, built when the file is read */

static void
sq_web_check(sq_conf_reader_t *rd, yaml_node_t *node, char *base,
    size_t index, const char *path)
{
    int        line;
    char      *cert, *key;
    SSL_CTX   *ssl;
    sq_web_t  *web = (sq_web_t *) base;

    line = sq_conf_line(node);

    if (web->cert_file == NULL && web->key_file == NULL) {
        return;
    }

    if (web->cert_file == NULL || web->key_file == NULL) {
        sq_conf_error(rd, line, "tls_server_config",
                      "cert_file and key_file go together");
        return;
    }

    cert = sq_web_path(rd->file, web->cert_file);
    key = sq_web_path(rd->file, web->key_file);
    ssl = SSL_CTX_new(TLS_server_method());

    if (cert == NULL || key == NULL || ssl == NULL) {
        sq_conf_error(rd, line, "tls_server_config", "out of memory");
        goto done;
    }

    SSL_CTX_set_options(ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);

    if (SSL_CTX_set_min_proto_version(ssl,
                                      sq_web_versions[web->min_version])
        != 1)
    {
        sq_web_ssl_error(rd, line, "min_version",
                         sq_web_version_names[web->min_version]);
        goto done;
    }

    if (SSL_CTX_use_certificate_chain_file(ssl, cert) != 1) {
        sq_web_ssl_error(rd, line, "cert_file", cert);
        goto done;
    }

    if (SSL_CTX_use_PrivateKey_file(ssl, key, SSL_FILETYPE_PEM) != 1) {
        sq_web_ssl_error(rd, line, "key_file", key);
        goto done;
    }

    if (SSL_CTX_check_private_key(ssl) != 1) {
        sq_web_ssl_error(rd, line, "key_file (does it match cert_file?)",
                         key);
        goto done;
    }

    web->ssl = ssl;
    ssl = NULL;

done:

    SSL_CTX_free(ssl);
    free(cert);
    free(key);
}


sq_web_t *
sq_web_load(const char *file, FILE *err)
{
    sq_web_t          *web;
    yaml_node_t       *root;
    sq_conf_reader_t   rd;

    web = calloc(1, sizeof(sq_web_t));
    if (web == NULL) {
        fprintf(err, "%s: out of memory\n", file);
        return NULL;
    }

    web->file = strdup(file);
    web->crypt = calloc(1, sizeof(struct crypt_data));

    if (web->file == NULL || web->crypt == NULL
        || sq_conf_init(&sq_web_tls_table, (char *) web) != SQ_OK)
    {
        fprintf(err, "%s: out of memory\n", file);
        sq_web_free(web);
        return NULL;
    }

    if (sq_conf_open(&rd, file, err) != SQ_OK) {
        sq_web_free(web);
        return NULL;
    }

    root = sq_conf_root(&rd);

    if (root != NULL
        && sq_conf_walk(&rd, root, &sq_web_table, (char *) web, "") == SQ_OK
        && rd.errors == 0)
    {
        sq_web_check(&rd, root, (char *) web, 0, "");
    }

    sq_conf_close(&rd);

    if (rd.errors) {
        sq_web_free(web);
        return NULL;
    }

    return web;
}


void
sq_web_free(sq_web_t *web)
{
    size_t  i;

    if (web == NULL) {
        return;
    }

    for (i = 0; i < web->nusers; i++) {
        free(web->users[i].name);
        free(web->users[i].hash);
    }

    free(web->users);
    free(web->file);
    free(web->cert_file);
    free(web->key_file);
    free(web->crypt);
    SSL_CTX_free(web->ssl);
    free(web);
}


int
sq_web_auth(sq_web_t *web, const char *authorization)
{
    int             n, ok;
    char           *pass, *h;
    time_t          now;
    size_t          i, len, hlen;
    unsigned char   buf[SQ_WEB_AUTH_MAX], sum[32];
    sq_web_user_t  *u;

    if (web == NULL || web->nusers == 0) {
        return SQ_OK;
    }

    if (authorization == NULL
        || strncasecmp(authorization, "Basic ", 6) != 0)
    {
        return SQ_ERR_INVALID;
    }

    authorization += 6;

    while (*authorization == ' ') {
        authorization++;
    }

    len = strlen(authorization);

    if (len == 0 || len % 4 || len / 4 * 3 >= sizeof(buf)) {
        return SQ_ERR_INVALID;
    }

    n = EVP_DecodeBlock(buf, (const unsigned char *) authorization,
                        (int) len);
    if (n < 0) {
        return SQ_ERR_INVALID;
    }

    /* the padding decodes to zero bytes */

    for (i = len; i > 0 && authorization[i - 1] == '='; i--) {
        n--;
    }

    buf[n] = '\0';

    if (memchr(buf, '\0', (size_t) n)) {
        return SQ_ERR_INVALID;
    }

    pass = strchr((char *) buf, ':');
    if (pass == NULL) {
        return SQ_ERR_INVALID;
    }

    *pass++ = '\0';

    u = NULL;

    for (i = 0; i < web->nusers; i++) {
        if (strcmp(web->users[i].name, (char *) buf) == 0) {
            u = &web->users[i];
            break;
        }
    }

    /* the password's digest: the cache of the last one that matched */

    hlen = strlen(pass);
    SHA256((unsigned char *) pass, hlen, sum);

    if (u && u->cached && CRYPTO_memcmp(sum, u->ok, sizeof(sum)) == 0) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return SQ_OK;
    }

    now = time(NULL);

    if (now != web->second) {
        web->second = now;
        web->checks = 0;
    }

    if (web->checks >= SQ_WEB_CHECKS) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return SQ_ERR_LIMIT;
    }

    web->checks++;

    /* an unknown user costs a bcrypt too: no timing tells users apart */

    h = crypt_r(pass, u ? u->hash : web->users[0].hash, web->crypt);

    ok = u && h && strlen(h) == strlen(u->hash)
         && CRYPTO_memcmp(h, u->hash, strlen(h)) == 0;

    OPENSSL_cleanse(buf, sizeof(buf));

    if (!ok) {
        return SQ_ERR_INVALID;
    }

    memcpy(u->ok, sum, sizeof(sum));
    u->cached = 1;

    return SQ_OK;
}


/* listen.web_config: FILE, read and checked now */

int
sq_conf_set_web(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    char       *file;
    sq_web_t  **field, *web;

    field = sq_conf_field(base, k->offset, sq_web_t *);

    file = sq_conf_strdup(rd, node, path);
    if (file == NULL) {
        return SQ_ERR_INVALID;
    }

    web = NULL;

    if (file[0] != '\0') {
        web = sq_web_load(file, rd->err);

        if (web == NULL) {
            sq_conf_error(rd, sq_conf_line(node), path,
                          "cannot use web config \"%s\"", file);
            free(file);
            return SQ_ERR_INVALID;
        }
    }

    free(file);
    sq_web_free(*field);
    *field = web;

    return SQ_OK;
}
