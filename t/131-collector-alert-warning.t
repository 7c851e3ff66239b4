#!/usr/bin/perl

# Alerts: when quality slides, the warning (most of the zone used up)
# fires before the critical one, and resolves when the critical takes
# over; a region with too little traffic to be judged never alerts,
# however bad its few requests; -t checks the alerts keys.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQAlert;
use SQCollector;

my $c = SQCollector->new(windows => 'fast', min_requests => 20,
                         alerts => { interval => '1s' });
$c->start;

# per datagram: [requests, failures, latency]; BR mixes fast requests
# with frustrated ones (3 s > 4 T), so its Apdex is the fast share

my $phase = 'good';
my $tick = 0;

my $mix = sub {
    my ($fast, $slow) = $phase eq 'good' ? (41, 0)
                      # Apdex 35/41 = 0.854: 4 % of the zone left
                      : $phase eq 'slide' ? (35, 6)
                      # Apdex 20/41 = 0.49: below
                      : (20, 21);
    SQAlert::traffic($c, BR => [ $slow, 0, 3.0 ]) if $slow;
    my %m = (US => [ 41, 0 ], BR => [ $fast, 0 ]);
    # XX: one failing, slow request a second, never enough to judge
    $m{XX} = [ 1, 1, 5.0 ] if ++$tick % 10 == 0;
    return \%m;
};

my %br = (endpoint => 'checkout', region => 'BR', segment => '',
          dimension => 'responsiveness');

ok(defined SQAlert::pump($c, $mix, sub {
    ($c->json('/api/v1/quality?scope=series&region=US')
        ->{rows}[0]{windows}{long}{requests} // 0) >= 2000;
}, 40), 'healthy traffic fills the windows');

# the slide: most of the zone is used up, not yet below

$phase = 'slide';

my $w = SQAlert::pump($c, $mix, sub {
    SQAlert::firing($c, %br, alertname => 'ServqualZoneWarning');
}, 40);
ok(defined $w, 'a warning fires when most of the zone is used up');
diag(sprintf 'slide -> warning: %.1f s', $w // -1);

my $a = SQAlert::firing($c, %br, alertname => 'ServqualZoneWarning');
is($a->{severity}, 'warning', 'severity warning');
cmp_ok($a->{value}, '>=', $a->{adequate}, 'still within the zone');
cmp_ok(($a->{value} - $a->{adequate}) / ($a->{desired} - $a->{adequate}),
       '<=', 0.11, 'with at most 11 % of it left');
ok(!SQAlert::firing($c, %br, alertname => 'ServqualBelowZone'),
   'no critical yet');

# worse: below the zone

$phase = 'bad';

ok(defined SQAlert::pump($c, $mix, sub {
    SQAlert::firing($c, %br, alertname => 'ServqualBelowZone');
}, 30), 'then the critical fires');

ok(!SQAlert::firing($c, %br, alertname => 'ServqualZoneWarning'),
   'and the warning is resolved');

my @h = grep { $_->{labels}{region} eq 'BR' && $_->{labels}{segment} eq ''
               && $_->{labels}{dimension} eq 'responsiveness' }
        reverse @{ $c->json('/api/v1/alerts')->{history} };
is(join(' ', map { "$_->{severity}:$_->{status}" } @h),
   'warning:firing warning:resolved critical:firing',
   'history: warning fired, resolved, critical fired (oldest first)');

# XX never had enough requests

my $j = $c->json('/api/v1/alerts');
is(scalar(grep { ($_->{labels}{region} // '') eq 'XX' }
           @{ $j->{firing} }, @{ $j->{history} }), 0,
   'low traffic never alerts');
my $xx = $c->row($c->json('/api/v1/quality?region=XX&scope=series'),
                 region => 'XX');
is($xx->{windows}{long}{dimensions}{reliability}{state}, 'insufficient',
   'XX is insufficient');
cmp_ok($xx->{windows}{long}{requests}, '>', 0, 'though it has requests');

is($c->stop, 0, 'the collector exits cleanly');

# -t: every alerts key checked, with file, line and key

my $bad = SQCollector->new(conf => <<'YAML');
alerts:
  interval: 0s
  warning_share: 1.5
  scopes: [series, planet]
  alertmanager: { url: "https://am.example:9093", resend: soon }
  webhook: { url: "ftp://hook.example/", color: red }
  queue: 0
  bogus: 1
YAML
my $out = `$bad->{bin} -t -c $bad->{conf} 2>&1`;
isnt($?, 0, '-t fails');
for my $re (qr/:7: alerts\.interval: invalid duration "0s"/,
            qr/:8: alerts\.warning_share: must be a share/,
            qr/:9: alerts\.scopes: unknown scope "planet"/,
            qr/:10: alerts\.alertmanager\.url: invalid URL/,
            qr/:10: alerts\.alertmanager\.resend: invalid duration "soon"/,
            qr/:11: alerts\.webhook\.url: invalid URL "ftp:/,
            qr/:11: alerts\.webhook: unknown key "color"/,
            qr/:12: alerts\.queue: must be between 1 and 100000/,
            qr/:13: alerts: unknown key "bogus"/)
{
    like($out, $re, "-t: $re");
}

done_testing();
