#!/usr/bin/perl

# The collector's listening sockets and their checks: -t refuses a port
# outside 1-65535 naming file, line and key; a bind that fails says why
# (address in use); and the UDP ingest port is bound without
# SO_REUSEADDR/SO_REUSEPORT, so no other socket, whatever options it
# sets, can bind the same port to take the datagrams.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_REUSEADDR SO_REUSEPORT SOCK_DGRAM
              INADDR_ANY INADDR_LOOPBACK sockaddr_in);
use Test::More;

use SQCollector;
use SQProc qw(prefix run_cmd free_udp_port free_port);


my $bin = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';
my $dir = prefix();

sub check {
    my ($yaml) = @_;
    my $conf = "$dir/conf/check.yaml";
    open my $f, '>', $conf or die;
    print $f $yaml;
    close $f;
    return run_cmd($bin, '-t', '-c', $conf);
}

my ($rc, $out) = check("listen:\n  http: 127.0.0.1:70000\n");
isnt $rc, 0, '-t refuses listen.http port 70000';
like $out, qr/check\.yaml:2: listen\.http: invalid port "70000"/,
    'naming file, line and key';

($rc, $out) = check("listen:\n  ingest:\n    - udp://127.0.0.1:5170\n"
                    . "    - udp://[::1]:65536\n");
isnt $rc, 0, '-t refuses listen.ingest port 65536';
like $out, qr/check\.yaml:4: listen\.ingest: invalid port "65536"/,
    'naming the line of the list item';

($rc, $out) = check("listen:\n  ingest: udp://127.0.0.1:0\n");
like $out, qr/:2: listen\.ingest: invalid port "0"/, '-t refuses port 0';

($rc, $out) = check("listen:\n  http: 127.0.0.1\n");
like $out, qr/:2: listen\.http: address "127\.0\.0\.1" needs a port/,
    '-t refuses an address without a port';

($rc, $out) = check("listen:\n  http: 127.0.0.1:65535\n"
                    . "  ingest: [ udp://127.0.0.1:1, unix:/tmp/x ]\n");
is $rc, 0, '-t takes ports 1 and 65535' or diag $out;

($rc, $out) = check("listen:\n  http: 127.0.0.1:9170\n  http: 127.0.0.1:9171\n");
isnt $rc, 0, '-t refuses a repeated key';

# -- a bind that fails says why

my $hold = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Proto => 'udp') or die "udp: $!";
{
    my $c = SQCollector->new;
    $c->{udp} = $hold->sockport;
    $c->write_conf('');
    my ($brc, $bout) = run_cmd($bin, '-c', $c->{conf});
    isnt $brc, 0, 'the collector does not start on a UDP port in use';
    like $bout,
        qr/bind\(\) to "udp:\/\/127\.0\.0\.1:\d+" failed: Address already in use/,
        'and says why: address in use';
}
{
    my $tcp = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                    Listen => 1, Proto => 'tcp')
        or die "tcp: $!";
    my $c = SQCollector->new;
    $c->{http} = $tcp->sockport;
    $c->write_conf('');
    my ($brc, $bout) = run_cmd($bin, '-c', $c->{conf});
    isnt $brc, 0, 'the collector does not start on an HTTP port in use';
    like $bout,
        qr/cannot listen for HTTP on "127\.0\.0\.1:\d+": Address already in use/,
        'and says why: address in use';
}

# -- nobody can take the UDP port from a running collector

my $c = SQCollector->new;
$c->start;
my $port = $c->{udp};

for my $case ([ 'the same address', INADDR_LOOPBACK ],
              [ 'the wildcard address', INADDR_ANY ])
{
    socket(my $s, Socket::PF_INET, SOCK_DGRAM, 0) or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1) or die "SO_REUSEADDR: $!";
    setsockopt($s, SOL_SOCKET, SO_REUSEPORT, 1) or die "SO_REUSEPORT: $!";
    ok !bind($s, sockaddr_in($port, $case->[1])),
        "another socket with SO_REUSEADDR and SO_REUSEPORT cannot bind "
        . "the collector's port on $case->[0]";
    close $s;
}

$c->send(SQCollector::datagram(series => [ SQCollector::series(
    endpoint => 'e', region => 'US', latencies => [ 0.1 ]) ]));
ok $c->wait_for(sub {
    ($c->metric($c->get('/metrics')->{content},
                'servqual_datagrams_total', result => 'accepted') // 0)
    == 1 }, 20), 'the collector still gets its datagrams';
is $c->stop, 0, 'clean exit';

done_testing;
