#!/usr/bin/perl

# Alerts across a restart: a critical alert is firing, the collector is
# stopped (SIGTERM) and started again on the same database; the windows
# come back from the store, the alert is taken up again with the same id
# and since (no second firing transition), and the history is the same.

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

my %bad = (US => [ 10, 0 ], BR => [ 30, 15 ]);
my %key = (endpoint => 'checkout', region => 'BR', segment => '',
           dimension => 'reliability', alertname => 'ServqualBelowZone');

ok(defined SQAlert::pump($c, sub { \%bad },
                         sub { SQAlert::firing($c, %key) }, 30),
   'the failing region fires');

my $before = SQAlert::firing($c, %key);
my $hist = $c->json('/api/v1/alerts')->{history};
my @fired = grep { $_->{id} eq $before->{id} } @$hist;
is(scalar @fired, 1, 'one firing transition in the history');

is($c->stop, 0, 'SIGTERM: clean exit');
$c->start;

my $after = SQAlert::firing($c, %key);
ok($after, 'firing again right after the restart');
is($after && $after->{id}, $before->{id}, 'the same alert id');
is($after && $after->{since}, $before->{since}, 'the same since');

# the reloaded windows still hold the failures: the first evaluations
# keep the alert, without a second firing transition

SQAlert::pump($c, sub { \%bad }, sub { 0 }, 2);
ok(SQAlert::firing($c, %key), 'kept by the reloaded windows');
my @again = grep { $_->{id} eq $before->{id} && $_->{status} eq 'firing' }
            @{ $c->json('/api/v1/alerts')->{history} };
is(scalar @again, 1, 'still one firing transition: taken up, not re-fired');
unlike($c->log_text =~ s/.*started//sr, qr/alert firing severity=critical
       .*region="BR" \s segment="" \s dimension=reliability/x,
       'no new firing line after the restart');
like($c->log_text, qr/alert taken up: critical series/,
     'the log says it was taken up');

# a reload with other alert settings and a webhook keeps the alert

my $hook = SQAlert->webhook;
$c->write_conf(windows => 'fast', min_requests => 20, alerts => {
    interval => '2s',
    timeout  => '2s',
    webhook  => '{ url: "' . $hook->url . '" }',
});
$c->signal('HUP');
ok($c->wait_for(sub {
    ($c->metric($c->get('/metrics')->{content},
                'servqual_config_reloads_total', result => 'ok') // 0) == 1
}, 10), 'reloaded');
SQAlert::pump($c, sub { \%bad }, sub { 0 }, 3);
is(SQAlert::firing($c, %key)->{id}, $before->{id},
   'the alert goes on through the reload');

is($c->stop, 0, 'clean exit');

done_testing();
