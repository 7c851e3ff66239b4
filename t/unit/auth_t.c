
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/* Signed datagrams: the envelope's test vector (docs/wire-format.md),
   the MAC context restarted per datagram, the verifier's verdicts, the
   replay window across its generations; key files read and refused;
   sequence tracking bounded against an absurd jump. */

#include <stdlib.h>
#include <sys/stat.h>

#include "tap.h"
#include "sq_status.h"
#include "sq_decode.h"
#include "sq_auth.h"
#include "sq_workers.h"


#define T_NOW  INT64_C(1700000000000)


/* a datagram of worker (web1, 7) with sequence number seq, no requests */

static int
t_seq(sq_workers_t *w, uint64_t seq)
{
    sq_dgram_t  d;

    memset(&d, 0, sizeof(d));
    d.version = SQ_WIRE_VERSION;
    d.node.ptr = "web1";
    d.node.len = 4;
    d.pid = 7;
    d.seq = seq;

    return sq_workers_check(w, &d, 0);
}


static const char  *t_vector_mac =
    "479de0cc26af694b65fc743f44f996e42f23fc20747f8688682a4f5fcb590c3f";


static void
hex(const unsigned char *p, size_t n, char *out)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", p[i]);
    }
}


static size_t
seal(sq_sign_key_t *k, const char *map, size_t n, int64_t t,
    unsigned char *out)
{
    size_t        len;
    EVP_MAC_CTX  *ctx;

    ctx = sq_sign_mac_new(k);
    memcpy(out, map, n);
    len = sq_sign_seal(ctx, k->id, (uint64_t) t, out, n);
    EVP_MAC_CTX_free(ctx);

    return len;
}


static int
check(sq_auth_t *a, sq_conf_t *c, unsigned char *p, size_t n, int64_t now,
    size_t *out)
{
    *out = n;

    return sq_auth_check(a, c, (const char *) p, out, now);
}


static void
write_file(const char *path, const char *text, mode_t mode)
{
    FILE  *f;

    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}


