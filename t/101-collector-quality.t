#!/usr/bin/perl

# The collector end to end: datagrams from several workers for a fast, a
# slow and a failing region; /api/v1/quality and /metrics must count every
# request exactly and place each region as designed; /metrics passes
# promtool; loss and duplicates are seen from the sequence numbers.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempfile);
use SQCollector;
use Test::More;

# per-series scores and per-row levels are opt-in (t/210 checks the default)
my $c = SQCollector->new(min_requests => 50, extra => <<'YAML');
metrics:
  scores: [series, endpoint, region, journey]
  row_levels: true
overrides:
  - segment: premium
    dimensions:
      responsiveness: { apdex_t: 100ms }
    labels: { owner: vip-team }
journeys:
  - name: purchase
    steps: [cart, checkout]
    labels: { team: payments }
YAML
$c->start;

# 3 workers on 2 nodes, 10 datagrams each; per datagram and worker:
#   checkout US: 20 fast (40 ms), checkout BR: 20 slow (3 s),
#   checkout DE: 20 fast, 4 of them 502s from the upstream;
#   cart US: 10 fast

sub lat { my ($s, $n) = @_; return [ ($s) x $n ] }

my %tls = (tls_1_3 => 20);
my @workers = ([ 'web1', 101 ], [ 'web1', 102 ], [ 'web2', 101 ]);
my $sent = 0;

for my $seq (1 .. 10) {
    for my $w (@workers) {
        $c->send(SQCollector::datagram(node => $w->[0], pid => $w->[1],
            seq => $seq, series => [
            SQCollector::series(endpoint => 'checkout', region => 'US',
                latencies => lat(0.04, 20),
                counters => { status_2xx => 20, %tls }),
            SQCollector::series(endpoint => 'checkout', region => 'BR',
                latencies => lat(3.0, 20),
                counters => { status_2xx => 20, %tls }),
            SQCollector::series(endpoint => 'checkout', region => 'DE',
                latencies => lat(0.04, 20),
                counters => { status_2xx => 16, status_5xx => 4,
                              upstream_errors => 4, %tls }),
            SQCollector::series(endpoint => 'cart', region => 'US',
                latencies => lat(0.02, 10),
                counters => { status_2xx => 10, tls_1_3 => 10 }),
            # 0.3 s: satisfied under T = 0.5 s, tolerating under 100 ms
            SQCollector::series(endpoint => 'search', region => 'US',
                latencies => lat(0.3, 10), counters => { status_2xx => 10 }),
            SQCollector::series(endpoint => 'search', region => 'US',
                segment => 'premium', latencies => lat(0.3, 10),
                counters => { status_2xx => 10 }),
        ]));
        $sent++;
    }
}

# a duplicate and a gap (seq 12 without 11) from one worker
$c->send(SQCollector::datagram(node => 'web1', pid => 101, seq => 10,
    series => [ SQCollector::series(endpoint => 'checkout', region => 'US',
        latencies => lat(0.04, 20), counters => { status_2xx => 20 }) ]));
$c->send(SQCollector::datagram(node => 'web1', pid => 101, seq => 12,
    dd => 1, dr => 7, series => []));

my $total = 30 * 70;

