#!/usr/bin/perl

# Alerts at 100k series (section 9): 100,000 live series (12,500
# endpoints x 8 regions, sq-loadgen -u 100000) with every row healthy
# (-b 0), one row in 100 below its zone (-b 100: rows of two regions)
# and every row below (no -g), each case against a fresh collector with
# storage on, alerts evaluated every 5 s and a real Alertmanager as the
# sink.  The load is one the collector keeps up with (--rate, 2,000
# datagrams/s of 100 series by default), so that what is lost is what
# the evaluations cost.  Reports per case: the evaluations (the slowest
# and the median, from the collector's debug line per evaluation), the
# alerts firing and the incidents, the posts to Alertmanager and the
# alerts it holds, the log lines (debug lines aside), and the datagrams
# lost while it ran (sent - accepted, sequence gaps, the kernel's
# receive-buffer drops, the ingest queue's overflow).
#
#   bench/alerts.pl --tmp DIR --out FILE [--quick] [--seconds N]
#                   [--rate N] [--collector BIN] [--only healthy|one|all]

use strict;
use warnings;

use FindBin qw($Bin);
use lib "$Bin/lib";

use Bench;
use Getopt::Long qw(GetOptions);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

my %opt = (seconds => 60, rate => 2000);
GetOptions(\%opt, 'tmp=s', 'out=s', 'quick', 'seconds=i', 'rate=i',
           'collector=s', 'only=s')
    or die "usage: $0 --tmp DIR --out FILE [--quick] [--seconds N] "
         . "[--rate N] [--collector BIN]\n";

for (qw(tmp out)) {
    die "$0: --$_ is required\n" unless defined $opt{$_};
}

$SIG{INT} = $SIG{TERM} = sub { Bench::stop_all(); exit 1 };
END { Bench::stop_all() }

my $repo = repo_root();
my $collector = $opt{collector} // "$repo/build/servqual-collector";
my $loadgen = "$repo/build/sq-loadgen";
my $am_bin = '/usr/bin/prometheus-alertmanager';
my $seconds = $opt{quick} ? 20 : $opt{seconds};
my $rate = $opt{quick} ? 500 : $opt{rate};
my $universe = $opt{quick} ? 10000 : 100000;
my $workers = $universe / 100;

for ($collector, $loadgen, $am_bin) {
    die "$0: $_ missing (make all build/sq-loadgen; make deps)\n"
        unless -x $_;
}

my $dir = "$opt{tmp}/alerts";
mkdir $dir;

my @cases = (
    [ 'every row healthy', 'healthy', [ '-b', 0 ] ],
    [ '1 % below the zone', 'one', [ '-b', 100 ] ],
    [ '100 % below the zone', 'all', [] ],
);


