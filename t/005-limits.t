#!/usr/bin/perl

# Cardinality limits: the segment cap folds new values into "_other" and
# counts them; servqual_max_series folds new series into endpoint "_other"
# (keeping region and segment while the reserve lasts, then "_other" alone)
# and counts them; no request is ever lost to a limit.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQHttp qw(http_get);
use SQNginx qw(start_nginx stop_nginx no_error_in_log);
use SQWire qw(sum_datagrams series_total udp_listener);


my $udp = udp_listener();

# one long window, sent when nginx stops

start_nginx(<<'EOF');
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=60s;
    servqual_max_series 5;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location /seg {
            servqual_segment $arg_plan max=3;
            return 200;
        }

        location /region {
            servqual_region $arg_r;
            return 200;
        }
    }
EOF

# segments: a b c are admitted, d and e are folded, a again is still a

http_get("/seg?plan=$_") for qw(a b c d e a d);

stop_nginx();

my ($t, $h) = sum_datagrams($udp->recv_requests(7));

is series_total($t, 'requests', endpoint => '/seg'), 7, 'all 7 counted';
is series_total($t, 'requests', endpoint => '/seg', segment => $_), 1,
   "segment $_ admitted" for qw(b c);
is series_total($t, 'requests', endpoint => '/seg', segment => 'a'), 2,
   'segment a admitted, twice';
is series_total($t, 'requests', endpoint => '/seg', segment => '_other'), 3,
   'd, e and d again folded into _other';
is $h->{go}, 3, 'the fold is counted in "go"';

# series: the first 5 (endpoint, region, segment) fit, the rest fold

start_nginx(<<'EOF');
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=60s;
    servqual_max_series 5;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;
        servqual_region $arg_r;

        location /region {
            return 200;
        }
    }
EOF

http_get("/region?r=r$_") for 1 .. 8;
http_get('/region?r=r1');

stop_nginx();

($t, $h) = sum_datagrams($udp->recv_requests(9));

is series_total($t, 'requests'), 9, 'all 9 counted';
is series_total($t, 'requests', endpoint => '/region'), 6,
   'the first 5 series kept their endpoint (r1 twice)';
is series_total($t, 'requests', endpoint => '_other'), 3,
   'the other 3 folded into endpoint _other';
is series_total($t, 'requests', endpoint => '_other', region => 'r8'), 1,
   'keeping their region';
is $h->{so}, 3, 'the fold is counted in "so"';

# past the reserve for "_other" series, everything lands in one series

start_nginx(<<'EOF');
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=60s;
    servqual_max_series 1;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;
        servqual_region $arg_r;

        location /region {
            return 200;
        }
    }
EOF

http_get("/region?r=r$_") for 1 .. 100;

stop_nginx();

my @d = $udp->recv_requests(100);
($t, $h) = sum_datagrams(@d);

my $series = 0;
$series += @{ $_->{s} } for @d;

is series_total($t, 'requests'), 100, 'all 100 counted';
ok $series <= 1 + 64, "at most max_series + 64 reserved series ($series)";
ok series_total($t, 'requests', endpoint => '_other', region => '_other')
   > 0, 'the rest in (_other, _other)';
is $h->{so}, 99, 'every fold counted';

no_error_in_log();

done_testing;
