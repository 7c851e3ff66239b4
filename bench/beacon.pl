#!/usr/bin/perl

# The cost of a beacon (servqual_beacon) next to a "return 204": one
# nginx worker pinned to CPU 0 with both locations and the module on
# (datagrams to a drain), wrk on CPU 1 POSTing the body the script sends,
# keep-alive; the two cases alternate every round (the order reversed
# every other round) and each round's ratio is taken.  Then instructions
# per request with callgrind: nginx (master_process off) under valgrind
# serves N1 and then N2 keep-alive POSTs of each case, (Ir(N2) - Ir(N1)) /
# (N2 - N1) with the module's flush left out, as bench/callgrind.pl does.
# Also the script's size, raw and gzip -9.  Writes a Markdown section.
#
#   bench/beacon.pl --tmp DIR --out FILE [--rounds N] [--duration SECONDS]
#                   [--n1 N] [--n2 N]

use strict;
use warnings;

use FindBin qw($Bin);
use lib "$Bin/lib";

use Bench;
use File::Path qw(make_path);
use Getopt::Long qw(GetOptions);
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Socket::INET;

my %opt = (rounds => 5, duration => 3, warmup => 1, connections => 16,
           n1 => 200, n2 => 1200);
GetOptions(\%opt, 'tmp=s', 'out=s', 'rounds=i', 'duration=i', 'warmup=i',
           'connections=i', 'n1=i', 'n2=i')
    or die "usage: $0 --tmp DIR --out FILE [--rounds N] [--duration S]\n";

for (qw(tmp out)) {
    die "$0: --$_ is required\n" unless defined $opt{$_};
}

$SIG{INT} = $SIG{TERM} = sub { Bench::stop_all(); exit 1 };
END { Bench::stop_all() }

my $repo = repo_root();
my $lua = "$repo/bench/wrk/beacon.lua";
my $script = "$repo/build/servqual-beacon.js";
my $ncpu = `nproc` + 0;
my @pin_nginx = $ncpu >= 2 ? (qw(taskset -c 0)) : ();
my @pin_wrk = $ncpu >= 2 ? (qw(taskset -c 1)) : ();

-f $script or die "$0: $script missing (run make)\n";

my ($drain_pid, $drain_port) = start_drain("$opt{tmp}/beacon-drain.txt");
my $port = free_port('tcp');
my $dir = "$opt{tmp}/beacon";
make_path("$dir/logs", "$dir/tmp");

my $body = 'p=/&n=navigate&lcp=1840.2&inp=96.0&cls=0.02130&fcp=912.5'
           . '&ttfb=180.3';


# the configuration: both locations; single => 1 for valgrind

sub write_beacon_conf {
    my ($dir, $port, %o) = @_;

    make_path("$dir/logs", "$dir/tmp");

    my $so = module_path();
    my $single = $o{single} ? 'master_process off;' : '';
    my $flush = $o{flush} // '1s';

    open my $fh, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!\n";
    print $fh <<"CONF";
load_module $so;
daemon off;
$single
worker_processes 1;
error_log $dir/logs/error.log notice;
pid $dir/logs/nginx.pid;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    default_type text/plain;
    keepalive_requests 1000000;

    servqual_collector 127.0.0.1:$drain_port flush=$flush node=bench;
    servqual on;

    server {
        listen 127.0.0.1:$port;

        location = /r204 {
            return 204;
        }

        location = /beacon {
            servqual_beacon;
            servqual_beacon_pages /=home;
        }
    }
}
CONF
    close $fh or die "$dir/nginx.conf: $!\n";

    return "$dir/nginx.conf";
}


my $master = start_nginx(write_beacon_conf($dir, $port), $port,
                         prefix => \@pin_nginx);
my $worker = worker_pid($master);

my @cases = (
    { name => 'return 204', path => '/r204' },
    { name => 'beacon', path => '/beacon' },
);


sub run_wrk {
    my ($c, $duration) = @_;

    my @cmd = (@pin_wrk, 'wrk', '-t1', "-c$opt{connections}",
               "-d${duration}s", '-s', $lua,
               "http://127.0.0.1:$port$c->{path}");
    my $cpu0 = proc_cpu_seconds($worker);

    open my $out, '-|', @cmd or die "wrk: $!\n";
    my $text = do { local $/; <$out> };
    close $out;
    die "wrk failed ($?): @cmd\n$text" if $? != 0;

    my $cpu = proc_cpu_seconds($worker) - $cpu0;
    my ($line) = $text =~ /^(RESULT .*)$/m
        or die "no RESULT line from wrk: @cmd\n$text";
    my %r = $line =~ /(\w+)=(\d+)/g;

    die "$c->{name}: $r{errors} errors\n$text" if $r{errors};
    die "$c->{name}: non-2xx responses\n$text"
        if $text =~ /Non-2xx or 3xx responses/;

    $r{rps} = $r{requests} / ($r{duration_us} / 1e6);
    $r{cpu_us} = $cpu * 1e6 / $r{requests};

    return \%r;
}


my %res;

run_wrk($_, $opt{warmup}) for @cases;

for my $round (1 .. $opt{rounds}) {
    for my $c ($round % 2 ? @cases : reverse @cases) {
        push @{ $res{ $c->{name} } }, run_wrk($c, $opt{duration});
    }
}

