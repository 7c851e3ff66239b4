#!/usr/bin/perl

# /metrics at 10k and 100k live series (section 8): a fresh collector
# each, fed by build/sq-loadgen (100 series a datagram) until every series
# is live, then scraped as Prometheus scrapes it.  Per case: the time to
# the last byte, the bytes, the samples, and the collector's peak RSS
# (VmHWM) before and after.  Cases: the default export, the default with
# gzip (Accept-Encoding: gzip), and everything opted in (per-series
# scores and per-row levels, what the export was before); with
# --old-collector FILE also that build's default.  Alerts judge journeys
# only (there are none): what is measured is the scrape, not alert
# evaluation running beside it.
#
#   bench/scrape.pl --tmp DIR --out FILE [--quick] [--old-collector FILE]
#                   [--sizes N,N...] [--cases REGEX]

use strict;
use warnings;

use FindBin qw($Bin);
use lib "$Bin/lib";

use Bench;
use Getopt::Long qw(GetOptions);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my %opt;
GetOptions(\%opt, 'tmp=s', 'out=s', 'quick', 'old-collector=s', 'sizes=s',
           'cases=s')
    or die "usage: $0 --tmp DIR --out FILE [--quick] "
         . "[--old-collector FILE]\n";

for (qw(tmp out)) {
    die "$0: --$_ is required\n" unless defined $opt{$_};
}

$SIG{INT} = $SIG{TERM} = sub { Bench::stop_all(); exit 1 };
END { Bench::stop_all() }

my $repo = repo_root();
my $collector = $ENV{SERVQUAL_COLLECTOR_BIN}
    // "$repo/build/servqual-collector";
my $loadgen = $ENV{SQ_LOADGEN_BIN} // "$repo/build/sq-loadgen";
my $ncpu = `nproc` + 0;
my @pin_coll = $ncpu >= 2 ? (qw(taskset -c 0)) : ();
my @pin_gen = $ncpu >= 2 ? (qw(taskset -c 1)) : ();

my @sizes = $opt{sizes} ? split(/,/, $opt{sizes})
          : $opt{quick} ? (1_000, 10_000) : (10_000, 100_000);
my $timeout = 120;

open my $out, '>', $opt{out} or die "$opt{out}: $!\n";

my @missing = grep { !-x $_ } $collector, $loadgen;

if (@missing) {
    my $what = join ' and ', map { s{^\Q$repo\E/}{}r } @missing;
    print $out "## 8. /metrics at 10k and 100k series\n\n"
             . "**not measured yet** ($what not built).\n\n";
    close $out or die "$opt{out}: $!\n";

    exit 0;
}

my $dir = "$opt{tmp}/scrape";
mkdir $dir;


sub status_kib {
    my ($pid, $key) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) {
        return $1 if /^\Q$key\E:\s+(\d+)/;
    }
    return 0;
}

# GET path: (status, seconds to the last byte, bytes, samples); the body
# is counted as it arrives, not kept

sub scrape {
    my ($port, $path, $gzip) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp', Timeout => 10)
        or return (0, 0, 0, 0);
    my $t0 = time;
    my ($head, $bytes, $samples, $tail, $body) = ('', 0, 0, "\n", 0);
    my $ok = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $timeout;
        print $s "GET $path HTTP/1.0\r\nHost: bench\r\n"
               . ($gzip ? "Accept-Encoding: gzip\r\n" : '') . "\r\n";
        my $buf;
        while (sysread($s, $buf, 1 << 20)) {
            if (!$body) {
                $head .= $buf;
                next unless $head =~ /\r\n\r\n/;
                ($head, $buf) = split /\r\n\r\n/, $head, 2;
                $body = 1;
            }
            $bytes += length $buf;
            next if $gzip;
            $samples += ($buf =~ tr/\n//);
            $samples -= () = ($tail . $buf) =~ /\n#/g;
            $tail = substr($buf, -1);
        }
        alarm 0;
        1;
    };
    alarm 0;
    close $s;
    return (0, 0, 0, 0) unless $ok;
    my ($status) = $head =~ m{\AHTTP/1\.\d (\d+)};
    return ($status // 0, time - $t0, $bytes, $samples);
}

sub start_collector {
    my ($tag, $bin, $extra) = @_;

    my $ingest = free_port('udp');
    my $http = free_port('tcp');
    my $conf = "$dir/$tag.yaml";

    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh <<"EOF";
listen:
  ingest: udp://127.0.0.1:$ingest
  http: 127.0.0.1:$http
storage:
  path: off
limits:
  max_series: 200000
alerts:
  scopes: [journey]
log:
  level: warn
$extra
EOF
    close $fh;

    my $pid = Bench::spawn("collector $tag", 'sh', '-c',
                           'exec "$@" 2>>"$0"', "$dir/$tag.log",
                           @pin_coll, $bin, '-c', $conf);
    wait_port($http, 15, $pid);

    return { pid => $pid, ingest => $ingest, http => $http };
}

sub live {
    my ($c) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$c->{http}",
                                  Proto => 'tcp', Timeout => 10)
        or return 0;
    print $s "GET /healthz HTTP/1.0\r\n\r\n";
    my $r = do { local $/; <$s> } // '';
    return $r =~ /"series":\s*(\d+)/ ? $1 : 0;
}

