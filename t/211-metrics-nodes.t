#!/usr/bin/perl

# Per-node ingest figures in /metrics and /api/v1/nodes: two nodes send,
# one stops; its last-seen ages while the other's does not, and each
# node's datagrams, lost datagrams, lost and source-dropped requests are
# its own.  The node table is bounded: past its limit, _other.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use Test::More;

my $c = SQCollector->new;
$c->start;

sub batch {
    my ($node, $seq, $cr, $cx) = @_;
    $c->send(SQCollector::datagram(node => $node, pid => 7, seq => $seq,
        cr => $cr, cx => $cx, series => [
            SQCollector::series(endpoint => 'checkout', region => 'DE',
                latencies => [ 0.05, 0.05 ],
                counters => { status_2xx => 2 }) ]));
}

# web-1: seq 1, 2, then 4 (seq 3's 4 requests gone: 3 of them not sent
# by the worker, 1 lost on the way); web-2: seq 1 and 2

batch('web-1', 1, 0, 0);
batch('web-1', 2, 2, 0);
batch('web-1', 4, 8, 3);
batch('web-2', 1, 0, 0);
batch('web-2', 2, 2, 0);

sub node {
    my ($name) = @_;
    my ($n) = grep { $_->{node} eq $name } @{ $c->json('/api/v1/nodes')->{nodes} };
    return $n;
}

ok($c->wait_for(sub { my $n = node('web-2'); $n && $n->{datagrams} == 2 }),
   'both nodes listed');

my $w1 = node('web-1');
is($w1->{datagrams}, 3, 'web-1: 3 datagrams');
is($w1->{lost_datagrams}, 1, 'web-1: 1 datagram lost');
is($w1->{source_dropped_requests}, 3, 'web-1: 3 requests not sent');
is($w1->{lost_requests}, 1, 'web-1: 1 request lost on the way');
is($w1->{workers}, 1, 'web-1: 1 worker');
my $w2 = node('web-2');
is($w2->{lost_datagrams}, 0, 'web-2: nothing lost');
is($w2->{lost_requests} + $w2->{source_dropped_requests}, 0,
   'web-2: no request lost');

my $text = $c->get('/metrics')->{content};
is($c->metric($text, 'servqual_node_datagrams_total', node => 'web-1'), 3,
   '/metrics: web-1 datagrams');
is($c->metric($text, 'servqual_node_datagrams_lost_total', node => 'web-1'),
   1, '/metrics: web-1 lost');
is($c->metric($text, 'servqual_node_lost_requests_total', node => 'web-1'),
   1, '/metrics: web-1 lost requests');
is($c->metric($text, 'servqual_node_source_dropped_requests_total',
              node => 'web-1'), 3, '/metrics: web-1 source-dropped');
is($c->metric($text, 'servqual_node_workers', node => 'web-2'), 1,
   '/metrics: web-2 workers');
my $seen1 = $c->metric($text, 'servqual_node_last_seen_timestamp_seconds',
                       node => 'web-1');
ok(abs($seen1 - time) <= 5, "web-1 last seen now ($seen1)");

# web-1 stops; web-2 goes on sending

my $seq = 2;
for (1 .. 3) {
    sleep 1;
    batch('web-2', ++$seq, 2 * ($seq - 1), 0);
}
ok($c->wait_for(sub { node('web-2')->{datagrams} == 5 }), 'web-2 goes on');

$w1 = node('web-1');
$w2 = node('web-2');
cmp_ok($w1->{last_seen_seconds_ago}, '>=', 2, 'web-1 has been silent 2 s+');
cmp_ok($w2->{last_seen_seconds_ago}, '<=', 1, 'web-2 was heard just now');
$text = $c->get('/metrics')->{content};
cmp_ok($c->metric($text, 'servqual_node_last_seen_timestamp_seconds',
                  node => 'web-2') - $c->metric($text,
                  'servqual_node_last_seen_timestamp_seconds',
                  node => 'web-1'), '>=', 2,
       '/metrics: web-1 last seen 2 s+ before web-2');
is($c->metric($text, 'servqual_node_datagrams_total', node => 'web-1'), 3,
   'web-1 still counts 3');

# a sender making up node names: the table stops at max_nodes

my $max = $c->json('/api/v1/nodes')->{max_nodes};
my $extra = $max + 20;
for my $i (1 .. $extra) {
    $c->send(SQCollector::datagram(node => "fake-$i", pid => 1, seq => 1));
}
ok($c->wait_for(sub { $c->json('/api/v1/nodes')->{folded_datagrams} >= 22 }),
   'datagrams past the limit folded');
my $all = $c->json('/api/v1/nodes');
is(scalar @{ $all->{nodes} }, $max + 1, "$max nodes and _other");
is($all->{nodes}[-1]{node}, '_other', '_other last');
is($all->{folded_datagrams}, 22, '22 datagrams of new nodes folded');
is($all->{nodes}[-1]{datagrams}, 22, '_other counts them');
$text = $c->get('/metrics')->{content};
is($c->metric($text, 'servqual_nodes_folded_datagrams_total'), 22,
   '/metrics: folded datagrams');

# auth applies: the route is in the table (web_config tests cover 401)

is($c->get('/api/v1/nodes?x=1')->{status}, 200, 'route answers');

is($c->stop, 0, "the collector exits cleanly");

done_testing;
