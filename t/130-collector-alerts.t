#!/usr/bin/perl

# Alerts end to end, with small windows (slot 1 s, short 3 s, long 12 s)
# and an evaluation every second: a region whose upstream starts failing
# fires a critical reliability alert within two short windows, and it
# resolves once the region recovers.  The same transitions appear in
# /api/v1/alerts, the log, a real Alertmanager (read back from its own
# API) and a webhook; /metrics counts them.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);

use SQAlert;
use SQCollector;

my $am = SQAlert->alertmanager;
my $hook = SQAlert->webhook;

my $c = SQCollector->new(windows => 'fast', min_requests => 20,
    extra => <<'YAML',
overrides:
  - endpoint: checkout
    labels: { team: payments, runbook: "https://wiki.example/checkout" }
YAML
    alerts => {
        interval => '1s',
        webhook  => '{ url: "' . $hook->url . '" }',
        $am ? (alertmanager => '{ url: "' . $am->am_url
                               . '", resend: 2s }') : (),
    });
$c->start;

my %good = (US => [ 10, 0 ], BR => [ 10, 0 ]);
my %bad = (US => [ 10, 0 ], BR => [ 10, 5 ]);
my %key = (endpoint => 'checkout', region => 'BR', segment => '',
           dimension => 'reliability');

# a healthy start: long enough for both windows to fill, no alert

ok(defined SQAlert::pump($c, sub { \%good }, sub {
    my $q = $c->json('/api/v1/quality?scope=series&region=BR');
    ($q->{rows}[0]{windows}{long}{requests} // 0) >= 100;
}, 30), 'healthy traffic fills the windows');

SQAlert::pump($c, sub { \%good }, sub { 0 }, 2);
is_deeply($c->json('/api/v1/alerts')->{firing}, [], 'healthy: nothing fires');

# BR's upstream fails one request in two

my $t0 = time;
my $took = SQAlert::pump($c, sub { \%bad },
    sub { SQAlert::firing($c, %key, alertname => 'ServqualBelowZone') },
    30);
ok(defined $took, 'the failing region fires a critical alert');
cmp_ok($took // 99, '<=', 2 * 3, 'within two short windows (3 s each)');
diag(sprintf 'region turned bad -> critical fired: %.1f s', $took // -1);

my $a = SQAlert::firing($c, %key, alertname => 'ServqualBelowZone');
is($a->{status}, 'firing', 'status firing');
is($a->{severity}, 'critical', 'severity critical');
is($a->{indicator}, 'success_ratio', 'indicator');
cmp_ok($a->{value}, '<', 0.995, 'value below adequate');
is($a->{adequate} + 0, 0.995, 'adequate');
is($a->{desired} + 0, 0.999, 'desired');
cmp_ok($a->{msa}, '<', 0, 'msa negative');
is($a->{labels}{team}, 'payments', 'owner labels from the override');
is($a->{labels}{runbook}, 'https://wiki.example/checkout', 'runbook label');
cmp_ok(abs($a->{since} - $t0), '<=', 10, 'since: when it fired');
like($a->{id}, qr/\S/, 'an id');
ok(!SQAlert::firing($c, endpoint => 'checkout', region => 'US',
                    segment => ''), 'the healthy region does not alert');

# while BR keeps failing

my $bad = sub { \%bad };

ok($c->log_text =~ /alert\sfiring\sseverity=critical\s
    .*endpoint="checkout"\sregion="BR"\ssegment=""\s
    dimension=reliability/x, 'the log has the firing line');

# the webhook also gets incidents' posts, which carry fewer labels
ok(defined SQAlert::pump($c, $bad, sub {
    no warnings 'uninitialized';
    grep { $_->{status} eq 'firing' && $_->{severity} eq 'critical'
           && $_->{labels}{region} eq 'BR'
           && ($_->{labels}{segment} // 'none') eq ''
           && $_->{labels}{dimension} eq 'reliability'
           && $_->{annotations}{summary}
              =~ /^checkout in BR is below the adequate level on reliability/
           && $_->{startsAt} && !defined $_->{endsAt} } $hook->posts
}, 10), 'the webhook got the firing transition');

SKIP: {
    skip 'prometheus-alertmanager not available', 3 unless $am;

    my ($got) = ();
    ok(defined SQAlert::pump($c, $bad, sub {
        ($got) = grep { $_->{labels}{alertname} eq 'ServqualBelowZone'
                        && $_->{labels}{region} eq 'BR'
                        && $_->{labels}{endpoint} eq 'checkout'
                        && $_->{labels}{dimension} eq 'reliability'
                        && !exists $_->{labels}{segment} } $am->am_alerts;
        $got;
    }, 15), 'Alertmanager holds the alert');
    is($got->{labels}{severity}, 'critical', 'Alertmanager: severity');
    is($got->{labels}{team}, 'payments', 'Alertmanager: owner label');
}

# the region recovers: the short window is back within a few seconds

my $rec = SQAlert::pump($c, sub { \%good },
    sub { !SQAlert::firing($c, %key, alertname => 'ServqualBelowZone') },
    30);
ok(defined $rec, 'the alert resolves once the region recovers');
diag(sprintf 'recovered -> resolved: %.1f s', $rec // -1);

my ($h) = grep { $_->{status} eq 'resolved'
                 && $_->{labels}{region} eq 'BR'
                 && $_->{labels}{segment} eq ''
                 && $_->{labels}{dimension} eq 'reliability'
                 && $_->{severity} eq 'critical' }
          @{ $c->json('/api/v1/alerts')->{history} };
ok($h, 'the history has the resolution');
ok($h && $h->{ends_at} >= $h->{since}, 'ends_at after since');
is($h && $h->{id}, $a->{id}, 'the same alert id');

ok($c->log_text =~ /alert\sresolved\sseverity=critical\s
    .*region="BR"\ssegment=""\sdimension=reliability/x,
   'the log has the resolved line');

ok($c->wait_for(sub {
    no warnings 'uninitialized';
    grep { $_->{status} eq 'resolved' && $_->{labels}{region} eq 'BR'
           && ($_->{labels}{segment} // 'none') eq ''
           && $_->{endsAt} } $hook->posts
}, 10), 'the webhook got the resolution');

SKIP: {
    skip 'prometheus-alertmanager not available', 1 unless $am;

    ok($c->wait_for(sub {
        !grep { $_->{labels}{alertname} eq 'ServqualBelowZone'
                && $_->{labels}{region} eq 'BR' } $am->am_alerts;
    }, 15), 'Alertmanager: resolved (no longer active)');
}

my $m = $c->get('/metrics')->{content};
cmp_ok($c->metric($m, 'servqual_alert_transitions_total',
                  severity => 'critical', status => 'firing'), '>=', 1,
       'transitions counted');
cmp_ok($c->metric($m, 'servqual_alert_notifications_total',
                  sink => 'webhook', result => 'sent'), '>=', 2,
       'webhook notifications counted');
if ($am) {
    cmp_ok($c->metric($m, 'servqual_alert_notifications_total',
                      sink => 'alertmanager', result => 'sent'), '>=', 2,
           'Alertmanager notifications counted');
}
is($c->metric($m, 'servqual_alerts_firing', severity => 'critical'), 0,
   'nothing critical firing');

is($c->stop, 0, 'the collector exits cleanly');

done_testing();
