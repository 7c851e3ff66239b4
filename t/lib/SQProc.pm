package SQProc;

# Processes and places for the tests: the repository root, the test
# file's temporary prefix, free loopback ports, polling, running a
# command, reading /proc, and the cleanup at exit (this module's END runs
# after those of the modules that use it, so the prefix goes last).

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(basename dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp ();
use IO::Socket::INET;
use POSIX ();
use Socket qw(SOCK_DGRAM SOCK_STREAM);
use Time::HiRes qw(time sleep);


our @EXPORT_OK = qw(
    repo_root prefix free_port free_udp_port wait_for
    run_cmd spawn_to loadgen_sent read_file write_file
    pid_alive child_pids owner_process has_prefix
);


my $OWNER_PID = $$;            # only this process cleans up in END
my $PREFIX;                    # t/servroot-<testname>


# repo_root(): the repository's top directory, derived from this file.

sub repo_root {
    return abs_path(File::Spec->catdir(dirname(__FILE__), '..', '..'));
}


# prefix(): the test file's temporary prefix t/servroot-<testname>/, made
# on first use with conf/ logs/ html/ tmp/; removed at exit unless
# SQ_KEEP=1.

sub prefix {
    return $PREFIX if defined $PREFIX;

    my $name = basename($0);
    $name =~ s/\.t\z//;
    $name =~ s/[^A-Za-z0-9_.-]/_/g;

    my $dir = File::Spec->catdir(repo_root(), 't', "servroot-$name");
    remove_tree($dir) if -e $dir;
    make_path(map { "$dir/$_" } qw(conf logs html tmp));

    # nginx workers run as an unprivileged user when the tests run as
    # root: let them reach unix sockets and files in the prefix
    chmod 0755, $dir, map { "$dir/$_" } qw(conf logs html tmp);

    # from now on a signal ends the test through die, so that every END
    # block runs and cleans up
    $SIG{INT} = $SIG{TERM} = sub { die "killed by signal\n" };

    $PREFIX = $dir;
    return $PREFIX;
}


# has_prefix(): whether prefix() was made in this run.

sub has_prefix {
    return defined $PREFIX;
}


# owner_process(): true in the process that loaded the harness, false in
# a forked child (which must not clean up).

sub owner_process {
    return $$ == $OWNER_PID;
}


# free_port(): a TCP port on 127.0.0.1 nobody listens on right now.
#
# The ports are taken below the kernel's ephemeral range
# (net.ipv4.ip_local_port_range), never from it: a port from that range
# (bind to port 0) can be handed again by the kernel as the local port of
# any connection or unconnected UDP socket, and a collector or nginx
# started again on its port later in a test (after a stop or kill -9)
# would then find it taken.  Ports below the range are only ever taken by
# an explicit bind; this process never hands one out twice.

sub free_port {
    return _free_port(SOCK_STREAM);
}


# free_udp_port(): a UDP port on 127.0.0.1 nobody is bound to right now.

sub free_udp_port {
    return _free_port(SOCK_DGRAM);
}


my %GIVEN;

sub _ephemeral_low {
    if (open my $f, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
        my $l = <$f>;
        return $1 if defined $l && $l =~ /^\s*(\d+)/ && $1 > 12000;
    }
    return 32768;
}

sub _free_port {
    my ($type) = @_;

    my $hi = _ephemeral_low() - 1;
    my $lo = 10000;

    # the picks come from /dev/urandom, not rand(): a test may have
    # seeded rand() for its own data, and a forked child must not pick
    # what its parent picks
    open my $r, '<:raw', '/dev/urandom' or croak "/dev/urandom: $!";

    for (1 .. 1000) {
        read($r, my $b, 4) == 4 or croak "/dev/urandom: short read";
        my $port = $lo + unpack('N', $b) % ($hi - $lo + 1);
        next if $GIVEN{$port};

        # free for both protocols, so that a test may use it for either
        my $ok = 1;
        for my $t (SOCK_STREAM, SOCK_DGRAM) {
            my $s = IO::Socket::INET->new(
                LocalAddr => '127.0.0.1',
                LocalPort => $port,
                Proto     => $t == SOCK_STREAM ? 'tcp' : 'udp',
                Type      => $t,
                ($t == SOCK_STREAM ? (Listen => 1, ReuseAddr => 1) : ()),
            );
            if (!$s) { $ok = 0; last }
            close $s;
        }
        next unless $ok;

        $GIVEN{$port} = 1;
        return $port;
    }

    croak "cannot find a free port in $lo-$hi";
}


# wait_for($timeout, $what, sub { ... }): poll the sub every 10-100 ms until
# it returns true; returns its value, or croaks naming $what on timeout.

sub wait_for {
    my ($timeout, $what, $cb) = @_;

    my $deadline = time + $timeout;
    my $delay = 0.01;

    for (;;) {
        my $v = $cb->();
        return $v if $v;
        croak "timed out after ${timeout}s waiting for $what"
            if time > $deadline;
        sleep $delay;
        $delay *= 2 if $delay < 0.1;
    }
}


# run_cmd(@cmd): run a command with stdout and stderr to a file (a daemon
# keeping a pipe open cannot hang us); returns (exit code, output).

sub run_cmd {
    my (@cmd) = @_;

    my $out = File::Temp->new(DIR => prefix() . '/tmp');
    my $pid = fork // croak "fork: $!";

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $out;
        open STDERR, '>&', $out;
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }

    waitpid $pid, 0;
    my $rc = $? >> 8;

    seek $out, 0, 0;
    my $text = do { local $/; <$out> } // '';
    return ($rc, $text);
}


