
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <crypt.h>

#include "tap.h"
#include "sq_web.h"
#include "sq_config.h"
#include "sq_http.h"


/*
 * The web config (sq_web.c): basic auth against bcrypt hashes, malformed
 * Authorization headers refused; the API's query parser (sq_http.c); and
 * a journey with its steps given twice, the loader's heap overflow the
 * fuzzer found (fuzz/corpus/config/journey-steps-repeated.yaml).
 */

/* crypt("s3cret", "$2b$04$abcdefghijklmnopqrstuu") */
#define HASH  "$2b$04$abcdefghijklmnopqrstuu"


static void test_auth(void);
static void test_query(void);
static void test_journey_steps(void);
static char *write_file(const char *text);


static char *
write_file(const char *text)
{
    int          fd;
    static char  name[64];

    snprintf(name, sizeof(name), "/tmp/sq-web-t-XXXXXX");
    fd = mkstemp(name);
    if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t) strlen(text)) {
        abort();
    }

    close(fd);

    return name;
}


static void
test_auth(void)
{
    int                i, rc;
    char               text[256], *file, *hash;
    sq_web_t          *web;
    struct crypt_data  *cd;

    cd = calloc(1, sizeof(*cd));
    hash = crypt_r("s3cret", HASH, cd);
    ok(hash && strncmp(hash, "$2b$04$", 7) == 0, "libcrypt: bcrypt");

    snprintf(text, sizeof(text), "basic_auth_users:\n  alice: '%s'\n",
             hash);
    file = write_file(text);
    web = sq_web_load(file, stderr);
    unlink(file);
    free(cd);

    ok(web != NULL && web->nusers == 1, "a user read");
    if (web == NULL) {
        return;
    }

    ok(web->ssl == NULL, "no TLS without a certificate");

    /* alice:s3cret, alice:wrong, bob:s3cret */
    is_int(sq_web_auth(web, "Basic YWxpY2U6czNjcmV0"), SQ_OK, "good");
    ok(web->users[0].cached, "remembered");
    is_int(sq_web_auth(web, "basic YWxpY2U6czNjcmV0"), SQ_OK,
           "the scheme in any case, from the cache");
    is_int(sq_web_auth(web, "Basic YWxpY2U6d3Jvbmc="), SQ_ERR_INVALID,
           "a wrong password");
    is_int(sq_web_auth(web, "Basic Ym9iOnMzY3JldA=="), SQ_ERR_INVALID,
           "an unknown user");
    is_int(sq_web_auth(web, NULL), SQ_ERR_INVALID, "no header");
    is_int(sq_web_auth(web, "Bearer x"), SQ_ERR_INVALID, "another scheme");
    is_int(sq_web_auth(web, "Basic "), SQ_ERR_INVALID, "empty");
    is_int(sq_web_auth(web, "Basic YWxpY2U"), SQ_ERR_INVALID,
           "not a multiple of 4");
    is_int(sq_web_auth(web, "Basic ****"), SQ_ERR_INVALID, "not base64");
    is_int(sq_web_auth(web, "Basic YWxpY2U="), SQ_ERR_INVALID, "no colon");
    is_int(sq_web_auth(web, "Basic YWxpY2UAOnMzY3JldA=="), SQ_ERR_INVALID,
           "a NUL inside");

    /* guessing: at most SQ_WEB_CHECKS bcrypts a second */

    for (i = 0; i < 3; i++) {       /* unless the second turns meanwhile */
        web->second = time(NULL);
        web->checks = SQ_WEB_CHECKS;
        rc = sq_web_auth(web, "Basic YWxpY2U6d3Jvbmc=");

        if (rc == SQ_ERR_LIMIT) {
            break;
        }
    }

    is_int(rc, SQ_ERR_LIMIT, "past the checks of a second: refused unchecked");
    is_int(sq_web_auth(web, "Basic YWxpY2U6czNjcmV0"), SQ_OK,
           "a remembered password still passes");

    sq_web_free(web);

    is_int(sq_web_auth(NULL, NULL), SQ_OK, "no web config: open");
}


static void
test_query(void)
{
    sq_http_query_t  q;

    is_int(sq_http_query(&q, NULL), SQ_OK, "no query");
    ok(q.dim == -1 && q.scope == -1 && q.win == -1 && q.limit == 1000
       && q.offset == 0, "the defaults");
    sq_http_query_free(&q);

    is_int(sq_http_query(&q, "region=B%52&window=long&dimension=empathy"
                             "&scope=region&offset=5&limit=10000"), SQ_OK,
           "a full query");
    is_str(q.region, "BR", "decoded");
    ok(q.win == 1 && q.scope == SQ_SCOPE_REGION && q.offset == 5
       && q.limit == 10000, "window, scope, page");
    sq_http_query_free(&q);

    is_int(sq_http_query(&q, "limit=10001"), SQ_ERR_INVALID, "limit cap");
    sq_http_query_free(&q);
    is_int(sq_http_query(&q, "limit=0"), SQ_ERR_INVALID, "limit 0");
    sq_http_query_free(&q);
    is_int(sq_http_query(&q, "offset=-1"), SQ_ERR_INVALID, "offset -1");
    sq_http_query_free(&q);
    is_int(sq_http_query(&q, "scope=planet"), SQ_ERR_INVALID, "a scope");
    sq_http_query_free(&q);
    is_int(sq_http_query(&q, "window=medium"), SQ_ERR_INVALID, "a window");
    sq_http_query_free(&q);
}


static void
test_journey_steps(void)
{
    char       *file;
    FILE       *err;
    sq_conf_t  *conf;

    file = write_file("journeys:\n  - name: buy\n    steps: [a]\n"
                      "    steps: [b, c, d]\n");
    err = fopen("/dev/null", "w");
    conf = sq_conf_load(file, err);
    fclose(err);
    unlink(file);

    ok(conf == NULL, "a journey's steps given twice: refused, no overflow");
    sq_conf_free(conf);
}


int
main(void)
{
    test_auth();
    test_query();
    test_journey_steps();

    return done_testing();
}