ok($c->wait_for(sub {
    my $m = $c->get('/metrics')->{content};
    ($c->metric($m, 'servqual_datagrams_total', result => 'accepted') // 0)
        == 31
        && ($c->metric($m, 'servqual_datagrams_total', result => 'duplicate')
            // 0) == 1;
}, 30), 'all 31 datagrams accepted, the duplicate counted apart');

my $q = $c->json('/api/v1/quality');

my $us = $c->row($q, scope => 'series', endpoint => 'checkout',
                 region => 'US');
my $br = $c->row($q, scope => 'series', endpoint => 'checkout',
                 region => 'BR');
my $de = $c->row($q, scope => 'series', endpoint => 'checkout',
                 region => 'DE');
my $ep = $c->row($q, scope => 'endpoint', endpoint => 'checkout');

is($us->{windows}{short}{requests}, 600, 'US: 600 requests, not 620');
is($br->{windows}{short}{requests}, 600, 'BR: 600 requests');
is($de->{windows}{long}{requests}, 600, 'DE: 600 requests in the long window');
is($ep->{windows}{short}{requests}, 1800, 'endpoint rollup: 1800');
is($ep->{region}, '*', 'rollup over all regions');

my $sd = sub { $_[0]{windows}{short}{dimensions}{$_[1]} };

is($sd->($us, 'responsiveness')->{state}, 'above',
   'fast region: responsiveness above the zone');
is($sd->($us, 'reliability')->{state}, 'above',
   'fast region: reliability above');
is($us->{windows}{short}{state}, 'above', 'fast region: overall above');

is($sd->($br, 'responsiveness')->{state}, 'below',
   'slow region: responsiveness below the zone');
is($sd->($br, 'responsiveness')->{value}, 0, 'slow region: Apdex 0');
cmp_ok($sd->($br, 'responsiveness')->{msa}, '<', 0, 'slow region: MSA < 0');
is($sd->($br, 'reliability')->{state}, 'above',
   'slow region: reliability fine');
is($sd->($br, 'empathy')->{state}, 'below',
   'slow region: served far worse than the others (empathy below)');

is($sd->($de, 'reliability')->{state}, 'below',
   'failing region: reliability below the zone');
is($sd->($de, 'reliability')->{value} + 0, 0.8,
   'failing region: success ratio 480/600');
is($sd->($de, 'responsiveness')->{state}, 'above',
   'failing region: responsiveness fine');
ok(abs($sd->($de, 'reliability')->{z} - (0.8 - 0.995) / 0.004) < 1e-6,
   'z = (value - adequate) / (desired - adequate)');

my $jn = $c->row($q, scope => 'journey', endpoint => 'purchase',
                 region => '*');
ok($jn, 'journey row');
is($jn->{journey}, 'purchase', 'journey named');
is($jn->{labels}{team}, 'payments', 'journey labels from the config');
ok(abs($sd->($jn, 'reliability')->{value} - 1 * (1 - 120 / 1800)) < 1e-9,
   'journey reliability: product of cart (1) and checkout (0.933)');

# a premium segment expects more: the same 0.3 s is worse for it

my $std = $c->row($q, scope => 'series', endpoint => 'search',
                  region => 'US', segment => '');
my $vip = $c->row($q, scope => 'series', endpoint => 'search',
                  region => 'US', segment => 'premium');
is($sd->($std, 'responsiveness')->{state}, 'above',
   'standard segment: 0.3 s is satisfied (Apdex 1)');
is($sd->($vip, 'responsiveness')->{value}, 0.5,
   'premium segment, T = 100 ms: 0.3 s is tolerating (Apdex 0.5)');
is($sd->($vip, 'responsiveness')->{state}, 'below', 'premium: below');
is($vip->{labels}{owner}, 'vip-team', 'owner label of the override');

# filters

my $f = $c->json('/api/v1/quality?region=BR&dimension=responsiveness'
                 . '&window=short');
ok(@{ $f->{rows} } >= 1, 'filtered rows');
is_deeply([ sort map { $_->{region} } @{ $f->{rows} } ],
          [ ('BR') x @{ $f->{rows} } ], 'only BR rows');
is_deeply([ keys %{ $f->{rows}[0]{windows}{short}{dimensions} } ],
          [ 'responsiveness' ], 'only the dimension asked for');
ok(!exists $f->{rows}[0]{windows}{long}, 'only the window asked for');
is($c->get('/api/v1/quality?dimension=speed')->{status}, 400,
   'unknown dimension: 400');

my $all = $c->json('/api/v1/quality');
my $page = $c->json('/api/v1/quality?offset=2&limit=3');
is($page->{total}, $all->{total}, 'paged: the same total');
is(scalar @{ $page->{rows} }, 3, 'a page of 3 rows');
is_deeply([ map { "$_->{scope} $_->{region}" } @{ $page->{rows} } ],
          [ map { "$_->{scope} $_->{region}" } @{ $all->{rows} }[2 .. 4] ],
          'rows 2..4 of the whole table');
is($c->get('/api/v1/series?limit=0')->{status}, 400, 'limit 0: 400');

my $s = $c->json('/api/v1/series');
is(scalar @{ $s->{series} }, 6, '6 series');
is($s->{total}, 6, 'total 6');
is(scalar @{ $c->json('/api/v1/series?offset=5')->{series} }, 1,
   'offset 5: the last one');
my ($cs) = grep { $_->{endpoint} eq 'cart' } @{ $s->{series} };
is($cs->{totals}{requests}, 300, 'cart totals: 300 requests');

# /metrics

my $m = $c->get('/metrics');
is($m->{status}, 200, '/metrics');
like($m->{headers}{'content-type'}, qr{^text/plain}, 'text format');
my $text = $m->{content};

is($c->metric($text, 'servqual_requests_total', endpoint => 'checkout',
              region => 'DE', segment => ''), 600, 'requests_total exact');
is($c->metric($text, 'servqual_responses_total', endpoint => 'checkout',
              region => 'DE', class => '5xx'), 120, '5xx counted');
is($c->metric($text, 'servqual_request_duration_seconds_bucket',
              endpoint => 'checkout', region => 'BR', le => '2.5'), 0,
   'no BR request under 2.5 s');
is($c->metric($text, 'servqual_request_duration_seconds_bucket',
              endpoint => 'checkout', region => 'BR', le => '5'), 600,
   'all BR requests under 5 s');
is($c->metric($text, 'servqual_request_duration_seconds_count',
              endpoint => 'checkout', region => 'BR'), 600, 'histogram count');
is($c->metric($text, 'servqual_dimension_state', scope => 'series',
              endpoint => 'checkout', region => 'BR', window => 'short',
              dimension => 'responsiveness', state => 'below'), 1,
   'state gauge: BR responsiveness below');
is($c->metric($text, 'servqual_dimension_state', scope => 'series',
              endpoint => 'checkout', region => 'BR', window => 'short',
              dimension => 'responsiveness', state => 'within'), 0,
   'and not within');
is($c->metric($text, 'servqual_dimension_adequate_ratio', scope => 'series',
              endpoint => 'checkout', region => 'DE', window => 'long',
              dimension => 'reliability'), 0.995, 'adequate level exported');
is($c->metric($text, 'servqual_datagrams_lost_total'), 1,
   'seq 11 counted lost');
is($c->metric($text, 'servqual_source_dropped_datagrams_total'), 1,
   'source drop reported by the worker');
is($c->metric($text, 'servqual_source_dropped_requests_total'), 7,
   'with the requests it carried');
is($c->metric($text, 'servqual_series'), 6, '6 live series');
is($c->metric($text, 'servqual_workers'), 3, '3 workers tracked');

SKIP: {
    skip 'promtool not installed', 1 unless `which promtool` =~ /\S/;
    my ($fh, $file) = tempfile();
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics < $file 2>&1`;
    is($?, 0, 'promtool check metrics passes') or diag $out;
}

is($c->get('/nothing')->{status}, 404, 'unknown path: 404');
is($c->json('/healthz')->{status}, 'ok', '/healthz');

is($c->stop, 0, 'SIGTERM: clean exit');
unlike($c->log_text, qr/ERROR|AddressSanitizer|runtime error/,
       'no errors in the log');

done_testing;
