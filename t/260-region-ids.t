#!/usr/bin/perl

# Region ids in a worker: the region table's labels are interned when the
# worker starts, before any request, and share one set of ids with the
# regions of servqual_region $variable.  A label given by a variable
# before the table ever returned it, the same label from the table, a
# label only a variable gives, an address in no network and an empty
# variable each land under their own name, "unknown" where there is none.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQGeo qw(maxmind_test_db);
use SQHttp qw(http_get);
use SQNginx qw(start_nginx stop_nginx no_error_in_log);
use SQWire qw(sum_datagrams series_total udp_listener);


my $udp = udp_listener();

start_nginx(<<'EOF', mmdb => maxmind_test_db('GeoIP2-City-Test'));
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=100ms;
    servqual_geoip2 %%MMDB%%;

    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location /country { return 200; }
        location /subdivision { servqual_region subdivision; return 200; }
        location /var { servqual_region $arg_r; return 200; }
    }
EOF

# from MaxMind's GeoIP2-City-Test.json: 89.160.20.112 is SE, SE-E

my @req = (
    ['/var?r=SE', '127.0.0.1'],         # before the table gave SE
    ['/country', '89.160.20.112'],
    ['/subdivision', '89.160.20.112'],
    ['/var?r=SE-E', '127.0.0.1'],
    ['/var?r=XQ', '127.0.0.1'],         # in no database
    ['/country', '10.0.0.1'],           # in no network
    ['/var', '127.0.0.1'],              # empty variable
    ['/country', '81.2.69.160'],        # GB
    ['/var?r=GB', '127.0.0.1'],
);

for (@req) {
    my ($st) = http_get($_->[0], xff => $_->[1]);
    is $st, 200, "$_->[0] from $_->[1]";
}

my ($t) = sum_datagrams($udp->recv_requests(scalar @req));

my %want = (
    '/var'         => { SE => 1, 'SE-E' => 1, XQ => 1, unknown => 1,
                        GB => 1 },
    '/country'     => { SE => 1, unknown => 1, GB => 1 },
    '/subdivision' => { 'SE-E' => 1 },
);

for my $ep (sort keys %want) {
    for my $region (sort keys %{ $want{$ep} }) {
        is series_total($t, 'requests', endpoint => $ep, region => $region),
           $want{$ep}{$region}, "$ep: $region";
    }
    is series_total($t, 'requests', endpoint => $ep),
       scalar(keys %{ $want{$ep} }), "$ep: nothing under another region";
}

is series_total($t, 'requests'), scalar(@req), 'every request counted';

no_error_in_log();
stop_nginx();

done_testing();
