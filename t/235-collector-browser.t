#!/usr/bin/perl

# The browser's measurements through the collector (wire version 3): two
# pages' beacons, one stable and fast, one that shifts and paints late,
# fed as datagrams to the real collector.  /api/v1/quality shows each
# row's browser object and places the shifting page below its tangibles
# zone (CLS 0.3 at p75) and the stable one above it (0.05); /metrics has
# the browser histogram families and passes promtool; version 2 and 1
# datagrams are still taken; malformed browser fields are rejected and
# counted; a restart keeps the browser data (the store), and the history
# scores it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempfile);
use SQCollector;
use Data::MessagePack;
use SQWire qw(series datagram decode_datagram);
use Test::More;

my $c = SQCollector->new(min_requests => 10, windows => '{ slot: 5s, '
                         . 'short: 10m, long: 30m }',
                         extra => "metrics: { series: true }\n");
$c->start;

sub lat { my ($s, $n) = @_; return [ ($s) x $n ] }

# per datagram: 30 page views of each page (every request 2xx, intact),
# 30 beacons each; /stable paints at 1.2 s and shifts 0.05, answers a
# click in 80 ms; /shifty paints at 3.2 s, shifts 0.3 and answers in
# 350 ms

my $seq = 0;

sub send_pages {
    my (%o) = @_;
    $c->send(datagram(seq => ++$seq, pid => 3000, series => [
        series(endpoint => '/stable', region => 'BR',
               latencies => lat(0.05, 30),
               counters => { status_2xx => 30 },
               browser => { lcp => lat(1.2, 30), cls => lat(0.05, 30),
                            inp => lat(0.08, 30), fcp => lat(0.6, 30),
                            ttfb => lat(0.1, 30) }),
        series(endpoint => '/shifty', region => 'BR',
               latencies => lat(0.05, 30),
               counters => { status_2xx => 30 },
               browser => { lcp => lat(3.2, 30), cls => lat(0.3, 30),
                            inp => lat(0.35, 30), fcp => lat(0.9, 30),
                            ttfb => lat(0.1, 30),
                            counters => { nav_navigate => 20,
                                          nav_reload => 10 } }),
        series(endpoint => '/api', region => 'BR',
               latencies => lat(0.02, 30),
               counters => { status_2xx => 30 }),
    ]));
}

send_pages() for 1 .. 2;

