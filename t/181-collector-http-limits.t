#!/usr/bin/perl

# The HTTP side's limits: listen.http_connections (past it the listener
# waits), listen.http_timeout (idle and slow connections cut), and a
# flood past the descriptor limit: accept errors said once, the
# collector serving again afterwards.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time sleep);

use SQCollector;
use SQHttp qw(http_get);

# a collector with the given lines added under listen:
sub collector {
    my ($listen, $fds) = @_;
    my $c = SQCollector->new(conf => '');
    if ($fds) {
        my $bin = $c->{bin};
        $bin = "$ENV{PWD}/$bin" unless $bin =~ m{^/};
        open my $w, '>', "$c->{dir}/collector.sh" or die;
        print $w "#!/bin/sh\nulimit -n $fds\nexec $bin \"\$@\"\n";
        close $w;
        chmod 0755, "$c->{dir}/collector.sh";
        $c->{bin} = "$c->{dir}/collector.sh";
    }
    open my $f, '<', $c->{conf} or die;
    my $conf = do { local $/; <$f> };
    close $f;
    $conf =~ s/^(  http: .*\n)/$1$listen/m;
    open $f, '>', $c->{conf} or die;
    print $f $conf;
    close $f;
    return $c->start;
}

my $c = collector("  http_connections: 4\n  http_timeout: 3s\n");

# -- the connection limit: 4 idle connections hold the listener

sleep 0.5;      # the connections of start() released
my @idle = map {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $c->{http})
        or die "connect: $!"
} 1 .. 4;
sleep 0.5;

my $t0 = time;
my ($status) = eval { http_get('/healthz', port => $c->{http},
                               timeout => 1) };
ok(!defined $status, 'a fifth connection waits while 4 are open');

($status) = http_get('/healthz', port => $c->{http}, timeout => 10);
is($status, 200, 'and is answered once the idle ones are cut');
my $waited = time - $t0;
ok($waited >= 1.5 && $waited < 8,
   sprintf('after the 3 s timeout (%.1f s)', $waited));

my $buf;
my $n = sysread($idle[0], $buf, 1);
is($n, 0, 'an idle connection was closed by the collector');
close $_ for @idle;

# -- the rows one request can ask for

for my $p (qw(quality series)) {
    is((http_get("/api/v1/$p?limit=10001", port => $c->{http}))[0], 400,
       "/api/v1/$p: a page of more than 10000 rows refused");
    is((http_get("/api/v1/$p?limit=10000", port => $c->{http}))[0], 200,
       "/api/v1/$p: 10000 rows allowed");
}

is($c->stop, 0, 'clean exit');

# -- a flood past the descriptor limit (64) of a collector that would
#    take 1000 connections

$c = collector("  http_connections: 1000\n", 64);

my @flood;
for (1 .. 200) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $c->{http}, Timeout => 1);
    push @flood, $s if $s;
}
# each sweep resumes accepting, and accept fails again
sleep 3;
ok(scalar @flood > 64, scalar(@flood) . ' connections opened');
close $_ for @flood;
@flood = ();

my $log = $c->log_text;
my @lines = $log =~ /^.*accept\(\) failed.*$/mg;
is(scalar @lines, 1, 'accept errors said once') or diag $log;
like($lines[0] // '', qr/Too many open files/, 'with the reason');
ok(length $log < 20000, 'the log stays small: ' . length($log) . ' bytes');

ok($c->wait_for(sub { (http_get('/healthz', port => $c->{http},
                                 timeout => 2))[0] == 200 }, 20),
   'the collector serves again after the flood');
ok($c->alive, 'still running');

is($c->stop, 0, 'clean exit');

done_testing();