stop_nginx($master, 'QUIT');


# instructions per request

sub client {
    my ($port, $path, $n) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp')
        or die "connect 127.0.0.1:$port: $!\n";
    my $req = "POST $path HTTP/1.1\r\nHost: bench\r\n"
            . "Content-Type: text/plain;charset=UTF-8\r\n"
            . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    my $buf = '';

    for (1 .. $n) {
        print $s $req or die "write: $!\n";

        for (;;) {
            if ($buf =~ s/\AHTTP\/1\.1 (\d+)[^\r]*\r\n.*?\r\n\r\n//s) {
                die "$path: status $1\n" if $1 ne '204';
                last;
            }
            my $r = sysread($s, $buf, 65536, length $buf);
            die "connection closed by nginx\n" unless $r;
        }
    }

    close $s;
}


sub instructions {
    my ($c, $n) = @_;

    (my $tag = $c->{name}) =~ s/\W+/-/g;
    my $d = "$opt{tmp}/beacon-callgrind/$tag-$n";
    my $p = free_port('tcp');
    my $out = "$d/callgrind.out";

    my $pid = start_nginx(write_beacon_conf($d, $p, single => 1,
                                            flush => '1h'),
                          $p, timeout => 120,
                          prefix => ['valgrind', '--tool=callgrind',
                                     '--quiet',
                                     '--toggle-collect=ngx_http_servqual_flush',
                                     '--collect-atstart=yes',
                                     "--callgrind-out-file=$out"]);
    client($p, $c->{path}, $n);
    stop_nginx($pid, 'QUIT');

    open my $cg, '<', $out or die "$out: $!\n";
    while (<$cg>) {
        return $1 if /^(?:summary|totals):\s+(\d+)/;
    }
    die "no totals in $out\n";
}

my %ir;

for my $c (@cases) {
    $ir{ $c->{name} } = (instructions($c, $opt{n2})
                         - instructions($c, $opt{n1}))
                        / ($opt{n2} - $opt{n1});
}

my @rps = map { $res{beacon}[$_]{rps} / $res{'return 204'}[$_]{rps} }
          0 .. $opt{rounds} - 1;
my @cpu = map { $res{beacon}[$_]{cpu_us} / $res{'return 204'}[$_]{cpu_us} }
          0 .. $opt{rounds} - 1;


# the script, raw and gzip -9 (as a server would send it compressed)

my $raw = do { local $/; open my $s, '<', $script or die; <$s> };
my $gz;
gzip(\$raw, \$gz, -Level => 9, Minimal => 1) or die "gzip: $GzipError\n";


open my $md, '>', $opt{out} or die "$opt{out}: $!\n";

print $md <<"MD";
## 6. Browser beacons

The cost of a beacon request (`servqual_beacon`: the body read, parsed,
checked and added to the page's series) next to a `return 204` in the
same nginx (one worker on CPU 0, `servqual on` in both, datagrams to a
drain), wrk on CPU 1 POSTing the script's body (`p=/&n=navigate&lcp=…`,
7 values, 67 bytes), $opt{connections} keep-alive connections;
$opt{rounds} rounds of $opt{duration} s, the two cases alternating.
Median (min–max) over the rounds.

| case | requests/s | p99 latency | nginx CPU per request |
|---|---|---|---|
MD

for my $c (@cases) {
    my $r = $res{ $c->{name} };
    printf $md "| %s | %.0f | %.0f µs | %.2f µs |\n", $c->{name},
           median(map { $_->{rps} } @$r), median(map { $_->{p99_us} } @$r),
           median(map { $_->{cpu_us} } @$r);
}

printf $md <<"MD", fmt_ratio(@rps), fmt_ratio(@cpu), $opt{n1}, $opt{n2}, $ir{'return 204'}, $ir{beacon}, $ir{beacon} - $ir{'return 204'}, length $raw, length $gz;

Beacon / `return 204`, per round: requests/s %s; nginx CPU time per
request %s.

On this shared machine requests/s and latency swing with the other
loads; nginx's CPU time per request and the instruction count are the
figures to read.  Instructions per request (callgrind, %d and %d
keep-alive POSTs, the flush left out): `return 204` %.0f, beacon %.0f:
**%+.0f** for reading the body into the request's buffer, parsing,
checking and adding a beacon (about half of it the parse of its 67 bytes,
`ngx_http_servqual_beacon_add`; the rest nginx reading the body and
finalizing the 204).  An ordinary request does not pass through any of
it.

The script (`build/servqual-beacon.js`: web-vitals and servqual's lines):
%d bytes, %d bytes gzip -9.
MD

close $md;

open my $sum, '>', "$opt{out}.summary" or die "$opt{out}.summary: $!\n";
printf $sum "- beacon vs `return 204` (keep-alive POST, median (range) of "
          . "%d rounds): req/s %s; nginx CPU per request %s; callgrind "
          . "**%+.0f instructions/request**; the script **%d bytes, %d "
          . "gzip -9**\n", $opt{rounds}, fmt_ratio(@rps), fmt_ratio(@cpu),
          $ir{beacon} - $ir{'return 204'}, length $raw, length $gz;
close $sum or die "$opt{out}.summary: $!\n";
