#!/usr/bin/perl

# Storage stays bounded: a row of the series table whose rollups are all
# past storage.retention is deleted with them (nothing refers to it any
# more), a series with a recent rollup is kept, and slots written after
# the pruning refer only to series rows that exist (the store's cache of
# series ids does not hand out a deleted id).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use Test::More;
use Time::HiRes qw(sleep);

plan skip_all => 'no sqlite3 command' unless `sqlite3 -version 2>/dev/null`;

my $c = SQCollector->new(windows => 'fast', min_requests => 1);
my $db = "$c->{dir}/servqual.db";

sub sql {
    my ($q) = @_;
    my $out = `sqlite3 $db "$q"`;
    $? == 0 or die "sqlite3: $q";
    chomp $out;
    return $out;
}

$c->write_conf(collector_conf_retention());
$c->start;
is($c->stop, 0, 'a first start creates the database');

my $now = time;
my $old = $now - 3 * 86400;
my $recent = $now - 600;

system('sqlite3', $db, <<"SQL") == 0 or die 'sqlite3 failed';
INSERT INTO series (id, endpoint, region, segment) VALUES (1, 'gone', 'US', '');
INSERT INTO series (id, endpoint, region, segment) VALUES (2, 'kept', 'US', '');
INSERT INTO series (id, endpoint, region, segment) VALUES (3, 'gone', 'BR', '');
INSERT INTO rollups (series, t, secs, complete, requests, slot)
    VALUES (1, $old, 60, 1, 1, x'01010000');
INSERT INTO rollups (series, t, secs, complete, requests, slot)
    VALUES (1, $old + 60, 60, 1, 1, x'01010000');
INSERT INTO rollups (series, t, secs, complete, requests, slot)
    VALUES (2, $old, 60, 1, 1, x'01010000');
INSERT INTO rollups (series, t, secs, complete, requests, slot)
    VALUES (2, $recent, 60, 1, 1, x'01010000');
INSERT INTO rollups (series, t, secs, complete, requests, slot)
    VALUES (3, $old, 60, 1, 1, x'01010000');
SQL

is(sql('SELECT count(*) FROM series'), 3, 'three series rows before');

$c->start;

is(sql('SELECT endpoint FROM series ORDER BY id'), 'kept',
   'the series whose rollups are all past retention are deleted');
is(sql('SELECT count(*) FROM rollups'), 1, 'one rollup left');
like($c->log_text, qr/rows past retention/, 'the pruning is logged')
    or diag($c->log_text);

# new series after the pruning, written once their slot is over

my $seq = 0;

for (1 .. 3) {
    $c->send(SQCollector::datagram(seq => ++$seq, series => [
        SQCollector::series(endpoint => 'fresh', region => 'DE',
            latencies => [ (0.05) x 10 ], counters => { status_2xx => 10 }),
        SQCollector::series(endpoint => 'kept', region => 'US',
            latencies => [ (0.05) x 10 ], counters => { status_2xx => 10 }),
    ]));
    sleep 1.1;
}

is($c->stop, 0, 'clean exit');

is(sql('SELECT count(*) FROM rollups r WHERE NOT EXISTS '
       . '(SELECT 1 FROM series s WHERE s.id = r.series)'), 0,
   'every rollup written after the pruning has its series row');
is(sql("SELECT count(*) FROM series WHERE endpoint = 'kept'"), 1,
   'the kept series has one row');
ok(sql("SELECT count(*) FROM rollups r JOIN series s ON s.id = r.series "
       . "WHERE s.endpoint = 'fresh'") >= 1, 'the new series was stored');

done_testing;


sub collector_conf_retention {
    return "  retention: 1d\n"
         . SQCollector::collector_conf(windows => 'fast', min_requests => 1)
         . "log:\n  level: debug\n";
}
