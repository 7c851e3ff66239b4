#!/usr/bin/perl

# The scored view's size in /metrics: servqual_view_rows is the number of
# rows the API lists (series and rollups), and servqual_view_bytes what
# the view holds.  A row keeps only what is measured (the levels once a
# level set, the names once in the view), so at 2,000 series the view
# holds less than 600 bytes a row (a row of the full scores took 1,664);
# and a row under an override keeps that override's labels and levels.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use Test::More;

my $c = SQCollector->new(conf => <<'YAML');
windows: { slot: 60s, short: 300s, long: 3600s }
dimensions:
  reliability: { min_requests: 1 }
overrides:
  - endpoint: /e7
    labels: { team: payments }
    dimensions:
      reliability: { adequate: 0.5, desired: 0.75 }
YAML
$c->start;

my ($seq, $ne, $nr) = (0, 40, 50);

# 40 endpoints in 50 regions, 100 series a datagram

my @all;
for my $e (0 .. $ne - 1) {
    for my $r (0 .. $nr - 1) {
        push @all, SQCollector::series(endpoint => "/e$e",
            region => sprintf('R%02d', $r), latencies => [ 0.05, 0.2 ],
            counters => { status_2xx => 1, status_5xx => ($e == 7 ? 1 : 0) });
    }
}

while (my @part = splice(@all, 0, 100)) {
    $c->send(SQCollector::datagram(seq => ++$seq, series => \@part));
}

my $rows = $ne * $nr + $ne + $nr;
my ($m, $q);

ok($c->wait_for(sub {
    $m = $c->get('/metrics')->{content};
    ($c->metric($m, 'servqual_view_rows') // 0) == $rows;
}), "a view of the $rows rows");

like($m, qr/^# TYPE servqual_view_rows gauge$/m, 'servqual_view_rows');
like($m, qr/^# TYPE servqual_view_bytes gauge$/m, 'servqual_view_bytes');

$q = $c->json('/api/v1/quality?limit=1');
is($q->{total}, $c->metric($m, 'servqual_view_rows'),
   'as many rows as the API lists');

my $bytes = $c->metric($m, 'servqual_view_bytes');
cmp_ok($bytes, '>', $rows * 200, 'the view holds its rows');
cmp_ok($bytes / $rows, '<', 600, 'less than 600 bytes a row')
    or diag(sprintf '%.0f bytes a row', $bytes / $rows);
note(sprintf '%d rows, %.0f bytes a row', $rows, $bytes / $rows);

# the override's rows: its labels and levels, the others the defaults'

my $s = $c->json('/api/v1/quality?scope=series&endpoint=/e7&region=R03');
my $d = $s->{rows}[0]{windows}{short}{dimensions}{reliability};
is($s->{rows}[0]{labels}{team}, 'payments', 'the override\'s labels');
is($d->{adequate}, 0.5, 'its adequate level');
is($d->{desired}, 0.75, 'its desired level');
is($d->{value}, 0.5, 'the value measured');
is($d->{state}, 'within', 'placed against its levels');

$s = $c->json('/api/v1/quality?scope=series&endpoint=/e8&region=R03');
$d = $s->{rows}[0]{windows}{short}{dimensions}{reliability};
is_deeply($s->{rows}[0]{labels}, {}, 'another endpoint: no labels');
isnt($d->{adequate}, 0.5, 'and the default levels');
is($d->{value}, 1, 'its own value');

$c->stop;
done_testing();
