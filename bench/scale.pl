#!/usr/bin/perl

# A site's real size (section 7): 100,000 live series (12,500 endpoints
# x 8 regions, sq-loadgen -u 100000), 100 series a datagram from 1,000
# simulated workers, at 20,000 datagrams/s for SECONDS (default 200),
# with storage on, 10 s slots (a slot write every 10 s instead of every
# minute: the same write, six times as often), alerts evaluated every 5 s
# and a scrape of /metrics every 10 s.  Reports what was sent, accepted,
# the sequence gaps, the kernel's receive-buffer drops (the collector's
# own metric when it has one, else the drops column of /proc/net/udp),
# the ingest queue's overflow and peak, the collector's peak RSS and
# CPU, the slot writes, alert evaluations and view builds that ran during
# the load, and the database's bytes per stored rollup (disk per 1000
# series per day).  The goal: nothing lost.
#
#   bench/scale.pl --tmp DIR --out FILE [--quick] [--seconds N]
#                  [--collector BIN] [--before BIN] [--default-scrape]
#                  [--rate N (datagrams/s, default 20000)]
#
# --before runs the same load against another build of the collector
# (e.g. the main branch's) first, for a before/after table.
#
# The scrapes ask for gzip, as Prometheus does; each is read to its last
# byte, and the median and slowest wall time and the bytes are reported.
# --default-scrape exports what a collector exports by default (the raw
# counters and histograms of every series: about 22 MB gzipped at 100000
# series) instead of the scores of regions and journeys only.

use strict;
use warnings;

use FindBin qw($Bin);
use lib "$Bin/lib";

use Bench;
use Getopt::Long qw(GetOptions);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

# 200 s: at least three minute boundaries, twenty slot writes and forty
# alert evaluations under the load: nothing lost through all of them
my %opt = (seconds => 200);
GetOptions(\%opt, 'tmp=s', 'out=s', 'quick', 'seconds=i', 'collector=s',
           'before=s', 'default-scrape', 'rate=i')
    or die "usage: $0 --tmp DIR --out FILE [--quick] [--seconds N] "
         . "[--collector BIN] [--before BIN] [--default-scrape] "
         . "[--rate N]\n";

for (qw(tmp out)) {
    die "$0: --$_ is required\n" unless defined $opt{$_};
}

$SIG{INT} = $SIG{TERM} = sub { Bench::stop_all(); exit 1 };
END { Bench::stop_all() }

my $repo = repo_root();
my $collector = $opt{collector} // "$repo/build/servqual-collector";
my $loadgen = "$repo/build/sq-loadgen";
my $seconds = $opt{quick} ? 12 : $opt{seconds};
my $rate = $opt{rate} // ($opt{quick} ? 2000 : 20000);
my $universe = $opt{quick} ? 10000 : 100000;
my $workers = $universe / 100;

for ($collector, $loadgen) {
    die "$0: $_ missing (make all build/sq-loadgen)\n" unless -x $_;
}

my $dir = "$opt{tmp}/scale";
mkdir $dir;


sub http_get {
    my ($port, $path, $timeout) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp', Timeout => 10)
        or return '';
    my $r = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm($timeout // 60);
        print $s "GET $path HTTP/1.0\r\nHost: bench\r\n\r\n";
        local $/;
        my $body = <$s> // '';
        alarm 0;
        $body;
    };
    alarm 0;
    close $s;
    return '' unless defined $r;
    $r =~ s/\A.*?\r\n\r\n//s;
    return $r;
}

# a scrape as Prometheus makes it (gzip): (status, seconds to the last
# byte, bytes of the body)
sub scrape {
    my ($port, $timeout) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp', Timeout => 10)
        or return (0, 0, 0);
    my $t0 = time;
    my ($head, $bytes, $body) = ('', 0, 0);
    my $ok = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $timeout;
        print $s "GET /metrics HTTP/1.0\r\nHost: bench\r\n"
               . "Accept-Encoding: gzip\r\n\r\n";
        my $buf;
        while (sysread($s, $buf, 1 << 20)) {
            if (!$body) {
                $head .= $buf;
                next unless $head =~ /\r\n\r\n/;
                ($head, $buf) = split /\r\n\r\n/, $head, 2;
                $body = 1;
            }
            $bytes += length $buf;
        }
        alarm 0;
        1;
    };
    alarm 0;
    close $s;
    return (0, time - $t0, $bytes) unless $ok;
    my ($status) = $head =~ m{\AHTTP/1\.\d (\d+)};
    return ($status // 0, time - $t0, $bytes);
}

sub metric {
    my ($text, $name, $labels) = @_;

    my $re = quotemeta($name) . ($labels ? '\{' . quotemeta($labels) . '\}'
                                         : '');
    return $text =~ /^$re (\S+)$/m ? $1 + 0 : 0;
}

sub status_kib {
    my ($pid, $key) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) {
        return $1 if /^\Q$key\E:\s+(\d+)/;
    }
    return 0;
}

