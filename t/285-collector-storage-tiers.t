#!/usr/bin/perl

# Storage in two tiers: fine rollups (one series, one slot) kept for
# storage.slot_retention, then merged into coarse rows of
# storage.coarse_slot, counts added, kept for storage.retention.
#
#   - -t checks that the tiers nest, with file, line and key
#   - a real collector with tiers of seconds: the slot rows become coarse
#     rows, the history API reads both tiers and its totals equal what
#     was sent, at the seam (both tiers present) and after
#   - a database of schema 4 is migrated to 5, its old minute rows
#     merged into hourly rows; kill -9 in the middle of that work, again
#     and again, loses and doubles nothing
#   - a series whose rows are all past retention is pruned, one with a
#     recent coarse row is kept

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use SQProc qw(prefix run_cmd);
use Test::More;
use Time::HiRes qw(sleep time);

plan skip_all => 'no sqlite3 command' unless `sqlite3 -version 2>/dev/null`;

my $bin = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';


# -- -t: the tiers nest

my $dir = prefix();

sub check {
    my ($yaml) = @_;
    my $conf = "$dir/conf/check.yaml";
    open my $f, '>', $conf or die;
    print $f $yaml;
    close $f;
    return run_cmd($bin, '-t', '-c', $conf);
}

my ($rc, $out) = check("storage:\n  path: $dir/tmp/a.db\n"
                       . "  retention: 7d\n  slot_retention: 7d\n");
isnt($rc, 0, '-t: slot_retention as long as retention is refused');
like($out, qr{check\.yaml:4:\ storage\.slot_retention:\ must\ be\ shorter
               \ than\ storage\.retention\ \(7d\)}x,
     '... with file, line and key')
    or diag($out);

($rc, $out) = check("storage:\n  retention: 30d\n  slot_retention: 1h\n"
                    . "  coarse_slot: 2h\n  path: $dir/tmp/a.db\n");
isnt($rc, 0, '-t: a coarse slot longer than slot_retention is refused');
like($out, qr{check\.yaml:4:\ storage\.coarse_slot:\ must\ not\ be\ longer
               \ than\ storage\.slot_retention\ \(1h\)}x,
     '... with file, line and key')
    or diag($out);

($rc, $out) = check("storage:\n  coarse_slot: 2d\n  path: $dir/tmp/a.db\n");
isnt($rc, 0, '-t: a coarse slot over a day is refused');
like($out, qr{check\.yaml:2: storage\.coarse_slot: at most 1d}, '... said')
    or diag($out);

($rc, $out) = check("storage:\n  retention: 1d\n  path: $dir/tmp/a.db\n");
is($rc, 0, '-t: a retention shorter than the default slot_retention is '
   . 'one tier') or diag($out);

($rc, $out) = check("storage:\n  retention: 30d\n  slot_retention: 2d\n"
                    . "  coarse_slot: 1h\n  path: $dir/tmp/a.db\n");
is($rc, 0, '-t: the defaults written out pass') or diag($out);


# -- a real collector, tiers of seconds

my $c = SQCollector->new;
my $db = "$c->{dir}/servqual.db";

sub sql {
    my ($q, $file) = @_;
    $file //= $db;
    my $out = `sqlite3 '$file' "$q"`;
    $? == 0 or die "sqlite3: $q";
    chomp $out;
    return $out;
}

sub conf_tiers {
    my (%s) = @_;
    return "  retention: $s{retention}\n"
         . "  slot_retention: $s{slot_retention}\n"
         . "  coarse_slot: $s{coarse_slot}\n"
         . SQCollector::collector_conf(windows => 'fast', min_requests => 1)
         . "log:\n  level: debug\n";
}

$c->write_conf(conf_tiers(retention => '1d', slot_retention => '20s',
                          coarse_slot => '10s'));
$c->start;

my ($seq, $sent) = (0, 0);

for my $i (1 .. 12) {
    my ($us, $de) = (3 + $i % 5, 1 + $i % 3);
    $c->send(SQCollector::datagram(seq => ++$seq, series => [
        SQCollector::series(endpoint => 'tier', region => 'US',
            latencies => [ (0.05) x $us ], counters => { status_2xx => $us }),
        SQCollector::series(endpoint => 'tier', region => 'DE',
            latencies => [ (0.2) x $de ], counters => { status_2xx => $de }),
    ]));
    $sent += $us + $de;
    sleep 1;
}

