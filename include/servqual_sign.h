
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SERVQUAL_SIGN_H_INCLUDED_
#define _SERVQUAL_SIGN_H_INCLUDED_


#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>


/*
 * The signing envelope shared by the module (signer) and the collector
 * (verifier); docs/wire-format.md, "Signed datagrams", has test vectors.
 *
 * A signed datagram is the msgpack map, untouched, followed by a fixed
 * trailer of SQ_SIGN_TRAILER bytes.  Read from the end of the datagram:
 *
 *   magic  4 bytes  SQ_SIGN_MAGIC, 0xc1 "SQ1" (0xc1 is never a msgpack
 *                   type byte, and the map always ends in numbers)
 *   key    4 bytes  key id, big-endian, 1 to 2^32 - 1
 *   time   8 bytes  milliseconds since the Unix epoch, big-endian
 *   mac   32 bytes  HMAC-SHA256 with the key, over the map followed by
 *                   the 16 bytes time, key and magic
 *
 * A key file holds one line "ID:HEX": the key id in decimal and the
 * secret as 32 to 128 hex digits (16 to 64 bytes).  It must not be
 * accessible by group or others, as ssh requires of private keys.
 */

#define SQ_SIGN_MAGIC          "\xc1SQ1"
#define SQ_SIGN_MAC_LEN        32
#define SQ_SIGN_TAIL_LEN       16          /* time, key id, magic */
#define SQ_SIGN_TRAILER        (SQ_SIGN_MAC_LEN + SQ_SIGN_TAIL_LEN)

#define SQ_SIGN_OFF_TIME       SQ_SIGN_MAC_LEN
#define SQ_SIGN_OFF_KEY        (SQ_SIGN_MAC_LEN + 8)
#define SQ_SIGN_OFF_MAGIC      (SQ_SIGN_MAC_LEN + 12)

#define SQ_SIGN_KEY_MIN        16
#define SQ_SIGN_KEY_MAX        64
#define SQ_SIGN_FILE_MAX       256         /* bytes a key file may hold */


typedef struct {
    uint32_t        id;
    size_t          len;
    unsigned char   secret[SQ_SIGN_KEY_MAX];
} sq_sign_key_t;


/* whether the last bytes of p are the envelope's magic */

static inline int
sq_sign_present(const unsigned char *p, size_t len)
{
    return len >= SQ_SIGN_TRAILER
           && memcmp(p + len - 4, SQ_SIGN_MAGIC, 4) == 0;
}


static inline void
sq_sign_put(unsigned char *p, uint64_t v, int n)
{
    while (n--) {
        p[n] = (unsigned char) v;
        v >>= 8;
    }
}


static inline uint64_t
sq_sign_get(const unsigned char *p, int n)
{
    int       i;
    uint64_t  v;

    for (v = 0, i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }

    return v;
}


/*
 * A MAC context keyed with k (HMAC-SHA256), or NULL.  Each sq_sign_mac()
 * restarts it with the same key.
 */

static inline EVP_MAC_CTX *
sq_sign_mac_new(const sq_sign_key_t *k)
{
    EVP_MAC      *mac;
    OSSL_PARAM    params[2];
    EVP_MAC_CTX  *ctx;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return NULL;
    }

    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (ctx == NULL) {
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(ctx, k->secret, k->len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }

    return ctx;
}


/*
 * The MAC of a datagram: map is its msgpack map, tail the trailer's 16
 * bytes after the MAC.  0 on success, -1 if OpenSSL failed.
 */

static inline int
sq_sign_mac(EVP_MAC_CTX *ctx, const unsigned char *map, size_t len,
    const unsigned char *tail, unsigned char *out)
{
    size_t  n;

    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1
        || EVP_MAC_update(ctx, map, len) != 1
        || EVP_MAC_update(ctx, tail, SQ_SIGN_TAIL_LEN) != 1
        || EVP_MAC_final(ctx, out, &n, SQ_SIGN_MAC_LEN) != 1
        || n != SQ_SIGN_MAC_LEN)
    {
        return -1;
    }

    return 0;
}


/*
 * Appends the trailer to the map at p (len bytes, with SQ_SIGN_TRAILER
 * bytes of room after it); returns the datagram's length, 0 on failure.
 */

