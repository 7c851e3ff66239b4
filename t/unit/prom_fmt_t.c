
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


/*
 * Numbers and label values of /metrics: integers exact, decimals as
 * written (no float noise), computation noise rounded to 15 digits, the
 * special values as Prometheus spells them, label values escaped; and
 * the gzip stream decodes to what went in, whatever the parts.
 */

#include <math.h>
#include <string.h>
#include <zlib.h>
#include <event2/buffer.h>

#include "tap.h"
#include "sq_gzip.h"
#include "sq_prom_fmt.h"


static const char *
d(double v)
{
    static char  buf[SQ_PROM_FMT_NUM];

    buf[sq_prom_fmt_double(buf, v)] = '\0';

    return buf;
}


int
main(void)
{
    int               i, bad;
    char              buf[64], text[200000], back[200000];
    double            v;
    size_t            n;
    uLongf            blen;
    z_stream          zs;
    sq_gzip_t        *z;
    struct evbuffer  *in, *out;

    n = sq_prom_fmt_u64(buf, 0);
    is_str(buf, "0", "0");
    is_int(n, 1, "its length");
    sq_prom_fmt_u64(buf, UINT64_MAX);
    is_str(buf, "18446744073709551615", "the largest counter");

    is_str(d(0.85), "0.85", "0.85, not 0.84999999999999998");
    is_str(d(0.1 + 0.2), "0.3", "0.1 + 0.2 is 0.3");
    is_str(d(0.85 * 0.85), "0.7225", "0.85 * 0.85 is 0.7225");
    is_str(d(17.0 / 20), "0.85", "17 / 20");
    is_str(d(0.995), "0.995", "a level from the configuration");
    is_str(d(1.0 / 3), "0.333333333333333", "1 / 3: 15 digits");
    is_str(d(0.0005), "0.0005", "a small time");
    is_str(d(6.5803e-05), "0.000065803", "a short time, no exponent");
    is_str(d(1e-7), "0.0000001", "a shorter one");
    is_str(d(1.0 / 3e6), "0.000000333333333333333", "15 digits of it");
    is_str(d(1e-13), "1e-13", "below 1e-12: an exponent");
    is_str(d(12345), "12345", "an integer");
    is_str(d(-2), "-2", "a negative one");
    is_str(d(1e20), "1e+20", "a large one");
    is_str(d(NAN), "NaN", "NaN");
    is_str(d(INFINITY), "+Inf", "+Inf");
    is_str(d(-INFINITY), "-Inf", "-Inf");
    is_str(d(123.456789), "123.456789", "a histogram's sum");
    is_str(d(-0.0001), "-0.0001", "the smallest without printf");
    is_str(d(0.99999999999999999), "1", "rounded up to 1");
    is_str(d(9.9999999999999999e-5), "0.0001", "rounded up to 0.0001");

    /* without printf as with it: %.15g where it has no exponent */

    for (i = 0, bad = 0; i < 300000; i++) {
        v = pow(10, (double) (i % 1900) / 100 - 4) * (1 + i * 1e-7);

        if (i % 3 == 0) {
            v = (double) ((long) i * 7919 % 1000003) / (1 + i % 977);
        }

        if (i % 5 == 0) {
            v = -v;
        }

        if (v == 0) {
            /* 0, not printf's -0 */
            continue;
        }

        snprintf(buf, sizeof(buf), "%.15g", v);

        if (strchr(buf, 'e') == NULL && strcmp(d(v), buf) != 0) {
            if (bad++ < 5) {
                printf("# %.17g: %s, printf %s\n", v, d(v), buf);
            }
        }
    }

    is_int(bad, 0, "300000 doubles as printf writes them");

    n = sq_prom_fmt_esc(buf, "a\\b\"c\nd");
    is_str(buf, "a\\\\b\\\"c\\nd", "label value escaped");
    is_int(n, strlen("a\\\\b\\\"c\\nd"), "its length");

    /* gzip: parts of any size, one stream */

    ok(sq_gzip_accepted("gzip"), "gzip");
    ok(sq_gzip_accepted("identity, GZIP;q=0.5"), "gzip;q=0.5");
    ok(sq_gzip_accepted("*"), "*");
    ok(!sq_gzip_accepted("gzip;q=0"), "gzip;q=0 refuses");
    ok(!sq_gzip_accepted("deflate, br"), "no gzip");
    ok(!sq_gzip_accepted("x-gzip2"), "a longer token is not gzip");
    ok(!sq_gzip_accepted(NULL), "no header");

    for (i = 0, n = 0; n + 64 < sizeof(text); i++) {
        n += (size_t) snprintf(text + n, sizeof(text) - n,
                               "servqual_requests_total{endpoint=\"/e%d\"} "
                               "%d\n", i % 977, i);
    }

    z = sq_gzip_new();
    in = evbuffer_new();
    out = evbuffer_new();
    ok(z && in && out, "a gzip stream");

    for (i = 0; (size_t) i < n; i += 7919) {
        evbuffer_add(in, text + i, (size_t) i + 7919 <= n ? 7919 : n - i);
        ok(sq_gzip_add(z, in, out, (size_t) i + 7919 >= n) == 0
           && evbuffer_get_length(in) == 0, "part at %d", i);
    }

    memset(&zs, 0, sizeof(zs));
    inflateInit2(&zs, 15 + 16);
    blen = evbuffer_get_length(out);
    zs.next_in = evbuffer_pullup(out, -1);
    zs.avail_in = (uInt) blen;
    zs.next_out = (Bytef *) back;
    zs.avail_out = sizeof(back);
    is_int(inflate(&zs, Z_FINISH), Z_STREAM_END, "a whole gzip stream");
    is_int(zs.total_out, n, "as long as the text");
    ok(memcmp(back, text, n) == 0, "and the same");
    ok(blen < n / 4, "compressed: %lu of %zu bytes", (unsigned long) blen, n);
    inflateEnd(&zs);

    sq_gzip_free(z);
    evbuffer_free(in);
    evbuffer_free(out);

    return done_testing();
}