sub history {
    my $h = $c->json('/api/v1/history?endpoint=tier&minutes=60');
    my ($n, %secs) = (0);
    for my $p (@{ $h->{points} }) {
        $n += $p->{requests};
        $secs{ $p->{secs} }++;
    }
    return ($n, \%secs);
}

sub stored {
    return sql("SELECT (SELECT coalesce(sum(requests), 0) FROM rollups) "
               . "+ (SELECT coalesce(sum(requests), 0) FROM coarse)");
}

# the seam: some slots merged, others not yet

ok($c->wait_for(sub { sql('SELECT count(*) FROM coarse') > 0 }, 90),
   'slot rows become coarse rows') or diag($c->log_text);

my $fine = sql('SELECT count(*) FROM rollups');
my ($n, $secs) = history();
ok($fine > 0, "at the seam: $fine slot rows not merged yet");
is(stored(), $sent, "at the seam: the two tiers hold the $sent requests sent");
is($n, $sent, 'at the seam: the history counts each request once');
ok($secs->{10} && $secs->{1}, 'at the seam: points of 10 s and of 1 s')
    or diag(explain($secs));

ok($c->wait_for(sub { sql('SELECT count(*) FROM rollups') == 0 }, 90),
   'every slot row is merged once past slot_retention')
    or diag($c->log_text);

($n, $secs) = history();
is(stored(), $sent, 'merged: the coarse rows hold every request');
is($n, $sent, 'merged: the history counts every request');
is_deeply([ keys %$secs ], [ 10 ], 'merged: every point is of 10 s');
is(sql('SELECT count(*) FROM coarse WHERE t % 10 != 0 OR secs != 10'), 0,
   'coarse rows start on their slot');
like($c->log_text, qr/rollups before \d+ merged into rows of 10s in \d+ slices/,
     'the work is logged');

# and shown in /metrics: every slot row the coarse rows hold was merged
my $m = $c->get('/metrics')->{content} // '';
is($c->metric($m, 'servqual_storage_merged_rows_total'),
   sql('SELECT sum(slots) FROM coarse'),
   '/metrics: the slot rows merged, as many as the coarse rows hold');
cmp_ok($c->metric($m, 'servqual_storage_merge_slices_total') // 0, '>=', 1,
       '/metrics: the slices that merged them');
cmp_ok($c->metric($m, 'servqual_storage_merge_slice_max_seconds') // 0,
       '>', 0, '/metrics: the longest slice, in seconds');

is($c->stop, 0, 'clean exit');
unlike($c->log_text, qr/\[error\]/, 'no errors in the log');


# -- schema 4 with old minute rows: migrated, merged; kill -9 meanwhile

my $k = SQCollector->new;
my $kdb = "$k->{dir}/servqual.db";
my $conf = conf_tiers(retention => '2d', slot_retention => '2h',
                      coarse_slot => '1h');

$k->write_conf($conf);
$k->start;
is($k->stop, 0, 'a first start creates the database');

my $NS = 300;                     # series
my $NM = 240;                     # minutes each, four hours
my $now = time;
my $base = int(($now - 10 * 3600) / 3600) * 3600;

# schema 4: this database without the coarse table

system('sqlite3', $kdb, 'DROP TABLE coarse; PRAGMA user_version = 4;') == 0
    or die 'sqlite3 failed';
is(sql('PRAGMA user_version', $kdb), 4, 'a database of schema 4');

{
    open my $s, '|-', 'sqlite3', $kdb or die 'sqlite3';
    print $s "BEGIN;\n";
    for my $id (1 .. $NS) {
        print $s "INSERT INTO series (id, endpoint, region, segment) "
               . "VALUES ($id, 'bulk', 'R$id', '');\n";
    }
    # a slot of 5 requests: map 1 (requests), 5, no bins
    print $s "WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m "
           . "WHERE i + 1 < $NM) "
           . "INSERT INTO rollups (series, t, secs, complete, requests, slot) "
           . "SELECT s.id, $base + m.i * 60, 60, 1, 5, x'01050000' "
           . "FROM series s, m;\n";
    # a series whose only row is past retention
    print $s "INSERT INTO series (id, endpoint, region, segment) "
           . "VALUES (1000, 'gone', 'US', '');\n";
    print $s "INSERT INTO rollups (series, t, secs, complete, requests, slot) "
           . "VALUES (1000, $now - 5 * 86400, 60, 1, 5, x'01050000');\n";
    print $s "COMMIT;\n";
    close $s or die 'sqlite3 failed';
}

