#!/usr/bin/perl

# Disk over 30 days (section 10): the history store's size per series and
# day with the default tiers (minute rows for storage.slot_retention, 2d;
# hourly rows up to storage.retention, 30d), and the compaction's speed.
#
#   1. slot rows written through the real write path: a collector with
#      1-second slots fed by build/sq-loadgen (N series, 100 a datagram,
#      each series in every slot) for S seconds, then stopped;
#   2. those rows moved back in time, 3 days ago, one a minute
#      (t = base + i * 60, secs = 60: the rows themselves, their packed
#      slots, are untouched), so they are minute rows past the default
#      slot_retention;
#   3. the collector started with the defaults: it merges them into
#      hourly rows, one slice a tick; the log line of the pass gives the
#      rows, the slices, the time in slices and the longest slice.
#
# Sizes are SQLite's pages (dbstat) of each tier's table and index: what
# a database in its steady state holds, with freed pages reused.
#
#   bench/disk.pl --tmp DIR --out FILE [--quick] [--series N]
#                 [--seconds S]

use strict;
use warnings;

use FindBin qw($Bin);
use lib "$Bin/lib";

use Bench;
use Getopt::Long qw(GetOptions);
use Time::HiRes qw(time sleep);

my %opt;
GetOptions(\%opt, 'tmp=s', 'out=s', 'quick', 'series=i', 'seconds=i')
    or die "usage: $0 --tmp DIR --out FILE [--quick] [--series N] "
         . "[--seconds S]\n";

for (qw(tmp out)) {
    die "$0: --$_ is required\n" unless defined $opt{$_};
}

$SIG{INT} = $SIG{TERM} = sub { Bench::stop_all(); exit 1 };
END { Bench::stop_all() }

my $repo = repo_root();
my $collector = $ENV{SERVQUAL_COLLECTOR_BIN}
    // "$repo/build/servqual-collector";
my $loadgen = $ENV{SQ_LOADGEN_BIN} // "$repo/build/sq-loadgen";

my $N = $opt{series} // ($opt{quick} ? 500 : 2000);
my $S = $opt{seconds} // ($opt{quick} ? 20 : 240);
$N = 100 * int(($N + 99) / 100);

open my $out, '>', $opt{out} or die "$opt{out}: $!\n";

my @missing = grep { !-x $_ } $collector, $loadgen;
push @missing, 'sqlite3' unless `sqlite3 -version 2>/dev/null`;

if (@missing) {
    my $what = join ' and ', map { s{^\Q$repo\E/}{}r } @missing;
    print $out "## 10. Disk over 30 days\n\n"
             . "**not measured yet** ($what missing).\n\n";
    close $out or die "$opt{out}: $!\n";

    exit 0;
}

my $dir = "$opt{tmp}/disk";
mkdir $dir;
my $db = "$dir/servqual.db";


sub sql {
    my ($q) = @_;
    my $r = `sqlite3 '$db' "$q"`;
    $? == 0 or die "sqlite3: $q\n";
    chomp $r;
    return $r;
}

sub pages {
    my (@names) = @_;
    my $in = join ', ', map { "'$_'" } @names;
    return sql("SELECT coalesce(sum(pgsize), 0) FROM dbstat "
               . "WHERE name IN ($in)");
}

sub start_collector {
    my ($tag, $extra, $level) = @_;
    $level //= 'info';

    my $ingest = Bench::free_port('udp');
    my $http = Bench::free_port('tcp');
    my $conf = "$dir/$tag.yaml";
    my $log = "$dir/$tag.log";

    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh <<"EOF";
listen:
  ingest: udp://127.0.0.1:$ingest
  http: 127.0.0.1:$http
storage:
  path: $db
limits:
  max_series: 200000
alerts:
  scopes: [journey]
log:
  level: $level
$extra
EOF
    close $fh;

    my $pid = Bench::spawn("collector $tag", 'sh', '-c',
                           'exec "$@" 2>>"$0"', $log, $collector, '-c',
                           $conf);
    Bench::wait_port($http, 30, $pid);

    return { pid => $pid, ingest => $ingest, log => $log };
}

sub stop_collector {
    my ($c) = @_;
    Bench::stop_nginx($c->{pid}, 'TERM');
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    return <$fh>;
}


# 1. slot rows through the write path

my $c = start_collector('write', "windows: { slot: 1s, short: 5s, long: 60s }");
my $w = $N / 100;
my @gen = ($loadgen, '-a', "127.0.0.1:$c->{ingest}", '-w', $w, '-s', 100,
           '-d', $S, '-r', 4 * $w);
system(@gen) == 0 or die "sq-loadgen failed: @gen\n";
sleep 2;
stop_collector($c);

sql('PRAGMA wal_checkpoint(TRUNCATE)');

my $fine_rows = sql('SELECT count(*) FROM rollups');
my $nseries = sql('SELECT count(*) FROM series');
my $requests = sql('SELECT sum(requests) FROM rollups');
my $fine_bytes = pages('rollups', 'rollups_t');
my $slot_bytes = sql('SELECT sum(length(slot)) FROM rollups');

die "no rows written\n" unless $fine_rows;


# 2. one a minute, three days ago

