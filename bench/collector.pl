#!/usr/bin/perl

# Collector ingest (section 3).
#
# When build/servqual-collector and build/sq-loadgen exist: the collector
# pinned to CPU 0, the load generator (valid datagrams from many simulated
# workers, 50 series each) on CPU 1.  Ingest: datagrams the collector
# accepted per second (from its /metrics) while the generator sends as
# fast as it can, and the collector's CPU time per datagram, in
# alternating rounds.  Memory: RSS with 10k and 100k live series.
# Otherwise the sections say "not measured yet" and why.
#
#   bench/collector.pl --tmp DIR --out FILE [--quick]

use strict;
use warnings;

use FindBin qw($Bin);
use lib "$Bin/lib";

use Bench;
use Getopt::Long qw(GetOptions);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my %opt;
GetOptions(\%opt, 'tmp=s', 'out=s', 'quick')
    or die "usage: $0 --tmp DIR --out FILE [--quick]\n";

for (qw(tmp out)) {
    die "$0: --$_ is required\n" unless defined $opt{$_};
}

$SIG{INT} = $SIG{TERM} = sub { Bench::stop_all(); exit 1 };
END { Bench::stop_all() }

my $repo = repo_root();
my $collector = $ENV{SERVQUAL_COLLECTOR_BIN} // "$repo/build/servqual-collector";
my $loadgen = $ENV{SQ_LOADGEN_BIN} // "$repo/build/sq-loadgen";
my $ncpu = `nproc` + 0;
my @pin_coll = $ncpu >= 2 ? (qw(taskset -c 0)) : ();
my @pin_gen = $ncpu >= 2 ? (qw(taskset -c 1)) : ();

my $rounds = $opt{quick} ? 2 : 3;
my $duration = $opt{quick} ? 1 : 3;

open my $out, '>', $opt{out} or die "$opt{out}: $!\n";

my @missing = grep { !-x $_ } $collector, $loadgen;

if (@missing) {
    my $what = join ' and ', map { s{^\Q$repo\E/}{}r } @missing;
    print $out <<"EOF";
## 3. Collector ingest

**collector: not measured yet** ($what not built).  `bench/run` measures
it automatically once `build/servqual-collector` and `build/sq-loadgen`
exist.

EOF
    close $out or die "$opt{out}: $!\n";

    open my $sum, '>', "$opt{out}.summary" or die "$opt{out}.summary: $!\n";
    print $sum "- collector ingest: not measured yet\n";
    close $sum;
    exit 0;
}


# ---------------------------------------------------------------------------
# The collector

my $dir = "$opt{tmp}/collector";
mkdir $dir;

# http_get($port, $path, $timeout): (status, body); status 0 when it
# failed or took longer than $timeout seconds (default 30).

sub http_get {
    my ($port, $path, $timeout) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp', Timeout => 10)
        or return (0, '');
    my $r = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm($timeout // 30);
        print $s "GET $path HTTP/1.0\r\nHost: bench\r\n\r\n";
        local $/;
        my $body = <$s> // '';
        alarm 0;
        $body;
    };
    alarm 0;
    close $s;
    return (0, '') unless defined $r;
    my ($status) = $r =~ m{\AHTTP/1\.\d (\d+)};
    $r =~ s/\A.*?\r\n\r\n//s;
    return ($status // 0, $r);
}

sub metric {
    my ($text, $name, $labels) = @_;

    my $re = quotemeta($name) . ($labels ? '\{' . quotemeta($labels) . '\}'
                                         : '');
    return $text =~ /^$re (\S+)$/m ? $1 + 0 : 0;
}

sub rss_kib {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) {
        return $1 if /^VmRSS:\s+(\d+)/;
    }
    return 0;
}

