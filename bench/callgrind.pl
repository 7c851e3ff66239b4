#!/usr/bin/perl

# Instructions per request: nginx with "master_process off; daemon off;"
# under valgrind --tool=callgrind serves a fixed number of keep-alive
# requests from a small client, once with N1 and once with N2 requests;
# (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost of one request with start-up
# and shutdown cancelled out.  The module's flush (once a second, not per
# request) and the one at worker exit (its cost grows with the histogram
# cells the N2 run filled, so it does not cancel out) are left out of
# these runs with --toggle-collect and measured in a run of its own.
# The same difference per function, minus the module-off case, shows
# where the added instructions go.  nginx runs with timer_resolution 10s
# (see run_case).  Writes a Markdown section.
#
#   bench/callgrind.pl --tmp DIR --out FILE --mmdb FILE [--n1 N] [--n2 N]
#       [--dense FILE] [--old-module FILE] [--cases REGEX]
#
# --dense: a database as dense as GeoLite2-Country (scripts/make-mmdb
# --dense, with its .sample file of addresses) for the cases with a new
# client address every request.  --old-module: another build of the
# module (e.g. of the main branch) run on the same cases, "old: ...",
# shown side by side.  --cases: only the cases whose names match (and
# their baselines).

use strict;
use warnings;

use FindBin qw($Bin);
use lib "$Bin/lib";

use Bench;
use Getopt::Long qw(GetOptions);
use IO::Socket::INET;
use Time::HiRes qw(time);

my %opt = (n1 => 200, n2 => 2200);
GetOptions(\%opt, 'tmp=s', 'out=s', 'mmdb=s', 'n1=i', 'n2=i', 'dense=s',
           'old-module=s', 'cases=s')
    or die "usage: $0 --tmp DIR --out FILE --mmdb FILE [--n1 N] [--n2 N] "
         . "[--dense FILE] [--old-module FILE] [--cases REGEX]\n";

for (qw(tmp out mmdb)) {
    die "$0: --$_ is required\n" unless defined $opt{$_};
}

$SIG{INT} = $SIG{TERM} = sub { Bench::stop_all(); exit 1 };
END { Bench::stop_all() }

my $N = $opt{n2} - $opt{n1};
my @valgrind = ('valgrind', '--tool=callgrind', '--quiet');
my @no_flush = ('--toggle-collect=ngx_http_servqual_flush',
                '--toggle-collect=ngx_http_servqual_flush_final',
                '--collect-atstart=yes');     # after: toggle-collect sets no

my ($drain_pid, $drain_port) = start_drain("$opt{tmp}/cg-drain.txt");


# flush=1h: the flush timer never fires during a run; the one flush at
# worker exit is not collected (--toggle-collect) in the per-request runs.

my %geo = (servqual => 'on', mmdb => $opt{mmdb});
my %wide = (servqual => 'on', mmdb => $opt{mmdb}, segment => 1,
            max_series => 16384);
my %off = (servqual => 'off');

# idle keep-alive connections held open in the "idle" cases: a site's
# timer tree holds one timer per connection
my $IDLE = 1000;

