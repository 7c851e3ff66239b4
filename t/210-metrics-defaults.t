#!/usr/bin/perl

# /metrics by default: per-series counters and histograms, scores of the
# rollup scopes only, levels once per dimension, override and journey;
# numbers without float noise; promtool accepts it; gzip when asked, and
# the gzip decodes to the same text.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempfile);
use HTTP::Tiny;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use SQCollector;
use Test::More;

my $c = SQCollector->new(min_requests => 5, extra => <<'YAML');
overrides:
  - endpoint: checkout
    dimensions:
      responsiveness: { apdex_t: 100ms }
      reliability: { adequate: 0.85 }
journeys:
  - name: purchase
    steps: [cart, checkout]
YAML
$c->start;

# values chosen so that a %.17g would show binary noise (0.85, 0.1, 0.3)

my $seq = 0;
for my $ep (qw(checkout cart)) {
    for my $r (qw(DE US)) {
        $c->send(SQCollector::datagram(seq => ++$seq, series => [
            SQCollector::series(endpoint => $ep, region => $r,
                latencies => [ (0.1) x 17, (0.3) x 3 ],
                counters => { status_2xx => 17, status_5xx => 3 }) ]));
    }
}
ok($c->wait_for(sub { $c->json('/healthz')->{series} == 4 }), '4 series');
ok($c->wait_for(sub {
    $c->get('/metrics')->{content}
        =~ /^servqual_quality_index\{scope="journey"/m }),
   'the view scores the journey');

my $text = $c->get('/metrics')->{content};

# raw per-series families stay

is($c->metric($text, 'servqual_requests_total', endpoint => 'checkout',
              region => 'DE'), 20, 'requests per series');
is($c->metric($text, 'servqual_responses_total', endpoint => 'checkout',
              region => 'US', class => '5xx'), 3, '5xx per series');
is($c->metric($text, 'servqual_request_duration_seconds_count',
              endpoint => 'cart', region => 'US'), 20, 'duration histogram');
ok(defined $c->metric($text, 'servqual_time_to_first_byte_seconds_bucket',
                      endpoint => 'cart', region => 'US', le => '+Inf'),
   'ttfb histogram');

# scores of the rollups only

for my $scope (qw(endpoint region journey)) {
    like($text, qr/^servqual_quality_index\{scope="$scope"/m,
         "index of scope $scope");
    like($text, qr/^servqual_dimension_z\{scope="$scope"/m,
         "z of scope $scope");
}
unlike($text, qr/\{scope="series"/, 'no per-series score');

# levels once: per dimension, override and journey, not per row

my @adequate = $text =~ /^servqual_dimension_adequate_\w+\{(.*)\} \S+$/mg;
is(scalar(grep { /scope="(?:series|endpoint|region)"/ } @adequate), 0,
   'no per-row level');
is(scalar(grep { /scope="default"/ } @adequate), 5,
   'one adequate level per dimension');
is($c->metric($text, 'servqual_dimension_adequate_ratio', scope => 'default',
              dimension => 'reliability'), 0.995, 'default level');
is($c->metric($text, 'servqual_dimension_adequate_ratio', scope => 'override',
              endpoint => 'checkout', dimension => 'reliability'), 0.85,
   'the override\'s level, once, printed 0.85');
ok(defined $c->metric($text, 'servqual_dimension_desired_ratio',
                      scope => 'journey', endpoint => 'purchase',
                      dimension => 'responsiveness'),
   'the journey\'s levels');

# one unit per name: no name without a unit suffix where it has a unit

unlike($text, qr/^servqual_dimension_(?:value|adequate|desired)[{ ]/m,
       'dimension values and levels carry their unit');
like($text, qr/^servqual_dimension_value_ratio\{scope="endpoint",endpoint="checkout"/m,
     'value_ratio per endpoint');

# no float noise anywhere: at most 15 significant digits, no 1e-17 tails

my @noisy = grep { /\s(-?\d+\.\d{16,}|-?\d\.\d{15,}e[-+]\d+)$/ }
            split /\n/, $text;
is(scalar @noisy, 0, 'no float noise in the whole scrape')
    or diag join "\n", @noisy[0 .. ($#noisy < 5 ? $#noisy : 5)];
like($text, qr/^servqual_dimension_value_ratio\{[^}]*dimension="reliability"[^}]*\} 0\.85$/m,
     'a success ratio of 17/20 printed 0.85');

SKIP: {
    skip 'promtool not installed', 1 unless `which promtool` =~ /\S/;
    my ($fh, $file) = tempfile();
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics < $file 2>&1`;
    is($?, 0, 'promtool check metrics passes') or diag $out;
}

# gzip, as Prometheus asks for it

my $ua = HTTP::Tiny->new(timeout => 30);
my $url = "http://127.0.0.1:$c->{http}/metrics";
my $plain = $ua->get($url, { headers => { 'Accept-Encoding' => 'identity' } });
my $gz = $ua->get($url, { headers => {
    'Accept-Encoding' => 'gzip', 'Accept' => 'text/plain' } });
is($gz->{status}, 200, 'gzip scrape');
is($gz->{headers}{'content-encoding'}, 'gzip', 'Content-Encoding: gzip');
is($plain->{headers}{'content-encoding'}, undef, 'identity: not compressed');
my $decoded;
ok(gunzip(\$gz->{content} => \$decoded), 'gunzip decodes it')
    or diag $GunzipError;
ok(length $gz->{content} < length($decoded) / 3, 'compressed: '
   . length($gz->{content}) . ' of ' . length($decoded) . ' bytes');

# the two texts differ only in the collector's clocks

sub steady {
    my ($t) = @_;
    return join "\n", grep {
        !/^servqual_(?:uptime_seconds|view_build|alert_evaluation|storage_)/
            && !/^servqual_node_last_seen/
    } split /\n/, $t;
}
is(steady($decoded), steady($plain->{content}),
   'the gzip decodes to the same text');

my $refuse = $ua->get($url, { headers => { 'Accept-Encoding' => 'gzip;q=0' } });
is($refuse->{headers}{'content-encoding'}, undef, 'gzip;q=0: not compressed');

is($c->stop, 0, "the collector exits cleanly");

# -t checks the keys

my $bin = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';
my ($fh, $bad) = tempfile(SUFFIX => '.yaml');
print $fh "metrics:\n  row_levels: maybe\n  scores: [series, planet]\n";
close $fh;
my $out = `$bin -t -c $bad 2>&1`;
isnt($?, 0, '-t refuses bad metrics keys');
like($out, qr/:2: metrics\.row_levels: must be true or false/,
     'row_levels named with its line');
like($out, qr/:3: metrics\.scores: unknown scope "planet"/,
     'scores named with its line');
open $fh, '>', $bad or die;
print $fh "metrics:\n  row_levels: true\n  scores: [series, endpoint]\n";
close $fh;
$out = `$bin -t -c $bad 2>&1`;
is($?, 0, '-t takes good ones') or diag $out;

done_testing;
