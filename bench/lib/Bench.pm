package Bench;

# Helpers shared by the benchmark scripts: nginx configurations for the
# cases under test, starting and stopping nginx and a datagram drain,
# per-process CPU time, and small statistics (median, spread).
#
# Every process started here is recorded and stopped by stop_all(), which
# the scripts call from END and from their signal handlers.

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Spec;
use IO::Socket::INET;
use POSIX ();
use Socket qw(SOCK_DGRAM SOCK_STREAM);
use Time::HiRes qw(time sleep);

our @EXPORT = qw(
    repo_root nginx_bin module_path free_port
    write_conf start_nginx stop_nginx wait_port worker_pid
    start_drain stop_drain proc_cpu_seconds
    spawn stop_all
    median spread fmt_ratio
    address_list sample_addresses
);


my %CHILDREN;                  # pid => what, for stop_all()


# repo_root(): the repository, derived from this file (bench/lib/).

sub repo_root {
    return abs_path(File::Spec->catdir(dirname(__FILE__), '..', '..'));
}


sub nginx_bin {
    return $ENV{NGINX_BIN} // '/usr/sbin/nginx';
}


sub module_path {
    return $ENV{SERVQUAL_MODULE}
        // File::Spec->catfile(repo_root(), 'build',
                               'ngx_http_servqual_module.so');
}


# free_port($proto): a port on 127.0.0.1 nobody uses right now.

sub free_port {
    my ($proto) = @_;
    $proto //= 'tcp';

    my $s = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Proto => $proto,
        ($proto eq 'tcp' ? (Listen => 1, ReuseAddr => 1) : ()),
    ) or die "cannot bind a free $proto port: $!\n";

    my $port = $s->sockport;
    close $s;
    return $port;
}


# address_list($n): client addresses for X-Forwarded-For, alternating
# IPv4 and IPv6 and rotating over the six regions of the test database
# (10.1-10.6.0.0/16, 2001:db8:1-6::/48), every address distinct.  The
# same scheme as bench/wrk/servqual.lua.

sub address_list {
    my ($n) = @_;
    my @a;

    for my $i (0 .. $n - 1) {
        my $region = 1 + int($i / 2) % 6;
        my $host = int($i / 12);

        if ($i % 2 == 0) {
            push @a, sprintf('10.%d.%d.%d', $region, int($host / 250) % 250,
                             1 + $host % 250);
        } else {
            push @a, sprintf('2001:db8:%x::%x:%x', $region,
                             int($host / 4096), 1 + $host % 4096);
        }
    }

    return @a;
}


# sample_addresses($file, $n, $family): $n addresses of a dense
# database's sample file (make_dense_mmdb's sample option), of family 4,
# 6 or both (0), in the file's order, repeated if there are fewer.

sub sample_addresses {
    my ($file, $n, $family) = @_;

    open my $fh, '<', $file or die "$file: $!\n";
    my @a = grep { !$family || ($family == 6) == /:/ }
            map { chomp; $_ } <$fh>;
    close $fh;

    die "$file: no addresses\n" unless @a;

    return map { $a[$_ % @a] } 0 .. $n - 1;
}


# write_conf($dir, %o): nginx.conf for one case in $dir; returns its path.
#
#   port        TCP port to listen on
#   module      load the servqual module (default 1)
#   so          the module file to load (default module_path())
#   servqual    'on' | 'off' | undef (no servqual directives at all)
#   collector   UDP port of the collector
#   mmdb        servqual_geoip2 file, or undef
#   segment     1: servqual_segment $http_x_plan
#   max_series  servqual_max_series
#   flush       flush= of servqual_collector (default 1s)
#   single      master_process off; daemon off (for valgrind)
#   endpoints   number of "location = /eN" blocks (default 1000); every
#               case has them so that location lookup costs the same

sub write_conf {
    my ($dir, %o) = @_;

    make_path("$dir/logs", "$dir/tmp");

    my $conf = '';
    my $module = $o{module} // 1;
    my $endpoints = $o{endpoints} // 1000;

    $conf .= 'load_module ' . abs_path($o{so} // module_path()) . ";\n"
        if $module;

    my $single = $o{single} ? "master_process off;\n" : '';

    $conf .= <<"EOF";
daemon off;
${single}worker_processes 1;
error_log $dir/logs/error.log notice;
pid $dir/logs/nginx.pid;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    default_type text/plain;
    keepalive_requests 1000000;

    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

EOF

    if (defined $o{servqual}) {
        my $flush = $o{flush} // '1s';
        $conf .= "    servqual_collector 127.0.0.1:$o{collector} "
               . "flush=$flush node=bench;\n";
        $conf .= "    servqual_geoip2 $o{mmdb};\n" if $o{mmdb};
        $conf .= "    servqual_max_series $o{max_series};\n"
            if $o{max_series};
        $conf .= "    servqual_segment \$http_x_plan;\n" if $o{segment};
        $conf .= "    servqual $o{servqual};\n";
    }

    $conf .= "\n    server {\n        listen 127.0.0.1:$o{port};\n\n"
           . "        location / {\n            return 200;\n        }\n";

    for my $i (0 .. $endpoints - 1) {
        $conf .= "        location = /e$i { return 200; }\n";
    }

    $conf .= "    }\n}\n";

    my $path = "$dir/nginx.conf";
    open my $fh, '>', $path or die "$path: $!\n";
    print $fh $conf;
    close $fh or die "$path: $!\n";

    return $path;
}


# spawn($what, @argv): fork and exec, recording the child for stop_all().

sub spawn {
    my ($what, @argv) = @_;

    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        exec @argv or POSIX::_exit(127);
    }

    $CHILDREN{$pid} = $what;
    return $pid;
}


