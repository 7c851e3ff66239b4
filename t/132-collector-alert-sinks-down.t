#!/usr/bin/perl

# Alert sinks that are down never hold up ingest: Alertmanager on a
# closed port (refused at once) and a webhook that accepts connections
# but never answers (each send times out).  Every datagram is still
# counted, the API answers, the sends are retried with backoff and then
# given up, the bounded queue drops the oldest, and all of it is counted.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);

use SQAlert;
use SQCollector;
use SQProc qw(free_port);

my $closed = free_port();
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 64, ReuseAddr => 1) or die "listen: $!";

my $c = SQCollector->new(windows => 'fast', min_requests => 20, alerts => {
    interval     => '1s',
    timeout      => '1s',
    attempts     => 2,
    backoff_max  => '1s',
    queue        => 3,
    alertmanager => qq{{ url: "http://127.0.0.1:$closed", resend: 1s }},
    webhook      => '{ url: "http://127.0.0.1:' . $silent->sockport
                    . '/hook" }',
});
$c->start;

my $sent = 0;
my $counting = sub {
    $sent = $SQAlert::SEQ;
    my $m = $c->get('/metrics')->{content};
    ($c->metric($m, 'servqual_datagrams_total', result => 'accepted') // 0)
        == $sent;
};

# healthy, then many regions failing at once: many transitions for the
# sinks, which are both down

my @regions = map { "R$_" } 1 .. 8;
my %good = map { $_ => [ 10, 0 ] } @regions;
my %bad = map { $_ => [ 10, 5 ] } @regions;

ok(defined SQAlert::pump($c, sub { \%good }, sub {
    ($c->json('/api/v1/quality?scope=series&region=R1')
        ->{rows}[0]{windows}{long}{requests} // 0) >= 100;
}, 30), 'healthy traffic');

my $t0 = time;
ok(defined SQAlert::pump($c, sub { \%bad }, sub {
    scalar @{ $c->json('/api/v1/alerts')->{firing} } >= 8;
}, 30), 'the failing regions fire');

# ingest goes on while the sinks fail; every datagram counted

my $slow = 0;
ok(defined SQAlert::pump($c, sub { \%bad }, sub {
    my $t = time;
    $c->get('/healthz');
    $slow++ if time - $t > 0.5;
    my $m = $c->get('/metrics')->{content};
    ($c->metric($m, 'servqual_alert_notifications_total',
                sink => 'webhook', result => 'failed') // 0) >= 1
        && ($c->metric($m, 'servqual_alert_notifications_total',
                       sink => 'alertmanager', result => 'failed') // 0) >= 1;
}, 40), 'sends to both sinks are given up after their attempts');
is($slow, 0, 'the API never waited for a sink');

ok($c->wait_for($counting, 10), 'every datagram was counted');
is($c->metric($c->get('/metrics')->{content}, 'servqual_datagrams_total',
              result => 'accepted'), $sent, "all $sent datagrams accepted");

my $m = $c->get('/metrics')->{content};
for my $sink (qw(alertmanager webhook)) {
    cmp_ok($c->metric($m, 'servqual_alert_notifications_total',
                      sink => $sink, result => 'retried'), '>=', 1,
           "$sink: retries counted");
    is($c->metric($m, 'servqual_alert_notifications_total',
                  sink => $sink, result => 'sent'), 0, "$sink: none sent");
    cmp_ok($c->metric($m, 'servqual_alert_notifications_queued',
                      sink => $sink), '<=', 4, "$sink: the queue is bounded");
}
cmp_ok($c->metric($m, 'servqual_alert_notifications_total',
                  sink => 'webhook', result => 'dropped'), '>=', 1,
       'webhook: transitions past the queue dropped, oldest first');
like($c->log_text, qr/sending to the webhook at .* failed/,
     'the failure is logged');

is($c->stop, 0, 'the collector exits cleanly with sends pending');

done_testing();
