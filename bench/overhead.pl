#!/usr/bin/perl

# Module overhead on nginx: one worker pinned to CPU 0, wrk on CPU 1,
# "return 200" locations, keep-alive, pipelined and connection-close
# workloads.  Every case runs in every round, alternating (the order is
# reversed every other round), and each case is compared with its
# baseline from the same round: requests/s ratio, p99 latency ratio and
# nginx CPU time per request ratio.  Writes a Markdown section.
#
#   bench/overhead.pl --tmp DIR --out FILE --mmdb FILE
#                     [--rounds N] [--duration SECONDS]
#                     [--cases REGEX] [--workloads REGEX]
#
# --cases, --workloads: only the cases (with their baselines) and the
# workloads whose names match, e.g. --cases '^on$' --workloads pipelined
# for the worker CPU per request of module on / off, pipelined.

use strict;
use warnings;

use FindBin qw($Bin);
use lib "$Bin/lib";

use Bench;
use Getopt::Long qw(GetOptions);
use Time::HiRes qw(time);

my %opt = (rounds => 5, duration => 3, warmup => 1, connections => 16,
           depth => 16);
GetOptions(\%opt, 'tmp=s', 'out=s', 'mmdb=s', 'rounds=i', 'duration=i',
           'warmup=i', 'connections=i', 'depth=i', 'cases=s',
           'workloads=s')
    or die "usage: $0 --tmp DIR --out FILE --mmdb FILE [--rounds N] "
         . "[--duration S]\n";

for (qw(tmp out mmdb)) {
    die "$0: --$_ is required\n" unless defined $opt{$_};
}

$SIG{INT} = $SIG{TERM} = sub { Bench::stop_all(); exit 1 };
END { Bench::stop_all() }

my $repo = repo_root();
my $lua = "$repo/bench/wrk/servqual.lua";
my $ncpu = `nproc` + 0;
my @pin_nginx = $ncpu >= 2 ? (qw(taskset -c 0)) : ();
my @pin_wrk = $ncpu >= 2 ? (qw(taskset -c 1)) : ();


# ---------------------------------------------------------------------------
# The nginx instances: all run at once, on their own ports, pinned to the
# same CPU; the idle ones cost nothing.

my ($drain_pid, $drain_port) = start_drain("$opt{tmp}/drain.txt");
my $nobody_port = free_port('udp');

my %inst = (
    notloaded => { module => 0 },
    off       => { servqual => 'off' },
    on        => { servqual => 'on' },
    geo       => { servqual => 'on', mmdb => $opt{mmdb} },
    nolisten  => { servqual => 'on', mmdb => $opt{mmdb},
                   collector => $nobody_port },
    wide      => { servqual => 'on', mmdb => $opt{mmdb}, segment => 1,
                   max_series => 16384 },
);

my @inst_order = qw(notloaded off on geo nolisten wide);

for my $name (@inst_order) {
    my $i = $inst{$name};
    $i->{port} = free_port('tcp');
    $i->{conf} = write_conf("$opt{tmp}/overhead/$name",
                            collector => $drain_port, %$i);
    $i->{master} = start_nginx($i->{conf}, $i->{port},
                               prefix => \@pin_nginx);
    $i->{worker} = worker_pid($i->{master});
}


# ---------------------------------------------------------------------------
# The cases: an instance, wrk arguments, and the baseline it is compared
# with.

my @cases = (
    { name => 'off', inst => 'off', args => 'addrs=12',
      what => 'module loaded, `servqual off` (baseline)' },
    { name => 'not loaded', inst => 'notloaded', args => 'addrs=12',
      base => 'off', what => 'no `load_module`' },
    { name => 'on', inst => 'on', args => 'addrs=12', base => 'off',
      what => '`servqual on`, no GeoIP (region `unknown`)' },
    { name => 'geo', inst => 'geo', args => 'addrs=12', base => 'off',
      what => '`servqual on` + `servqual_geoip2`, 12 client addresses '
            . '(6 regions, IPv4 + IPv6), lookups cached' },
    { name => 'geo, 8192 addrs', inst => 'geo', args => 'addrs=8192',
      base => 'off',
      what => 'as geo, 8192 distinct addresses: the 1024-entry lookup '
            . 'cache misses' },
    { name => 'geo, no listener', inst => 'nolisten', args => 'addrs=12',
      base => 'off',
      what => 'as geo, nobody listens at the collector address '
            . '(datagrams dropped and counted)' },
    { name => 'off, wide', inst => 'off',
      args => 'addrs=12 endpoints=1000 segments=2',
      what => 'module loaded, `servqual off`, 1000 paths (baseline of '
            . 'wide)' },
    { name => 'wide', inst => 'wide',
      args => 'addrs=12 endpoints=1000 segments=2', base => 'off, wide',
      what => 'geo + `servqual_segment $http_x_plan` (2 values), 1000 '
            . 'endpoints x 6 regions x 2 segments = 12000 live series' },
);

