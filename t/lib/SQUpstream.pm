package SQUpstream;

# The test backend: a forking HTTP/1.x server on loopback that delays,
# trickles, fails, sends big bodies or closes, as the path asks; killed
# at exit.

use strict;
use warnings;

use Carp qw(croak);
use Errno qw(EINTR);
use Exporter qw(import);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep);

use SQProc qw(owner_process);


our @EXPORT_OK = qw(start_upstream);


my @UPSTREAMS;                 # pids of the running servers


# start_upstream(%routes): a forking HTTP/1.x server on a free 127.0.0.1
# port, in its own process group, killed at exit.  Returns an
# SQUpstream object with ->port and ->stop.  Built-in paths:
#   /delay/<ms>     wait, then 200 "delayed <ms>\n"
#   /trickle/<ms>   send the headers at once, the body after <ms>
#   /status/<code>  that status, a short body
#   /big/<bytes>    200 text/plain of that size (/big/<bytes>.json:
#                   application/json)
#   /close          close the connection without a response
#   anything else   200 "ok\n"
# %routes adds or overrides exact paths:
#   '/x' => sub { my ($method, $path, $headers, $body) = @_;
#                 return ($status, { headers }, $body) }

sub start_upstream {
    my (%routes) = @_;

    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 128,
                                  ReuseAddr => 1)
        or croak "upstream listen: $!";
    my $port = $l->sockport;

    my $pid = fork // croak "fork: $!";

    if ($pid == 0) {
        setpgrp 0, 0;
        _upstream_loop($l, \%routes);
        POSIX::_exit(0);
    }

    close $l;
    push @UPSTREAMS, $pid;
    return bless { pid => $pid, port => $port }, 'SQUpstream';
}


sub _upstream_loop {
    my ($l, $routes) = @_;

    local $SIG{CHLD} = 'IGNORE';
    local $SIG{TERM} = sub { POSIX::_exit(0) };

    for (;;) {
        my $c = $l->accept;
        unless ($c) {
            next if $! == EINTR;
            POSIX::_exit(1);
        }

        my $pid = fork;
        if (defined $pid && $pid == 0) {
            $SIG{TERM} = 'DEFAULT';
            close $l;
            eval { _upstream_serve($c, $routes) };
            POSIX::_exit(0);
        }
        close $c;
    }
}


sub _upstream_serve {
    my ($c, $routes) = @_;

    binmode $c;
    local $/ = "\r\n";

    my $line = <$c> // return;
    my ($method, $path) = $line =~ m{^(\S+) (\S+) HTTP/} or return;

    my %h;
    while (defined(my $l = <$c>)) {
        last if $l eq "\r\n";
        $h{lc $1} = $2 if $l =~ /^([^:]+):\s*(.*?)\r\n\z/;
    }

    my $body = '';
    read $c, $body, $h{'content-length'} if $h{'content-length'};

    $path =~ s/\?.*//;
    my ($status, $hdr, $out, $pause) = _upstream_route($routes, $method,
                                                       $path, \%h, $body);
    return unless defined $status;

    my %rh = ('Content-Type' => 'text/plain', %{ $hdr // {} });
    my $head = "HTTP/1.1 $status X\r\nConnection: close\r\n"
               . 'Content-Length: ' . length($out) . "\r\n"
               . join('', map { "$_: $rh{$_}\r\n" } sort keys %rh) . "\r\n";

    $c->autoflush(1);
    if ($pause) {
        print {$c} $head;
        sleep $pause;
        print {$c} $out;
    } else {
        print {$c} $head, $out;
    }
    shutdown $c, 1;

    # let the peer read it all before the close
    for (;;) {
        my $n = sysread $c, my $junk, 4096;
        last unless $n;
    }
    close $c;
}


sub _upstream_route {
    my ($routes, $method, $path, $h, $body) = @_;

    return $routes->{$path}->($method, $path, $h, $body)
        if $routes->{$path};

    if ($path =~ m{^/delay/(\d+)\z}) {
        sleep $1 / 1000;
        return (200, {}, "delayed $1\n");
    }
    return (200, {}, "trickled $1\n", $1 / 1000)
        if $path =~ m{^/trickle/(\d+)\z};
    return ($1, {}, "status $1\n") if $path =~ m{^/status/(\d{3})\z};
    if ($path =~ m{^/big/(\d+)(\.json)?\z}) {
        return (200, { 'Content-Type' => 'application/json' },
                '"' . ('x' x ($1 - 3)) . "\"\n") if $2 && $1 >= 3;
        return (200, {}, 'x' x $1);
    }
    return () if $path eq '/close';
    return (200, {}, "ok\n");
}


# ->port: the server's port.

sub port { return $_[0]{port} }


# ->stop: kill the server and its connection handlers, wait for it.

sub stop {
    my ($self) = @_;

    my $pid = delete $self->{pid} or return;
    return unless grep { $_ == $pid } @UPSTREAMS;     # gone at exit
    kill 'TERM', -$pid;
    waitpid $pid, 0;
    @UPSTREAMS = grep { $_ != $pid } @UPSTREAMS;
    return 1;
}


END {
    if (owner_process()) {
        my $status = $?;
        for my $pid (@UPSTREAMS) {
            kill 'TERM', -$pid;
            waitpid $pid, 0;
        }
        @UPSTREAMS = ();
        $? = $status;
    }
}


1;