# spawn_to($out, @cmd): starts a command in the background, its stdout
# and stderr to the file $out; returns its pid (waitpid is the caller's).

sub spawn_to {
    my ($out, @cmd) = @_;

    my $pid = fork // croak "fork: $!";

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }

    return $pid;
}


# loadgen_sent($pid, $out): waits for a sq-loadgen started by spawn_to
# and returns the datagrams it says it sent (undef if it did not say).

sub loadgen_sent {
    my ($pid, $out) = @_;

    waitpid $pid, 0;
    my $text = read_file($out) // '';
    my ($sent) = $text =~ /^sent (\d+) datagrams/m;
    return $sent;
}


# write_file($path, $text): write a file whole; dies on failure.

sub write_file {
    my ($path, $text) = @_;

    open my $fh, '>', $path or croak "$path: $!";
    print {$fh} $text;
    close $fh or croak "$path: $!";
}


# read_file($path): a file's text, '' when it cannot be read.

sub read_file {
    my ($path) = @_;

    open my $fh, '<', $path or return '';
    local $/;
    return scalar(<$fh>) // '';
}


# /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces

sub _stat {
    my ($pid) = @_;

    my $t = read_file("/proc/$pid/stat");
    return $t =~ /\)\s+(\S)\s+(\d+)/ ? ($1, $2) : ();
}


# pid_alive($pid): the process exists and is not a zombie (a daemon's
# reaper may be slow or absent).

sub pid_alive {
    my ($pid) = @_;

    my ($state) = _stat($pid);
    return defined $state && $state ne 'Z' && $state ne 'X';
}


# child_pids($ppid): the live children of a process, sorted.

sub child_pids {
    my ($ppid) = @_;

    opendir my $d, '/proc' or croak "/proc: $!";
    my @pids;

    for my $pid (grep { /^\d+\z/ } readdir $d) {
        my ($state, $parent) = _stat($pid);
        next unless defined $parent && $parent == $ppid;
        push @pids, $pid if $state ne 'Z' && $state ne 'X';
    }

    return sort { $a <=> $b } @pids;
}


# Cleanup: the prefix is removed last, after the END blocks of the
# modules that use this one (nginx stopped, servers killed).

END {
    if (owner_process() && defined $PREFIX && !$ENV{SQ_KEEP}) {
        my $status = $?;
        remove_tree($PREFIX);
        $? = $status;
    }
}


1;
