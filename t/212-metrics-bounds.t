#!/usr/bin/perl

# /metrics histogram bounds chosen for the zones: the fixed set plus every
# zone's, override's and journey's Apdex T and 4T and TTFB levels, sorted
# and once each; every le the printed rules name is in the scrape; a
# reload that asks for other bounds keeps those of the start and says so;
# past the cap -t names the key and says why.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempfile);
use SQCollector;
use Test::More;

my $zones = <<'YAML';
dimensions:
  responsiveness: { apdex_t: 300ms }
overrides:
  - endpoint: shop
    dimensions:
      responsiveness: { apdex_t: 1.2s }
  - endpoint: api
    dimensions:
      responsiveness: { indicator: ttfb_quantile, adequate: 0.6s,
                        desired: 0.25s }
journeys:
  - name: buy
    steps: [shop, api]
    dimensions:
      responsiveness: { apdex_t: 70ms }
YAML

my $c = SQCollector->new(extra => $zones);
$c->start;

# 5 requests of 0.2 s, 3 of 1 s, 2 of 3 s

$c->send(SQCollector::datagram(seq => 1, series => [
    SQCollector::series(endpoint => 'shop', region => 'DE',
        latencies => [ (0.2) x 5, (1) x 3, (3) x 2 ],
        counters => { status_2xx => 10 }) ]));
ok($c->wait_for(sub { $c->json('/healthz')->{series} == 1 }), 'a series');

# and a slow one: 2 of 0.2 s, 3 of 3 s, 5 of 20 s (Apdex 0.35 at T 1.2 s)

$c->send(SQCollector::datagram(seq => 2, series => [
    SQCollector::series(endpoint => 'shop', region => 'BR',
        latencies => [ (0.2) x 2, (3) x 3, (20) x 5 ],
        counters => { status_2xx => 10 }) ]));
ok($c->wait_for(sub { $c->json('/healthz')->{series} == 2 }), 'two series');

my $text = $c->get('/metrics')->{content};

my @le = map { /le="([^"]+)"/ ? $1 : () }
         grep { /^servqual_request_duration_seconds_bucket\{.*region="DE"/ }
         split /\n/, $text;
my @fixed = qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2 2.5 5 10);
my @want = sort { $a <=> $b } @fixed, qw(0.3 1.2 4.8 0.6 0.07 0.28);
is(join(' ', @le), join(' ', @want, '+Inf'),
   'duration buckets: the fixed set, T and 4T of the zone, the override and '
   . 'the journey, the TTFB levels, sorted, once each');

my @tle = map { /le="([^"]+)"/ ? $1 : () }
          grep { /^servqual_time_to_first_byte_seconds_bucket\{.*region="DE"/ }
          split /\n/, $text;
is(join(' ', @tle), join(' ', @le), 'the same bounds for time to first byte');

my %b = map { $_ => $c->metric($text,
                  'servqual_request_duration_seconds_bucket',
                  endpoint => 'shop', le => $_) } qw(0.3 1.2 4.8 +Inf);
is($b{'0.3'}, 5, 'le="0.3" (T): the 5 of 0.2 s');
is($b{'1.2'}, 8, 'le="1.2" (4T, the override\'s T): and the 3 of 1 s');
is($b{'4.8'}, 10, 'le="4.8": and the 2 of 3 s');
is($b{'+Inf'}, 10, '+Inf: all');

SKIP: {
    skip 'promtool not installed', 1 unless `which promtool` =~ /\S/;
    my ($fh, $file) = tempfile();
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics < $file 2>&1`;
    is($?, 0, 'promtool check metrics passes') or diag $out;
}

# the rules of the same configuration name only bounds the scrape has

my $bin = $c->{bin};
my $rules = `$bin -c $c->{conf} --prometheus-rules 2>&1`;
is($?, 0, '--prometheus-rules for T 300ms, 1.2s and 70ms: exits 0')
    or diag $rules;
my %have = map { $_ => 1 } @le;
my %named = map { $_ => 1 } $rules =~ /le=\\?"([^"\\]+)\\?"/g;
ok(scalar(keys %named) >= 3, 'the rules name le bounds: '
   . join(' ', sort keys %named));
is(join(' ', grep { !$have{$_} } sort keys %named), '',
   'every le the rules name is in the scrape');
ok($named{$_}, "the rules use le=\"$_\"") for qw(0.3 1.2 4.8);

# promtool: the rules on series made from the scrape (each minute as
# much again, times 10) fire for the slow series only

SKIP: {
    skip 'promtool not installed', 1 unless `which promtool` =~ /\S/;
    my $series = '';
    for (split /\n/, $text) {
        next unless /^(servqual_(?:requests_total|request_duration_seconds_(?:bucket|count)))\{(.*)\} (\d+)$/;
        my ($name, $l, $v) = ($1, $2, $3 * 10);
        next unless $l =~ /endpoint="shop"/;
        $l =~ s/'/''/g;
        $series .= "      - series: '$name\{$l}'\n"
                 . "        values: '0+${v}x90'\n";
    }
    my $dir = $c->{dir};
    open my $f, '>', "$dir/rules.yml" or die "$dir/rules.yml: $!";
    print $f $rules;
    close $f;
    open $f, '>', "$dir/test.yml" or die "$dir/test.yml: $!";
    print $f <<"YAML";
rule_files: [ rules.yml ]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
$series
    alert_rule_test:
      - eval_time: 20m
        alertname: ServqualBelowZone
        exp_alerts:
          - exp_labels:
              severity: critical
              dimension: responsiveness
              indicator: apdex
              adequate: "0.85"
              desired: "0.94"
              endpoint: shop
              region: BR
            exp_annotations:
              summary: "shop in BR: below the adequate level on responsiveness"
              description: "responsiveness (apdex) is 0.35; adequate 0.85, desired 0.94; in the last 5m and the last 1h."
YAML
    close $f;
    my $out = `cd $dir && promtool test rules test.yml 2>&1`;
    is($?, 0, 'promtool test rules on the scrape: the T of 1.2s judged on '
       . 'le="1.2" and le="4.8", shop in BR fires, shop in DE does not')
        or diag $out;
}

# a reload that asks for other bounds: those of the start stay

(my $other = $zones) =~ s/apdex_t: 300ms/apdex_t: 700ms/;
$c->write_conf($other);
$c->signal('HUP');
ok($c->wait_for(sub { $c->log_text =~ /reloaded/ }), 'reloaded');
like($c->log_text, qr/other histogram bounds .* until a restart/,
     'the log says the bounds change at a restart');
$text = $c->get('/metrics')->{content};
ok(defined $c->metric($text, 'servqual_request_duration_seconds_bucket',
                      endpoint => 'shop', le => '0.3'),
   'le="0.3" of the start is still exported');
ok(!defined $c->metric($text, 'servqual_request_duration_seconds_bucket',
                       endpoint => 'shop', le => '0.7'),
   'le="0.7" is not (counters stay monotonic)');

$c->stop;

# past the cap: -t says which key and why; the start refuses it too

my $big = "overrides:\n";
$big .= sprintf "  - endpoint: e%d\n    dimensions:\n"
              . "      responsiveness: { apdex_t: %dms }\n", $_, 301 + 10 * $_
    for 0 .. 11;
$c->write_conf($big);
my $out = `$bin -t -c $c->{conf} 2>&1`;
isnt($?, 0, '-t refuses more than 20 bounds');
like($out, qr/servqual-collector\.yaml:\d+: overrides\[4\]\.responsiveness\.apdex_t: more than 20 histogram bounds/,
     '  naming file, line and key') or diag $out;

done_testing;