# each case is compared with a module-off run of the same requests
my @cases = (
    { name => 'off', conf => \%off, addrs => 12,
      what => 'module loaded, `servqual off`, 12 addresses (6 regions, '
            . 'IPv4 + IPv6)' },
    { name => 'not loaded', conf => { module => 0 }, addrs => 12,
      base => 'off', what => 'no `load_module`' },
    { name => 'on', conf => { servqual => 'on' }, addrs => 12, flush => 1,
      base => 'off', target => 300, what => '`servqual on`, no GeoIP' },
    { name => 'geo', conf => \%geo, addrs => 12, flush => 1, base => 'off',
      target => 600, what => 'with GeoIP, 12 addresses (cached lookups)' },
    { name => 'off, IPv4', conf => \%off, addrs => 12, only => 4,
      what => 'module off, the 6 IPv4 addresses' },
    { name => 'geo, IPv4', conf => \%geo, addrs => 12, only => 4,
      base => 'off, IPv4', target => 600,
      what => 'with GeoIP, the 6 IPv4 addresses' },
    { name => 'off, IPv6', conf => \%off, addrs => 12, only => 6,
      what => 'module off, the 6 IPv6 addresses' },
    { name => 'geo, IPv6', conf => \%geo, addrs => 12, only => 6,
      base => 'off, IPv6', target => 600,
      what => 'with GeoIP, the 6 IPv6 addresses' },
    { name => 'off, 8192 addrs', conf => \%off, addrs => 8192,
      what => 'module off, 8192 distinct addresses' },
    { name => 'geo, uncached', conf => \%geo, addrs => 8192,
      base => 'off, 8192 addrs',
      what => 'with GeoIP, a new address every request (the lookup '
            . 'cache misses)' },
    { name => 'off, wide', conf => \%off, addrs => 12, endpoints => 1000,
      segments => 2,
      what => 'module off, 1000 paths, X-Plan header' },
    { name => 'wide', conf => \%wide, addrs => 12, endpoints => 1000,
      segments => 2, flush => 1, base => 'off, wide',
      what => 'with GeoIP, `servqual_segment $http_x_plan`, 1000 '
            . 'endpoints x 6 regions x 2 segments' },
    { name => "off, $IDLE idle", conf => \%off, addrs => 12, idle => $IDLE,
      what => "module off, $IDLE idle keep-alive connections held open" },
    { name => "on, $IDLE idle", conf => { servqual => 'on' }, addrs => 12,
      idle => $IDLE, base => "off, $IDLE idle", target => 300,
      what => "`servqual on`, no GeoIP, $IDLE idle keep-alive connections "
            . 'held open (their timers in the tree)' },
    { name => 'off, pipelined', conf => \%off, addrs => 12, depth => 16,
      what => 'module off, 16 requests written at a time (pipelined)' },
    { name => 'on, pipelined', conf => { servqual => 'on' }, addrs => 12,
      depth => 16, base => 'off, pipelined', ratio => 1.02,
      what => '`servqual on`, no GeoIP, pipelined' },
    { name => 'geo, pipelined', conf => \%geo, addrs => 12, depth => 16,
      base => 'off, pipelined', ratio => 1.02,
      what => 'with GeoIP, 12 addresses, pipelined' },
);


# the dense database's cases: a new address of its networks every request
# (dense => 4 or 6), or 12 of them over and over (dense => 0)

if ($opt{dense}) {
    my %dense = (servqual => 'on', mmdb => $opt{dense});

    push @cases,
        { name => 'off, dense IPv4', conf => \%off, dense => 4,
          what => 'module off, a new IPv4 address every request' },
        { name => 'dense, new IPv4', conf => \%dense, dense => 4,
          base => 'off, dense IPv4', target => 300,
          what => 'with the dense database, a new IPv4 address (of a '
                . 'network drawn at random) every request' },
        { name => 'off, dense IPv6', conf => \%off, dense => 6,
          what => 'module off, a new IPv6 address every request' },
        { name => 'dense, new IPv6', conf => \%dense, dense => 6,
          base => 'off, dense IPv6', target => 300,
          what => 'with the dense database, a new IPv6 address every '
                . 'request' },
        { name => 'off, dense 12', conf => \%off, dense => 0, addrs => 12,
          what => 'module off, 12 addresses of the dense database' },
        { name => 'dense, 12 addrs', conf => \%dense, dense => 0,
          addrs => 12, base => 'off, dense 12',
          what => 'with the dense database, 12 addresses over and over '
                . '(the cached workload)' },
        { name => "off, dense IPv4, $IDLE idle", conf => \%off, dense => 4,
          idle => $IDLE,
          what => "module off, a new IPv4 address every request, $IDLE "
                . 'idle connections' },
        { name => "dense, new IPv4, $IDLE idle", conf => \%dense, dense => 4,
          idle => $IDLE, base => "off, dense IPv4, $IDLE idle",
          target => 300,
          what => "dense, new IPv4 with $IDLE idle connections" },
        { name => "off, dense IPv6, $IDLE idle", conf => \%off, dense => 6,
          idle => $IDLE,
          what => "module off, a new IPv6 address every request, $IDLE "
                . 'idle connections' },
        { name => "dense, new IPv6, $IDLE idle", conf => \%dense, dense => 6,
          idle => $IDLE, base => "off, dense IPv6, $IDLE idle",
          target => 300,
          what => "dense, new IPv6 with $IDLE idle connections" };
}

