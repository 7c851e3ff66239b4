#!/usr/bin/perl

# servqual-collector --prometheus-rules: rules for the configured zones
# that promtool accepts, and that fire in Prometheus as the collector
# would judge: the global levels, an override with its own levels and
# owner label (and not judged twice), nothing where quality is fine;
# pending for their "for:" first; summaries that read well without a
# segment and values as percentages; sums that keep the site labels
# (prometheus.site_labels) apart, and -t that rejects bad ones.

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
      # true from the first rate (1m), pending for 1m, then firing
      - eval_time: 1m
        alertname: ServqualBelowZone
        exp_alerts: []
      - eval_time: 3m
        alertname: ServqualZoneWarning
        exp_alerts: []
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
              summary: "shop in BR: below the adequate level on reliability"
              description: "reliability (success_ratio) is 98%; adequate 99.5%, desired 99.9%; in the last 5m and the last 1h."
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
              summary: "shop in US: below the adequate level on reliability"
              description: "reliability (success_ratio) is 99.9%; adequate 99.99%, desired 99.999%; in the last 5m and the last 1h."
      - eval_time: 70m
        alertname: ServqualZoneWarning
        exp_alerts:
          - exp_labels:
              severity: warning
              dimension: reliability
              indicator: success_ratio
              adequate: "0.995"
              desired: "0.999"
              endpoint: shop
              region: BR
            exp_annotations:
              summary: "shop in BR: close to the adequate level on reliability"
              description: "reliability (success_ratio) is 98%; adequate 99.5%, desired 99.9%; in the last 5m and the last 1h."
          - exp_labels:
              severity: warning
              dimension: reliability
              indicator: success_ratio
              adequate: "0.9999"
              desired: "0.99999"
              endpoint: shop
              region: US
              team: us-shop
            exp_annotations:
              summary: "shop in US: close to the adequate level on reliability"
              description: "reliability (success_ratio) is 99.9%; adequate 99.99%, desired 99.999%; in the last 5m and the last 1h."
YAML

$out = `cd $dir && promtool test rules test.yml 2>&1`;
is($?, 0, 'promtool test rules: BR by the global levels, US by its '
          . 'override (once), DE fine, JP too little traffic')
    or diag $out;

like($rules, qr/^        for: 1m\n        labels:\n          severity: critical/m,
     'a critical alert is pending for a fifth of the short window');
like($rules, qr/^        for: 5m\n        labels:\n          severity: warning/m,
     'a warning for the whole short window');
like($rules, qr/sum by \(endpoint, region, segment, site, instance\)/,
     'sums keep the site labels, by default site and instance');

# conf.example/prometheus.yml loads the rules printed next to it

{
    my $ex = "$FindBin::Bin/../conf.example";
    open my $f, '<', "$ex/prometheus.yml" or die "$ex/prometheus.yml: $!";
    local $/;
    write_file('prometheus.yml', <$f>);
    close $f;
    $rules = `$bin -c $ex/servqual-collector.yaml --prometheus-rules 2>&1`;
    is($?, 0, 'rules from conf.example/servqual-collector.yaml');
    write_file('servqual-rules.yml', $rules);
    $out = `promtool check config $dir/prometheus.yml 2>&1`;
    is($?, 0, 'promtool check config: prometheus.yml with its rules')
        or diag $out;
    like($out, qr/servqual-rules\.yml\s+SUCCESS: \d+ rules found/,
         'conf.example/prometheus.yml loads servqual-rules.yml') or diag $out;
}

# two sites behind one Prometheus, site_labels [site]: the same row at
# two sites judged apart, the slow one named, the segment shown

write_file('s.yaml', <<'YAML');
dimensions:
  reliability: { min_requests: 100 }
  responsiveness: { min_requests: 100 }
prometheus:
  site_labels: [site]
YAML