my %case = map { $_->{name} => $_ } @cases;

if (defined $opt{cases}) {
    my %keep = map { $_->{name} => 1 } grep { $_->{name} =~ /$opt{cases}/ }
               @cases;
    $keep{ $_->{base} } = 1 for grep { $keep{ $_->{name} } && $_->{base} }
                                @cases;
    @cases = grep { $keep{ $_->{name} } } @cases;
}
my @worker_exits;              # workers that exited during a run

my @workloads = (
    { name => 'keep-alive', args => '' },
    { name => 'pipelined', args => " depth=$opt{depth}" },
    { name => 'connection close', args => ' close=1' },
);

@workloads = grep { $_->{name} =~ /$opt{workloads}/ } @workloads
    if defined $opt{workloads};


sub wrk_cmd {
    my ($c, $w, $duration) = @_;

    my $port = $inst{ $c->{inst} }{port};

    return (@pin_wrk, 'wrk', '-t1', "-c$opt{connections}",
            "-d${duration}s", '-s', $lua, "http://127.0.0.1:$port/", '--',
            split(' ', $c->{args} . $w->{args}));
}


sub worker_exited {
    my ($c, $w, $i) = @_;

    kill(0, $i->{master})
        or die "nginx $c->{inst} exited during the run; see "
             . "$opt{tmp}/overhead/$c->{inst}/logs/error.log\n";
    push @worker_exits, "$c->{inst} (worker $i->{worker}, $w->{name}, "
                      . "case $c->{name})";
    die "nginx $c->{inst}: workers keep exiting, see its error log\n"
        if @worker_exits > 20;
    $i->{worker} = worker_pid($i->{master});
}


sub run_wrk {
    my ($c, $w, $duration) = @_;

    my @cmd = wrk_cmd($c, $w, $duration);
    my $i = $inst{ $c->{inst} };
    my $cpu0 = eval { proc_cpu_seconds($i->{worker}) };

    if (!defined $cpu0) {
        worker_exited($c, $w, $i);
        $cpu0 = proc_cpu_seconds($i->{worker});
    }

    open my $fh, '-|', @cmd or die "wrk: $!\n";
    my $out = do { local $/; <$fh> };
    close $fh;
    die "wrk failed ($?): @cmd\n$out" if $? != 0;

    # a worker that exited during the run (crash, or killed from outside)
    # is noted and its run's CPU time left out; the master starts another
    my $cpu1 = eval { proc_cpu_seconds($i->{worker}) };
    my $cpu = defined $cpu1 ? $cpu1 - $cpu0 : undef;

    worker_exited($c, $w, $i) unless defined $cpu1;

    my ($line) = $out =~ /^(RESULT .*)$/m
        or die "no RESULT line from wrk: @cmd\n$out";
    my %r = $line =~ /(\w+)=(\d+)/g;

    $r{rps} = $r{requests} / ($r{duration_us} / 1e6);
    $r{cpu_us} = defined $cpu && $r{requests} ? $cpu * 1e6 / $r{requests}
                                              : undef;
    $r{util} = defined $cpu ? $cpu / ($r{duration_us} / 1e6) : undef;

    return \%r;
}


# ---------------------------------------------------------------------------
# Rounds

my %res;                       # workload => case => [ per round results ]
my $t0 = time;

for my $w (@workloads) {
    run_wrk($_, $w, $opt{warmup}) for @cases;

    for my $round (1 .. $opt{rounds}) {
        my @order = $round % 2 ? @cases : reverse @cases;

        for my $c (@order) {
            push @{ $res{ $w->{name} }{ $c->{name} } },
                run_wrk($c, $w, $opt{duration});
        }
    }

    printf STDERR "bench: overhead, %s: done (%.0f s)\n", $w->{name},
           time - $t0;
}