# a collector with n live series: n / 100 workers of 100 series each,
# sent until all are live

sub fill {
    my ($c, $n) = @_;

    for (1 .. 5) {
        my @cmd = (@pin_gen, $loadgen, '-a', "127.0.0.1:$c->{ingest}",
                   '-w', $n / 100, '-s', 100, '-d', 2, '-r', 5000);
        system(@cmd) == 0 or die "sq-loadgen failed: @cmd\n";
        sleep 1;
        return 1 if live($c) >= $n;
    }

    return live($c) >= $n;
}

my @cases = (
    [ 'default', $collector, '', 0 ],
    [ 'default, gzip', $collector, '', 1 ],
    [ 'all opted in', $collector,
      "metrics:\n  scores: [series, endpoint, region, journey]\n"
      . "  row_levels: true\n", 0 ],
);
push @cases, [ 'before (main)', $opt{'old-collector'}, '', 0 ],
             [ 'before (main), gzip', $opt{'old-collector'}, '', 1 ]
    if $opt{'old-collector'};
@cases = grep { $_->[0] =~ /$opt{cases}/ } @cases if $opt{cases};

my @rows;

for my $n (@sizes) {
    for my $case (@cases) {
        my ($name, $bin, $extra, $gzip) = @$case;
        my $tag = "s$n-" . ($name =~ s/\W+/_/gr);
        my $c = start_collector($tag, $bin, $extra);

        fill($c, $n) or die "$tag: not every series became live\n";
        sleep 2;              # a view of all of them

        my $hwm0 = status_kib($c->{pid}, 'VmHWM');
        my $cpu0 = proc_cpu_seconds($c->{pid});
        my ($st, $sec, $bytes, $samples) = scrape($c->{http}, '/metrics',
                                                  $gzip);
        my $cpu = proc_cpu_seconds($c->{pid}) - $cpu0;
        my $hwm = status_kib($c->{pid}, 'VmHWM');

        push @rows, { n => $n, name => $name, st => $st, sec => $sec,
                      cpu => $cpu, bytes => $bytes, samples => $samples,
                      hwm0 => $hwm0, hwm => $hwm };
        printf STDERR "bench: scrape %d series, %s: %s %.2f s (CPU %.2f s), "
            . "%.1f MB, peak RSS %.0f MB\n", $n, $name, $st || 'failed',
            $sec, $cpu, $bytes / 1048576, $hwm / 1024;
        Bench::stop_nginx($c->{pid}, 'TERM');
    }
}

print $out <<'EOF';
## 8. /metrics at 10k and 100k series

A fresh collector per case (storage off), fed by `sq-loadgen -s 100`
(100 series a datagram, `n / 100` workers) until every series is live,
then one scrape read to the last byte over HTTP/1.0 (`bench/scrape.pl`).
Scrape s: wall time to the last byte (the reader is Perl on the same
machine); CPU s: the collector's user + system time during the scrape
(the scrape's own cost, whatever else the machine runs). Samples: lines
that are not comments (not counted for gzip). Peak RSS: the collector's
`VmHWM` before the scrape (ingest and the view) and after it. Goal at
100k series: a default scrape under 2 s, peak RSS under 300 MB.

| series | export | scrape s | CPU s | MB sent | samples | peak RSS before MB | peak RSS after MB |
|---:|---|---:|---:|---:|---:|---:|---:|
EOF

for my $r (@rows) {
    printf $out "| %d | %s | %s | %.2f | %.1f | %s | %.0f | %.0f |\n",
        $r->{n}, $r->{name},
        $r->{st} == 200 ? sprintf('%.2f', $r->{sec})
                        : "failed ($timeout s)",
        $r->{cpu}, $r->{bytes} / 1048576, $r->{samples} || '-',
        $r->{hwm0} / 1024, $r->{hwm} / 1024;
}

my ($big) = grep { $_->{n} == $sizes[-1] && $_->{name} eq 'default' } @rows;
$big and printf $out "\nAt %d series, default: %.2f s to the last byte, "
    . "%.2f s of the collector's CPU (goal < 2 s: **%s**), peak RSS %.0f MB "
    . "(goal < 300 MB: **%s**).\n\n", $big->{n}, $big->{sec}, $big->{cpu},
    $big->{st} == 200 && $big->{sec} < 2 ? 'met'
    : $big->{st} == 200 && $big->{cpu} < 2 ? 'met in CPU, missed in wall time'
    : 'missed',
    $big->{hwm} / 1024, $big->{hwm} < 300 * 1024 ? 'met' : 'missed';

close $out or die "$opt{out}: $!\n";

if ($big) {
    open my $sum, '>', "$opt{out}.summary" or die "$opt{out}.summary: $!\n";
    printf $sum "- /metrics at %d series, default: %.2f s to the last byte, "
        . "%.2f s of CPU, %.0f MB of text (gzip: see section 8); peak RSS "
        . "%.0f MB\n", $big->{n}, $big->{sec}, $big->{cpu},
        $big->{bytes} / 1048576, $big->{hwm} / 1024;
    close $sum;
}