my $t0 = sql('SELECT min(t) FROM rollups');
my $base = int((time - 3 * 86400) / 3600) * 3600;
sql("UPDATE rollups SET t = $base + (t - $t0) * 60, secs = 60");
my $minutes = sql('SELECT max(t) - min(t) FROM rollups') / 60 + 1;


# 3. the defaults: merged into hourly rows

$c = start_collector('compact', '', 'debug');
my ($pass, $deadline) = (undef, time + 600 + $fine_rows / 500);

while (time < $deadline) {
    $pass = $1 if slurp($c->{log})
        =~ /(\d+ rollups before \d+ merged into rows of 1h in .*)/;
    last if $pass;
    sleep 0.5;
}

stop_collector($c);
die "no compaction pass in the log\n" unless $pass;

my ($merged, $slices, $busy, $rate, $longest) = $pass
    =~ /^(\d+) rollups .* in (\d+) slices, ([\d.]+) ms \((\d+) rows\/s\), the longest slice ([\d.]+) ms/
    or die "cannot read: $pass\n";

# every slice's time, from the debug lines

my @slice = sort { $a <=> $b }
    slurp($c->{log}) =~ /compaction slice: \d+ rollups merged in ([\d.]+) ms/g;
my $median = Bench::median(@slice) // 0;

sql('PRAGMA wal_checkpoint(TRUNCATE)');

my $coarse_rows = sql('SELECT count(*) FROM coarse');
my $coarse_bytes = pages('coarse', 'coarse_t');
my $left = sql('SELECT count(*) FROM rollups');
my $requests2 = sql('SELECT coalesce(sum(requests), 0) FROM coarse')
              + sql('SELECT coalesce(sum(requests), 0) FROM rollups');

die "requests $requests before, $requests2 after the compaction\n"
    unless $requests == $requests2;


# the figures

my $fine_row = $fine_bytes / $fine_rows;
my $coarse_row = $coarse_bytes / $coarse_rows;
my $per_hour = $fine_rows / $coarse_rows;

# a series busy all day: 1440 minute rows, or 24 hourly rows

my $day_fine = 1000 * 1440 * $fine_row;
my $day_coarse = 1000 * 24 * $coarse_row;
my $one_tier = 100 * 30 * $day_fine;
my $tiers = 100 * (2 * $day_fine + 28 * $day_coarse);
my $hour_rows = 100_000 * 60;

sub size {
    my ($b) = @_;
    return $b >= 1e9 ? sprintf('%.1f GB', $b / 1e9)
         : $b >= 1e7 ? sprintf('%.0f MB', $b / 1e6)
         : $b >= 1e6 ? sprintf('%.1f MB', $b / 1e6)
         : sprintf('%.0f kB', $b / 1e3);
}

printf $out <<'EOF',
## 10. Disk over 30 days

`bench/disk.pl`: %d series (sq-loadgen, 100 a datagram) for %d one-second
slots through the collector's write path, %d slot rows; the rows then
moved back three days, one a minute (%d minutes a series), and a collector
with the defaults (`storage.slot_retention: 2d`, `storage.coarse_slot:
1h`) merged them into hourly rows.  Sizes are SQLite's pages (dbstat) of
each tier's table and index.  Requests before and after the merge: %d,
equal.

| | |
|---|---:|
| a minute row (table and index; the packed slot alone: %.0f bytes) | %.0f bytes |
| an hourly row (%.1f minute rows merged) | %.0f bytes |
| 1000 series, a day of minute rows | %s |
| 1000 series, a day of hourly rows | %s |
| 1000 series, 30 days, defaults (2 d of minutes, 28 d of hours) | %s |
| **100,000 series, 30 days, defaults (2 d of minutes, 28 d of hours)** | **%s** |
| 100,000 series, 30 days of minute rows (schema 4, one tier) | %s |
| compaction: rows merged in one pass | %d in %d slices |
| compaction: rows a second within slices | %d |
| compaction: a slice (one transaction, at most %d rows), median | %.1f ms |
| compaction: the longest slice | %.1f ms |
| compaction at 100,000 busy series: minute rows an hour to merge | %d (%.0f s of slices) |

EOF
    $nseries, $S, $fine_rows, $minutes, $requests,
    $slot_bytes / $fine_rows, $fine_row, $per_hour, $coarse_row,
    size($day_fine), size($day_coarse), size($tiers / 100), size($tiers),
    size($one_tier),
    $merged, $slices, $rate, 4096, $median, $longest, $hour_rows,
    $rate ? $hour_rows / $rate : 0;

printf $out "Left as minute rows after the pass: %d.  The slices run one "
    . "a second from\nthe storage tick, so a pass merges at most 4096 rows a "
    . "second: the %d\nminute rows an hour of 100,000 busy series take %.0f %% "
    . "of the ticks.\n\n", $left, $hour_rows,
    100 * $hour_rows / (4096 * 3600);

close $out or die "$opt{out}: $!\n";

open my $sum, '>', "$opt{out}.summary" or die "$opt{out}.summary: $!\n";
printf $sum "- disk at 100,000 busy series over 30 days with the default "
    . "tiers: %s (%s a day per 1000 series of minute rows, %s of hourly "
    . "rows; one tier of minutes: %s); compaction %d rows/s, a slice "
    . "%.1f ms (median), the longest %.1f ms\n", size($tiers),
    size($day_fine), size($day_coarse), size($one_tier), $rate, $median,
    $longest;
close $sum;