# ---------------------------------------------------------------------------
# Stop nginx (QUIT: the workers flush), then the drain, and read the logs

for my $name (@inst_order) {
    Bench::stop_nginx($inst{$name}{master}, 'QUIT');
}

Bench::stop_drain($drain_pid);

my ($datagrams, $bytes) = (0, 0);
if (open my $fh, '<', "$opt{tmp}/drain.txt") {
    ($datagrams, $bytes) = split ' ', scalar <$fh>;
}

my %log;
for my $name (@inst_order) {
    my $file = "$opt{tmp}/overhead/$name/logs/error.log";
    open my $fh, '<', $file or next;
    while (<$fh>) {
        $log{$name}{$1}++ if /\[(emerg|alert|crit|error|warn)\]/;
        push @{ $log{$name}{lines} }, $_
            if /servqual|exited on signal/ && @{ $log{$name}{lines} // [] } < 3;
    }
}


# ---------------------------------------------------------------------------
# The report

open my $out, '>', $opt{out} or die "$opt{out}: $!\n";

my $example = join ' ', wrk_cmd($case{wide},
    (grep { $_->{name} eq 'pipelined' } @workloads)[0] // $workloads[0],
    $opt{duration});
$example =~ s/\Q$repo\E\///g;
my $nginx_cmd = join ' ', @pin_nginx, Bench::nginx_bin(),
                '-p DIR/ -c DIR/nginx.conf -e DIR/logs/error.log';

print $out <<"EOF";
## 1. Module overhead on nginx

nginx: one worker (`worker_processes 1`), `access_log off`, every case
with the same 1000 extra `location = /eN { return 200; }` blocks and
`real_ip_header X-Forwarded-For` from 127.0.0.1; the measured location is
`return 200` (empty body).  nginx runs pinned to CPU 0, wrk (one thread,
$opt{connections} connections) to CPU 1. The module sends its datagrams
(flush=1s) to a UDP drain on 127.0.0.1, except in "no listener".

$opt{rounds} rounds of $opt{duration} s per case, the cases alternating
(A B C ... then ... C B A), after a $opt{warmup} s warm-up of each case.
Every ratio is case / baseline **within the same round**; the table
shows the median over rounds and, in parentheses, the lowest and highest
round.  req/s ratio above 1.000 and p99 ratio below 1.000 are good.
With two cores shared with other work, req/s and p99 of single rounds
swing widely (see the ranges); the nginx CPU time per request is the
steadiest of the three.  wrk records few or no latencies when
pipelining, so p99 there is often n/a.
"CPU/req" is the nginx worker's user + system CPU time per request (from
/proc), which still shows the module's cost when wrk, not nginx, is the
bottleneck ("nginx CPU" is the share of one core the worker used).

```sh
$nginx_cmd
$example
```

EOF