# the drops column of /proc/net/udp for a local port
sub proc_udp_drops {
    my ($port) = @_;
    open my $fh, '<', '/proc/net/udp' or return 0;
    while (<$fh>) {
        my @f = split;
        next unless ($f[1] // '') =~ /:([0-9A-F]{4})$/ && hex($1) == $port;
        return $f[-1] + 0;
    }
    return 0;
}

sub run_one {
    my ($tag, $bin) = @_;

    my $ingest = free_port('udp');
    my $http = free_port('tcp');
    my $conf = "$dir/$tag.yaml";
    my $db = "$dir/$tag.db";

    my $export = $opt{'default-scrape'} ? ''
               : "metrics:\n  series: false\n  scores: [region, journey]\n";

    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh <<"EOF";
listen:
  ingest: udp://127.0.0.1:$ingest
  http: 127.0.0.1:$http
storage:
  path: $db
windows:
  slot: 10s
  short: 1m
  long: 10m
limits:
  max_series: 200000
log:
  level: warn
${export}alerts:
  interval: 5s
EOF
    close $fh;

    my $log = "$dir/$tag.log";
    my $pid = spawn("collector $tag", 'sh', '-c',
                    'exec "$0" -c "$1" >"$2" 2>&1', $bin, $conf, $log);

    my $up = 0;
    for (1 .. 200) {
        if (http_get($http, '/healthz', 5) ne '') { $up = 1; last }
        sleep 0.05;
    }
    die "$tag: the collector did not start (see $log)\n" unless $up;

    my $m0 = http_get($http, '/metrics');
    my $cpu0 = proc_cpu_seconds($pid);

    my $out = "$dir/$tag.loadgen";
    my $gen = spawn('sq-loadgen', 'sh', '-c', 'exec "$@" >"$0" 2>&1', $out,
                    $loadgen, '-a', "127.0.0.1:$ingest", '-w', $workers,
                    '-s', 100, '-u', $universe, '-r', $rate,
                    '-d', $seconds, '-g');

    # a scrape every 10 s while the load runs, as Prometheus scrapes
    my $t0 = time;
    my $scrapes = 0;
    my (@scrape_s, @scrape_bytes, $scrape_failed);
    $scrape_failed = 0;
    while (waitpid($gen, POSIX::WNOHANG()) == 0) {
        if (time - $t0 >= 10 * ($scrapes + 1)) {
            my ($status, $took, $bytes) = scrape($http, 120);
            push @scrape_s, $took;
            push @scrape_bytes, $bytes;
            $scrape_failed++ unless $status == 200;
            $scrapes++;
            printf STDERR "scale: %s scrape %d: %.2f s, %.1f MB (gzip), "
                . "status %d\n", $tag, $scrapes, $took, $bytes / 1e6,
                $status;
        }
        sleep 0.2;
    }
    my ($scrape_max) = sort { $b <=> $a } @scrape_s;

    my $text = do { local (@ARGV, $/) = $out; <> } // '';
    my ($sent) = $text =~ /^sent (\d+) datagrams/m;
    $sent //= 0;

    # what is queued is merged: wait for the count to settle
    my ($m1, $last, $same) = ('', -1, 0);
    for (1 .. 600) {
        $m1 = http_get($http, '/metrics', 120);
        my $n = metric($m1, 'servqual_datagrams_total', 'result="accepted"');
        $same = $n == $last ? $same + 1 : 0;
        last if $n >= $sent || $same >= 5;
        $last = $n;
        sleep 1;
    }

    my %r = (
        tag => $tag,
        sent => $sent,
        seconds => $seconds,
        accepted => metric($m1, 'servqual_datagrams_total',
                           'result="accepted"'),
        gaps => metric($m1, 'servqual_datagrams_lost_total'),
        kernel => $m1 =~ /^servqual_receive_buffer_drops_total/m
                  ? metric($m1, 'servqual_receive_buffer_drops_total',
                           "listen=\"udp://127.0.0.1:$ingest\"")
                  : proc_udp_drops($ingest),
        overflow => metric($m1, 'servqual_ingest_queue_overflow_total'),
        queue_peak => metric($m1, 'servqual_ingest_queue_bytes',
                             'of="peak"'),
        writes => metric($m1, 'servqual_storage_writes_total')
                  - metric($m0, 'servqual_storage_writes_total'),
        write_s => metric($m1, 'servqual_storage_write_seconds'),
        evals => metric($m1, 'servqual_alert_evaluations_total')
                 - metric($m0, 'servqual_alert_evaluations_total'),
        builds => metric($m1, 'servqual_view_builds_total')
                  - metric($m0, 'servqual_view_builds_total'),
        build_s => metric($m1, 'servqual_view_build_seconds'),
        series => metric($m1, 'servqual_series'),
        scrapes => $scrapes,
        scrape_max => $scrape_max // 0,
        scrape_median => median(@scrape_s) // 0,
        scrape_mb => (median(@scrape_bytes) // 0) / 1e6,
        scrape_failed => $scrape_failed,
        cpu => proc_cpu_seconds($pid) - $cpu0,
        hwm => status_kib($pid, 'VmHWM'),
    );

    Bench::_reap($pid, 60, 'TERM');

    # disk: the database's bytes per stored rollup
    my $rows = `sqlite3 '$db' 'SELECT count(*) FROM rollups' 2>/dev/null`;
    my $bytes = 0;
    $bytes += -s $_ // 0 for $db, "$db-wal";
    $r{rows} = ($rows // 0) + 0;
    $r{db_bytes} = $bytes;

    return \%r;
}


my @runs;
push @runs, run_one('before', $opt{before}) if $opt{before};
push @runs, run_one('after', $collector);

open my $out, '>', $opt{out} or die "$opt{out}: $!\n";

my $series = $runs[-1]{series};
my $what = $opt{'default-scrape'}
    ? 'the default export: every series\' counters and histograms'
    : '`metrics.series: false`, scores of regions and journeys';

print $out <<"EOF";
## 7. A site's real size: $universe series, nothing lost

`bench/scale.pl`: `build/sq-loadgen -w $workers -s 100 -u $universe -r $rate
-d $seconds -g` (100 series a datagram, $universe distinct series, healthy
but one in 1000) against the collector with storage on, 10 s slots (a
slot write every 10 s, six times as often as the default minute), alerts
evaluated every 5 s, a `/metrics` scrape every 10 s with gzip ($what).
"lost" is sent − accepted;
"gaps" the collector's sequence gaps; "kernel" the socket's receive-buffer
drops (`servqual_receive_buffer_drops_total`, or /proc/net/udp for a
collector without it); "queue" the ingest queue's overflow and peak.
Nothing is pinned; the machine is shared (see the load average).

| collector | sent | accepted | lost | gaps | kernel drops | queue overflow | queue peak | slot writes (last s) | alert evals | view builds (last s) | CPU s | peak RSS |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF

for my $r (@runs) {
    printf $out "| %s | %d | %d | %d | %d | %d | %d | %.0f MB | %d (%.2f) | %d "
        . "| %d (%.2f) | %.1f | %.0f MB |\n", $r->{tag}, $r->{sent},
        $r->{accepted}, $r->{sent} - $r->{accepted}, $r->{gaps},
        $r->{kernel}, $r->{overflow}, $r->{queue_peak} / 1048576,
        $r->{writes}, $r->{write_s}, $r->{evals}, $r->{builds},
        $r->{build_s}, $r->{cpu}, $r->{hwm} / 1024;
}

my $a = $runs[-1];
my $per_row = $a->{rows} ? $a->{db_bytes} / $a->{rows} : 0;

printf $out "\nSent at %.0f datagrams/s (%.1fM series updates/s), %d live "
    . "series.\n", $a->{sent} / $seconds,
    $a->{sent} * 100 / $seconds / 1e6, $series;
printf $out "\nScrapes during the load (%s): ", $what;
print $out join('; ', map {
    sprintf "%s %d, median %.2f s, slowest %.2f s, %.1f MB gzipped%s",
        $_->{tag}, $_->{scrapes}, $_->{scrape_median}, $_->{scrape_max},
        $_->{scrape_mb},
        $_->{scrape_failed} ? ", $_->{scrape_failed} not answered" : ''
} @runs), ".\n";
# the merge rate: series updates accepted per second of the collector's
# CPU (the receive thread, scrapes, views and writes included)
for my $r (@runs) {
    printf $out "\n%s: %.0f series updates accepted per CPU second "
        . "(%.2f µs each, everything included).\n", $r->{tag},
        $r->{cpu} ? $r->{accepted} * 100 / $r->{cpu} : 0,
        $r->{accepted} ? $r->{cpu} * 1e6 / ($r->{accepted} * 100) : 0;
}

printf $out "\nDisk: %d rollups in %.1f MB (database and its WAL), %.0f "
    . "bytes a rollup: with the default 1-minute slot, %.0f MB per 1000 "
    . "series per day (1440 rollups each), before retention deletes "
    . "them.\n\n", $a->{rows}, $a->{db_bytes} / 1048576, $per_row,
    $per_row * 1440 * 1000 / 1048576;
printf $out "Load average at the end: %s %s %s\n\n",
    (split ' ', `cat /proc/loadavg`)[0 .. 2];
close $out or die "$opt{out}: $!\n";

open my $sum, '>', "$opt{out}.summary" or die "$opt{out}.summary: $!\n";
printf $sum "- scale: %d series at %.0f datagrams/s of 100 series for %d s: "
    . "**%d lost** (gaps %d, kernel drops %d, queue overflow %d), peak RSS "
    . "%.0f MB, disk %.0f MB per 1000 series per day; scrapes: median "
    . "%.2f s, slowest %.2f s\n", $series,
    $a->{sent} / $seconds, $seconds, $a->{sent} - $a->{accepted},
    $a->{gaps}, $a->{kernel}, $a->{overflow}, $a->{hwm} / 1024,
    $per_row * 1440 * 1000 / 1048576, $a->{scrape_median},
    $a->{scrape_max};
close $sum;
