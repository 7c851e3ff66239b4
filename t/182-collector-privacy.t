#!/usr/bin/perl

# The privacy floor: with privacy.min_requests (k), rows of a region with
# fewer than k requests in the window are folded into region _other in
# every output: the API, /metrics, the series list, alerts and history.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use Test::More;

my %traffic = (US => 50, BR => 40, IS => 3, LI => 2);

my $c = SQCollector->new(windows => 'fast', min_requests => 1,
                         extra => "privacy:\n  min_requests: 10\n"
                                . "metrics:\n  scores: "
                                . "[series, endpoint, region, journey]\n",
                         alerts => { interval => '1s' });
$c->start;

my $seq = 0;
$c->send(SQCollector::datagram(seq => ++$seq, series => [
    map { SQCollector::series(endpoint => 'checkout', region => $_,
                              latencies => [ (0.02) x $traffic{$_} ],
                              counters => { status_2xx => $traffic{$_} }) }
    sort keys %traffic ]));

ok($c->wait_for(sub {
    my $q = $c->json('/api/v1/quality?scope=region');
    grep { $_->{region} eq '_other' } @{ $q->{rows} };
}), 'the view has region _other');

my $all = $c->json('/api/v1/quality');
my %rows;
push @{ $rows{$_->{scope}} }, $_ for @{ $all->{rows} };

is_deeply([ sort map { $_->{region} } @{ $rows{region} } ],
          [ qw(BR US _other) ], 'region rows: BR, US and _other');
is_deeply([ sort map { $_->{region} } @{ $rows{series} } ],
          [ qw(BR US _other) ], 'series rows: BR, US and _other');

my ($other) = grep { $_->{region} eq '_other' } @{ $rows{series} };
is($other->{windows}{short}{requests}, 5,
   '_other holds the 3 + 2 requests of IS and LI');
my ($ep) = @{ $rows{endpoint} };
is($ep->{windows}{short}{requests}, 95, 'the endpoint still counts all 95');

my $text = join '', map { $c->get($_)->{content} }
    qw(/api/v1/quality /metrics /api/v1/series /api/v1/alerts);
unlike($text, qr/"IS"|"LI"|region="IS"|region="LI"/,
       'IS and LI appear in no output');
like($c->get('/metrics')->{content},
     qr/^servqual_dimension_value_ratio\{scope="series",endpoint="checkout",region="_other"/m,
     '/metrics scores _other');

my $s = $c->json('/api/v1/series');
is($s->{folded_series}, 2, '/api/v1/series: 2 series folded');
is_deeply([ sort map { $_->{region} } @{ $s->{series} } ], [ qw(BR US) ],
          'and lists BR and US only');

is($c->json('/api/v1/quality?region=IS')->{total}, 0,
   'asking for IS finds nothing');

# -- history: each stored slot folded the same way

sub points {
    my ($region) = @_;
    my $h = $c->json("/api/v1/history?endpoint=checkout&minutes=5"
                     . "&region=$region");
    return $h->{points};
}

ok($c->wait_for(sub { @{ points('_other') } }, 30),
   'history: the slot is stored');
my $p = points('_other');
is($p->[0]{requests}, 5, 'history: _other holds the 5 requests of IS, LI');
is(scalar @{ points('IS') }, 0, 'history: no point for IS');
is(scalar @{ points('LI') }, 0, 'history: no point for LI');
is(points('US')->[0]{requests}, 50, 'history: US as it was');
is(points('*')->[0]{requests}, 95, 'history: all regions, all 95');

is($c->stop, 0, 'clean exit');

done_testing();