my $total = $NS * $NM * 5;
is(sql("SELECT sum(requests) FROM rollups r JOIN series s ON s.id = r.series "
       . "WHERE s.endpoint = 'bulk'", $kdb), $total,
   "$total requests in minute rows");

# the migration alone: minute rows younger than slot_retention stay

$k->write_conf(conf_tiers(retention => '2d', slot_retention => '1d',
                          coarse_slot => '1h'));
$k->start;
is($k->stop, 0, 'the migration');
is(sql('PRAGMA user_version', $kdb), 5, 'migrated to schema 5');
is(sql('SELECT count(*) FROM coarse', $kdb), 0, 'an empty coarse tier');
is(sql('SELECT count(*) FROM rollups', $kdb), $NS * $NM,
   'every minute row kept, the one past retention deleted');
is(sql("SELECT count(*) FROM series WHERE endpoint = 'gone'", $kdb), 0,
   'the series past retention is pruned');

# a series whose only row is a recent hourly one

system('sqlite3', $kdb, "INSERT INTO series (id, endpoint, region, segment) "
       . "VALUES (1001, 'kept', 'US', ''); INSERT INTO coarse (series, t, "
       . "secs, requests, beacons, slots, slot) VALUES (1001, $base - 3600, "
       . "3600, 5, 0, 1, x'01050000');") == 0 or die 'sqlite3 failed';

sub bulk {
    return sql("SELECT (SELECT coalesce(sum(r.requests), 0) FROM rollups r "
               . "JOIN series s ON s.id = r.series WHERE s.endpoint = 'bulk')"
               . " || ' ' || "
               . "(SELECT coalesce(sum(c.requests), 0) || ' ' "
               . "|| coalesce(sum(c.slots), 0) FROM coarse c "
               . "JOIN series s ON s.id = c.series WHERE s.endpoint = 'bulk')",
               $kdb);
}

$k->write_conf($conf);

my $kills = 0;

for my $round (1 .. 3) {
    $k->start;
    my $t0 = time;
    $k->wait_for(sub {
        my ($fine, $merged) = split / /, bulk();
        $merged > 0 && $fine > 0 && $merged >= $round * $total / 8;
    }, 120);
    sleep 0.05 + rand(0.5);
    my ($fine) = split / /, bulk();
    last if $fine == 0;
    $k->signal('KILL');
    waitpid($k->{pid}, 0);
    delete $k->{pid};
    $kills++;
    my ($f, $m, $slots) = split / /, bulk();
    is($f + $m, $total, "kill -9 #$kills in the middle of the work: "
       . "$f requests in minute rows and $m in hourly rows, none lost or "
       . "doubled");
}

ok($kills >= 1, "killed $kills times while merging");

$k->start;
ok($k->wait_for(sub { (split / /, bulk())[0] == 0 }, 180),
   'after the kills the work is finished') or diag($k->log_text);

my (undef, $hourly, $slots) = split / /, bulk();
is($hourly, $total, 'every request is in the hourly rows once');
is($slots, $NS * $NM, 'every minute row went into one hourly row once');
is(sql("SELECT count(*) FROM coarse c JOIN series s ON s.id = c.series "
       . "WHERE s.endpoint = 'bulk'", $kdb), $NS * $NM / 60,
   'one hourly row per series and hour');
is(sql("SELECT count(*) FROM coarse c JOIN series s ON s.id = c.series "
       . "WHERE s.endpoint = 'bulk' AND (requests != 300 OR slots != 60 "
       . "OR secs != 3600 OR t % 3600 != 0)", $kdb), 0,
   'each hourly row holds its 60 minutes, 300 requests');

my $h = $k->json("/api/v1/history?endpoint=bulk&from=$base&to="
                 . ($base + $NM * 60));
my $hn = 0;
$hn += $_->{requests} for @{ $h->{points} };
is($hn, $total, 'the history of the hourly rows counts every request');
is(scalar @{ $h->{points} }, $NM / 60, 'one point an hour');

is(sql("SELECT group_concat(endpoint) FROM series WHERE id >= 1000", $kdb),
   'kept', 'a series with a recent hourly row only is kept');

is($k->stop, 0, 'clean exit');
unlike($k->log_text, qr/\[error\]/, 'no errors in the log')
    or diag($k->log_text);

done_testing;
