#!/usr/bin/perl

# Many incidents at once: 40 regions each failing on an endpoint of its
# own are 40 incidents ("e7 in R07"), each with an Alertmanager alert per
# dimension: more than one post holds (64 alerts at most), so the first
# send is several posts, and a real Alertmanager gets every alert.  The
# log lists 20 incidents a line each and counts the rest in one line.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX qw(ceil);
use Test::More;
use Time::HiRes qw(sleep time);

use SQAlert;
use SQCollector;
use SQWire qw(datagram series);

my $N = 40;

my $am = SQAlert->alertmanager(group_by => ['incident'])
    or plan skip_all => 'prometheus-alertmanager not available';

my $c = SQCollector->new(windows => 'fast', min_requests => 20, alerts => {
    interval     => '1s',
    alertmanager => '{ url: "' . $am->am_url . '", resend: 1m }',
});
$c->start;

my $seq = 0;

# every region R00..R39 served on its own endpoint e0..e39 and on a shared
# one; when $bad, region Rk fails on ek only
sub tick {
    my ($bad) = @_;
    my @s;
    for my $k (0 .. $N - 1) {
        my $r = sprintf 'R%02d', $k;
        for my $e ("e$k", 'shared') {
            my $fail = $bad && $e ne 'shared' ? 10 : 0;
            push @s, series(endpoint => $e, region => $r,
                latencies => [ (0.04) x 30 ],
                counters => { status_2xx => 30 - $fail, status_5xx => $fail,
                              upstream_errors => $fail, tls_1_3 => 30 });
        }
    }
    $c->send(datagram(node => 'batch-test', pid => 281, seq => ++$seq,
                      series => \@s));
}

sub run_until {
    my ($bad, $cond, $timeout) = @_;
    my $t0 = time;
    while (time - $t0 < $timeout) {
        my $t = time;
        tick($bad);
        return 1 if eval { $cond->() };
        my $left = 0.5 - (time - $t);
        sleep $left if $left > 0;
    }
    return 0;
}

sub incidents { return @{ $c->json('/api/v1/incidents')->{incidents} } }

ok(run_until(0, sub {
    my $q = $c->json('/api/v1/quality?scope=region&region=R00');
    ($q->{rows}[0]{windows}{long}{requests} // 0) >= 200;
}, 60), 'healthy traffic fills the windows');
is(scalar(incidents()), 0, 'healthy: no incident');

my $before = length $c->log_text;

ok(run_until(1, sub { incidents() == $N }, 60),
   "every region failing on its own endpoint: $N incidents");

my @inc = incidents();
is(scalar(grep { $_->{cause} eq 'row' } @inc), $N, 'each a row incident');

my $alerts = 0;
$alerts += scalar @{ $_->{dimensions} } for @inc;
cmp_ok($alerts, '>', 64, "$alerts Alertmanager alerts: more than a post");

my @got;
ok($c->wait_for(sub {
    @got = grep { $_->{labels}{incident} } $am->am_alerts;
    @got >= $alerts;
}, 20), 'Alertmanager holds every alert');
is(scalar @got, $alerts, "$alerts alerts, one per incident and dimension");
is(scalar(my @g = grep { $_->{labels}{incident} } $am->am_groups), $N,
   "$N notification groups");

my $m = $c->get('/metrics')->{content};
cmp_ok($c->metric($m, 'servqual_alert_notifications_total',
                  sink => 'alertmanager', result => 'sent'), '>=',
       ceil($alerts / 64), 'sent in posts of at most 64 alerts');

my @lines = split /\n/, substr($c->log_text, $before);
my @opened = grep { /incident opened / } @lines;
my $more = 0;
$more += $_ for map { /incidents: (\d+) more opened/ ? $1 : () } @lines;
diag(scalar(@opened) . " incident lines, $more more counted");
is(scalar(@opened) + $more, $N, 'each incident logged or counted once');
cmp_ok(scalar @opened, '<', $N, 'not a line each: at most 20 an evaluation');

is($c->stop, 0, 'the collector exits cleanly');

done_testing();