int
main(void)
{
    int             i;
    char            buf[128], err[512], dir[] = "/tmp/auth_t.XXXXXX", path[64];
    size_t          n, len;
    uint64_t        seq;
    sq_conf_t       conf;
    sq_auth_t       a;
    sq_workers_t    w;
    sq_sign_key_t   k[2], other;
    EVP_MAC_CTX    *ctx;
    unsigned char   d[256], d2[256], mac[32], mac2[32], tail[16];

    static const char  map[] = "\x81\xa1v\x01";

    /* the test vector of docs/wire-format.md */

    memset(&k[0], 0, sizeof(sq_sign_key_t));
    k[0].id = 1;
    k[0].len = 32;

    for (i = 0; i < 32; i++) {
        k[0].secret[i] = (unsigned char) i;
    }

    len = seal(&k[0], map, 4, T_NOW, d);
    is_int((int) len, 4 + SQ_SIGN_TRAILER, "a sealed datagram: map + 48");
    hex(d + 4, 32, buf);
    is_str(buf, t_vector_mac, "the test vector's MAC");
    hex(d + 4 + 32, 16, buf);
    is_str(buf, "0000018bcfe5680000000001c1535131",
           "time, key id and magic, big-endian");
    ok(sq_sign_present(d, len), "the envelope is seen");
    ok(!sq_sign_present((const unsigned char *) map, 4),
       "a bare map is not signed");

    /* one context, restarted: the same MAC twice, RFC 4231 case 2 */

    ctx = sq_sign_mac_new(&k[0]);
    memcpy(tail, d + 4 + 32, 16);
    ok(sq_sign_mac(ctx, (const unsigned char *) map, 4, tail, mac) == 0
       && sq_sign_mac(ctx, (const unsigned char *) map, 4, tail, mac2) == 0
       && memcmp(mac, mac2, 32) == 0 && memcmp(mac, d + 4, 32) == 0,
       "a restarted context gives the same MAC");
    EVP_MAC_CTX_free(ctx);

    memset(&other, 0, sizeof(other));
    memcpy(other.secret, "Jefe", 4);
    other.len = 4;
    ctx = sq_sign_mac_new(&other);
    {
        size_t         m;
        unsigned char  out[32];

        EVP_MAC_init(ctx, NULL, 0, NULL);
        EVP_MAC_update(ctx, (const unsigned char *)
                       "what do ya want for nothing?", 28);
        EVP_MAC_final(ctx, out, &m, 32);
        hex(out, 32, buf);
        is_str(buf, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b9"
               "64ec3843", "HMAC-SHA256 as RFC 4231 test case 2");
    }
    EVP_MAC_CTX_free(ctx);

    /* the verifier */

    memset(&conf, 0, sizeof(conf));
    memset(&a, 0, sizeof(a));
    conf.max_age = 30;

    is_int(check(&a, &conf, (unsigned char *) map, 4, T_NOW, &n),
           SQ_DECODE_OK, "no keys: an unsigned datagram passes");
    is_int(check(&a, &conf, d, len, T_NOW, &n), SQ_DECODE_OK,
           "no keys: a signed one passes");
    is_int((int) n, 4, "cut to its map");

    k[1] = k[0];
    k[1].id = 2;
    k[1].secret[0] = 0xff;
    conf.keys = k;
    conf.nkeys = 2;

    is_int(check(&a, &conf, (unsigned char *) map, 4, T_NOW, &n),
           SQ_REJ_UNSIGNED, "keys: unsigned rejected");
    is_int(check(&a, &conf, d, len, T_NOW, &n), SQ_DECODE_OK,
           "keys: signed by key 1 passes");
    is_int((int) n, 4, "cut to its map");
    is_int(check(&a, &conf, d, len, T_NOW + 1, &n), SQ_REJ_REPLAY,
           "the same again: replay");

    len = seal(&k[1], map, 4, T_NOW, d2);
    is_int(check(&a, &conf, d2, len, T_NOW, &n), SQ_DECODE_OK,
           "signed by key 2 passes (rotation)");

    other = k[1];
    other.secret[1] ^= 1;
    len = seal(&other, map, 4, T_NOW + 5, d2);
    is_int(check(&a, &conf, d2, len, T_NOW, &n), SQ_REJ_BAD_MAC,
           "a wrong secret: bad_mac");

    other = k[0];
    other.id = 7;
    len = seal(&other, map, 4, T_NOW + 6, d2);
    is_int(check(&a, &conf, d2, len, T_NOW, &n), SQ_REJ_BAD_MAC,
           "an unknown key id: bad_mac");

    len = seal(&k[0], map, 4, T_NOW + 7, d2);
    d2[1] ^= 0x20;
    is_int(check(&a, &conf, d2, len, T_NOW, &n), SQ_REJ_BAD_MAC,
           "a changed byte: bad_mac");

    len = seal(&k[0], map, 4, T_NOW - 30001, d2);
    is_int(check(&a, &conf, d2, len, T_NOW, &n), SQ_REJ_STALE,
           "older than max_age: stale");
    len = seal(&k[0], map, 4, T_NOW + 30001, d2);
    is_int(check(&a, &conf, d2, len, T_NOW, &n), SQ_REJ_STALE,
           "further ahead than max_age: stale");
    len = seal(&k[0], map, 4, T_NOW + 30000, d2);
    is_int(check(&a, &conf, d2, len, T_NOW, &n), SQ_DECODE_OK,
           "max_age ahead: fresh");

    /* a datagram ahead by max_age is still remembered when its time
       stops being fresh, whatever generations turned in between */

    for (i = 1; i <= 4; i++) {
        len = seal(&k[0], map, 4, T_NOW + i * 15000 + 1, d);
        (void) check(&a, &conf, d, len, T_NOW + i * 15000, &n);
    }

    len = seal(&k[0], map, 4, T_NOW + 30000, d2);
    is_int(check(&a, &conf, d2, len, T_NOW + 60000, &n), SQ_REJ_REPLAY,
           "a replay at the end of its freshness: still a replay");

    /* many distinct datagrams: the table grows, none is taken twice */

    for (i = 0, n = 0; i < 5000; i++) {
        size_t  m;

        len = seal(&k[0], map, 4, T_NOW + 100000 + i, d);

        if (check(&a, &conf, d, len, T_NOW + 100000, &m) == SQ_DECODE_OK
            && check(&a, &conf, d, len, T_NOW + 100000, &m) == SQ_REJ_REPLAY)
        {
            n++;
        }
    }

    is_int((int) n, 5000, "5000 datagrams: each taken once");

    /* the keys changed (a reload): contexts keyed again */

    k[0].secret[5] ^= 1;
    len = seal(&k[0], map, 4, T_NOW + 110000, d);
    is_int(check(&a, &conf, d, len, T_NOW + 110000, &n), SQ_DECODE_OK,
           "a new secret under the same id is used at once");

    sq_auth_free(&a);

    /* key files */

    ok(mkdtemp(dir) != NULL, "a directory for key files");

    snprintf(path, sizeof(path), "%s/k", dir);
    write_file(path, "12:000102030405060708090a0b0c0d0e0f\n", 0600);
    ok(sq_sign_read_key(path, &other, err, sizeof(err)) == NULL
       && other.id == 12 && other.len == 16 && other.secret[15] == 15,
       "a key file: id 12, 16 bytes");

    chmod(path, 0640);
    ok(sq_sign_read_key(path, &other, err, sizeof(err)) != NULL
       && strstr(err, "permissions 0640") && strstr(err, "too open")
       && strstr(err, "0a0b") == NULL,
       "mode 0640: refused, the secret not in the message");
    chmod(path, 0604);
    ok(sq_sign_read_key(path, &other, err, sizeof(err)) != NULL,
       "mode 0604: refused");

    write_file(path, "12:0001020304\n", 0600);
    ok(sq_sign_read_key(path, &other, err, sizeof(err)) != NULL
       && strstr(err, "ID:HEX"), "a short secret: refused");
    write_file(path, "0:000102030405060708090a0b0c0d0e0f\n", 0600);
    ok(sq_sign_read_key(path, &other, err, sizeof(err)) != NULL,
       "key id 0: refused");
    write_file(path, "4294967296:000102030405060708090a0b0c0d0e0f", 0600);
    ok(sq_sign_read_key(path, &other, err, sizeof(err)) != NULL,
       "key id 2^32: refused");
    write_file(path, "5:000102030405060708090a0b0c0d0e0g", 0600);
    ok(sq_sign_read_key(path, &other, err, sizeof(err)) != NULL,
       "a letter that is not hex: refused");

    unlink(path);
    rmdir(dir);

    /* sequence tracking: a jump far ahead moves nothing */

    ok(sq_workers_init(&w, 16) == SQ_OK, "workers");
    for (seq = 1; seq <= 3; seq++) {
        (void) t_seq(&w, seq);
    }

    is_int(t_seq(&w, UINT64_C(1) << 63), SQ_WORKER_NEW,
           "seq 2^63: taken");
    is_int(t_seq(&w, 4), SQ_WORKER_NEW,
           "the next genuine one is not a duplicate");
    is_int(t_seq(&w, 4), SQ_WORKER_DUPLICATE,
           "a real duplicate still is");
    is_int((int) w.lost, 0, "no loss counted for the jump");
    is_int((int) w.jumps, 1, "the jump counted");
    is_int(t_seq(&w, 4 + SQ_WORKERS_MAX_JUMP),
           SQ_WORKER_NEW, "a gap of SQ_WORKERS_MAX_JUMP is a loss, not a jump");
    ok(w.lost == SQ_WORKERS_MAX_JUMP - 1, "counted as lost");
    sq_workers_free(&w);

    return done_testing();
}