my $q;
ok($c->wait_for(sub {
    $q = $c->json('/api/v1/quality?scope=series');
    my $r = $c->row($q, endpoint => '/shifty', region => 'BR');
    return $r && ($r->{windows}{short}{browser}{beacons} // 0) == 60;
}), 'the beacons of two datagrams are in the short window');

my ($st, $sh, $api) = map { $c->row($q, endpoint => $_, region => 'BR') }
                      qw(/stable /shifty /api);
my ($bst, $bsh) = map { $_->{windows}{short}{browser} } $st, $sh;

cmp_ok(abs($bst->{lcp_p75_seconds} - 1.2), '<', 0.02, '/stable LCP p75 1.2 s');
cmp_ok(abs($bsh->{lcp_p75_seconds} - 3.2), '<', 0.05, '/shifty LCP p75 3.2 s');
cmp_ok(abs($bst->{cls_p75} - 0.05), '<', 0.001, '/stable CLS p75 0.05');
cmp_ok(abs($bsh->{cls_p75} - 0.3), '<', 0.005, '/shifty CLS p75 0.3');
cmp_ok(abs($bsh->{inp_p75_seconds} - 0.35), '<', 0.006,
       '/shifty INP p75 350 ms');
cmp_ok(abs($bst->{fcp_p75_seconds} - 0.6), '<', 0.01, '/stable FCP p75');
is($api->{windows}{short}{browser}, undef,
   'a row without beacons has no browser object');

my ($tst, $tsh) = map { $_->{windows}{short}{dimensions}{tangibles} }
                  $st, $sh;
is($tsh->{state}, 'below', 'CLS 0.3: /shifty below its tangibles zone');
is($tsh->{indicator}, 'cls_quantile', 'the browser decided it');
cmp_ok(abs($tsh->{value} - 0.3), '<', 0.005, 'with its value');
is_deeply([@$tsh{qw(adequate desired)}], [0.25, 0.1],
          'against the web.dev levels');
is($tsh->{requests}, 60, 'judged on the beacons');
is($tst->{state}, 'above', 'CLS 0.05: /stable better than desired');

my ($rst, $rsh) = map { $_->{windows}{short}{dimensions}{responsiveness} }
                  $st, $sh;
is($rsh->{indicator}, 'lcp_quantile', '/shifty: LCP 3.2 s decides');
is($rsh->{state}, 'within', 'LCP 3.2 s: within 2.5 s .. 4 s');
is($rst->{indicator}, 'apdex', '/stable: the server is the worse side');

my $ta = $api->{windows}{short}{dimensions}{tangibles};
is($ta->{indicator}, 'intact_share', 'no beacons: the server alone');

# /metrics: the browser families, promtool

my $m = $c->get('/metrics')->{content};
is($c->metric($m, 'servqual_browser_lcp_seconds_count',
              endpoint => '/shifty'), 60, 'LCP histogram count');
is($c->metric($m, 'servqual_browser_lcp_seconds_bucket',
              endpoint => '/shifty', le => '3'), 0, 'none under 3 s');
is($c->metric($m, 'servqual_browser_lcp_seconds_bucket',
              endpoint => '/shifty', le => '4'), 60, 'all under 4 s');
is($c->metric($m, 'servqual_browser_cls_bucket', endpoint => '/shifty',
              le => '0.25'), 0, 'no /shifty CLS under 0.25');
is($c->metric($m, 'servqual_browser_cls_bucket', endpoint => '/stable',
              le => '0.1'), 60, 'all /stable CLS under 0.1');
is($c->metric($m, 'servqual_browser_beacons_total', endpoint => '/shifty',
              navigation => 'reload'), 20, 'navigation types counted');
is($c->metric($m, 'servqual_browser_lcp_seconds_count', endpoint => '/api'),
   undef, 'no browser series for a row without beacons');

SKIP: {
    skip 'promtool not installed', 1 unless `which promtool` =~ /\S/;
    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $m;
    close $fh;
    my $out = `promtool check metrics < $file 2>&1`;
    is($?, 0, 'promtool check metrics passes') or diag $out;
}

# older versions still taken

my $acc = sub {
    $c->metric($c->get('/metrics')->{content}, 'servqual_datagrams_total',
               result => 'accepted') // 0;
};
my $before = $acc->();

$c->send(datagram(version => 2, seq => ++$seq, pid => 3000, series => [
    series(endpoint => '/old2', region => 'BR', latencies => lat(0.1, 5)) ]));
$c->send(datagram(version => 1, seq => 1, pid => 3001, series => [
    series(endpoint => '/old1', region => 'BR', latencies => lat(0.1, 5)) ]));
ok($c->wait_for(sub { $acc->() == $before + 2 }),
   'a version 2 and a version 1 datagram accepted');

# malformed browser fields: rejected whole, counted by reason

my $rej = sub {
    my ($reason) = @_;
    return $c->metric($c->get('/metrics')->{content},
                      'servqual_datagrams_rejected_total',
                      reason => $reason) // 0;
};

my $good = sub {
    series(endpoint => '/bad', region => 'BR', latencies => lat(0.1, 1),
           browser => { lcp => [1.0] });
};

my %bad = (
    'eleven fields' => [ 'wrong_type', sub { my $s = $good->(); pop @$s;
                                             $s } ],
    'browser fields in version 2' => [ 'wrong_type', $good, 2 ],
    'browser counters a string' => [ 'wrong_type', sub {
        my $s = $good->(); $s->[6] = 'beacons'; $s } ],
    'five browser counters' => [ 'wrong_type', sub {
        my $s = $good->(); pop @{ $s->[6] }; $s } ],
    'a histogram of strings' => [ 'wrong_type', sub {
        my $s = $good->(); $s->[7] = [ 'a', 'b' ]; $s } ],
    'a huge beacon count' => [ 'absurd_count', sub {
        my $s = $good->(); $s->[6][0] = 1 << 50; $s->[6][1] = 0; $s } ],
    'a huge histogram count' => [ 'absurd_count', sub {
        my $s = $good->(); $s->[8] = [ 10, 1 << 50 ]; $s } ],
    'a bucket past the scheme' => [ 'bad_histogram', sub {
        my $s = $good->(); $s->[9] = [ 5000, 1 ]; $s } ],
    'more reloads than beacons' => [ 'inconsistent', sub {
        my $s = $good->(); $s->[6][2] = 5; $s } ],
);

my %want;
$want{ $bad{$_}[0] }++ for keys %bad;
my %was = map { $_ => $rej->($_) } keys %want;

for my $name (sort keys %bad) {
    my ($reason, $make, $v) = @{ $bad{$name} };
    $c->send(datagram(seq => ++$seq, pid => 3000, version => $v,
                      series => [ $make->() ]));
}

ok($c->wait_for(sub {
    !grep { $rej->($_) < $was{$_} + $want{$_} } keys %want;
}), 'every malformed browser datagram rejected by its reason')
    or diag explain { map { $_ => $rej->($_) - $was{$_} } keys %want };

# the map's keys in another order: "s" before "v" (sorted), after a good
# version 3 datagram; the browser fields of a version 2 one still refused

my $wt = $rej->('wrong_type');
$c->send(datagram(seq => ++$seq, pid => 3000, series => [
    series(endpoint => '/ok', region => 'BR', latencies => lat(0.1, 1),
           browser => { lcp => [1.0] }) ]));
my $m2 = decode_datagram(datagram(seq => ++$seq, pid => 3000, version => 2,
                                  series => [ $good->() ]));
$c->send(Data::MessagePack->new->canonical(1)->prefer_integer(1)->utf8(1)
         ->pack($m2));
ok($c->wait_for(sub { $rej->('wrong_type') == $wt + 1 }),
   '"s" before "v": the version is known before the series is judged');

$q = $c->json('/api/v1/quality?scope=series');
is($c->row($q, endpoint => '/bad'), undef, 'nothing of them merged');
ok($c->row($q, endpoint => '/ok'), 'the good one between them was');
ok($c->alive, 'the collector is still up');

# a restart keeps the browser data: the minutes are in the store

is($c->stop, 0, 'SIGTERM: exit status 0');
$c->start;

ok($c->wait_for(sub {
    $q = $c->json('/api/v1/quality?scope=series');
    my $r = $c->row($q, endpoint => '/shifty', region => 'BR');
    return $r && ($r->{windows}{short}{browser}{beacons} // 0) == 60;
}), 'after a restart: the beacons are back');

$sh = $c->row($q, endpoint => '/shifty', region => 'BR');
cmp_ok(abs($sh->{windows}{short}{browser}{cls_p75} - 0.3), '<', 0.005,
       'and the CLS p75');
is($sh->{windows}{short}{dimensions}{tangibles}{state}, 'below',
   'still below the tangibles zone');

# the history scores the stored slots with their browser data

my $h = $c->json('/api/v1/history?endpoint=/shifty&region=BR&minutes=10');
my ($beacons, @states) = (0);
for my $pt (@{ $h->{points} }) {
    $beacons += $pt->{browser}{beacons} if $pt->{browser};
    push @states, $pt->{dimensions}{tangibles}{state};
}
is($beacons, 60, 'the history has the beacons, slot by slot');
ok(@states && !grep({ $_ ne 'below' } @states),
   'each stored slot below the tangibles zone') or diag "@states";

is($c->stop, 0, 'clean exit');

done_testing();