for my $w (@workloads) {
    my $r = $res{ $w->{name} };

    print $out "### $w->{name}\n\n";
    print $out "| case | req/s | req/s ratio | p99 µs | p99 ratio "
             . "| CPU/req µs | CPU/req ratio | nginx CPU | errors |\n";
    print $out "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";

    for my $c (@cases) {
        my @runs = @{ $r->{ $c->{name} } };
        my ($rr, $pr, $cr) = ('—', '—', '—');

        if ($c->{base}) {
            my @b = @{ $r->{ $c->{base} } };
            my @i = 0 .. $#runs;
            $rr = fmt_ratio(map { $runs[$_]{rps} / $b[$_]{rps} } @i);
            my @p = grep { $runs[$_]{p99_us} > 0 && $b[$_]{p99_us} > 0 } @i;
            $pr = @p >= 3 ? fmt_ratio(map { $runs[$_]{p99_us}
                                            / $b[$_]{p99_us} } @p)
                          : 'n/a';
            $cr = fmt_ratio(map { $runs[$_]{cpu_us} / $b[$_]{cpu_us} }
                            grep { $runs[$_]{cpu_us} && $b[$_]{cpu_us} }
                            @i);
        }

        my $errors = 0;
        $errors += $_->{errors} for @runs;

        my $p99 = median(grep { $_ > 0 } map { $_->{p99_us} } @runs);

        printf $out "| %s | %.0f | %s | %s | %s | %.2f | %s | %.0f %% "
                  . "| %d |\n",
            $c->{name}, median(map { $_->{rps} } @runs), $rr,
            defined $p99 ? sprintf('%.0f', $p99) : 'n/a', $pr,
            median(grep { defined } map { $_->{cpu_us} } @runs) // 0, $cr,
            100 * (median(grep { defined } map { $_->{util} } @runs) // 0),
            $errors;
    }

    print $out "\n";
}

print $out "Cases (wrk arguments after `--` of bench/wrk/servqual.lua; the "
         . "workload adds `depth=$opt{depth}` or `close=1`):\n\n";
for my $c (@cases) {
    print $out "- **$c->{name}**: $c->{what}; `$c->{args}`"
             . ($c->{base} ? "; baseline: $c->{base}" : '') . "\n";
}

print $out "\nThe drain received $datagrams datagrams ($bytes bytes) "
         . "from the module during the run.\n";

my @notes;
for my $name (@inst_order) {
    my $l = $log{$name} or next;
    my $counts = join ', ', map { "$l->{$_} [$_]" }
                            grep { $l->{$_} } qw(emerg alert crit error warn);
    push @notes, "- $name: $counts" . ($l->{lines}
        ? ", e.g. `" . ($l->{lines}[0] =~ s/^\S+ \S+ //r =~ s/\s+$//r) . '`'
        : '') if $counts;
}

print $out "\n**nginx workers exited during a run** (their CPU time is "
         . "left out): " . join('; ', @worker_exits) . "\n" if @worker_exits;

print $out "\nnginx error logs: "
         . (@notes ? "\n\n" . join("\n", @notes) . "\n"
                   : "no [warn] or worse in any instance.\n");
print $out "\n";

close $out or die "$opt{out}: $!\n";


# summary lines for the top of RESULTS.md: the targets of geo

open my $sum, '>', "$opt{out}.summary" or die "$opt{out}.summary: $!\n";

for my $w (grep { $_->{name} ne 'connection close' } @workloads) {
    my $r = $res{ $w->{name} };
    next unless $r->{geo} && $r->{off};
    my @g = @{ $r->{geo} };
    my @b = @{ $r->{off} };
    my @rps = map { $g[$_]{rps} / $b[$_]{rps} } 0 .. $#g;
    my @p99 = map { $g[$_]{p99_us} / $b[$_]{p99_us} }
              grep { $g[$_]{p99_us} > 0 && $b[$_]{p99_us} > 0 } 0 .. $#g;
    my @cpu = map { $g[$_]{cpu_us} / $b[$_]{cpu_us} }
              grep { $g[$_]{cpu_us} && $b[$_]{cpu_us} } 0 .. $#g;
    my $p99 = @p99 >= 3 ? median(@p99) : undef;

    printf $sum "- %s `return 200`, GeoIP on vs module off (median "
              . "(range) of %d rounds): req/s %s (target ≥ 0.97: %s); "
              . "p99 %s (target ≤ 1.05: %s); nginx CPU per request %s\n",
        $w->{name}, scalar @g, fmt_ratio(@rps),
        median(@rps) >= 0.97 ? 'met' : 'missed',
        defined $p99 ? fmt_ratio(@p99) : 'n/a',
        !defined $p99 ? 'not measured' : $p99 <= 1.05 ? 'met' : 'missed',
        fmt_ratio(@cpu);
}

# the worker CPU per request pipelined, no GeoIP: the request path alone

for my $w (grep { $_->{name} eq 'pipelined' } @workloads) {
    my $r = $res{ $w->{name} };
    next unless $r->{on} && $r->{off};
    my @o = @{ $r->{on} };
    my @b = @{ $r->{off} };
    my @cpu = map { $o[$_]{cpu_us} / $b[$_]{cpu_us} }
              grep { $o[$_]{cpu_us} && $b[$_]{cpu_us} } 0 .. $#o;

    printf $sum "- pipelined `return 200`, `servqual on` (no GeoIP) vs "
              . "module off, nginx worker CPU per request (median (range) "
              . "of %d rounds): %s (goal ≤ 1.02: %s)\n", scalar @cpu,
        fmt_ratio(@cpu), median(@cpu) <= 1.02 ? 'met' : 'missed';
}

close $sum or die "$opt{out}.summary: $!\n";
