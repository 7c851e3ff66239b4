#!/usr/bin/perl

# servqual-collector --prometheus-rules: rules for the configured zones
# that promtool accepts, and that fire in Prometheus as the collector
# would judge: the global levels, an override with its own levels and
# owner label (and not judged twice), nothing where quality is fine.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use Test::More;

my $bin = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';

plan skip_all => 'promtool not installed' unless `which promtool` =~ /\S/;

my $dir = tempdir(CLEANUP => 1);

sub write_file {
    my ($name, $text) = @_;
    open my $f, '>', "$dir/$name" or die "$dir/$name: $!";
    print $f $text;
    close $f;
}

write_file('c.yaml', <<'YAML');
dimensions:
  reliability: { min_requests: 100 }
overrides:
  - endpoint: shop
    region: US
    dimensions:
      reliability: { adequate: 99.99%, desired: 99.999% }
    labels: { team: us-shop }
YAML

my $rules = `$bin -c $dir/c.yaml --prometheus-rules 2>&1`;
is($?, 0, '--prometheus-rules exits 0');
like($rules, qr/^groups:/m, 'prints a rules file');
write_file('rules.yml', $rules);

my $out = `promtool check rules $dir/rules.yml 2>&1`;
is($?, 0, 'promtool check rules passes') or diag $out;

# an hour and a half of traffic: BR fails 2 %, US 0.1 % (fine for the
# global 99.5 %, below its own 99.99 %), DE 0.1 %, and JP fails every
# request but has 1 a minute, under min_requests

my $series = '';
for (['BR', 1000, 20], ['US', 1000, 1], ['DE', 1000, 1], ['JP', 1, 1]) {
    my ($r, $n, $f) = @$_;
    $series .= "      - series: 'servqual_requests_total{endpoint=\"shop\","
             . "region=\"$r\",segment=\"\"}'\n"
             . "        values: '0+${n}x90'\n"
             . "      - series: 'servqual_responses_total{endpoint=\"shop\","
             . "region=\"$r\",segment=\"\",class=\"5xx\"}'\n"
             . "        values: '0+${f}x90'\n";
}

write_file('test.yml', <<"YAML");
rule_files: [ rules.yml ]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
$series
    alert_rule_test:
      - eval_time: 70m
        alertname: ServqualBelowZone
        exp_alerts:
          - exp_labels:
              severity: critical
              dimension: reliability
              indicator: success_ratio
              adequate: "0.995"
              desired: "0.999"
              endpoint: shop
              region: BR
            exp_annotations:
              summary: "shop in BR () is below the adequate level on reliability"
              description: "reliability success_ratio is 0.98; adequate 0.995, desired 0.999, in the last 5m and 1h."
          - exp_labels:
              severity: critical
              dimension: reliability
              indicator: success_ratio
              adequate: "0.9999"
              desired: "0.99999"
              endpoint: shop
              region: US
              team: us-shop
            exp_annotations:
              summary: "shop in US () is below the adequate level on reliability"
              description: "reliability success_ratio is 0.999; adequate 0.9999, desired 0.99999, in the last 5m and 1h."
YAML

$out = `cd $dir && promtool test rules test.yml 2>&1`;
is($?, 0, 'promtool test rules: BR by the global levels, US by its '
          . 'override (once), DE fine, JP too little traffic')
    or diag $out;

# an Apdex threshold without buckets to express it

write_file('bad.yaml', "dimensions:\n  responsiveness: { apdex_t: 300ms }\n");
$out = `$bin -c $dir/bad.yaml --prometheus-rules 2>&1 >/dev/null`;
isnt($?, 0, 'an Apdex T the buckets cannot express: refused');
like($out, qr/le="0\.3"/, 'saying which bucket is missing');

done_testing;