$rules = `$bin -c $dir/s.yaml --prometheus-rules 2>&1`;
is($?, 0, '--prometheus-rules with site_labels [site]');
write_file('srules.yml', $rules);
$out = `promtool check rules $dir/srules.yml 2>&1`;
is($?, 0, 'promtool check rules passes') or diag $out;
unlike($rules, qr/instance/, 'instance is no longer kept');

# both sites 1000 requests a minute to checkout in BR, segment gold, all
# fine; at site paris 60 % take over 2 s (frustrated), 40 % under 0.5 s:
# Apdex 0.4; at site lyon all under 0.5 s

$series = '';
for (['paris', 400, 400], ['lyon', 1000, 1000]) {
    my ($site, $t, $t4) = @$_;
    my $l = "endpoint=\"checkout\",region=\"BR\",segment=\"gold\","
          . "site=\"$site\"";
    $series .= "      - series: 'servqual_requests_total{$l}'\n"
             . "        values: '0+1000x30'\n"
             . "      - series: 'servqual_request_duration_seconds_count{$l}'\n"
             . "        values: '0+1000x30'\n"
             . "      - series: 'servqual_request_duration_seconds_bucket{$l,"
             . "le=\"0.5\"}'\n"
             . "        values: '0+${t}x30'\n"
             . "      - series: 'servqual_request_duration_seconds_bucket{$l,"
             . "le=\"2\"}'\n"
             . "        values: '0+${t4}x30'\n";
}

write_file('stest.yml', <<"YAML");
rule_files: [ srules.yml ]
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
              endpoint: checkout
              region: BR
              segment: gold
              site: paris
            exp_annotations:
              summary: "checkout in BR, segment gold, site paris: below the adequate level on responsiveness"
              description: "responsiveness (apdex) is 0.4; adequate 0.85, desired 0.94; in the last 5m and the last 1h."
YAML

$out = `cd $dir && promtool test rules stest.yml 2>&1`;
is($?, 0, 'promtool test rules: paris fires, named, and lyon does not')
    or diag $out;

# -t: bad site labels named with file, line and key

for (['[endpoint]', qr/"endpoint" is a label of the metrics/],
     ['[site, 1dc]', qr/invalid label name "1dc"/],
     ['[site, site]', qr/"site" is named twice/],
     ['[__name__]', qr/invalid label name "__name__"/],
     ['site', qr/must be a list/])
{
    my ($v, $re) = @$_;
    write_file('t.yaml', "prometheus:\n  site_labels: $v\n");
    $out = `$bin -t -c $dir/t.yaml 2>&1`;
    isnt($?, 0, "-t refuses site_labels: $v");
    like($out, qr/t\.yaml:2: prometheus\.site_labels: /, '  naming file, '
         . 'line and key') or diag $out;
    like($out, $re, '  saying why') or diag $out;
}

# an Apdex threshold of its own: /metrics exports its T and 4T

write_file('t300.yaml', "dimensions:\n  responsiveness: { apdex_t: 300ms }\n");
$out = `$bin -c $dir/t300.yaml --prometheus-rules 2>&1`;
is($?, 0, 'an Apdex T of 300ms: its buckets are exported, rules printed')
    or diag $out;
like($out, qr/le=\\?"0\.3\\?".*le=\\?"1\.2\\?"/s, '  with le="0.3" and le="1.2"');

# an Apdex threshold without buckets to express it: past the cap of 20

my $big = "overrides:\n";
$big .= sprintf "  - endpoint: e%d\n    dimensions:\n"
              . "      responsiveness: { apdex_t: %dms }\n", $_, 301 + 10 * $_
    for 0 .. 11;
write_file('bad.yaml', $big);
$out = `$bin -c $dir/bad.yaml --prometheus-rules 2>&1 >/dev/null`;
isnt($?, 0, 'an Apdex T the buckets cannot express: refused');
like($out, qr/le="0\.411"/, 'saying which bucket is missing');

done_testing;
