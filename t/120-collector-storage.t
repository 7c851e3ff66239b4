#!/usr/bin/perl

# The history store: slots written once they are over, the windows
# reloaded from them at start.  A clean stop (SIGTERM) loses nothing: the
# windows are the same after a restart, and a slot written at the stop and
# completed after the restart is not counted twice; kill -9 loses at most
# the current slot, and with the ingest log nothing.  /api/v1/history
# scores each stored slot, and the database carries its schema version.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use Test::More;
use Time::HiRes qw(sleep);

my $c = SQCollector->new(windows => '{ slot: 2s, short: 2m, long: 10m }',
                         min_requests => 10);
$c->start;

my $seq = 0;

# n requests per series: US fast, BR slow, DE failing, a premium segment
sub traffic {
    my ($n) = @_;
    $c->send(SQCollector::datagram(seq => ++$seq, series => [
        SQCollector::series(endpoint => 'checkout', region => 'US',
            latencies => [ (0.04) x $n ],
            counters => { status_2xx => $n, tls_1_3 => $n }),
        SQCollector::series(endpoint => 'checkout', region => 'BR',
            latencies => [ (3.0) x $n ],
            counters => { status_2xx => $n, tls_1_3 => $n }),
        SQCollector::series(endpoint => 'checkout', region => 'DE',
            latencies => [ (0.04) x $n ],
            counters => { status_2xx => $n - 2, status_5xx => 2,
                          upstream_errors => 2, tls_1_3 => $n }),
        SQCollector::series(endpoint => 'checkout', region => 'US',
            segment => 'premium', latencies => [ (0.3) x $n ],
            counters => { status_2xx => $n, tls_1_2 => $n }),
    ]));
    return 4 * $n;
}

# what a restart must keep: per row and window, requests and states
sub snapshot {
    my $q = $c->json('/api/v1/quality');
    my %s;
    for my $r (@{ $q->{rows} }) {
        my $k = join '/', $r->{scope}, $r->{endpoint} // $r->{journey} // '',
                          $r->{region}, $r->{segment};
        for my $w (qw(short long)) {
            my $x = $r->{windows}{$w};
            $s{$k}{$w} = join ' ', $x->{requests}, $x->{state},
                map { "$_=$x->{dimensions}{$_}{state}" }
                    sort keys %{ $x->{dimensions} };
        }
    }
    return \%s;
}

sub endpoint_requests {
    my $r = $c->row($c->json('/api/v1/quality'), scope => 'endpoint',
                    endpoint => 'checkout');
    return $r ? $r->{windows}{short}{requests} : 0;
}

sub history_total {
    my ($q) = @_;
    my $h = $c->json('/api/v1/history?endpoint=checkout&minutes=30'
                     . ($q // ''));
    my $n = 0;
    $n += $_->{requests} for @{ $h->{points} };
    return $n;
}

# -- a clean stop loses nothing

my $total = traffic(50);
ok($c->wait_for(sub { endpoint_requests() == $total }, 30),
   "$total requests counted");

my $before = snapshot();
is($c->stop, 0, 'SIGTERM: exit status 0');
like($c->log_text, qr/rollups of the current slot written/,
     'the current slot written at the stop');

$c->start;
like($c->log_text, qr/storage ".*servqual\.db": \d+ rollups .* loaded/,
     'rollups loaded at start');
is_deeply(snapshot(), $before,
          'after a restart: the same requests and states in every window');

# more traffic, maybe into the slot written at the stop: once complete,
# the slot is replaced with the merged one, never added twice

$total += traffic(20);
ok($c->wait_for(sub { history_total() == $total }, 30),
   "the history has every request once ($total)")
    or diag("history: " . history_total());
$before = snapshot();
is($c->stop, 0, 'stopped again');
$c->start;
is_deeply(snapshot(), $before, 'second restart: the same windows');
is(endpoint_requests(), $total, "still $total requests, none twice");

# -- kill -9 loses at most the current slot

$total += traffic(10);
ok($c->wait_for(sub { history_total() == $total }, 30),
   'the completed slot is in the history');

my $extra = traffic(5);
ok($c->wait_for(sub { endpoint_requests() == $total + $extra }, 30),
   'more traffic in the current slot');
$c->signal('KILL');
$c->wait_for(sub { !$c->alive }, 30);
delete $c->{pid};

$c->start;
my $n = endpoint_requests();
ok($n >= $total && $n <= $total + $extra,
   "kill -9: $n requests, at most the current slot lost "
   . "($total..." . ($total + $extra) . ")");
is($n, $total + $extra,
   'kill -9: the ingest log gave back the current slot, nothing lost');

# -- /api/v1/history

my $h = $c->json('/api/v1/history?endpoint=checkout&region=BR&minutes=30');
is($h->{endpoint}, 'checkout', 'history: endpoint');
is($h->{region}, 'BR', 'history: region');
is($h->{segment}, '*', 'history: all segments');
is($h->{slot}, 2, 'history: the slot length');
ok(@{ $h->{points} } >= 1, 'history: points');

my $p = $h->{points}[0];
is($p->{t} % 2, 0, 'a point starts at a slot boundary');
is_deeply([ sort keys %{ $p->{dimensions} } ],
          [ qw(assurance empathy reliability responsiveness tangibles) ],
          'every dimension in a point');

my ($big) = grep { $_->{requests} >= 10 } @{ $h->{points} };
ok($big, 'a point with enough requests to judge');
is($big && $big->{dimensions}{responsiveness}{state}, 'below',
   'the slow region is below on responsiveness, as in the windows');
ok($big && defined $big->{dimensions}{responsiveness}{z}
   && $big->{dimensions}{responsiveness}{z} < 0, 'with z < 0');

my ($de) = grep { $_->{requests} >= 10 } @{ $c->json(
    '/api/v1/history?endpoint=checkout&region=DE&minutes=30')->{points} };
is($de && $de->{dimensions}{reliability}{state}, 'below',
   'the failing region is below on reliability');

# the slot given back by the ingest log is written once it is over
$c->wait_for(sub { history_total('&region=*&segment=*') == $n }, 10);
is(history_total('&region=US&segment=premium'), $n / 4,
   'region and segment select one series');
is(history_total('&region=*&segment=*'), $n, '"*" rolls up');
is(scalar @{ $c->json('/api/v1/history?endpoint=checkout&from=1&to=2')
                 ->{points} }, 0, 'from/to: nothing in 1970');
is(scalar @{ $c->json('/api/v1/history?endpoint=nothing')->{points} }, 0,
   'unknown endpoint: no points');
is($c->get('/api/v1/history')->{status}, 400, 'endpoint is required');
is($c->get('/api/v1/history?endpoint=checkout&minutes=x')->{status}, 400,
   'minutes must be a number');

# -- the schema

SKIP: {
    my $db = "$c->{dir}/servqual.db";
    skip 'no sqlite3 command', 3 unless `sqlite3 -version 2>/dev/null`;

    is(`sqlite3 '$db' 'PRAGMA user_version'`, "5\n", 'schema version 5');
    is(`sqlite3 '$db' 'PRAGMA journal_mode'`, "wal\n", 'WAL');
    like(`sqlite3 '$db' .tables`, qr/alerts.*rollups.*series/s,
         'tables: alerts, rollups, series');
}

is($c->stop, 0, 'clean exit');
unlike($c->log_text, qr/\[error\]/, 'no errors in the log');

done_testing;