# wait_port($port, $timeout): until something accepts on 127.0.0.1:$port.

sub wait_port {
    my ($port, $timeout, $pid) = @_;

    my $deadline = time + $timeout;

    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Proto => 'tcp');
        if ($s) {
            close $s;
            return 1;
        }
        if ($pid && waitpid($pid, POSIX::WNOHANG()) == $pid) {
            delete $CHILDREN{$pid};
            die "process $pid exited before listening on $port\n";
        }
        sleep 0.05;
    }

    die "nothing listens on 127.0.0.1:$port after ${timeout}s\n";
}


# start_nginx($conf, $port, prefix => [...]): nginx in the foreground
# (daemon off), optionally under a command prefix (taskset, valgrind);
# returns the pid of the process started.

sub start_nginx {
    my ($conf, $port, %o) = @_;

    my $dir = dirname($conf);
    my @cmd = (@{ $o{prefix} // [] }, nginx_bin(), '-p', "$dir/",
               '-c', $conf, '-e', "$dir/logs/error.log");

    my $pid = spawn("nginx $conf", @cmd);
    wait_port($port, $o{timeout} // 10, $pid);

    return $pid;
}


# stop_nginx($pid, $signal): signal nginx (QUIT: graceful, workers flush)
# and reap it.  The signal is repeated every second: nginx without a
# master process can miss one that arrives just before it blocks in
# epoll_wait() with no timer left (seen under valgrind).

sub stop_nginx {
    my ($pid, $signal) = @_;

    return unless $CHILDREN{$pid};

    _reap($pid, 60, $signal // 'QUIT');
}


sub _reap {
    my ($pid, $timeout, $signal) = @_;

    my $deadline = time + $timeout;
    my $next = 0;

    while (time < $deadline) {
        if ($signal && time >= $next) {
            kill $signal, $pid;
            $next = time + 1;
        }
        if (waitpid($pid, POSIX::WNOHANG()) != 0) {
            delete $CHILDREN{$pid};
            return;
        }
        sleep 0.02;
    }

    kill 'KILL', $pid;
    waitpid($pid, 0);
    delete $CHILDREN{$pid};
}


# worker_pid($master): the single worker of an nginx master.

sub worker_pid {
    my ($master) = @_;

    for my $try (1 .. 100) {
        for my $stat (glob '/proc/[0-9]*/stat') {
            open my $fh, '<', $stat or next;
            my $line = <$fh> // next;
            close $fh;
            my ($pid, $rest) = $line =~ /^(\d+) \(.*\) (.*)$/ or next;
            my @f = split ' ', $rest;
            return $pid if $f[1] == $master;
        }
        sleep 0.05;
    }

    die "no worker process found for nginx $master\n";
}


# proc_cpu_seconds($pid): user + system CPU time of a process.

sub proc_cpu_seconds {
    my ($pid) = @_;

    open my $fh, '<', "/proc/$pid/stat" or die "/proc/$pid/stat: $!\n";
    my $line = <$fh>;
    close $fh;

    my ($rest) = $line =~ /^\d+ \(.*\) (.*)$/;
    my @f = split ' ', $rest;

    # fields 14 and 15 of stat(5), utime and stime, in clock ticks
    return ($f[11] + $f[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}


# start_drain($file): a child that receives datagrams on a free UDP port
# and, when stopped, writes "datagrams bytes" to $file.  Returns
# ($pid, $port).

sub start_drain {
    my ($file) = @_;

    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'udp')
        or die "drain: cannot bind: $!\n";
    $s->sockopt(Socket::SO_RCVBUF(), 8 << 20);
    my $port = $s->sockport;

    my $pid = fork // die "fork: $!\n";

    if ($pid == 0) {
        my ($n, $bytes, $stop) = (0, 0, 0);
        $SIG{TERM} = sub { $stop = 1 };
        my $buf;

        until ($stop) {
            my $r = recv($s, $buf, 65536, 0);
            next unless defined $r;
            $n++;
            $bytes += length $buf;
        }

        if (open my $fh, '>', $file) {
            print $fh "$n $bytes\n";
            close $fh;
        }
        POSIX::_exit(0);
    }

    close $s;
    $CHILDREN{$pid} = 'drain';
    return ($pid, $port);
}


sub stop_drain {
    my ($pid) = @_;

    _reap($pid, 10, 'TERM');
}


# stop_all(): stop every process started here that is still running.

sub stop_all {
    for my $pid (keys %CHILDREN) {
        _reap($pid, 10, 'TERM');
    }
}


# ---------------------------------------------------------------------------
# Statistics

sub median {
    my @v = sort { $a <=> $b } @_;
    return undef unless @v;
    my $m = int(@v / 2);
    return @v % 2 ? $v[$m] : ($v[$m - 1] + $v[$m]) / 2;
}


# spread(@v): (min, max)

sub spread {
    my @v = sort { $a <=> $b } @_;
    return ($v[0], $v[-1]);
}


# fmt_ratio(@ratios): "0.991 (0.982-0.997)"

sub fmt_ratio {
    my @r = @_;
    return 'n/a' unless @r;
    my ($lo, $hi) = spread(@r);
    return sprintf('%.3f (%.3f–%.3f)', median(@r), $lo, $hi);
}


1;
