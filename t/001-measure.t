#!/usr/bin/perl

# What the module measures: per (endpoint, region, segment) counts through
# realip, IPv4 and IPv6, status classes, histogram counts, unknown
# addresses, region kinds, and that no client address leaves nginx.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Socket qw(inet_pton AF_INET AF_INET6);
use Test::More;

use SQGeo qw(mmdb_regions mmdb_unknown_ips);
use SQHttp qw(http_get);
use SQNginx qw(start_nginx no_error_in_log);
use SQWire qw(sum_datagrams series_total hist_total seq_gaps udp_listener);


my $udp = udp_listener();

start_nginx(<<'EOF');
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=100ms node=t001;
    servqual_geoip2 %%MMDB%%;

    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;
        servqual_segment $arg_plan;

        location / {
            return 200 "home\n";
        }

        location /api/search {
            servqual_endpoint search;
            return 200 "results\n";
        }

        location /missing {
            servqual_endpoint search;
            return 404;
        }

        location /broken {
            return 503;
        }

        location /moved {
            return 301 /;
        }

        location /continent {
            servqual_region continent;
            return 200;
        }

        location /subdivision {
            servqual_region subdivision;
            return 200;
        }

        location /byvar {
            servqual_region $http_x_region;
            return 200;
        }

        location /quiet {
            servqual off;
            return 200;
        }
    }
EOF

my @regions = mmdb_regions();
ok @regions >= 4, 'the test database has several countries';

# per country: IPv4 and IPv6 clients, several endpoints, a few plans

my $sent = 0;
my @paths = ('/', '/api/search?plan=gold', '/missing?plan=gold', '/broken',
             '/moved?plan=free');

for my $r (@regions) {
    for my $ip ($r->{ip4}, $r->{ip6}) {
        for my $path (@paths) {
            http_get($path, xff => $ip);
            $sent++;
        }
    }
}

# unknown: addresses the database does not have, and no X-Forwarded-For

my @unknown = mmdb_unknown_ips();
http_get('/', xff => $_) for @unknown;
http_get('/');
http_get('/quiet', xff => $regions[0]{ip4}) for 1 .. 5;
$sent += @unknown + 1;

my @d = $udp->recv_requests($sent);
my ($t, $hdr) = sum_datagrams(@d);

is series_total($t, 'requests'), $sent,
   "$sent requests sent, $sent counted (servqual off counted nothing)";
ok !exists $t->{'/quiet'}, 'no series for the "servqual off" location';

for my $r (@regions) {
    my $c = $r->{country};
    my $n = 2 * @paths;

    is series_total($t, 'requests', region => $c), $n,
       "$c: $n requests over IPv4 and IPv6";
    is series_total($t, 'requests', region => $c, endpoint => 'search',
                    segment => 'gold'), 4,
       "$c: endpoint search/gold holds /api/search and /missing";
    is series_total($t, 'status_2xx', region => $c), 4, "$c: 2xx";
    is series_total($t, 'status_3xx', region => $c), 2, "$c: 3xx";
    is series_total($t, 'status_4xx', region => $c), 2, "$c: 4xx";
    is series_total($t, 'status_5xx', region => $c), 2, "$c: 5xx";
    is series_total($t, 'requests', region => $c, endpoint => '/moved',
                    segment => 'free'), 2, "$c: /moved with plan free";
    is series_total($t, 'requests', region => $c, endpoint => '/',
                    segment => ''), 2, "$c: / without a segment";
}

is series_total($t, 'requests', region => 'unknown'), @unknown + 1,
   'addresses outside the database and direct clients are "unknown"';

is hist_total($t, 'rt'), $sent, 'one request-time sample per request';
is hist_total($t, 'ttfb'), $sent, 'one first-byte sample per request';
is hist_total($t, 'rt', hi => 1_000_000), $sent,
   'return-only locations answer in under a second';

is series_total($t, 'http_1_1'), $sent, 'HTTP/1.1 counted';
is series_total($t, 'tls_none'), $sent, 'plain HTTP counted as no TLS';
ok series_total($t, 'bytes_sent') > 100 * $sent, 'bytes sent counted';

is_deeply [seq_gaps(@d)], [], 'sequence numbers run without gaps';
is $hdr->{dd}, 0, 'nothing dropped';
is $d[0]{node}, 't001', 'node name from node=';
is scalar(grep { $_->{we} >= $_->{ws} } @d), scalar(@d),
   'windows run forward';

# no client address is ever encoded, in binary or in text

my $leaks = 0;

for my $raw ($udp->raw_datagrams) {
    for my $ip ((map { $_->{ip4}, $_->{ip6} } @regions), @unknown) {
        my $bin = inet_pton($ip =~ /:/ ? AF_INET6 : AF_INET, $ip);
        $leaks++ if index($raw, $bin) >= 0 || index($raw, $ip) >= 0;
    }
}

is $leaks, 0, 'no datagram contains a client address';

# region kinds

my $r0 = $regions[0];
http_get('/continent', xff => $r0->{ip4});
http_get('/subdivision', xff => $r0->{ip6});
http_get('/byvar', headers => { 'X-Region' => 'eu-west/1' });
http_get('/byvar');

($t) = sum_datagrams($udp->recv_requests(4));

is series_total($t, 'requests', endpoint => '/continent',
                region => $r0->{continent}), 1,
   "continent: $r0->{continent}";
is series_total($t, 'requests', endpoint => '/subdivision',
                region => "$r0->{country}-$r0->{subdivision}"), 1,
   "subdivision: $r0->{country}-$r0->{subdivision}";
is series_total($t, 'requests', endpoint => '/byvar', region => 'eu-west_1'),
   1, 'region from a variable, "/" replaced';
is series_total($t, 'requests', endpoint => '/byvar', region => 'unknown'),
   1, 'an empty region variable is "unknown"';

no_error_in_log();

done_testing;
