#!/usr/bin/perl

# Incidents: the demo's traffic (four regions, three endpoints, two
# plans; Brazil served slowly and failing on every endpoint and plan)
# makes many alerts fire but exactly one incident, Brazil's, whose members
# are Brazil's rows and the rollups it drags below, with its dimensions
# in words and numbers; no healthy region has an incident.  Japan then
# fails on checkout only: a second, narrower incident (checkout in
# Japan).  The log, the webhook and a real Alertmanager get incidents.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQAlert;
use SQCollector;
use SQWire qw(datagram series);

my $am = SQAlert->alertmanager;
my $hook = SQAlert->webhook;

my $c = SQCollector->new(windows => 'fast', min_requests => 20,
    extra => <<'YAML',
overrides:
  - endpoint: checkout
    labels: { team: payments, runbook: "https://wiki.example/checkout" }
  - endpoint: search
    labels: { team: search, runbook: "https://wiki.example/search" }
YAML
    alerts => {
        interval => '1s',
        webhook  => '{ url: "' . $hook->url . '" }',
        $am ? (alertmanager => '{ url: "' . $am->am_url
                               . '", resend: 2s }') : (),
    });
$c->start;

my @endpoints = ('/', 'search', 'checkout');
my @segments = ('free', 'pro');
my $seq = 0;

# one tick of traffic; $bad{REGION} = [endpoints] served badly, $how
# 'slow' (3 s, one in twelve failing) or 'failing' (fast, one in four)
sub tick {
    my (%bad) = @_;
    my @s;
    for my $r (qw(US DE JP BR)) {
        for my $e (@endpoints) {
            my ($how) = map { $_->[1] } grep { $_->[0] eq $e }
                        @{ $bad{$r} || [] };
            for my $g (@segments) {
                my $n = 12;
                my $fail = !$how ? 0 : $how eq 'slow' ? 1 : 3;
                my $lat = $how && $how eq 'slow' ? 3.0 : 0.04;
                push @s, series(endpoint => $e, region => $r, segment => $g,
                    latencies => [ ($lat) x $n ],
                    counters => { status_2xx => $n - $fail,
                                  status_5xx => $fail,
                                  upstream_errors => $fail,
                                  tls_1_3 => $n });
            }
        }
    }
    $c->send(datagram(node => 'incident-test', pid => 99, seq => ++$seq,
                      series => \@s));
}

sub incidents { return @{ $c->json('/api/v1/incidents')->{incidents} } }

my %br = (BR => [ map { [ $_, 'slow' ] } @endpoints ]);

# healthy first

