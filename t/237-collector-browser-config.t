#!/usr/bin/perl

# The browser indicators in the collector's configuration: -t takes the
# documented keys (browser, browser_adequate, browser_desired,
# min_beacons; a browser indicator as a dimension's only one) and refuses
# bad ones naming file, line and key: an indicator of another dimension
# or one that is not the browser's, levels in the wrong unit or the
# wrong way round, a minimum of 0.  --prometheus-rules expresses a
# browser indicator that is a dimension's own over the servqual_browser_*
# histograms, and promtool takes the rules.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQProc qw(prefix run_cmd);


my $bin = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';
my $dir = prefix();
mkdir "$dir/conf";

sub check {
    my ($yaml) = @_;
    my $conf = "$dir/conf/check.yaml";
    open my $f, '>', $conf or die;
    print $f $yaml;
    close $f;
    return run_cmd($bin, '-t', '-c', $conf);
}

my ($rc, $out) = check(<<'YAML');
storage: { path: /tmp/servqual-t237-unused.db }
dimensions:
  responsiveness:
    browser: inp_quantile
    browser_adequate: 600ms
    browser_desired: 150ms
    min_beacons: 50
  tangibles:
    indicator: cls_quantile
    adequate: 0.3
    desired: 0.05
overrides:
  - endpoint: /api
    dimensions:
      responsiveness: { browser: none }
      tangibles: { indicator: intact_share, browser: none }
YAML
is $rc, 0, '-t takes the browser keys' or diag $out;

my @bad = (
    [ "dimensions:\n  tangibles:\n    browser: lcp_quantile\n",
      qr/check\.yaml:3: dimensions\.tangibles\.browser: "lcp_quantile" is not a browser indicator of tangibles/,
      'an indicator of another dimension' ],
    [ "dimensions:\n  responsiveness:\n    browser: apdex\n",
      qr/check\.yaml:3: dimensions\.responsiveness\.browser: "apdex" is not a browser indicator/,
      "a server indicator as the browser's" ],
    [ "dimensions:\n  responsiveness:\n    browser: fid_quantile\n",
      qr/check\.yaml:3: dimensions\.responsiveness\.browser: unknown indicator/,
      'an unknown indicator' ],
    [ "dimensions:\n  responsiveness:\n    browser_adequate: 40%\n",
      qr/check\.yaml:3: dimensions\.responsiveness\.browser: lcp_quantile is a time/,
      'a share for a time' ],
    [ "dimensions:\n  tangibles:\n    browser_desired: 100ms\n",
      qr/check\.yaml:3: dimensions\.tangibles\.browser: cls_quantile is a layout shift score/,
      'a time for a layout shift score' ],
    [ "dimensions:\n  tangibles:\n    browser_adequate: 0.05\n",
      qr/check\.yaml:3: dimensions\.tangibles\.browser: desired 0\.1 is not better than adequate 0\.05/,
      'levels the wrong way round' ],
    [ "dimensions:\n  tangibles:\n    indicator: cls_quantile\n    desired: 25%\n",
      qr/check\.yaml:4: dimensions\.tangibles: cls_quantile is a layout shift score/,
      'a browser indicator alone, its levels checked too' ],
    [ "dimensions:\n  responsiveness:\n    min_beacons: 0\n",
      qr/check\.yaml:3: dimensions\.responsiveness\.min_beacons: must be at least 1/,
      'min_beacons 0' ],
    [ "overrides:\n  - region: BR\n    dimensions:\n      tangibles:\n"
      . "        browser_adequate: 0.01\n",
      qr/check\.yaml:5: overrides\[0\]\.dimensions\.tangibles\.browser: desired 0\.1 is not better/,
      'in an override, merged over the defaults' ],
    [ "dimensions:\n  assurance:\n    browser: cls_quantile\n",
      qr/check\.yaml:3: dimensions\.assurance: unknown key "browser"/,
      'no browser part for assurance' ],
);

for my $b (@bad) {
    my ($yaml, $want, $name) = @$b;
    ($rc, $out) = check($yaml);
    isnt $rc, 0, "-t refuses $name";
    like $out, $want, "naming file, line and key: $name";
}

# the rules printer

my $conf = "$dir/conf/rules.yaml";
open my $f, '>', $conf or die;
print $f "dimensions:\n  tangibles: { indicator: cls_quantile }\n"
         . "  responsiveness: { indicator: inp_quantile }\n";
close $f;

($rc, $out) = run_cmd($bin, '-c', $conf, '--prometheus-rules');
is $rc, 0, '--prometheus-rules with browser indicators';
like $out, qr/histogram_quantile\(0\.75, sum by \(endpoint, region, segment, le\) \(rate\(servqual_browser_cls_bucket\{\}\[5m\]\)\)\) > 0\.25/,
     'tangibles: CLS p75 over 0.25 in the short window';
like $out, qr/servqual_browser_inp_seconds_bucket\{\}\[1h\]\)\)\) > 0\.5\b/,
     'responsiveness: INP p75 over 500 ms in the long window';

SKIP: {
    skip 'promtool not installed', 1 unless `which promtool` =~ /\S/;
    open my $r, '>', "$dir/conf/rules.yml" or die;
    print $r $out;
    close $r;
    my $check = `promtool check rules $dir/conf/rules.yml 2>&1`;
    is $?, 0, 'promtool check rules passes' or diag $check;
}

done_testing();
