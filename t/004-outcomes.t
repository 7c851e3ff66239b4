#!/usr/bin/perl

# Outcomes the module tells apart: slow responses land in the right
# latency buckets, first byte vs whole response, upstream errors and
# timeouts, client aborts, truncated bodies, compression, TLS and HSTS.
# Each case is a block below: requests, then the totals their datagrams
# must add up to (SQBlocks::check_traffic_blocks describes the sections).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQBlocks qw(blocks check_traffic_blocks);
use SQNginx qw(start_nginx error_log);
use SQProc qw(prefix free_port);
use SQUpstream qw(start_upstream);
use SQWire qw(udp_listener);


my $udp = udp_listener();

my $up = start_upstream();

my $cert = prefix() . '/conf/cert.pem';
my $key = prefix() . '/conf/key.pem';
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
       . " -keyout $key -out $cert >/dev/null 2>&1") == 0
    or BAIL_OUT('openssl cannot make a test certificate');

my $tls_port = free_port();

start_nginx(<<'EOF', vars => { UP => $up->port, TLS_PORT => $tls_port });
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=100ms;

    gzip on;
    gzip_types application/json;
    gzip_min_length 100;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location / {
            proxy_pass http://127.0.0.1:%%UP%%;
            proxy_read_timeout 1s;
        }

        location /fast {
            return 200 "fast\n";
        }
    }

    server {
        listen 127.0.0.1:%%TLS_PORT%% ssl;
        ssl_certificate %%PREFIX%%/conf/cert.pem;
        ssl_certificate_key %%PREFIX%%/conf/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        servqual on;

        location /hsts {
            add_header Strict-Transport-Security "max-age=31536000" always;
            return 200 "secure\n";
        }

        location /plain {
            return 200 "no hsts\n";
        }
    }
EOF

check_traffic_blocks($udp, { vars => { TLS_PORT => $tls_port } }, blocks());

# the upstream failures above log [error] lines of nginx's own
unlike error_log(), qr/\[(crit|alert|emerg)\]|servqual/,
       'nothing from servqual and nothing worse than [error] in the log';

done_testing;


__DATA__

=== slow and fast
--- requests
GET /delay/250 x3
GET /fast x3
--- expect
rt endpoint=/ lo=245_000 hi=1_000_000 = 3 | a 250 ms upstream lands in buckets from 250 ms up
rt endpoint=/fast hi=50_000 = 3 | a return-only location lands under 50 ms
ttfb endpoint=/ lo=245_000 = 3 | its first byte waits for the upstream header too

=== first byte early, body late
--- requests
GET /trickle/300 x2
--- expect
ttfb hi=200_000 = 2 | trickled body: first byte in under 200 ms
rt lo=295_000 = 2 | trickled body: whole response after 300 ms

=== upstream failures
--- requests
GET /close => 502 | upstream hanging up gives 502
GET /delay/3000 => 504 | slow upstream past proxy_read_timeout gives 504
GET /status/503
--- expect
upstream_errors = 1 | upstream error counted
upstream_timeouts = 1 | upstream timeout counted
status_5xx = 3 | all three are 5xx

=== client aborts while the upstream is still thinking: 499
--- requests
ABORT /delay/500 after=0.1 x2
--- expect
client_aborts = 2 | client aborts counted
status_4xx = 2 | as 499

=== a client that goes away in the middle of a large body
--- requests
ABORT /big/20000000 after=0.3
--- expect
body_incomplete = 1 | a body cut short is counted as incomplete
client_aborts = 1 | and as a client abort

=== compression
--- requests
GET /big/5000.json Accept-Encoding: gzip
GET /big/5000.json
GET /big/5000
GET /big/10.json Accept-Encoding: gzip
--- expect
compressible = 3 | JSON and text of 1 KiB or more are compressible, tiny ones are not
compressed = 1 | only the gzipped one is compressed

=== TLS and HSTS, through curl
--- requests
CURL --tlsv1.2 --tls-max 1.2 https://127.0.0.1:%%TLS_PORT%%/hsts
CURL --tlsv1.3 https://127.0.0.1:%%TLS_PORT%%/hsts
CURL --tlsv1.3 https://127.0.0.1:%%TLS_PORT%%/plain
--- expect
tls_1_2 = 1 | TLS 1.2 counted
tls_1_3 = 2 | TLS 1.3 counted
tls_none = 0 | none over plain HTTP
hsts = 2 | HSTS header seen where it was sent