static inline size_t
sq_sign_seal(EVP_MAC_CTX *ctx, uint32_t id, uint64_t ms, unsigned char *p,
    size_t len)
{
    unsigned char  *t;

    t = p + len;

    sq_sign_put(t + SQ_SIGN_OFF_TIME, ms, 8);
    sq_sign_put(t + SQ_SIGN_OFF_KEY, id, 4);
    memcpy(t + SQ_SIGN_OFF_MAGIC, SQ_SIGN_MAGIC, 4);

    if (sq_sign_mac(ctx, p, len, t + SQ_SIGN_MAC_LEN, t) != 0) {
        return 0;
    }

    return len + SQ_SIGN_TRAILER;
}


static inline int
sq_sign_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/*
 * Reads a key file into k.  NULL on success, else what is wrong, in
 * err; the message never holds any of the file's contents.
 */

static inline const char *
sq_sign_read_key(const char *file, sq_sign_key_t *k, char *err, size_t size)
{
    int          fd, hi, lo;
    char         buf[SQ_SIGN_FILE_MAX + 1], *p, *end;
    ssize_t      n;
    uint64_t     id;
    struct stat  st;

    memset(k, 0, sizeof(sq_sign_key_t));

    fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd == -1) {
        (void) snprintf(err, size, "cannot open key file \"%s\": %s", file,
                        strerror(errno));
        return err;
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        (void) snprintf(err, size, "key file \"%s\" is not a regular file",
                        file);
        close(fd);
        return err;
    }

    if (st.st_mode & 077) {
        (void) snprintf(err, size, "permissions %04o for key file \"%s\" "
                        "are too open: it must not be accessible by group "
                        "or others (chmod 600)",
                        (unsigned) (st.st_mode & 07777), file);
        close(fd);
        return err;
    }

    n = read(fd, buf, sizeof(buf));
    close(fd);

    if (n < 0 || n > SQ_SIGN_FILE_MAX) {
        (void) snprintf(err, size, "cannot read key file \"%s\"%s", file,
                        n < 0 ? "" : ": too long");
        OPENSSL_cleanse(buf, sizeof(buf));
        return err;
    }

    end = buf + n;

    while (end > buf && (end[-1] == '\n' || end[-1] == '\r'
                         || end[-1] == ' '))
    {
        end--;
    }

    id = 0;

    for (p = buf; p < end && *p >= '0' && *p <= '9'; p++) {
        id = id * 10 + (uint64_t) (*p - '0');

        if (id > UINT32_MAX) {
            break;
        }
    }

    if (p == buf || p == end || *p != ':' || id == 0 || id > UINT32_MAX) {
        (void) snprintf(err, size, "key file \"%s\" must hold one line "
                        "\"ID:HEX\", a key id from 1 to 4294967295 and "
                        "%d to %d hex digits", file, 2 * SQ_SIGN_KEY_MIN,
                        2 * SQ_SIGN_KEY_MAX);
        OPENSSL_cleanse(buf, sizeof(buf));
        return err;
    }

    for (p++; end - p >= 2 && k->len < SQ_SIGN_KEY_MAX; p += 2) {
        hi = sq_sign_hex(p[0]);
        lo = sq_sign_hex(p[1]);

        if (hi < 0 || lo < 0) {
            break;
        }

        k->secret[k->len++] = (unsigned char) (hi << 4 | lo);
    }

    if (p != end || k->len < SQ_SIGN_KEY_MIN) {
        (void) snprintf(err, size, "key file \"%s\" must hold one line "
                        "\"ID:HEX\", a key id from 1 to 4294967295 and "
                        "%d to %d hex digits", file, 2 * SQ_SIGN_KEY_MIN,
                        2 * SQ_SIGN_KEY_MAX);
        OPENSSL_cleanse(buf, sizeof(buf));
        OPENSSL_cleanse(k, sizeof(sq_sign_key_t));
        return err;
    }

    OPENSSL_cleanse(buf, sizeof(buf));
    k->id = (uint32_t) id;

    return NULL;
}


#endif /* _SERVQUAL_SIGN_H_INCLUDED_ */