sub start_collector {
    my ($tag, $max_series, %o) = @_;

    my $ingest = free_port('udp');
    my $http = free_port('tcp');
    my $conf = "$dir/$tag.yaml";
    my $path = ($o{storage} // 1) ? "$dir/$tag.db" : 'off';
    my $windows = $o{slot} ? "windows:\n  slot: $o{slot}\n" : '';
    my $auth = $o{key} ? "auth:\n  keys: [ $o{key} ]\n" : '';

    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh <<"EOF";
listen:
  ingest: udp://127.0.0.1:$ingest
  http: 127.0.0.1:$http
storage:
  path: $path
${windows}limits:
  max_series: $max_series
log:
  level: warn
$auth
EOF
    close $fh;

    # its log (alerts included) to a file of its own
    my $pid = Bench::spawn("collector $tag", 'sh', '-c',
                           'exec "$@" 2>>"$0"', "$dir/$tag.log",
                           @pin_coll, $collector, '-c', $conf);
    wait_port($http, 15, $pid);

    return { pid => $pid, ingest => $ingest, http => $http };
}

sub loadgen {
    my ($c, @args) = @_;

    my @cmd = (@pin_gen, $loadgen, '-a', "127.0.0.1:$c->{ingest}", @args);
    open my $fh, '-|', @cmd or die "sq-loadgen: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;
    die "sq-loadgen failed ($?): @cmd\n$text" if $? != 0;

    my ($sent) = $text =~ /sent (\d+) datagrams/;
    return $sent // 0;
}

# one ingest run: accepted datagrams/s, series updates/s, CPU per datagram
sub ingest_run {
    my ($c, @args) = @_;

    my (undef, $m0) = http_get($c->{http}, '/metrics');
    my $cpu0 = proc_cpu_seconds($c->{pid});
    my $t0 = time;

    my $sent = loadgen($c, @args);
    sleep 0.3;                  # let the collector drain its socket

    my $t = time - $t0;
    my $cpu = proc_cpu_seconds($c->{pid}) - $cpu0;
    my (undef, $m1) = http_get($c->{http}, '/metrics');

    my $acc = metric($m1, 'servqual_datagrams_total', 'result="accepted"')
            - metric($m0, 'servqual_datagrams_total', 'result="accepted"');
    my $rej = metric($m1, 'servqual_datagrams_total', 'result="rejected"')
            - metric($m0, 'servqual_datagrams_total', 'result="rejected"');
    my $upd = metric($m1, 'servqual_series_updates_total')
            - metric($m0, 'servqual_series_updates_total');

    return { sent => $sent, accepted => $acc, rejected => $rej,
             dps => $acc / $t, ups => $upd / $t,
             cpu_us => $acc ? $cpu * 1e6 / $acc : 0, util => $cpu / $t };
}


# -- 3a. ingest: 64 workers x 50 series (3200 live series), as fast as
#        possible.  (The counters come from /metrics, which also lists
#        every series: scraping it with 100k series takes too long to use
#        here; 3b times it.)

my @cases = (
    { name => '64 workers, 3200 series', args => [qw(-w 64 -s 50)] },
);

my $c = start_collector('ingest', 200000);
my %res;

for my $case (@cases) {                 # warm-up: every series exists
    ingest_run($c, @{ $case->{args} }, '-d', 1);
}

for my $round (1 .. $rounds) {
    for my $case ($round % 2 ? @cases : reverse @cases) {
        push @{ $res{ $case->{name} } },
            ingest_run($c, @{ $case->{args} }, '-d', $duration);
    }
}

Bench::stop_nginx($c->{pid}, 'TERM');


# -- 3a'. storage on vs off: the same load on two collectors, alternating,
#         with windows.slot 2s so that a slot's rollups are written to
#         SQLite every 2 s (at the default, once a minute)

my %store;
my %sc = (on => start_collector('store-on', 200000, slot => '2s'),
          off => start_collector('store-off', 200000, slot => '2s',
                                 storage => 0));

ingest_run($sc{$_}, @{ $cases[0]{args} }, '-d', 1) for qw(on off);

for my $round (1 .. $rounds) {
    for my $k ($round % 2 ? qw(on off) : qw(off on)) {
        push @{ $store{$k} },
            ingest_run($sc{$k}, @{ $cases[0]{args} }, '-d', $duration);
    }
}

Bench::stop_nginx($sc{$_}{pid}, 'TERM') for qw(on off);


# -- 3a''. signing on vs off: a collector with auth.keys receiving
#          signed datagrams (sq-loadgen -k signs each one as nginx does)
#          and one without keys receiving unsigned ones, alternating

my $keyfile = "$dir/bench.key";
{
    open my $kf, '>', $keyfile or die "$keyfile: $!\n";
    print $kf '1:' . unpack('H*', join '', map { chr } 0 .. 31) . "\n";
    close $kf;
    chmod 0600, $keyfile;
}

my %sign;
my %gc = (on => start_collector('sign-on', 200000, key => $keyfile),
          off => start_collector('sign-off', 200000));
my %gargs = (on => [ @{ $cases[0]{args} }, '-k', $keyfile ],
             off => $cases[0]{args});

ingest_run($gc{$_}, @{ $gargs{$_} }, '-d', 1) for qw(on off);

for my $round (1 .. $rounds) {
    for my $k ($round % 2 ? qw(on off) : qw(off on)) {
        push @{ $sign{$k} },
            ingest_run($gc{$k}, @{ $gargs{$k} }, '-d', $duration);
    }
}

Bench::stop_nginx($gc{$_}{pid}, 'TERM') for qw(on off);


# -- 3b. memory at 10k and 100k live series: a fresh collector each, every
#        series sent a few times at a modest rate

my @mem;

for my $n (10_000, 100_000) {
    my $m = start_collector("mem$n", 200000);
    my $rss0 = rss_kib($m->{pid});
    my $workers = $n / 50;

    loadgen($m, '-w', $workers, '-s', 50, '-d', $opt{quick} ? 1 : 2,
            '-r', 20000);
    sleep 0.5;

    my (undef, $h) = http_get($m->{http}, '/healthz');
    my ($live) = $h =~ /"series":\s*(\d+)/;
    my $rss = rss_kib($m->{pid});
    my $t0 = time;
    my ($st, $mt) = http_get($m->{http}, '/metrics', 60);
    push @mem, { series => $n, live => $live // 0, rss0 => $rss0,
                 rss => $rss, scrape => $st == 200 ? time - $t0 : undef,
                 scrape_mb => length($mt) / 1048576,
                 window => metric($mt, 'servqual_window_memory_bytes') };
    Bench::stop_nginx($m->{pid}, 'TERM');
}


# ---------------------------------------------------------------------------
# The report

my $gen = join ' ', @pin_gen, 'build/sq-loadgen', '-a 127.0.0.1:PORT',
          @{ $cases[0]{args} }, "-d $duration";

print $out <<"EOF";
## 3. Collector ingest

`build/servqual-collector` (default configuration but the ports, storage
in the temporary directory, `limits.max_series: 200000`) pinned to CPU 0;
`build/sq-loadgen` on CPU 1 sends valid datagrams of 50 series each from
many simulated workers, as fast as it can, for $duration s, $rounds
times (median and range).  "accepted/s" counts what the collector
merged (`servqual_datagrams_total{result="accepted"}` from its
`/metrics`), not what was sent: the rest was dropped by the socket
buffer while the collector was busy.  "CPU/datagram" is the collector's
user + system CPU time per accepted datagram.  Target: over 100k
datagrams/s of 50 series on one core.

```sh
taskset -c 0 build/servqual-collector -c FILE
$gen
```

On a shared machine the collector rarely gets its whole core, so
"one core" is the capacity the CPU time implies (10⁶ / CPU µs per
datagram): what one core would ingest if the collector had it to
itself.  The target is judged on it.

| load | sent/s | accepted/s | series updates/s | CPU/datagram µs | one core, datagrams/s | collector CPU | rejected |
|---|---:|---:|---:|---:|---:|---:|---:|
EOF

for my $case (@cases) {
    my @r = @{ $res{ $case->{name} } };
    my ($lo, $hi) = spread(map { $_->{dps} } @r);
    my $rej = 0;
    $rej += $_->{rejected} for @r;

    my $cpu = median(map { $_->{cpu_us} } @r);

    printf $out "| %s | %.0f | %.0f (%.0f–%.0f) | %.0f | %.2f | %.0f | "
              . "%.0f %% | %d |\n",
        $case->{name}, median(map { $_->{sent} / $duration } @r),
        median(map { $_->{dps} } @r), $lo, $hi,
        median(map { $_->{ups} } @r), $cpu, $cpu ? 1e6 / $cpu : 0,
        100 * median(map { $_->{util} } @r), $rej;
}

my @r0 = @{ $res{ $cases[0]{name} } };
my $accepted = median(map { $_->{dps} } @r0);
my $cpu0 = median(map { $_->{cpu_us} } @r0);
my $dps = $cpu0 ? 1e6 / $cpu0 : 0;
printf $out "\nTarget over 100k datagrams/s on one core: **%s** (%.0f/s "
          . "implied by %.2f µs of CPU per datagram; %.0f/s accepted on "
          . "this shared machine).\n",
    $dps > 100_000 ? 'met' : 'missed', $dps, $cpu0, $accepted;

{
    my @ratio_cpu = map { $store{on}[$_]{cpu_us} / ($store{off}[$_]{cpu_us}
                                                     || 1) }
                    0 .. $#{ $store{on} };
    my @ratio_dps = map { $store{on}[$_]{dps} / ($store{off}[$_]{dps} || 1) }
                    0 .. $#{ $store{on} };
    my ($clo, $chi) = spread(@ratio_cpu);
    my ($dlo, $dhi) = spread(@ratio_dps);

    printf $out "\nStorage on vs off (`storage.path: off`), the same load, "
              . "%d alternating rounds, `windows.slot: 2s` so that the "
              . "rollups are written every 2 s (30 times more often than "
              . "at the default): CPU per datagram %.2f µs on, %.2f µs "
              . "off, ratio **%.3f** (%.3f–%.3f); accepted/s ratio %.3f "
              . "(%.3f–%.3f).\n",
        $rounds, median(map { $_->{cpu_us} } @{ $store{on} }),
        median(map { $_->{cpu_us} } @{ $store{off} }), median(@ratio_cpu),
        $clo, $chi, median(@ratio_dps), $dlo, $dhi;
}

{
    my @on = @{ $sign{on} };
    my @off = @{ $sign{off} };
    my @ratio = map { $on[$_]{cpu_us} / ($off[$_]{cpu_us} || 1) } 0 .. $#on;
    my ($lo, $hi) = spread(@ratio);
    my $rej = 0;
    $rej += $_->{rejected} for @on;
    my $con = median(map { $_->{cpu_us} } @on);
    my $coff = median(map { $_->{cpu_us} } @off);

    printf $out "\nSigning on vs off (`auth.keys` set and every datagram "
              . "signed, `sq-loadgen -k KEYFILE`, against no keys and "
              . "unsigned datagrams), the same load, %d alternating "
              . "rounds: CPU per datagram %.2f µs signed, %.2f µs "
              . "unsigned, ratio **%.3f** (%.3f–%.3f): one core would "
              . "ingest %.0f signed or %.0f unsigned datagrams/s; "
              . "accepted/s %.0f signed, %.0f unsigned on this shared "
              . "machine; %d signed datagrams rejected.\n",
        $rounds, $con, $coff, median(@ratio), $lo, $hi,
        $con ? 1e6 / $con : 0, $coff ? 1e6 / $coff : 0,
        median(map { $_->{dps} } @on), median(map { $_->{dps} } @off),
        $rej;
}

print $out <<"EOF";

### Memory

A fresh collector per row; the load generator sends every series a few
times (`-w N/50 -s 50 -r 20000`).  Live series from `/healthz`, RSS from
/proc before and after; "window memory" is the collector's own
`servqual_window_memory_bytes`.  Then one `/metrics` scrape is timed
(it lists every series; 60 s at most).  Target: under 200 MB at 100k
series.

| series sent | live series | RSS idle MB | RSS MB | window memory MB | /metrics scrape |
|---:|---:|---:|---:|---:|---:|
EOF

for my $m (@mem) {
    printf $out "| %d | %d | %.1f | %.1f | %.1f | %s |\n", $m->{series},
        $m->{live}, $m->{rss0} / 1024, $m->{rss} / 1024,
        $m->{window} / 1048576,
        defined $m->{scrape}
            ? sprintf('%.1f s, %.0f MB', $m->{scrape}, $m->{scrape_mb})
            : 'over 60 s';
}

my $rss100k = $mem[-1]{rss} / 1024;
printf $out "\nTarget under 200 MB at 100k series: **%s** (%.0f MB).\n",
    $rss100k < 200 ? 'met' : 'missed', $rss100k;

my $accepted_s = sprintf '%.0f', $accepted;
open my $sum, '>', "$opt{out}.summary" or die "$opt{out}.summary: $!\n";
printf $sum "- collector ingest: **%.0f datagrams/s** of 50 series on "
          . "one core, from its CPU time per datagram (target > 100k: %s; "
          . "$accepted_s accepted/s measured); RSS at 100k series **%.0f MB** "
          . "(target < 200 MB: %s)\n", $dps, $dps > 100_000 ? 'met' : 'missed', $rss100k,
    $rss100k < 200 ? 'met' : 'missed';
close $sum;

print $out "\n";

close $out or die "$opt{out}: $!\n";
