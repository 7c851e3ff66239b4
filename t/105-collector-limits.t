#!/usr/bin/perl

# Limits: past limits.max_series new series fold into one series _other,
# counted, while the series already known keep counting exactly.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use Test::More;

my $c = SQCollector->new(extra => "limits:\n  max_series: 3\n");
$c->start;

my $seq = 0;
sub send_series {
    my (@names) = @_;
    $c->send(SQCollector::datagram(seq => ++$seq, series => [ map {
        SQCollector::series(endpoint => $_, region => 'US',
                            latencies => [ (0.01) x 10 ],
                            counters => { status_2xx => 10 })
    } @names ]));
}

send_series(qw(a b c));
send_series(qw(d e));
send_series(qw(a));

ok($c->wait_for(sub { $c->json('/healthz')->{series} == 3
                      && $seq == ($c->metric($c->get('/metrics')->{content},
                          'servqual_datagrams_total', result => 'accepted')
                          // 0) }),
   '3 datagrams in, 3 series kept');

my $m = $c->get('/metrics')->{content};
is($c->metric($m, 'servqual_series'), 4, '3 series and _other exported');
is($c->metric($m, 'servqual_folded_requests_total',
              limit => 'collector_series'), 20,
   'the 20 requests of d and e folded, counted');
is($c->metric($m, 'servqual_requests_total', endpoint => '_other',
              region => '_other', segment => ''), 20, 'in _other');
is($c->metric($m, 'servqual_requests_total', endpoint => 'a',
              region => 'US', segment => ''), 20, 'a still counts: 20');

my $s = $c->json('/api/v1/series');
is_deeply([ sort map { $_->{endpoint} } @{ $s->{series} } ],
          [ qw(_other a b c) ], '/api/v1/series: a, b, c and _other');

my $q = $c->json('/api/v1/quality?scope=endpoint&endpoint=*');
is(scalar @{ $q->{rows} }, 0, 'no endpoint named *');
$q = $c->json('/api/v1/quality?scope=region&region=US');
is($q->{rows}[0]{windows}{short}{requests}, 40,
   'the US rollup has the 40 requests of a, b, c');
$q = $c->json('/api/v1/quality?scope=series&endpoint=_other');
is($q->{rows}[0]{windows}{short}{requests}, 20, '_other is scored too');

is($c->stop, 0, 'clean exit');

done_testing;