ok(defined SQAlert::pump($c, sub { tick(); {} }, sub {
    my $q = $c->json('/api/v1/quality?scope=region&region=BR');
    ($q->{rows}[0]{windows}{long}{requests} // 0) >= 400;
}, 30), 'healthy traffic fills the windows');
is_deeply([ incidents() ], [], 'healthy: no incident');

# Brazil degraded on every endpoint and plan

my $one = sub {
    my @i = incidents();
    @i == 1 && (grep { $_->{dimension} eq 'empathy' }
                @{ $i[0]{dimensions} })
           && (grep { $_->{dimension} eq 'responsiveness' }
                @{ $i[0]{dimensions} })
           && (grep { $_->{dimension} eq 'reliability' }
                @{ $i[0]{dimensions} });
};
ok(defined SQAlert::pump($c, sub { tick(%br); {} }, $one, 30),
   'Brazil degraded: one incident with its three dimensions');
SQAlert::pump($c, sub { tick(%br); {} }, sub { 0 }, 2);

my $j = $c->json('/api/v1/incidents');
my @inc = @{ $j->{incidents} };
is(scalar @inc, 1, 'exactly one incident');
my $i = $inc[0];
cmp_ok($j->{alerts_firing}, '>=', 12,
       "from $j->{alerts_firing} firing alerts");
diag("Brazil degraded: $j->{alerts_firing} firing alerts -> "
     . scalar(@inc) . " incident");
is($i->{cause}, 'region', 'caused by a region');
is($i->{scope}{region}, 'BR', 'the region is BR');
is($i->{scope}{region_name}, 'Brazil', 'named in words');
ok(!exists $i->{scope}{endpoint}, 'not one endpoint');
is($i->{severity}, 'critical', 'critical');
like($i->{id}, qr/^[0-9a-f]{8}-\d+$/, 'an id');
cmp_ok(abs($i->{since} - time), '<=', 60, 'since: when it started');

my %members;
for my $m (@{ $i->{members} }) {
    $members{"$m->{scope} $m->{labels}{endpoint} $m->{labels}{region} "
             . "$m->{labels}{segment}"}++;
}
for my $e (@endpoints) {
    for my $g (@segments) {
        ok($members{"series $e BR $g"}, "member: $e in BR ($g)");
    }
}
ok($members{'region * BR *'}, 'member: the BR rollup over all endpoints');
is(scalar(grep { $_->{labels}{region} ne 'BR' && $_->{labels}{region} ne '*' }
           @{ $i->{members} }), 0, 'no member of a healthy region');
ok(!(grep { $_->{labels}{region} ne 'BR' && $_->{labels}{region} ne '*' }
     @{ $c->json('/api/v1/alerts')->{firing} }),
   'no healthy region alerts at all');

my %dims = map { $_->{dimension} => $_ } @{ $i->{dimensions} };
is_deeply([ sort keys %dims ],
          [ sort grep { $dims{$_} } qw(reliability responsiveness
                                       empathy tangibles assurance) ],
          'dimensions listed once each');
like($dims{reliability}{text}, qr/^9\d\.\d+ % \(adequate 99\.5 %, desired 99\.9 %\)$/,
     "reliability in its unit with its zone: $dims{reliability}{text}");
like($dims{responsiveness}{text}, qr/^Apdex 0\.\d\d \(adequate 0\.85/,
     "responsiveness: $dims{responsiveness}{text}");
like($dims{empathy}{text},
     qr/^p75 3\.0 s vs \d+ ms elsewhere, (over 10\x{d7}|\d(\.\d+)?\x{d7})/,
     "empathy as two request times and a capped ratio: "
     . "$dims{empathy}{text}");
cmp_ok($dims{empathy}{value}, '<=', 3.0 / 0.1 * 1.05,
       "the ratio with the 100 ms floor: $dims{empathy}{value}");
cmp_ok($dims{empathy}{latency_seconds}, '>', 2.5, 'BR p75 about 3 s');

like($i->{title}, qr/^Brazil: reliability 9\d\.\d+ % \(adequate 99\.5 %\), responsiveness Apdex 0\.\d\d \(adequate 0\.85\), .*slower than other regions: p75 3\.0 s vs \d+ ms/,
     "the title in words: $i->{title}");
like($i->{look_at}, qr/^(\/|search|checkout), .* in BR \((free, pro|pro, free)\): server errors/,
     "what to look at: $i->{look_at}");
like($i->{owner}, qr/^(payments, search|search, payments)$/,
     "owned by the teams of its members: $i->{owner}");
like($i->{runbook}, qr{https://wiki\.example/(checkout|search), https://},
     "and their runbooks: $i->{runbook}");

my $m = $c->get('/metrics')->{content};
is($c->metric($m, 'servqual_incidents_firing', severity => 'critical'), 1,
   '/metrics: one critical incident');

# the log and the webhook: one incident opened

my @opened = $c->log_text =~ /(incident opened [^\n]*)/g;
is(scalar(grep { /region="BR"/ } @opened), 1, 'the log: one incident opened')
    or diag join "\n", @opened;
like($opened[0] // '', qr/cause=region .*: Brazil: reliability/,
     'the log line says it in words');
ok($c->wait_for(sub {
    grep { ($_->{kind} // '') eq 'incident' && $_->{id} eq $i->{id}
           && $_->{status} eq 'firing' } $hook->posts }, 10),
   'the webhook got the incident');

SKIP: {
    skip 'prometheus-alertmanager not available', 4 unless $am;

    my @got;
    ok(defined SQAlert::pump($c, sub { tick(%br); {} }, sub {
        @got = grep { ($_->{labels}{incident} // '') eq $i->{id} }
               $am->am_alerts;
        @got >= 3;
    }, 15), 'Alertmanager holds the incident');
    my %per = map { $_->{labels}{dimension} => $_ } @got;
    is(scalar(@got), scalar(keys %per), 'one alert per dimension');
    ok(!(grep { exists $_->{labels}{endpoint} } @got),
       'labelled with the region, not an endpoint');
    like($per{reliability}{annotations}{members} // '',
         qr/checkout in BR \(free\) is below/, 'the member rows annotated');
}

# Japan fails on checkout only: a second, narrower incident

my %both = (%br, JP => [ [ 'checkout', 'failing' ] ]);
ok(defined SQAlert::pump($c, sub { tick(%both); {} },
                         sub { incidents() == 2 }, 30),
   'Japan failing on checkout: a second incident');
SQAlert::pump($c, sub { tick(%both); {} }, sub { 0 }, 2);

@inc = incidents();
is(scalar @inc, 2, 'two incidents');
is($inc[0]{scope}{region}, 'BR', 'Brazil first (wider)');
is($inc[0]{id}, $i->{id}, 'the same incident, the same id');
my ($jp) = grep { ($_->{scope}{region} // '') eq 'JP' } @inc;
ok($jp, 'an incident for Japan');
is($jp && $jp->{cause}, 'row', 'narrower: one endpoint in one region');
is($jp && $jp->{scope}{endpoint}, 'checkout', 'checkout');
like($jp && $jp->{title}, qr/^checkout in Japan: reliability/,
     'titled "checkout in Japan"');
ok($jp && !(grep { $_->{labels}{region} eq 'BR' } @{ $jp->{members} }),
   'none of Brazil in it');
is($jp && $jp->{owner}, 'payments', 'owned by payments');
is($jp && $jp->{runbook}, 'https://wiki.example/checkout', 'its runbook');

# Brazil recovers: its incident resolves, Japan's stays

ok(defined SQAlert::pump($c,
    sub { tick(JP => [ [ 'checkout', 'failing' ] ]); {} },
    sub { my @x = incidents(); @x == 1 && $x[0]{scope}{region} eq 'JP' },
    40), 'Brazil recovered: its incident resolves');
like($c->log_text, qr/incident resolved id=\Q$i->{id}\E/,
     'the log has the resolution');
ok($c->wait_for(sub {
    grep { ($_->{kind} // '') eq 'incident' && $_->{id} eq $i->{id}
           && $_->{status} eq 'resolved' } $hook->posts }, 10),
   'the webhook got the resolution');

is($c->stop, 0, 'the collector exits cleanly');

done_testing();