sub http {
    my ($port, $method, $path, $timeout) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp', Timeout => 10)
        or return '';
    my $r = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm($timeout // 60);
        print $s "$method $path HTTP/1.0\r\nHost: bench\r\n\r\n";
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

sub metric {
    my ($text, $name, $labels) = @_;

    my $re = quotemeta($name) . ($labels ? '\{' . quotemeta($labels) . '\}'
                                         : '');
    return $text =~ /^$re (\S+)$/m ? $1 + 0 : 0;
}

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

sub start_am {
    my ($tag) = @_;

    my $port = free_port('tcp');
    my $d = "$dir/am-$tag";
    mkdir $d;
    open my $f, '>', "$d/am.yml" or die "$d/am.yml: $!\n";
    print $f "route:\n  receiver: none\n  group_by: [incident]\n"
        . "receivers:\n  - name: none\n";
    close $f;
    my $pid = spawn("alertmanager $tag", 'sh', '-c',
                    'exec "$@" >"$0" 2>&1', "$d/am.log", $am_bin,
                    "--config.file=$d/am.yml", "--storage.path=$d/data",
                    '--cluster.listen-address=',
                    "--web.listen-address=127.0.0.1:$port");
    wait_port($port, 30, $pid);
    return ($pid, $port);
}

sub am_count {
    my ($port, $path) = @_;
    my $body = http($port, 'GET', $path, 30);
    my $n = () = $body =~ /"fingerprint"/g;
    return $n;
}

sub run_one {
    my ($name, $tag, $load) = @_;

    my ($am, $am_port) = start_am($tag);
    my $ingest = free_port('udp');
    my $http_port = free_port('tcp');
    my $conf = "$dir/$tag.yaml";
    my $db = "$dir/$tag.db";
    unlink $db, "$db-wal", "$db-shm";

    open my $fh, '>', $conf or die "$conf: $!\n";
    print $fh <<"EOF";
listen:
  ingest: udp://127.0.0.1:$ingest
  http: 127.0.0.1:$http_port
storage:
  path: $db
windows:
  slot: 10s
  short: 1m
  long: 10m
limits:
  max_series: 200000
log:
  level: debug
metrics:
  series: false
  scores: [region, journey]
alerts:
  interval: 5s
  alertmanager: { url: "http://127.0.0.1:$am_port" }
EOF
    close $fh;

    my $log = "$dir/$tag.log";
    my $pid = spawn("collector $tag", 'sh', '-c',
                    'exec "$0" -c "$1" >"$2" 2>&1', $collector, $conf, $log);

    my $up = 0;
    for (1 .. 200) {
        if (http($http_port, 'GET', '/healthz', 5) ne '') { $up = 1; last }
        sleep 0.05;
    }
    die "$tag: the collector did not start (see $log)\n" unless $up;

    my $out = "$dir/$tag.loadgen";
    my $gen = spawn('sq-loadgen', 'sh', '-c', 'exec "$@" >"$0" 2>&1', $out,
                    $loadgen, '-a', "127.0.0.1:$ingest", '-w', $workers,
                    '-s', 100, '-u', $universe, '-r', $rate,
                    '-d', $seconds, @$load);
    Bench::_reap($gen, $seconds + 120);

    my $text = do { local (@ARGV, $/) = $out; <> } // '';
    my ($sent) = $text =~ /^sent (\d+) datagrams/m;
    $sent //= 0;

    # what is queued is merged: wait for the count to settle
    my ($m, $last, $same) = ('', -1, 0);
    for (1 .. 300) {
        $m = http($http_port, 'GET', '/metrics', 120);
        my $n = metric($m, 'servqual_datagrams_total', 'result="accepted"');
        $same = $n == $last ? $same + 1 : 0;
        last if $n >= $sent || $same >= 5;
        $last = $n;
        sleep 1;
    }

    # Alertmanager has what was queued for it
    for (1 .. 60) {
        last if metric($m, 'servqual_alert_notifications_queued',
                       'sink="alertmanager"') == 0;
        sleep 1;
        $m = http($http_port, 'GET', '/metrics', 120);
    }

    my %r = (
        name => $name,
        sent => $sent,
        accepted => metric($m, 'servqual_datagrams_total',
                           'result="accepted"'),
        gaps => metric($m, 'servqual_datagrams_lost_total'),
        kernel => $m =~ /^servqual_receive_buffer_drops_total/m
                  ? metric($m, 'servqual_receive_buffer_drops_total',
                           "listen=\"udp://127.0.0.1:$ingest\"")
                  : proc_udp_drops($ingest),
        overflow => metric($m, 'servqual_ingest_queue_overflow_total'),
        series => metric($m, 'servqual_series'),
        firing => metric($m, 'servqual_alerts_firing',
                         'severity="critical"')
                  + metric($m, 'servqual_alerts_firing',
                           'severity="warning"'),
        incidents => metric($m, 'servqual_incidents_firing',
                            'severity="critical"')
                     + metric($m, 'servqual_incidents_firing',
                              'severity="warning"'),
        transitions => 0,
        posts => 0,
        build_s => metric($m, 'servqual_view_build_seconds'),
        last_eval => metric($m, 'servqual_alert_evaluation_seconds'),
        evals_total => metric($m, 'servqual_alert_evaluations_total'),
    );

    for my $sev (qw(critical warning)) {
        for my $st (qw(firing resolved)) {
            $r{transitions} += metric($m, 'servqual_alert_transitions_total',
                                      "severity=\"$sev\",status=\"$st\"");
        }
    }

    for my $res (qw(sent retried failed dropped)) {
        $r{"am_$res"} = metric($m, 'servqual_alert_notifications_total',
                               "sink=\"alertmanager\",result=\"$res\"");
    }

    $r{am_alerts} = am_count($am_port, '/api/v2/alerts');
    $r{am_groups} = () = http($am_port, 'GET', '/api/v2/alerts/groups', 30)
                         =~ /"receiver"\s*:/g;

    Bench::_reap($pid, 60, 'TERM');
    Bench::_reap($am, 30, 'TERM');

    # the evaluations and the log lines
    my (@ms, @cpu, $lines, $slice);
    $lines = 0;
    $slice = 0;
    open my $lf, '<', $log or die "$log: $!\n";
    while (<$lf>) {
        if (/evaluation \d+: \d+ rows in ([\d.]+) ms \(([\d.]+) ms of CPU/) {
            push @ms, $1;
            push @cpu, $2;
            $slice = $1 if /longest slice [^)]*? ([\d.]+) ms\)/
                           && $1 > $slice;
            next;
        }
        $lines++ unless /\bdebug\b/;
    }
    close $lf;

    my @sorted = sort { $a <=> $b } @ms;
    my @csorted = sort { $a <=> $b } @cpu;
    $r{evals} = scalar @ms;
    $r{eval_max} = @sorted ? $sorted[-1] : 0;
    $r{eval_median} = @sorted ? $sorted[$#sorted / 2] : 0;
    $r{cpu_max} = @csorted ? $csorted[-1] : 0;
    $r{cpu_median} = @csorted ? $csorted[$#csorted / 2] : 0;
    $r{slice} = $slice;
    $r{lines} = $lines;

    return \%r;
}


my @runs = map { run_one(@$_) }
           grep { !$opt{only} || $_->[1] eq $opt{only} } @cases;

open my $out, '>', $opt{out} or die "$opt{out}: $!\n";

print $out <<"EOF";
## 9. Alerts at $universe series

`bench/alerts.pl`: `build/sq-loadgen -w $workers -s 100 -u $universe -r
$rate -d $seconds` (100 series a datagram, $universe distinct series: 12,500
endpoints x 8 regions at 100k) with every row healthy (`-b 0`), one row in
100 below its zone (`-b 100`: rows of two regions) and every row below
(no `-g`), each against a fresh collector with storage on, 10 s slots,
alerts evaluated every 5 s and a real Alertmanager (`group_by:
[incident]`) as the sink.  The rate is one the collector keeps up with, so
that what is lost is what the evaluations cost.  "evaluation" is the time
of `sq_alert_evaluate` (state machine, grouping, log, Alertmanager
batches, the history queued; the view it reads is built before and timed
apart), wall clock and the loop thread's CPU time, slowest and median;
"slice" the longest history slice (8,192 transitions a SQLite
transaction, between turns of the loop); "log lines" every line the
collector wrote but its debug lines.

| case | evaluations | wall ms: slowest, median | CPU ms: slowest, median | slice ms | alerts firing | incidents | transitions | Alertmanager posts (failed) | Alertmanager alerts, groups | log lines | sent | lost | gaps | kernel drops | queue overflow |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF

for my $r (@runs) {
    printf $out "| %s | %d | %.0f, %.0f | %.0f, %.0f | %.0f | %d | %d | %d "
        . "| %d (%d) | %d, %d | %d | %d | %d | %d | %d | %d |\n",
        $r->{name}, $r->{evals}, $r->{eval_max}, $r->{eval_median},
        $r->{cpu_max}, $r->{cpu_median}, $r->{slice}, $r->{firing},
        $r->{incidents},
        $r->{transitions}, $r->{am_sent}, $r->{am_failed}, $r->{am_alerts},
        $r->{am_groups}, $r->{lines}, $r->{sent},
        $r->{sent} - $r->{accepted}, $r->{gaps}, $r->{kernel},
        $r->{overflow};
}

for my $r (@runs) {
    printf $out "\n%s: %d evaluations, the last took %.0f ms "
        . "(servqual_alert_evaluation_seconds).", $r->{name},
        $r->{evals_total}, $r->{last_eval} * 1000;
}
print $out "\n";

printf $out "\nLive series at the end: %d.  Load average at the end: %s %s "
    . "%s\n\n", $runs[-1]{series}, (split ' ', `cat /proc/loadavg`)[0 .. 2];
close $out or die "$opt{out}: $!\n";

my $all = $runs[-1];
open my $sum, '>', "$opt{out}.summary" or die "$opt{out}.summary: $!\n";
printf $sum "- alerts: %d series all below their zone: evaluation %.0f ms "
    . "at worst (%.0f ms of CPU), %d alerts firing in %d incidents, %d "
    . "Alertmanager posts, %d log lines, **%d lost**\n", $all->{series},
    $all->{eval_max}, $all->{cpu_max},
    $all->{firing}, $all->{incidents}, $all->{am_sent}, $all->{lines},
    $all->{sent} - $all->{accepted};
close $sum;
