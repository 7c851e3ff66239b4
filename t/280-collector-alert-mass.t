#!/usr/bin/perl

# One cause, one alert: Brazil's upstream goes down for every one of
# 1,000 endpoints while the United States stay healthy.  Thousands of
# rows and rollups fire, and the operator gets one incident naming Brazil
# with the count of its rows, a bounded number of log lines (a summary
# line, one incident line; no line per row), and in a real Alertmanager
# (grouped by incident) one notification group of an alert per
# dimension, sent in a few posts.  Brazil recovers: one resolution.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep time);

use SQAlert;
use SQCollector;
use SQWire qw(datagram series);

my $NEP = 1000;          # endpoints, each served in BR and in US
my $PER = 200;           # series a datagram

my $am = SQAlert->alertmanager(group_by => ['incident'])
    or plan skip_all => 'prometheus-alertmanager not available';

my $c = SQCollector->new(windows => 'fast', min_requests => 20, alerts => {
    interval     => '1s',
    alertmanager => '{ url: "' . $am->am_url . '", resend: 1m }',
});
$c->start;

my $seq = 0;

# one tick: every endpoint in BR and US, 30 requests each; BR failing
# (one in three a 5xx) when $bad
sub tick {
    my ($bad) = @_;
    my @s;
    for my $e (1 .. $NEP) {
        for my $r (qw(US BR)) {
            my $fail = $bad && $r eq 'BR' ? 10 : 0;
            push @s, series(endpoint => "/api/e$e", region => $r,
                latencies => [ (0.04) x 30 ],
                counters => { status_2xx => 30 - $fail, status_5xx => $fail,
                              upstream_errors => $fail, tls_1_3 => 30 });
        }
    }
    while (my @chunk = splice @s, 0, $PER) {
        $c->send(datagram(node => 'mass-test', pid => 280, seq => ++$seq,
                          series => \@chunk));
    }
}

# ticks a second apart until $cond is true or $timeout seconds pass
sub run_until {
    my ($bad, $cond, $timeout) = @_;
    my $t0 = time;
    while (time - $t0 < $timeout) {
        my $t = time;
        tick($bad);
        return 1 if eval { $cond->() };
        my $left = 1 - (time - $t);
        sleep $left if $left > 0;
    }
    return 0;
}

sub incidents { return $c->json('/api/v1/incidents') }

ok(run_until(0, sub {
    my $q = $c->json('/api/v1/quality?scope=region&region=BR');
    ($q->{rows}[0]{windows}{long}{requests} // 0) >= 20 * $NEP;
}, 60), 'healthy traffic fills the windows');
is_deeply(incidents()->{incidents}, [], 'healthy: no incident');

my $before = length $c->log_text;

# BR's upstream down: every endpoint of BR fails

my $j;
ok(run_until(1, sub {
    $j = incidents();
    $j->{alerts_firing} >= $NEP && @{ $j->{incidents} } == 1;
}, 60), 'BR down on every endpoint: alerts fire');
run_until(1, sub { 0 }, 3);

$j = incidents();
my @inc = @{ $j->{incidents} };
my $i = $inc[0];
diag("BR down on $NEP endpoints: $j->{alerts_firing} alerts firing -> "
     . scalar(@inc) . ' incident(s)');
is(scalar @inc, 1, 'one incident');
is($i->{cause}, 'region', 'caused by the region');
is($i->{scope}{region}, 'BR', 'naming BR');
like($i->{title}, qr/^Brazil: reliability/, "titled: $i->{title}");
cmp_ok($j->{alerts_firing}, '>=', $NEP, "$j->{alerts_firing} alerts firing");
is($i->{member_count}, $j->{alerts_firing},
   'every firing alert is a member, counted');
cmp_ok(scalar @{ $i->{members} }, '<=', 100,
       'the members listed are bounded (the worst first)');
like($i->{look_at}, qr/ and \d+ more in BR/, "what to look at: $i->{look_at}");
ok(!(grep { $_->{labels}{region} eq 'US' } @{ $i->{members} }),
   'no US row in it');

my $m = $c->get('/metrics')->{content};
is($c->metric($m, 'servqual_incidents_firing', severity => 'critical'), 1,
   '/metrics: one critical incident');

# the log: bounded, per incident

my $log = substr($c->log_text, $before);
my @lines = split /\n/, $log;
my @rows = grep { /\balert (firing|resolved) / } @lines;
my @opened = grep { /incident opened / } @lines;
my @summary = grep { /alerts: [\d,]+ alerts firing in \d+ incidents?;/ }
              @lines;
diag(scalar(@lines) . ' log lines while BR failed');
cmp_ok(scalar @rows, '<=', 20, 'no log line per row: ' . scalar @rows);
cmp_ok(scalar @lines, '<=', 30, 'a bounded number of log lines');
is(scalar(grep { /region="BR"/ } @opened), 1, 'one incident opened line');
like($opened[0] // '', qr/members=\d{1,3}(,\d{3})* /,
     'the incident line counts its members');
ok(@summary >= 1, "a summary line: " . ($summary[0] // '') =~ s/.*\] \d+: //r);

# Alertmanager: one group, an alert per dimension, a few posts

my @got;
ok($c->wait_for(sub {
    @got = grep { ($_->{labels}{incident} // '') eq $i->{id} }
           $am->am_alerts;
    @got >= 1;
}, 15), 'Alertmanager holds the incident');
my %per = map { $_->{labels}{dimension} => 1 } @got;
is(scalar @got, scalar keys %per, 'one alert per dimension, '
   . scalar(@got) . ' in all');
cmp_ok(scalar @got, '<=', 5, 'not one per row');
my @groups = grep { ($_->{labels}{incident} // '') eq $i->{id} }
             $am->am_groups;
is(scalar @groups, 1, 'one notification group');
$m = $c->get('/metrics')->{content};
my $posts = $c->metric($m, 'servqual_alert_notifications_total',
                       sink => 'alertmanager', result => 'sent');
my $evals = $c->metric($m, 'servqual_alert_evaluations_total');
cmp_ok($posts, '<=', $evals, "$posts posts in $evals evaluations");

# BR recovers: the incident resolves, once

$before = length $c->log_text;
ok(run_until(0, sub { @{ incidents()->{incidents} } == 0 }, 60),
   'BR recovered: no incident');
sleep 1.5;
$log = substr($c->log_text, $before);
@lines = split /\n/, $log;
is(scalar(grep { /incident resolved id=\Q$i->{id}\E/ } @lines), 1,
   'one resolution line');
cmp_ok(scalar(grep { /\balert (firing|resolved) / } @lines), '<=', 20,
       'no line per row resolved');
cmp_ok(scalar @lines, '<=', 30, 'a bounded number of log lines');
ok($c->wait_for(sub {
    !(grep { ($_->{labels}{incident} // '') eq $i->{id} } $am->am_alerts);
}, 15), 'Alertmanager has it resolved');

is($c->stop, 0, 'the collector exits cleanly');

done_testing();
