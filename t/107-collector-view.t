#!/usr/bin/perl

# One scored view per tick: requests read the latest view and never
# score.  servqual_view_builds_total stays put through many scrapes and
# API calls while nothing changes, and rises by one when a datagram
# changes the windows, at the next tick; the new view then has it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use Test::More;
use Time::HiRes qw(sleep time);

my $c = SQCollector->new(conf => <<'YAML');
windows: { slot: 60s, short: 300s, long: 3600s }
dimensions:
  reliability: { min_requests: 1 }
YAML
$c->start;

my $seq = 0;

sub send_one {
    $c->send(SQCollector::datagram(seq => ++$seq, series => [
        SQCollector::series(endpoint => 'shop', region => 'EU',
            latencies => [ 0.05 ], counters => { status_2xx => 1 }) ]));
}

sub metrics { return $c->get('/metrics')->{content} }

sub builds {
    my ($m) = @_;
    return $c->metric($m // metrics(), 'servqual_view_builds_total');
}

sub requests {
    my $q = $c->json('/api/v1/quality?scope=series&endpoint=shop');
    return $q->{rows}[0] ? $q->{rows}[0]{windows}{short}{requests} : 0;
}

my $m = metrics();
like($m, qr/^# TYPE servqual_view_builds_total counter$/m,
     'servqual_view_builds_total is a counter');
like($m, qr/^# TYPE servqual_view_build_seconds gauge$/m,
     'servqual_view_build_seconds is a gauge');
cmp_ok(builds($m), '>=', 1, 'a view was built at start');
like($c->metric($m, 'servqual_view_build_seconds'), qr/^\d+\.\d+$/,
     'the last build took seconds');

# a slot rolls over every minute and changes the windows: keep clear of
# the next boundary

my $left = 60 - time % 60;
sleep($left + 0.5) if $left < 20;

send_one();
ok($c->wait_for(sub { requests() == 1 }, 20), 'the datagram is scored');

# nothing changes: requests of every kind across several ticks

my $b0 = builds();
my $t0 = time;
my ($scrapes, $calls, $same) = (0, 0, 1);

while (time - $t0 < 1.5) {
    $same &&= builds() == $b0;
    $scrapes++;
    for my $path ('/api/v1/quality', '/api/v1/quality?scope=endpoint',
                  '/api/v1/alerts', '/api/v1/series', '/healthz', '/')
    {
        $c->get($path)->{status} == 200 or $same = 0;
        $calls++;
    }
}

ok($same, "$scrapes scrapes and $calls API calls, no build");
is(builds(), $b0, 'the build count did not move');

# one change: one build at the next tick, and the view has it

send_one();
ok($c->wait_for(sub { requests() == 2 }, 20), 'the next datagram is scored');
is(builds(), $b0 + 1, 'one build for the change');

sleep 0.6;
is(builds(), $b0 + 1, 'and no more while nothing changes');

# /metrics, the scores and /healthz are of the same view

send_one();
ok($c->wait_for(sub {
    ($c->metric(metrics(), 'servqual_datagrams_total',
                result => 'accepted') // 0) == 3 }, 20),
   'the third datagram counted');
is(requests(), 3, 'and scored in the same view');
is($c->json('/healthz')->{series}, 1, '/healthz: one series');

is($c->stop, 0, 'clean exit');
unlike($c->log_text, qr/AddressSanitizer|LeakSanitizer|runtime error/,
       'no sanitizer reports');

done_testing;
