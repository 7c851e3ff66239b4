#!/usr/bin/perl

# A database written by a collector of schema 1 (a rollup in three BLOBs
# of its own varint codec) is migrated at start to schema 2 (the packed
# slot of the window store): its history is served and its last long
# window loaded into the windows, as before, and after a restart too.
# Schema 4 adds the browser's beacons to each rollup: a database of
# schema 3 is migrated, its rollups kept with 0 beacons, and a rollup
# with beacons (wire version 3) stores and loads them.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use SQWire qw(datagram series);
use Test::More;

plan skip_all => 'no sqlite3 command' unless `sqlite3 -version 2>/dev/null`;

my $c = SQCollector->new(conf => '');
my $db = "$c->{dir}/servqual.db";

sub varints {
    my $s = '';
    for my $x (@_) {
        my $v = $x;
        while ($v >= 0x80) {
            $s .= sprintf '%02x', ($v & 0x7f) | 0x80;
            $v >>= 7;
        }
        $s .= sprintf '%02x', $v;
    }
    return "x'$s'";
}

# counters in wire order: requests, 1xx, 2xx, 3xx, 4xx, 5xx, then zeros
sub v1_rollup {
    my ($series, $t, $n, $c5xx) = @_;
    my $counters = varints(23, $n, 0, $n - $c5xx, 0, 0, $c5xx, (0) x 17);
    my $hist = varints(1, 500, $n);
    return "INSERT INTO rollups VALUES ($series, $t, 60, 1, $n, "
           . "$counters, $hist, $hist);\n";
}

my $now = time;
my $t = $now - $now % 60;
my @t = ($t - 180, $t - 120, $t - 60);

open my $sql, '|-', 'sqlite3', $db or die "sqlite3: $!";
print $sql <<'SQL';
CREATE TABLE series (id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL,
  region TEXT NOT NULL, segment TEXT NOT NULL,
  UNIQUE (endpoint, region, segment));
CREATE TABLE rollups (series INTEGER NOT NULL, t INTEGER NOT NULL,
  secs INTEGER NOT NULL, complete INTEGER NOT NULL,
  requests INTEGER NOT NULL, counters BLOB NOT NULL, rt BLOB NOT NULL,
  ttfb BLOB NOT NULL, PRIMARY KEY (series, t)) WITHOUT ROWID;
CREATE INDEX rollups_t ON rollups (t);
CREATE TABLE alerts (id INTEGER PRIMARY KEY, t INTEGER NOT NULL,
  status TEXT NOT NULL, severity TEXT NOT NULL, endpoint TEXT NOT NULL,
  region TEXT NOT NULL, segment TEXT NOT NULL, journey TEXT,
  dimension TEXT NOT NULL, indicator TEXT NOT NULL, value REAL,
  adequate REAL, desired REAL, msa REAL, since INTEGER NOT NULL,
  labels TEXT NOT NULL);
CREATE INDEX alerts_t ON alerts (t);
INSERT INTO series VALUES (1, 'checkout', 'US', '');
INSERT INTO series VALUES (2, 'checkout', 'BR', '');
PRAGMA user_version = 1;
SQL
print $sql v1_rollup(1, $t[0], 20, 0), v1_rollup(1, $t[1], 30, 3),
           v1_rollup(2, $t[1], 40, 0), v1_rollup(2, $t[2], 50, 5);
close $sql or die 'sqlite3 failed';

is(`sqlite3 '$db' 'PRAGMA user_version'`, "1\n", 'a database of schema 1');

sub history {
    my ($region) = @_;
    my $h = $c->json('/api/v1/history?endpoint=checkout&minutes=10'
                     . ($region ? "&region=$region" : ''));
    my $n = 0;
    $n += $_->{requests} for @{ $h->{points} };
    return (scalar @{ $h->{points} }, $n);
}

sub short_requests {
    my $r = $c->row($c->json('/api/v1/quality'), scope => 'endpoint',
                    endpoint => 'checkout');
    return $r ? $r->{windows}{short}{requests} : 0;
}

for my $run ('after the migration', 'after a restart') {
    $c->start;

    is(`sqlite3 '$db' 'PRAGMA user_version'`, "5\n", "$run: schema 5");
    is(`sqlite3 '$db' 'SELECT count(*) FROM rollups'`, "4\n",
       "$run: every rollup kept");
    is_deeply([ history() ], [ 3, 140 ],
              "$run: the history, three slots of 140 requests");
    is_deeply([ history('BR') ], [ 2, 90 ], "$run: one region's");
    is(short_requests(), 140, "$run: loaded into the short window");
    like($c->log_text, qr/storage "[^"]*": 4 rollups/,
         "$run: four rollups loaded");

    is($c->stop, 0, "$run: clean exit");
    unlike($c->log_text, qr/\[error\]/, "$run: no errors in the log");
}

# schema 3 -> 4: the beacons column added, the rollups kept

system('sqlite3', $db, 'ALTER TABLE rollups DROP COLUMN beacons; '
       . 'PRAGMA user_version = 3;') == 0 or die 'sqlite3 failed';
is(`sqlite3 '$db' 'PRAGMA user_version'`, "3\n", 'a database of schema 3');

$c->start;
is(`sqlite3 '$db' 'PRAGMA user_version'`, "5\n",
   'migrated to schema 5, through 4');
is(`sqlite3 '$db' 'SELECT count(*), sum(beacons) FROM rollups'`, "4|0\n",
   'every rollup kept, without beacons');

$c->send(datagram(series => [
    series(endpoint => 'page', region => 'BR', latencies => [ (0.1) x 25 ],
           browser => { lcp => [ (1.5) x 25 ], cls => [ (0.02) x 25 ] }) ]));

sub beacons {
    my $r = $c->row($c->json('/api/v1/quality'), scope => 'series',
                    endpoint => 'page');
    return $r && $r->{windows}{short}{browser}
           ? $r->{windows}{short}{browser}{beacons} : 0;
}

ok($c->wait_for(sub { beacons() == 25 }), 'a rollup with 25 beacons');
is($c->stop, 0, 'clean exit');
is(`sqlite3 '$db' "SELECT sum(beacons) FROM rollups"`, "25\n",
   'its beacons stored');

$c->start;
ok($c->wait_for(sub { beacons() == 25 }), 'and loaded after a restart');
is($c->stop, 0, 'clean exit');

done_testing;