# the same cases with the other build of the module

if ($opt{'old-module'}) {
    my %old = map { $_ => 1 } 'on', 'geo', 'geo, uncached',
                              'dense, new IPv4', 'dense, new IPv6',
                              'dense, 12 addrs', "on, $IDLE idle",
                              "dense, new IPv4, $IDLE idle",
                              "dense, new IPv6, $IDLE idle",
                              'on, pipelined';

    push @cases, map {
        { %$_, name => "old: $_->{name}",
          conf => { %{ $_->{conf} }, so => $opt{'old-module'} },
          what => "$_->{name} with the old module", flush => 0,
          old_of => $_->{name} }
    } grep { $old{ $_->{name} } } @cases;
}

if (defined $opt{cases}) {
    my %keep = map { $_->{name} => 1 } grep { $_->{name} =~ /$opt{cases}/ }
               @cases;
    $keep{ $_->{base} } = 1 for grep { $keep{ $_->{name} } && $_->{base} }
                                @cases;
    @cases = grep { $keep{ $_->{name} } } @cases;
}


# The requests of a case: the same rotation as bench/wrk/servqual.lua.

sub requests {
    my ($c, $n) = @_;

    my @addr = defined $c->{dense}
        ? sample_addresses("$opt{dense}.sample", $c->{addrs} // $n,
                           $c->{dense})
        : address_list($c->{addrs});
    @addr = grep { /:/ } @addr if ($c->{only} // 0) == 6;
    @addr = grep { !/:/ } @addr if ($c->{only} // 0) == 4;

    my $ne = $c->{endpoints} || 1;
    my @r;

    for my $k (0 .. $n - 1) {
        my $path = $c->{endpoints} ? '/e' . ($k % $ne) : '/';
        my $req = "GET $path HTTP/1.1\r\nHost: bench\r\n"
                . 'X-Forwarded-For: ' . $addr[int($k / $ne) % @addr] . "\r\n";
        $req .= 'X-Plan: p' . (int($k / ($ne * @addr)) % $c->{segments})
                . "\r\n" if $c->{segments};
        push @r, "$req\r\n";
    }

    return @r;
}


# series($c, $n): how many (endpoint, region, segment) the first $n
# requests of a case make, with GeoIP (region: the second IPv4 octet or
# the third IPv6 group).

sub series {
    my ($c, $n) = @_;
    my %s;

    for (requests($c, $n)) {
        my ($path) = m{^GET (\S+)};
        my ($r4, $r6) = /^X-Forwarded-For: (?:10\.(\d+)|2001:db8:(\w+))/m;
        my ($plan) = /^X-Plan: (\S+)/m;
        my $region = $c->{conf}{mmdb} ? $r4 // hex $r6 : 'unknown';
        $s{"$path $region " . ($plan // '')} = 1;
    }

    return scalar keys %s;
}


# One keep-alive connection, one request at a time.

sub client {
    my ($port, $c, @reqs) = @_;

    my $depth = $c->{depth} || 1;
    my @idle;

    # idle keep-alive connections first, held open through the run: each
    # has made one request and waits with its keep-alive timer in nginx's
    # timer tree, as the connections of a real site do
    for (1 .. $c->{idle} || 0) {
        my $i = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Proto => 'tcp')
            or die "connect 127.0.0.1:$port: $!\n";
        print $i "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
            or die "write: $!\n";
        responses($i, \my $ibuf, 1);
        push @idle, $i;
    }

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp')
        or die "connect 127.0.0.1:$port: $!\n";
    my $buf = '';

    # depth > 1: that many requests written at once (pipelined), then
    # their responses read
    while (my @batch = splice @reqs, 0, $depth) {
        print $s join('', @batch) or die "write: $!\n";
        responses($s, \$buf, scalar @batch);
    }

    close $s;

    # the idle ones are closed by nginx as it exits, not here: their
    # closing would race with the exit
    return @idle;
}


sub responses {
    my ($s, $buf, $n) = @_;

    $$buf //= '';

    while ($n > 0) {
        if ($$buf =~ s/\AHTTP\/1\.1 (\d+)[^\r]*\r\n.*?\r\n\r\n//s) {
            die "unexpected status $1 from nginx\n" if $1 ne '200';
            $n--;
            next;
        }
        my $r = sysread($s, $$buf, 65536, length $$buf);
        die "connection closed by nginx\n" unless $r;
    }
}


sub run_case {
    my ($c, $n, $flush) = @_;

    (my $tag = $c->{name}) =~ s/\W+/-/g;
    my $dir = "$opt{tmp}/callgrind/$tag-$n" . ($flush ? '-flush' : '');
    my $port = free_port('tcp');
    my $conf = write_conf($dir, port => $port, single => 1, flush => '1h',
                          collector => $drain_port, %{ $c->{conf} });

    # nginx updates its cached time (and formats its log time strings)
    # after each event when timer_resolution is not set: under valgrind
    # that follows how slow the run was, 10 to 30 Ir/request of noise
    # between two runs of the same requests.  An update every ten seconds
    # makes it negligible, in every case alike.
    timer_resolution($conf);
    my $out = "$dir/callgrind.out";

    my $pid = start_nginx($conf, $port, timeout => 120,
        prefix => [@valgrind, ($flush ? () : @no_flush),
                   "--callgrind-out-file=$out"]);

    my @idle = client($port, $c, requests($c, $n));

    Bench::stop_nginx($pid, 'QUIT');
    close $_ for @idle;

    return $out;
}


sub timer_resolution {
    my ($conf) = @_;

    open my $fh, '<', $conf or die "$conf: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;

    $text =~ s/^events \{/timer_resolution 10s;\n\nevents {/m
        or die "$conf: no events block\n";

    open $fh, '>', $conf or die "$conf: $!\n";
    print $fh $text;
    close $fh or die "$conf: $!\n";
}


# Ir per function from callgrind_annotate, keyed by name (the entries of
# one function split by source file, e.g. inlined header code, are
# summed); the object is kept in $obj{name}.

my %obj;

sub functions {
    my ($file, $inclusive) = @_;

    my @cmd = ('callgrind_annotate', '--threshold=100',
               '--inclusive=' . ($inclusive ? 'yes' : 'no'), $file);
    open my $fh, '-|', @cmd or die "callgrind_annotate: $!\n";

    my (%f, $total);

    while (<$fh>) {
        if (/^\s*([\d,]+)\s+(?:\([\d.]+%\)\s+)?PROGRAM TOTALS/) {
            ($total = $1) =~ tr/,//d;
            next;
        }
        next unless /^\s*([\d,]+)\s+(?:\([\d.]+%\)\s+)?(\S.*?)\s*$/;
        my ($ir, $name) = ($1, $2);
        $ir =~ tr/,//d;
        my $obj = $name =~ s/\s+\[(.*)\]\z// ? $1 : '';
        $name =~ s/\A.*://;
        $obj =~ s{.*/}{};
        $f{$name} += $ir;
        $obj{$name} //= $obj if $obj;
    }

    close $fh;
    die "no totals from callgrind_annotate $file\n" unless defined $total;

    return ($total, \%f);
}


# ---------------------------------------------------------------------------

my %res;
my $t0 = time;

for my $c (@cases) {
    my ($a, $b) = map { run_case($c, $_) } $opt{n1}, $opt{n2};

    my ($ta, $fa) = functions($a, 0);
    my ($tb, $fb) = functions($b, 0);

    my %self;
    $self{$_} = (($fb->{$_} // 0) - ($fa->{$_} // 0)) / $N
        for keys %{ { %$fa, %$fb } };

    $res{ $c->{name} } = { per_req => ($tb - $ta) / $N, self => \%self };

    # one flush, collected this time: of the series the N2 run created
    if ($c->{flush}) {
        my ($tf) = functions(run_case($c, $opt{n2}, 1), 0);
        $res{ $c->{name} }{flush} = $tf - $tb;
    }

    printf STDERR "bench: callgrind, %s: %.0f Ir/request (%.0f s)\n",
           $c->{name}, $res{ $c->{name} }{per_req}, time - $t0;
}

Bench::stop_drain($drain_pid);


# ---------------------------------------------------------------------------
# The report

my $MODULE_RE = qr/servqual|MMDB|mmdb|msgpack|sq_hist/;

open my $out, '>', $opt{out} or die "$opt{out}: $!\n";

print $out <<"EOF";
## 2. Instructions per request (callgrind)

nginx with `master_process off; daemon off;` under
`valgrind --tool=callgrind`, the same configuration as section 1 but
`flush=1h` and `timer_resolution 10s`.  A Perl client sends
keep-alive requests on one connection, one at a time, rotating
`X-Forwarded-For` (and paths and `X-Plan`) as the wrk script does; the
"idle" cases first open $IDLE more connections, make one request on each
and hold them open through the run (a timer each in nginx's timer tree,
as on a site with many clients), and the "pipelined" cases write 16
requests at a time and count the whole worker's instructions.  Each
case runs twice, with $opt{n1} and $opt{n2} requests: Ir/request =
(Ir($opt{n2}) − Ir($opt{n1})) / $N, so start-up and shutdown cancel out.
The module's flush runs once a second, not per request: it is not
collected in these runs (`--toggle-collect`, also the one at worker
exit) and is measured on its own below.  Every case is compared with a
module-off run of exactly the same requests.  Instruction counts do not
depend on machine noise, but without `timer_resolution` nginx updates
its cached time after every event, and how often that formats new time
strings follows how slow the run under valgrind was (10 to 30
Ir/request between two runs of the same case); with it, once in ten
seconds in every case alike.

```sh
valgrind --tool=callgrind --toggle-collect=ngx_http_servqual_flush \\
    --toggle-collect=ngx_http_servqual_flush_final --collect-atstart=yes \\
    --callgrind-out-file=FILE \\
    @{[ Bench::nginx_bin() ]} -p DIR/ -c DIR/nginx.conf -e DIR/logs/error.log
callgrind_annotate --threshold=100 --inclusive=no FILE
```

| case | Ir/request | baseline | added Ir/request | target | |
|---|---:|---|---:|---:|---|
EOF

for my $c (@cases) {
    my $r = $res{ $c->{name} };
    my $b = $c->{base};
    my $added = $b ? $r->{per_req} - $res{$b}{per_req} : undef;
    my $t = $c->{target};
    my $verdict = !$t ? '' : $added < $t ? 'met' : '**missed**';

    if ($c->{ratio}) {
        my $q = $r->{per_req} / $res{$b}{per_req};
        $t = sprintf 'ratio ≤ %.2f', $c->{ratio};
        $verdict = sprintf '%.3f: %s', $q,
                           $q <= $c->{ratio} ? 'met' : '**missed**';
    } elsif ($t) {
        $t = "< $t";
    }

    printf $out "| %s | %.0f | %s | %s | %s | %s |\n", $c->{name},
        $r->{per_req}, $b // '—', $b ? sprintf('%+.0f', $added) : '—',
        $t // '', $verdict;
}

print $out <<'EOF';

Reading the function tables below: the total per request is exact; the
split is callgrind's attribution.  Debian's nginx is stripped, so its
static functions show as addresses, and code reached by a tail call can
be counted under its caller in one case and on its own in another:
single "other" rows can be such shifts.  Under valgrind `clock_gettime`
does not run in the vDSO, so the three clock reads of the module may
cost more natively than they count here.
EOF

print $out "\nCases:\n\n";
print $out "- **$_->{name}**: $_->{what}\n" for @cases;


# where the added instructions go: per function, self cost per request
# in the case minus the same function in "off"

# old and new side by side

my @pairs = grep { $_->{old_of} && $res{ $_->{old_of} } } @cases;

if (@pairs) {
    print $out "\n### Old and new module, same run\n\n"
             . "Added Ir/request over the same baseline; old: "
             . "`$opt{'old-module'}`.\n\n"
             . "| case | old | new | change |\n|---|---:|---:|---:|\n";

    for my $c (@pairs) {
        my $base = $res{ $c->{base} }{per_req};
        my $old = $res{ $c->{name} }{per_req} - $base;
        my $new = $res{ $c->{old_of} }{per_req} - $base;
        printf $out "| %s | %+.0f | %+.0f | %+.0f |\n", $c->{old_of},
            $old, $new, $new - $old;
    }
}

for my $name ('on', "on, $IDLE idle", 'on, pipelined', 'geo',
              'geo, IPv6', 'geo, uncached', 'wide',
              'dense, new IPv4', 'dense, new IPv6', 'dense, 12 addrs',
              'old: dense, new IPv4', 'old: dense, new IPv6')
{
    next unless $res{$name};
    my $r = $res{$name};
    my $bname = (grep { $_->{name} eq $name } @cases)[0]{base};
    my $off = $res{$bname}{self};
    my %d = map { $_ => ($r->{self}{$_} // 0) - ($off->{$_} // 0) }
            keys %{ { %{ $r->{self} }, %$off } };
    my @top = grep { abs($d{$_}) >= 1 }
              sort { $d{$b} <=> $d{$a} } keys %d;
    my @mod = grep { /$MODULE_RE/ } @top;
    my @rest = grep { !/$MODULE_RE/ } @top;
    my ($msum, $rsum) = (0, 0);
    $msum += $d{$_} for @mod;
    $rsum += $d{$_} for @rest;

    printf $out "\n### Where the instructions go: %s (%+.0f Ir/request)\n\n",
        $name, $r->{per_req} - $res{$bname}{per_req};
    print $out "Self Ir per request, case minus $bname, per function: first "
             . "the module's own and the libraries it calls (servqual, "
             . "MMDB, msgpack), then the rest (nginx, libc) that changed "
             . "by at least 1 Ir/request.  `0x...` are functions of "
             . "stripped objects.\n\n";
    print $out "| function | object | self Ir/request |\n|---|---|---:|\n";

    for my $f (@mod[0 .. ($#mod < 11 ? $#mod : 11)]) {
        printf $out "| `%s` | %s | %.1f |\n", $f, $obj{$f} // '', $d{$f};
    }
    printf $out "| *all module functions* | | %.1f |\n", $msum;

    for my $f (@rest[0 .. ($#rest < 7 ? $#rest : 7)]) {
        printf $out "| `%s` | %s | %.1f |\n", $f, $obj{$f} // '', $d{$f};
    }
    printf $out "| *all other functions* | | %.1f |\n", $rsum;
}


# the flush, once

print $out "\n### The flush (once per flush interval per worker)\n\n"
         . "Ir of one flush of the series the $opt{n2}-request run made "
         . "(total Ir of the run with the flush collected minus the run "
         . "without).  The last column is what each series adds to the "
         . "flush of one series (case on):\n\n"
         . "| case | series | Ir per flush | Ir per extra series |\n"
         . "|---|---:|---:|---:|\n";

my $f1 = $res{on}{flush};

for my $c (grep { $_->{flush} } @cases) {
    my $f = $res{ $c->{name} }{flush};
    next unless defined $f && defined $f1;
    my $n = series($c, $opt{n2});
    printf $out "| %s | %d | %d | %s |\n", $c->{name}, $n, $f,
        $n > 1 && defined $f1 ? sprintf('%.0f', ($f - $f1) / ($n - 1)) : '—';
}

print $out "\n";

close $out or die "$opt{out}: $!\n";


# summary lines for the top of RESULTS.md

open my $sum, '>', "$opt{out}.summary" or die "$opt{out}.summary: $!\n";

for my $c (grep { $_->{target} } @cases) {
    my $added = $res{ $c->{name} }{per_req} - $res{ $c->{base} }{per_req};
    printf $sum "- callgrind, %s: **%+.0f instructions/request** (target "
              . "< %d: %s)\n", $c->{name}, $added, $c->{target},
        $added < $c->{target} ? 'met' : 'missed';
}

for my $c (grep { $_->{ratio} } @cases) {
    my $q = $res{ $c->{name} }{per_req} / $res{ $c->{base} }{per_req};
    printf $sum "- callgrind, %s: whole-worker instructions per request "
              . "**%.3f** of module off (%.0f / %.0f; goal ≤ %.2f: %s)\n",
        $c->{name}, $q, $res{ $c->{name} }{per_req},
        $res{ $c->{base} }{per_req}, $c->{ratio},
        $q <= $c->{ratio} ? 'met' : 'missed';
}

close $sum or die "$opt{out}.summary: $!\n";
