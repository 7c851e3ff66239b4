#!/usr/bin/perl

# The browser's measurements end to end: headless Chromium loads two real
# pages from nginx carrying the servqual script (built by make from
# web-vitals), one fast and stable, one whose large image arrives late
# and shifts the text; leaving each page sends its beacon, and the
# module's datagrams carry LCP and CLS per page in the expected ranges:
# the shifting page's CLS above 0.25 (the web's "poor"), the stable one's
# 0, the late image's LCP later than the fast page's.  The same datagrams
# go to the real collector too (a second servqual_collector address),
# whose API shows each page's LCP and CLS at p75 and places the shifting
# page below its tangibles zone.  The pages are set up by
# t/lib/SQBrowser.pm.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQCollector;
use SQBrowser qw(browser_skip browser_pages browser_http browser_visit);
use SQNginx qw(start_nginx error_log);
use SQWire qw(udp_listener decode_datagram datagram_problems sum_datagrams
              series_total hist_total hist_quantile wire_const);


my $skip = browser_skip();
plan skip_all => $skip if $skip;

my $udp = udp_listener();

# one beacon a page is enough for the collector to judge it here
my $c = SQCollector->new(extra => <<'YAML');
dimensions:
  responsiveness: { min_requests: 1, min_beacons: 1 }
  tangibles: { min_requests: 1, min_beacons: 1 }
YAML
$c->start;

browser_pages();
# gzip on: the pages are sent in good form, so the server's side of
# tangibles is intact and the browser's layout shift is what decides
start_nginx(browser_http(extra => 'gzip on; servqual_collector '
                                   . '127.0.0.1:%%UDP_PORT%% '
                                   . "127.0.0.1:$c->{udp} flush=200ms;"));

my ($rc, $out, $pages) = browser_visit('/fast.html', '/shift.html');
is($rc, 0, 'Chromium loaded and left both pages') or diag($out);
is(scalar @$pages, 2, 'two pages reported by the driver') or diag($out);

for my $p (@$pages) {
    is($p->{status}, 200, "$p->{url}: 200");
    ok((grep { m{^GET .*/servqual/beacon\.js$} } @{ $p->{requests} }),
       "$p->{url}: the script loaded");
}

my @raw = $udp->recv_all(timeout => 10, idle => 1.5);
my @maps = map { decode_datagram($_) } @raw;
is_deeply([ map { datagram_problems($_) } @maps ], [],
          'every datagram conforms to the wire format');
my $t = sum_datagrams(@maps);

is(series_total($t, 'beacons', endpoint => 'fast'), 1,
   'fast: one beacon (its page named by its path)');
is(series_total($t, 'beacons', endpoint => 'shift'), 1,
   'shift: one beacon (its page named by data-page)');
is(series_total($t, 'beacons', endpoint => '_other'), 0, 'none as "_other"');
is(series_total($t, 'beacons_clamped'), 0, 'nothing clamped');
is(series_total($t, 'nav_navigate'), 2, 'both navigations of type navigate');
is(series_total($t, 'requests', endpoint => 'beacon'), 2,
   'the two beacon requests counted as requests');
is(series_total($t, 'status_2xx', endpoint => 'beacon'), 2,
   'both answered 2xx (204)');
is(series_total($t, 'requests', endpoint => 'shift'), 1,
   'shift: its page request in the same series as its beacon');

my $scale = wire_const('SQ_WIRE_CLS_SCALE');

for my $page (qw(fast shift)) {
    for my $h (qw(lcp cls fcp ttfb)) {
        is(hist_total($t, "browser_$h", endpoint => $page), 1,
           "$page: one $h sample");
    }
}

my $lcp_fast = hist_quantile($t, 'browser_lcp', 1, endpoint => 'fast');
my $lcp_shift = hist_quantile($t, 'browser_lcp', 1, endpoint => 'shift');
my $cls_fast = hist_quantile($t, 'browser_cls', 1, endpoint => 'fast');
my $cls_shift = hist_quantile($t, 'browser_cls', 1, endpoint => 'shift');

diag(sprintf 'LCP fast %.0f ms, shift %.0f ms; CLS fast %.4f, shift %.4f',
     ($lcp_fast // 0) / 1000, ($lcp_shift // 0) / 1000,
     ($cls_fast // 0) / $scale, ($cls_shift // 0) / $scale);

ok(defined $lcp_fast && $lcp_fast < 1_000_000, 'fast: LCP under 1 s');
ok(defined $lcp_shift && $lcp_shift > 1_200_000,
   'shift: LCP past 1.2 s, when the late image arrived');
ok(defined $lcp_fast && defined $lcp_shift && $lcp_shift > $lcp_fast,
   "the late image's LCP later than the fast page's");
ok(defined $cls_fast && $cls_fast < 0.01 * $scale, 'fast: CLS about 0');
ok(defined $cls_shift && $cls_shift > 0.25 * $scale,
   'shift: CLS above 0.25, "poor"');

# the collector's view of the same beacons

my ($q, $fast, $shift);
ok($c->wait_for(sub {
    $q = $c->json('/api/v1/quality?scope=series');
    ($fast, $shift) = map { $c->row($q, endpoint => $_) } qw(fast shift);
    return $fast && $shift
           && ($fast->{windows}{short}{browser}{beacons} // 0) == 1
           && ($shift->{windows}{short}{browser}{beacons} // 0) == 1;
}), 'the collector has one beacon for each page');

my ($bf, $bs) = map { $_->{windows}{short}{browser} // {} } $fast, $shift;
cmp_ok(abs(($bs->{cls_p75} // -1) - ($cls_shift // 0) / $scale), '<', 0.02,
       'shift: the API shows the CLS the module sent');
cmp_ok($bf->{cls_p75} // 1, '<', 0.01, 'fast: the API shows CLS about 0');
cmp_ok($bs->{lcp_p75_seconds} // 0, '>', $bf->{lcp_p75_seconds} // 9,
       "the API shows the late image's LCP later than the fast page's");

my ($tf, $ts) = map { $_->{windows}{short}{dimensions}{tangibles} // {} }
                $fast, $shift;
is($ts->{indicator}, 'cls_quantile',
   'shift: its layout shift decides tangibles')
    or diag(explain($shift->{windows}{short}{dimensions}{tangibles}));
is($ts->{state}, 'below', 'shift: below its tangibles zone');
isnt($tf->{state} // '', 'below', 'fast: not below its tangibles zone');

unlike(error_log(), qr/\[(alert|crit|emerg)\]/,
       'no [alert], [crit] or [emerg] in the log');

done_testing;
