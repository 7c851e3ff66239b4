#!/usr/bin/perl

# Two sites, each an nginx (node names differ) feeding its own
# collector, and a real Prometheus scraping both collectors (1 s scrape
# and evaluation), the target labels giving "site", with the rules that
# servqual-collector --prometheus-rules prints loaded.  Site lyon's
# upstream answers in 2.5 s (frustrated: over 4T = 2 s), site paris's in
# 50 ms.  Read from Prometheus's API: the fleet-wide responsiveness
# (Apdex of both sites' requests together) and its placement in the
# zone, which lie between the two sites' own; and the alert on
# responsiveness, pending first, then firing for site lyon only, its
# summary naming the site.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep time);

use SQCollector;
use SQNginx qw(start_nginx stop_nginx nginx_port);
use SQProm;
use SQSite;
use SQUpstream qw(start_upstream);

plan skip_all => 'prometheus not installed' unless SQProm::available();

my $t0 = time;

my $zones = <<'YAML';
windows: { slot: 1s, short: 10s, long: 30s }
dimensions:
  reliability:    { min_requests: 10 }
  responsiveness: { min_requests: 10 }
  assurance:      { min_requests: 100000000 }
  empathy:        { min_requests: 10 }
  tangibles:      { min_requests: 10 }
YAML

my %c = (paris => SQCollector->new(conf => $zones),
         lyon  => SQCollector->new(conf => $zones));
$_->start for values %c;

my $up = start_upstream();

my $http = <<'EOF';
    servqual_collector 127.0.0.1:%%COLL%% flush=250ms node=%%NODE%%;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location / {
            servqual_endpoint checkout;
            proxy_pass http://127.0.0.1:%%UP%%/delay/%%DELAY%%;
        }
    }
EOF

start_nginx($http, vars => { COLL => $c{paris}{udp}, NODE => 'web-paris',
                             UP => $up->port, DELAY => 50 });
my $lyon = SQSite->start('lyon', $http,
                         vars => { COLL => $c{lyon}{udp},
                                   NODE => 'web-lyon', UP => $up->port,
                                   DELAY => 2500 });

# the rules from the collectors' own configuration

my $rules = `$c{paris}{bin} -c $c{paris}{conf} --prometheus-rules 2>&1`;
is $?, 0, '--prometheus-rules';

my $targets = join '', map {
    "      - targets: ['127.0.0.1:$c{$_}{http}']\n"
  . "        labels: { site: $_ }\n"
} sort keys %c;

my $prom = SQProm->start(files => { 'servqual-rules.yml' => $rules },
                         config => <<"YAML");
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
  external_labels: { cluster: test }
rule_files: [ servqual-rules.yml ]
scrape_configs:
  - job_name: servqual
    static_configs:
$targets
YAML

ok $prom->wait_for(sub {
    my @t = $prom->targets;
    @t == 2 && !grep { $_->{health} ne 'up' } @t;
}, 30), 'Prometheus scrapes both collectors';

my $paris = SQSite->attach(nginx_port());
$paris->load(clients => 4);
$lyon->load(clients => 8);

# the alert: pending first, then firing, for lyon only

my (%seen, @firing);
ok $prom->wait_for(sub {
    for my $a ($prom->alerts) {
        next unless $a->{labels}{alertname} eq 'ServqualBelowZone'
                 && $a->{labels}{dimension} eq 'responsiveness';
        $seen{"$a->{labels}{site}:$a->{state}"}++;
    }
    @firing = grep {
        $_->{labels}{alertname} eq 'ServqualBelowZone'
            && $_->{labels}{dimension} eq 'responsiveness'
            && $_->{state} eq 'firing'
    } $prom->alerts;
    @firing > 0;
}, 45), 'an alert on responsiveness fires';

ok $seen{'lyon:pending'}, 'it was pending before it fired'
    or diag explain \%seen;
is scalar(@firing), 1, 'one alert firing';
is $firing[0]{labels}{site}, 'lyon', 'for site lyon';
is $firing[0]{labels}{endpoint}, 'checkout', 'endpoint checkout';
like $firing[0]{annotations}{summary},
     qr/^checkout in \S+, site lyon, instance 127\.0\.0\.1:\d+: below the adequate level on responsiveness$/,
     "the summary names the site: $firing[0]{annotations}{summary}";
like $firing[0]{annotations}{description},
     qr/^responsiveness \(apdex\) is 0(\.\d+)?; adequate 0\.85, desired 0\.94;/,
     "and the value reads as a number: $firing[0]{annotations}{description}";
ok !$seen{'paris:firing'} && !$seen{'paris:pending'},
   'nothing for site paris';

# the fleet-wide placement: both sites' requests together

my $w = '[10s]';
my $b = 'servqual_request_duration_seconds_bucket';
my $n = 'servqual_request_duration_seconds_count';
my $apdex = sub {
    my ($by) = @_;
    "(sum$by(rate($b\{le=\"0.5\"}$w)) + sum$by(rate($b\{le=\"2\"}$w)))"
    . " / 2 / sum$by(rate($n$w))";
};

my (%site, @fleet, @place, @nodes);
ok $prom->wait_for(sub {
    # one evaluation time for every query, so that they see the same
    # samples (a rule evaluation or scrape between two of them moves the
    # rates)
    my $at = time;
    %site = map { $_->{metric}{site} => $_->{value} }
            $prom->query($apdex->(' by (site) '), $at);
    @fleet = $prom->query($apdex->(' '), $at);
    @place = $prom->query('(' . $apdex->(' ') . ' - 0.85) / (0.94 - 0.85)',
                          $at);
    @nodes = $prom->query('count by (site) (servqual_requests_total)', $at);
    keys %site == 2 && @fleet == 1 && @place == 1 && $site{lyon} < 0.5;
}, 30), 'Prometheus answers the fleet-wide and the per-site Apdex';

diag sprintf 'Apdex: paris %.3f, lyon %.3f, fleet-wide %.3f, placement '
             . '%.2f', $site{paris}, $site{lyon}, $fleet[0]{value},
             $place[0]{value};
ok $site{paris} > 0.94, 'paris is above the zone';
ok $site{lyon} < 0.85, 'lyon is below the zone';
ok $fleet[0]{value} > $site{lyon} && $fleet[0]{value} < $site{paris},
   'the fleet-wide Apdex lies between the two sites\'';
is_deeply [sort keys %{ $fleet[0]{metric} }], [],
   'and is one series over both sites';
ok abs($place[0]{value} - ($fleet[0]{value} - 0.85) / 0.09) < 0.05,
   'its placement z = (value - adequate) / (desired - adequate)';
is_deeply [sort map { $_->{metric}{site} } @nodes], [qw(lyon paris)],
   'both sites\' series are in Prometheus';

$paris->stop;
$lyon->stop;
stop_nginx();

my $secs = time - $t0;
ok $secs < 90, sprintf 'the test took %.0f s', $secs;

$prom->stop;
is $_->stop, 0, 'a collector stops cleanly' for values %c;

done_testing;
