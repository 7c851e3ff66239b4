#!/usr/bin/perl

# Request time and time to first byte keep microsecond precision: the
# start is taken in nginx's POST_READ step (in realip's place), the first
# byte by a header filter, each a clock reading of its own.  An upstream
# answering after 1.5 ms lands in buckets from 1.5 ms up, most of them
# buckets that hold no whole millisecond (a millisecond clock would put
# every sample on 1000, 2000, ... us); a "return 200" answers in under a
# millisecond.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQHttp qw(http_get);
use SQNginx qw(start_nginx stop_nginx no_error_in_log);
use SQUpstream qw(start_upstream);
use SQWire qw(sq_hist_lower sq_hist_upper sum_datagrams udp_listener);


my $n = 40;

my $up = start_upstream(
    '/slow' => sub {
        select undef, undef, undef, 0.0015;
        return (200, { 'Content-Type' => 'text/plain' }, "ok\n");
    },
);

my $udp = udp_listener();

start_nginx(<<'EOF', vars => { UP_PORT => $up->port });
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=60s node=t250;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location /slow {
            servqual_endpoint slow;
            proxy_pass http://127.0.0.1:%%UP_PORT%%;
        }

        location /fast {
            servqual_endpoint fast;
            return 200 "fast\n";
        }

        location / {
            servqual_endpoint other;
            return 200;
        }
    }
EOF

for (1 .. $n) {
    http_get('/slow');
    http_get('/fast');
}

stop_nginx();

my ($t) = sum_datagrams($udp->recv_requests(2 * $n));


# the samples of one endpoint's histogram: [lower, upper) us => count

sub buckets {
    my ($endpoint, $hist) = @_;

    my %b;
    for my $region (values %{ $t->{$endpoint} // {} }) {
        for my $series (values %$region) {
            $b{$_} += $series->{$hist}{$_} for keys %{ $series->{$hist} };
        }
    }

    return map { [sq_hist_lower($_), sq_hist_upper($_), $b{$_}] } keys %b;
}

sub count { my $c = 0; $c += $_->[2] for @_; return $c }

# a bucket holding no whole millisecond: what only a finer clock can fill
sub sub_ms { my ($lo, $hi) = @_; return int(($lo + 999) / 1000) * 1000 >= $hi }


for my $hist ('rt', 'ttfb') {
    my @b = buckets('slow', $hist);

    is count(@b), $n, "slow: $n $hist samples";
    is count(grep { $_->[1] <= 1500 } @b), 0,
       "slow: no $hist sample under the upstream's 1.5 ms";

    my $fine = count(grep { sub_ms($_->[0], $_->[1]) } @b);
    cmp_ok $fine, '>=', $n / 2,
           "slow: $fine of $n $hist samples in buckets holding no whole "
           . 'millisecond';
}

my @fast = buckets('fast', 'rt');
is count(@fast), $n, "fast: $n request-time samples";
cmp_ok count(grep { $_->[1] <= 1000 } @fast), '>=', 1,
       'fast: request times under 1 ms';
cmp_ok count(grep { $_->[0] >= 1500 } @fast), '<', $n / 2,
       'fast: most requests faster than the upstream ones';

my @ttfb = buckets('fast', 'ttfb');
is count(@ttfb), $n, "fast: $n first-byte samples";

no_error_in_log();

done_testing;
