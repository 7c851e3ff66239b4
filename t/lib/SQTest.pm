package SQTest;

# A small harness for servqual's nginx tests, in the spirit of Test::Nginx:
# start the real nginx with a temporary prefix on a free loopback port,
# send requests, listen for the module's datagrams, decode and sum them.
#
# The POD at the end lists every function; each one also has a comment.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Errno qw(EINTR);
use Exporter qw(import);
use File::Basename qw(basename dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp ();
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX ();
use Socket qw(SOCK_DGRAM SOCK_STREAM);
use Test::More ();
use Time::HiRes qw(time sleep);

use Data::MessagePack;

use SQGeo qw(mmdb_regions mmdb_unknown_ips make_mmdb);


our @EXPORT = qw(
    repo_root prefix free_port free_udp_port
    nginx_conf start_nginx nginx_test_config reload_nginx stop_nginx
    nginx_port master_pid worker_pids wait_for
    error_log error_log_mark error_log_since wait_for_log no_error_in_log
    http_get http_request http_abort
    udp_listener unix_listener
    decode_datagram datagram_problems decode_hist sum_datagrams
    series_total hist_total seq_gaps
    sq_hist_index sq_hist_lower sq_hist_upper sq_hist_buckets
    counter_names
    make_mmdb mmdb_lookup mmdb_regions mmdb_unknown_ips
    start_upstream
);


# ---------------------------------------------------------------------------
# Paths and the temporary prefix

my $OWNER_PID = $$;            # only this process cleans up in END
my $PREFIX;                    # t/servroot-<testname>
my %NGINX;                     # the running nginx: pid, port, conf, opts
my @UPSTREAMS;                 # pids of start_upstream servers
my @LISTENERS;                 # unix listener paths to unlink


# repo_root(): the repository's top directory, derived from this file.

sub repo_root {
    return abs_path(File::Spec->catdir(dirname(__FILE__), '..', '..'));
}


# prefix(): the test file's temporary prefix t/servroot-<testname>/, made
# on first use with conf/ and logs/; removed at exit unless SQ_KEEP=1.

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

    $PREFIX = $dir;
    return $PREFIX;
}


# free_port(): a TCP port on 127.0.0.1 nobody listens on right now.

sub free_port {
    return _free_port(SOCK_STREAM);
}


# free_udp_port(): a UDP port on 127.0.0.1 nobody is bound to right now.

sub free_udp_port {
    return _free_port(SOCK_DGRAM);
}


sub _free_port {
    my ($type) = @_;

    my $s = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => 0,
        Proto     => $type == SOCK_STREAM ? 'tcp' : 'udp',
        Type      => $type,
        ($type == SOCK_STREAM ? (Listen => 1, ReuseAddr => 1) : ()),
    ) or croak "cannot bind a free port: $!";

    my $port = $s->sockport;
    close $s;
    return $port;
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


# ---------------------------------------------------------------------------
# nginx

sub _nginx_bin {
    return $ENV{NGINX_BIN} // '/usr/sbin/nginx';
}


sub _module_path {
    return $ENV{SERVQUAL_MODULE}
        // File::Spec->catfile(repo_root(), 'build',
                               'ngx_http_servqual_module.so');
}


# nginx_conf(%opts): the text of a complete nginx.conf.
#   http       the http block's contents (placeholders substituted)
#   module     load the servqual module (default 1)
#   workers    worker_processes (default 1)
#   log_level  error_log level (default "info"; "debug" works, Debian's
#              nginx is built --with-debug)
#   main       extra text for the main context
#   events     extra text for the events block
#   user       a "user" directive's arguments (default: none, which makes
#              root-started workers run as nobody)
#   port, udp_port, unix_sock, mmdb, vars => {NAME => value}: placeholder
#              values, see _substitute.

sub nginx_conf {
    my (%o) = @_;

    my $p = prefix();
    my $level = $o{log_level} // 'info';
    my $workers = $o{workers} // 1;
    my $module = $o{module} // 1;
    my $conf = '';

    if ($module) {
        my $so = abs_path(_module_path()) // _module_path();
        croak "servqual module not found: $so (run make, or set "
              . "SERVQUAL_MODULE)" unless -f $so;
        $conf .= "load_module $so;\n";
    }

    $conf .= "user $o{user};\n" if defined $o{user};
    $conf .= <<"EOF";
daemon on;
master_process on;
worker_processes $workers;
error_log $p/logs/error.log $level;
pid $p/logs/nginx.pid;
EOF

    $conf .= "$o{main}\n" if defined $o{main};
    $conf .= "\nevents {\n    worker_connections 1024;\n";
    $conf .= "$o{events}\n" if defined $o{events};
    $conf .= "}\n\n";

    # Debian's nginx has absolute temp and log paths compiled in: keep
    # everything inside the prefix
    $conf .= <<"EOF";
http {
    access_log $p/logs/access.log;
    client_body_temp_path $p/tmp/body;
    proxy_temp_path $p/tmp/proxy;
    fastcgi_temp_path $p/tmp/fastcgi;
    uwsgi_temp_path $p/tmp/uwsgi;
    scgi_temp_path $p/tmp/scgi;
    default_type text/plain;

EOF
    $conf .= ($o{http} // '') . "\n}\n";

    return _substitute($conf, \%o);
}


# Placeholders: %%PORT%% (nginx's TCP port), %%UDP_PORT%% (opts udp_port,
# else the last udp_listener's port), %%UNIX_SOCK%% (opts unix_sock, else
# the last unix_listener's path), %%PREFIX%%, %%MMDB%% (opts mmdb, else
# <prefix>/test.mmdb, built by make_mmdb when missing), %%MODULE%% and any
# %%NAME%% given in vars.  An unknown placeholder is an error.

my ($LAST_UDP, $LAST_UNIX);

sub _substitute {
    my ($text, $o) = @_;

    my %v = (
        PREFIX => prefix(),
        MODULE => _module_path(),
        %{ $o->{vars} // {} },
    );

    $v{PORT} = $o->{port} if defined $o->{port};
    $v{UDP_PORT} = $o->{udp_port} // ($LAST_UDP ? $LAST_UDP->port : undef);
    $v{UNIX_SOCK} = $o->{unix_sock}
                    // ($LAST_UNIX ? $LAST_UNIX->path : undef);

    if ($text =~ /%%MMDB%%/) {
        $v{MMDB} = $o->{mmdb} // prefix() . '/test.mmdb';
        make_mmdb($v{MMDB}) unless -f $v{MMDB};
    }

    $text =~ s{%%([A-Z0-9_]+)%%}{
        defined $v{$1} ? $v{$1} : croak "no value for placeholder %%$1%%"
    }ge;

    return $text;
}


# _run(@cmd): run a command with stdout and stderr to a file (a daemon
# keeping a pipe open cannot hang us); returns (exit code, output).

sub _run {
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


sub _write_file {
    my ($path, $text) = @_;

    open my $fh, '>', $path or croak "$path: $!";
    print {$fh} $text;
    close $fh or croak "$path: $!";
}


sub _read_file {
    my ($path) = @_;

    open my $fh, '<', $path or return '';
    local $/;
    return scalar(<$fh>) // '';
}


# nginx_test_config($http_text, %opts): write the configuration (as
# nginx_conf) to conf/test.conf and run "nginx -t" on it; returns
# (exit code, output) where output is what nginx printed plus what it
# logged to the error log during the check.

sub nginx_test_config {
    my ($http, %o) = @_;

    my $p = prefix();
    $o{port} //= free_port();
    my $conf = "$p/conf/test.conf";
    my $log = "$p/logs/test-error.log";

    _write_file($conf, nginx_conf(%o, http => $http));
    unlink $log;

    my ($rc, $out) = _run(_nginx_bin(), '-t', '-p', "$p/", '-c', $conf,
                          '-e', $log);
    my $logged = _read_file($log);
    $out .= $logged if index($out, $logged) < 0;

    return ($rc, $out);
}


# start_nginx($http_text, %opts): write conf/nginx.conf (see nginx_conf;
# %%PORT%% is a fresh free port unless opts port) and start nginx; waits
# until the master wrote its pid, the port accepts connections and all
# workers run.  Dies with the error log on failure.  Returns the port.
#   timeout   seconds to wait (default 10)

sub start_nginx {
    my ($http, %o) = @_;

    croak "nginx is already running" if $NGINX{pid};

    my $p = prefix();
    $o{port} //= free_port();
    $o{workers} //= 1;
    my $timeout = $o{timeout} // 10;
    my $conf = "$p/conf/nginx.conf";
    my $log = "$p/logs/error.log";

    _write_file($conf, nginx_conf(%o, http => $http));
    unlink "$p/logs/nginx.pid";

    my ($rc, $out) = _run(_nginx_bin(), '-p', "$p/", '-c', $conf,
                          '-e', $log);
    _die_with_log("nginx failed to start (exit $rc): $out") if $rc != 0;

    my $pid = eval {
        wait_for($timeout, 'nginx.pid', sub {
            my $t = _read_file("$p/logs/nginx.pid");
            $t =~ /^(\d+)/ ? $1 : undef;
        });
    };
    _die_with_log($@) unless $pid;

    %NGINX = (pid => $pid, port => $o{port}, conf => $conf, opts => \%o);

    eval {
        wait_for($timeout, "port $o{port}", sub { _port_open($o{port}) });
        wait_for($timeout, "$o{workers} workers", sub {
            _alive($pid) && _workers($pid) >= $o{workers};
        });
        1;
    } or _die_with_log($@);

    return $o{port};
}


# nginx_port(): the running nginx's port.  master_pid(): its master's pid.

sub nginx_port { return $NGINX{port} }
sub master_pid { return $NGINX{pid} }


# worker_pids(): pids of the running nginx's current workers (not those
# shutting down after a reload).

sub worker_pids {
    return $NGINX{pid} ? _workers($NGINX{pid}) : ();
}


# reload_nginx(%opts): SIGHUP the master and wait until a full set of new
# workers runs and, unless wait_old => 0, the old workers have exited
# (they flush their data as they go).  With opts http (and any nginx_conf
# options) the configuration is rewritten first.  Dies with the new error
# log lines if the reload fails.

sub reload_nginx {
    my (%o) = @_;

    my $pid = $NGINX{pid} or croak "nginx is not running";
    my $timeout = $o{timeout} // 10;
    my $wait_old = $o{wait_old} // 1;

    if (defined $o{http}) {
        my %c = (%{ $NGINX{opts} }, %o);
        _write_file($NGINX{conf}, nginx_conf(%c));
        $NGINX{opts} = \%c;
    }

    my $want = $NGINX{opts}{workers};
    my %old = map { $_ => 1 } _children($pid);
    my $mark = error_log_mark();

    kill 'HUP', $pid or croak "kill HUP $pid: $!";

    eval {
        wait_for($timeout, 'new workers', sub {
            die "reload failed\n"
                if error_log_since($mark) =~ /\[emerg\]/;
            (grep { !$old{$_} } _workers($pid)) >= $want;
        });
        if ($wait_old) {
            wait_for($timeout, 'old workers to exit', sub {
                !grep { $old{$_} } _children($pid);
            });
        }
        1;
    } or croak "reload: $@" . error_log_since($mark);

    return 1;
}


# stop_nginx(%opts): SIGQUIT (graceful; opts fast => 1 sends SIGTERM) and
# wait for the master to exit; escalates to SIGKILL after opts timeout
# (default 10 s) and then dies.

sub stop_nginx {
    my (%o) = @_;

    my $pid = $NGINX{pid} or return;
    my $timeout = $o{timeout} // 10;

    kill $o{fast} ? 'TERM' : 'QUIT', $pid;
    my $ok = eval {
        wait_for($timeout, "nginx $pid to exit", sub { !_alive($pid) });
    };

    %NGINX = ();
    return 1 if $ok;

    kill 'KILL', $pid, _children($pid);
    croak "nginx $pid did not stop in ${timeout}s";
}


sub _port_open {
    my ($port) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}


# /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces

sub _stat {
    my ($pid) = @_;

    my $t = _read_file("/proc/$pid/stat");
    return $t =~ /\)\s+(\S)\s+(\d+)/ ? ($1, $2) : ();
}


# a zombie counts as gone: a daemon's reaper may be slow or absent

sub _alive {
    my ($pid) = @_;

    my ($state) = _stat($pid);
    return defined $state && $state ne 'Z' && $state ne 'X';
}


sub _children {
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


# nginx sets its process title over argv: "nginx: worker process", and
# "nginx: worker process is shutting down" for old ones

sub _workers {
    my ($master) = @_;

    return grep {
        my $t = _read_file("/proc/$_/cmdline");
        $t =~ s/\0.*//s;
        $t =~ /worker process\s*\z/;
    } _children($master);
}


sub _die_with_log {
    my ($msg) = @_;

    my $log = error_log();
    my @tail = (split /\n/, $log)[-40 .. -1];
    croak "$msg\n--- error log ---\n" . join("\n", grep { defined } @tail)
          . "\n";
}


# ---------------------------------------------------------------------------
# The error log

# error_log(): the whole error log of the prefix.

sub error_log {
    return _read_file(prefix() . '/logs/error.log');
}


# error_log_mark(): the error log's current size; pass it to
# error_log_since to see only what was logged after this point.

sub error_log_mark {
    return -s (prefix() . '/logs/error.log') // 0;
}


# error_log_since($mark): the error log text logged after $mark.

sub error_log_since {
    my ($mark) = @_;

    return substr(error_log(), $mark // 0);
}


# wait_for_log(qr/.../, timeout => s, since => $mark): wait until a line
# of the error log (after $mark) matches; returns the line, dies on timeout.

sub wait_for_log {
    my ($re, %o) = @_;

    return wait_for($o{timeout} // 10, "error log line $re", sub {
        my ($l) = grep { /$re/ } split /\n/, error_log_since($o{since});
        $l;
    });
}


# no_error_in_log($name, since => $mark): a test that the error log has no
# [error], [crit], [alert] or [emerg] line (the offending lines are shown).

sub no_error_in_log {
    my ($name, %o) = @_;

    my @bad = grep { /\[(?:error|crit|alert|emerg)\]/ }
              split /\n/, error_log_since($o{since});

    local $Test::Builder::Level = $Test::Builder::Level + 1;
    Test::More::ok(!@bad, $name // 'no [error] in the error log')
        or Test::More::diag(join "\n", @bad);
    return !@bad;
}


# ---------------------------------------------------------------------------
# HTTP client

# http_get($path, %opts): a GET request; see http_request.

sub http_get {
    my ($path, %o) = @_;

    return http_request('GET', $path, %o);
}


# http_request($method, $path, %opts): one request on a fresh connection
# to 127.0.0.1 with "Connection: close".  Returns (status, headers, body);
# headers is a hash ref with lower-case names (repeated headers joined
# with ", "); a chunked body is decoded.  Dies on connection failure or
# timeout.
#   port      default: the running nginx's port
#   headers   { Name => value }, e.g. { 'X-Forwarded-For' => '10.1.0.5' }
#   xff       shorthand for the X-Forwarded-For header
#   body      request body (sets Content-Length)
#   host      Host header (default "localhost")
#   version   "1.1" (default) or "1.0"
#   timeout   seconds (default 10)

sub http_request {
    my ($method, $path, %o) = @_;

    my $s = _http_send($method, $path, %o);
    my $timeout = $o{timeout} // 10;
    my $deadline = time + $timeout;
    my $raw = '';

    for (;;) {
        my $left = $deadline - time;
        croak "http $method $path: timed out" if $left <= 0;
        next unless IO::Select->new($s)->can_read($left);
        my $n = sysread $s, $raw, 65536, length $raw;
        next if !defined $n && $! == EINTR;
        croak "http $method $path: read: $!" unless defined $n;
        last if $n == 0;
    }

    close $s;
    return _http_parse($raw, $method);
}


# http_abort($path, %opts): send a request and close the connection after
# opts after => seconds (default 0.1) without reading the response: the
# client abort nginx logs as 499 when the response was not ready yet.

sub http_abort {
    my ($path, %o) = @_;

    my $s = _http_send('GET', $path, %o);
    sleep($o{after} // 0.1);
    close $s;
    return 1;
}


sub _http_send {
    my ($method, $path, %o) = @_;

    my $port = $o{port} // $NGINX{port} // croak "no port for http request";
    my %h = (Host => $o{host} // 'localhost', Connection => 'close',
             %{ $o{headers} // {} });
    $h{'X-Forwarded-For'} = $o{xff} if defined $o{xff};
    $h{'Content-Length'} = length $o{body} if defined $o{body};

    my $req = "$method $path HTTP/" . ($o{version} // '1.1') . "\r\n"
              . join('', map { "$_: $h{$_}\r\n" } sort keys %h) . "\r\n"
              . ($o{body} // '');

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp',
                                  Timeout => $o{timeout} // 10)
        or croak "connect 127.0.0.1:$port: $!";
    binmode $s;

    my $off = 0;
    while ($off < length $req) {
        my $n = syswrite $s, $req, length($req) - $off, $off;
        next if !defined $n && $! == EINTR;
        croak "write to 127.0.0.1:$port: $!" unless defined $n;
        $off += $n;
    }

    return $s;
}


sub _http_parse {
    my ($raw, $method) = @_;

    my $end = index $raw, "\r\n\r\n";
    croak "malformed http response: " . substr($raw, 0, 200) if $end < 0;

    my ($status_line, @lines) = split /\r\n/, substr($raw, 0, $end);
    my $body = substr $raw, $end + 4;

    $status_line =~ m{^HTTP/\d\.\d (\d{3})}
        or croak "malformed status line: $status_line";
    my $status = $1;

    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*\z/ or next;
        $k = lc $k;
        $h{$k} = defined $h{$k} ? "$h{$k}, $v" : $v;
    }

    $body = _dechunk($body)
        if ($h{'transfer-encoding'} // '') =~ /chunked/i;
    $body = '' if $method eq 'HEAD';

    return ($status, \%h, $body);
}


sub _dechunk {
    my ($in) = @_;

    my $out = '';
    while ($in =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $len = hex $1;
        last if $len == 0;
        $out .= substr $in, 0, $len, '';
        $in =~ s/^\r\n//;
    }

    return $out;
}


# ---------------------------------------------------------------------------
# Datagram listeners

# udp_listener(port => N): a UDP socket bound to 127.0.0.1 (a free port
# unless given: bind the port of an earlier %%UDP_PORT%% to bring a
# collector "back").  Becomes the default for %%UDP_PORT%%.  Returns an
# SQTest::Listener: ->port, ->recv_all, ->close.

sub udp_listener {
    my (%o) = @_;

    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $o{port} // 0,
                                  Proto => 'udp', Type => SOCK_DGRAM)
        or croak "udp bind: $!";

    my $l = SQTest::Listener->_new($s, port => $s->sockport);
    $LAST_UDP = $l;
    return $l;
}


# unix_listener($path): a unix datagram socket bound at $path (default
# <prefix>/collector.sock), writable by nginx's workers.  Becomes the
# default for %%UNIX_SOCK%%.  Returns an SQTest::Listener: ->path,
# ->recv_all, ->close (which unlinks it).

sub unix_listener {
    my ($path) = @_;

    $path //= prefix() . '/collector.sock';
    croak "unix socket path too long (max 107 bytes): $path"
        if length $path > 107;
    unlink $path;

    my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path)
        or croak "unix bind $path: $!";
    chmod 0666, $path;
    push @LISTENERS, $path;

    my $l = SQTest::Listener->_new($s, path => $path);
    $LAST_UNIX = $l;
    return $l;
}


package SQTest::Listener;

use Carp qw(croak);
use Errno qw(EINTR);
use IO::Select;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time);


sub _new {
    my ($class, $s, %f) = @_;

    # room for bursts of 64 KiB datagrams (capped by net.core.rmem_max)
    setsockopt $s, SOL_SOCKET, SO_RCVBUF, pack('i', 4 << 20);
    $s->blocking(0);

    return bless { sock => $s, %f }, $class;
}


sub port { return $_[0]{port} }
sub path { return $_[0]{path} }


# ->recv_all(timeout => s, until => sub { my ($raw) = @_; ... },
#            idle => s): collect raw datagrams.  Returns an array ref (a
# list in list context) when until returns true for the datagrams so far
# (it is also asked before the first wait), after idle seconds without a
# new datagram (if given), or at the timeout (default 5 s).  Without until
# or idle it collects for the whole timeout.

sub recv_all {
    my ($self, %o) = @_;

    my $deadline = time + ($o{timeout} // 5);
    my $sel = IO::Select->new($self->{sock});
    my @got;
    my $last = time;

    until ($o{until} && $o{until}->(\@got)) {
        my $now = time;
        last if $now >= $deadline;
        last if $o{idle} && @got && $now - $last >= $o{idle};

        my $wait = $deadline - $now;
        $wait = $o{idle} if $o{idle} && $o{idle} < $wait;
        next unless $sel->can_read($wait);

        while (defined(my $d = $self->_recv_one)) {
            push @got, $d;
            $last = time;
        }
    }

    return wantarray ? @got : \@got;
}


sub _recv_one {
    my ($self) = @_;

    my $buf;
    my $r = recv $self->{sock}, $buf, 1 << 17, 0;
    return undef unless defined $r;
    push @{ $self->{raw} }, $buf;
    return $buf;
}


# ->raw_datagrams: every raw datagram received since the last call (or
# since the listener was made), in order.

sub raw_datagrams {
    my ($self) = @_;
    my $raw = $self->{raw} // [];
    $self->{raw} = [];
    return @$raw;
}


# ->recv_requests($n, timeout => s, settle => s): collect until the
# decoded datagrams' requests counters add up to at least $n, then go on
# for settle seconds (default 0.3) to catch any surplus; returns the
# decoded datagrams.  Dies on timeout with the number seen.

sub recv_requests {
    my ($self, $n, %o) = @_;

    my $total = 0;
    my $seen = 0;
    my @maps;

    my $count = sub {
        my ($raw) = @_;
        while ($seen < @$raw) {
            my $m = SQTest::decode_datagram($raw->[$seen++]);
            push @maps, $m;
            $total += $_->[3][0] for @{ $m->{s} };
        }
        return $total >= $n;
    };

    $self->recv_all(timeout => $o{timeout} // 10, until => $count);
    croak "received $total of $n requests" if $total < $n;

    my $settle = $o{settle} // 0.3;
    if ($settle > 0) {
        push @maps, map { SQTest::decode_datagram($_) }
                    $self->recv_all(timeout => $settle);
    }

    return wantarray ? @maps : \@maps;
}


sub close {
    my ($self) = @_;

    CORE::close $self->{sock} if $self->{sock};
    unlink $self->{path} if $self->{path};
    delete $self->{sock};
    return 1;
}


package SQTest;


# ---------------------------------------------------------------------------
# The wire format, read from include/servqual_wire.h and servqual_hist.h

my (%WIRE, @COUNTERS, %HIST);

sub _load_headers {
    return if @COUNTERS;

    my $inc = File::Spec->catdir(repo_root(), 'include');
    my $wire = _read_file("$inc/servqual_wire.h")
        or croak "cannot read $inc/servqual_wire.h";
    my $hist = _read_file("$inc/servqual_hist.h")
        or croak "cannot read $inc/servqual_hist.h";

    while ($wire =~ /^#define\s+(SQ_WIRE_\w+)\s+(\d+)\s*$/mg) {
        $WIRE{$1} = $2;
    }

    # an enum that ends in SQ_WIRE_N* or SQ_WIRE_*_FIELDS counts the rest
    while ($wire =~ /enum\s*\{([^}]*)\}/g) {
        my @ids = $1 =~ /^\s*(SQ_\w+)/mg;
        my $last = pop @ids;
        $WIRE{$last} = @ids if $last =~ /^SQ_WIRE_/;
    }

    my ($names) = $wire =~ /#define\s+SQ_WIRE_COUNTER_NAMES((?:.*\\\n)*.*)/
        or croak "SQ_WIRE_COUNTER_NAMES not found in servqual_wire.h";
    @COUNTERS = $names =~ /"([^"]+)"/g;

    my ($enum) = $wire =~ /enum\s*\{([^}]*SQ_WIRE_NCOUNTERS[^}]*)\}/
        or croak "counter enum not found in servqual_wire.h";
    my @ids = $enum =~ /\b(SQ_C_\w+)/g;
    croak "servqual_wire.h: " . @ids . " SQ_C_* but " . @COUNTERS
          . " counter names" if @ids != @COUNTERS;

    for (qw(SQ_HIST_SUB_BITS SQ_HIST_MAX_EXP)) {
        $hist =~ /#define\s+$_\s+(\d+)/ or croak "$_ not in servqual_hist.h";
        $HIST{$_} = $1;
    }
    $HIST{SUB} = 1 << $HIST{SQ_HIST_SUB_BITS};
    $HIST{BUCKETS} = ($HIST{SQ_HIST_MAX_EXP} - $HIST{SQ_HIST_SUB_BITS} + 2)
                     * $HIST{SUB};
}


# counter_names(): the counter names in wire order (SQ_C_* enum order).

sub counter_names {
    _load_headers();
    return @COUNTERS;
}


# sq_hist_buckets(): the number of histogram buckets (SQ_HIST_BUCKETS).

sub sq_hist_buckets {
    _load_headers();
    return $HIST{BUCKETS};
}


# sq_hist_index($us): the bucket of a value in microseconds, as the C
# sq_hist_index (values above 2^32-1 are clamped into the last bucket).

sub sq_hist_index {
    my ($v) = @_;

    _load_headers();
    my $bits = $HIST{SQ_HIST_SUB_BITS};
    $v = int $v;

    return $v if $v < 2 * $HIST{SUB};
    $v = 0xffffffff if $v > 0xffffffff;

    my $e = 0;
    $e++ while ($v >> ($e + 1)) > 0;

    return (($e - $bits) << $bits) + ($v >> ($e - $bits));
}


# sq_hist_lower($i), sq_hist_upper($i): bucket $i covers [lower, upper)
# microseconds, as the C functions.

sub sq_hist_lower {
    my ($i) = @_;

    _load_headers();
    my $bits = $HIST{SQ_HIST_SUB_BITS};

    return $i if $i < 2 * $HIST{SUB};

    my $e = ($i >> $bits) + $bits - 1;
    return (($i & ($HIST{SUB} - 1)) | $HIST{SUB}) << ($e - $bits);
}


sub sq_hist_upper {
    my ($i) = @_;

    _load_headers();
    my $bits = $HIST{SQ_HIST_SUB_BITS};

    return $i + 1 if $i < 2 * $HIST{SUB};

    my $e = ($i >> $bits) + $bits - 1;
    return sq_hist_lower($i) + (1 << ($e - $bits));
}


# decode_datagram($bytes): the msgpack map of one datagram.  Strict: dies
# on malformed msgpack, trailing bytes, or a top level that is not a map.

my $MP = Data::MessagePack->new->prefer_integer(1);

sub decode_datagram {
    my ($bytes) = @_;

    my $m = eval { $MP->unpack($bytes) };
    croak "bad datagram: $@" if $@;
    croak "datagram is not a map" unless ref $m eq 'HASH';
    return $m;
}


# datagram_problems($map): what in a decoded datagram breaks the format of
# servqual_wire.h (an empty list when it conforms).

sub datagram_problems {
    my ($m) = @_;

    _load_headers();
    my @p;
    my $uint = qr/\A\d+\z/;

    for my $k (qw(v pid seq ws we dd dr so go)) {
        push @p, "\"$k\" missing or not a uint"
            unless defined $m->{$k} && !ref $m->{$k} && $m->{$k} =~ $uint;
    }
    push @p, "v is $m->{v}, not $WIRE{SQ_WIRE_VERSION}"
        if ($m->{v} // '') ne $WIRE{SQ_WIRE_VERSION};
    push @p, "node missing or too long"
        unless defined $m->{node} && !ref $m->{node}
               && length $m->{node} <= $WIRE{SQ_WIRE_MAX_NODE};
    push @p, "seq is 0" if ($m->{seq} // 1) eq '0';
    push @p, "we < ws"
        if ($m->{we} // 0) =~ $uint && ($m->{ws} // 0) =~ $uint
           && $m->{we} < $m->{ws};

    my %known = map { $_ => 1 } qw(v node pid seq ws we dd dr so go s);
    push @p, "unknown key \"$_\"" for grep { !$known{$_} } sort keys %$m;

    if (ref $m->{s} ne 'ARRAY') {
        push @p, "\"s\" missing or not an array";
        return @p;
    }

    for my $i (0 .. $#{ $m->{s} }) {
        push @p, map { "series $i: $_" } _series_problems($m->{s}[$i]);
    }

    return @p;
}


sub _series_problems {
    my ($s) = @_;

    return 'not an array of ' . $WIRE{SQ_WIRE_SERIES_FIELDS}
        unless ref $s eq 'ARRAY' && @$s == $WIRE{SQ_WIRE_SERIES_FIELDS};

    my @p;
    my @max = @WIRE{qw(SQ_WIRE_MAX_ENDPOINT SQ_WIRE_MAX_REGION
                       SQ_WIRE_MAX_SEGMENT)};
    for (0 .. 2) {
        push @p, "key $_ not a string of at most $max[$_] bytes"
            unless defined $s->[$_] && !ref $s->[$_]
                   && length $s->[$_] <= $max[$_];
    }

    push @p, 'counters not an array of ' . scalar(@COUNTERS) . ' uints'
        unless ref $s->[3] eq 'ARRAY' && @{ $s->[3] } == @COUNTERS
               && !grep { !defined || ref || !/\A\d+\z/ } @{ $s->[3] };

    for (4, 5) {
        eval { decode_hist($s->[$_]); 1 } or push @p, "field $_: $@";
    }

    return @p;
}


# decode_hist($flat): { bucket index => count } from a wire histogram
# [d0, c0, d1, c1, ...]; dies when it breaks the encoding rules.

sub decode_hist {
    my ($flat) = @_;

    _load_headers();
    croak "histogram is not an array\n" unless ref $flat eq 'ARRAY';
    croak "histogram has an odd length\n" if @$flat % 2;

    my %h;
    my $idx = -1;

    for (my $j = 0; $j < @$flat; $j += 2) {
        my ($d, $c) = @$flat[$j, $j + 1];
        croak "histogram pair $j not uints\n"
            unless defined $d && defined $c && $d =~ /\A\d+\z/
                   && $c =~ /\A\d+\z/;
        croak "histogram delta 0 at $j\n" if $j > 0 && $d == 0;
        croak "histogram count 0 at $j\n" if $c == 0;
        $idx = $j == 0 ? $d : $idx + $d;
        croak "histogram index $idx out of range\n"
            if $idx >= $HIST{BUCKETS};
        $h{$idx} = $c;
    }

    return \%h;
}


# sum_datagrams(@maps): totals per series, summed over datagrams (a series
# may appear in several):
#   $t->{$endpoint}{$region}{$segment} = {
#       counters => { requests => n, status_2xx => n, ... },
#       rt => { bucket => count }, ttfb => { bucket => count } }
# In list context also the header totals:
#   ($t, { datagrams => n, dd => n, dr => n, so => n, go => n })

sub sum_datagrams {
    my (@maps) = @_;

    _load_headers();
    my %t;
    my %head = (datagrams => 0, map { $_ => 0 } qw(dd dr so go));

    for my $m (@maps) {
        $head{datagrams}++;
        $head{$_} += $m->{$_} // 0 for qw(dd dr so go);

        for my $s (@{ $m->{s} // [] }) {
            my $e = $t{ $s->[0] }{ $s->[1] }{ $s->[2] }
                //= { counters => { map { $_ => 0 } @COUNTERS },
                      rt => {}, ttfb => {} };

            $e->{counters}{ $COUNTERS[$_] } += $s->[3][$_]
                for 0 .. $#COUNTERS;
            _add_hist($e->{rt}, decode_hist($s->[4]));
            _add_hist($e->{ttfb}, decode_hist($s->[5]));
        }
    }

    return wantarray ? (\%t, \%head) : \%t;
}


sub _add_hist {
    my ($into, $h) = @_;

    $into->{$_} += $h->{$_} for keys %$h;
}


# series_total($t, $counter, endpoint => E, region => R, segment => S): a
# counter summed over the series of sum_datagrams matching the filters
# (an omitted filter matches all).

sub series_total {
    my ($t, $counter, %f) = @_;

    my $n = 0;
    _each_series($t, \%f, sub { $n += $_[0]{counters}{$counter} // 0 });
    return $n;
}


# hist_total($t, 'rt' | 'ttfb', filters as series_total, lo => us,
# hi => us): the histogram count over matching series, of the buckets
# lying wholly within [lo, hi) microseconds when lo or hi is given.

sub hist_total {
    my ($t, $which, %f) = @_;

    my ($lo, $hi) = delete @f{qw(lo hi)};
    my $n = 0;

    _each_series($t, \%f, sub {
        my $h = $_[0]{$which};
        for my $i (keys %$h) {
            next if defined $lo && sq_hist_lower($i) < $lo;
            next if defined $hi && sq_hist_upper($i) > $hi;
            $n += $h->{$i};
        }
    });

    return $n;
}


sub _each_series {
    my ($t, $f, $cb) = @_;

    for my $ep (sort keys %$t) {
        next if defined $f->{endpoint} && $ep ne $f->{endpoint};
        for my $rg (sort keys %{ $t->{$ep} }) {
            next if defined $f->{region} && $rg ne $f->{region};
            for my $sg (sort keys %{ $t->{$ep}{$rg} }) {
                next if defined $f->{segment} && $sg ne $f->{segment};
                $cb->($t->{$ep}{$rg}{$sg});
            }
        }
    }
}


# seq_gaps(@maps): sequence-number trouble per (node, pid): a list of
# strings like "node/pid: missing 4..5" or "duplicate 3" (empty when each
# worker's seq runs 1, 2, 3, ... or, for a worker first seen mid-run,
# contiguously from its first).

sub seq_gaps {
    my (@maps) = @_;

    my (%seqs, @p);
    push @{ $seqs{"$_->{node}/$_->{pid}"} }, $_->{seq} for @maps;

    for my $w (sort keys %seqs) {
        my @s = sort { $a <=> $b } @{ $seqs{$w} };
        for my $j (1 .. $#s) {
            push @p, "$w: duplicate $s[$j]" if $s[$j] == $s[$j - 1];
            push @p, "$w: missing " . ($s[$j - 1] + 1) . '..' . ($s[$j] - 1)
                if $s[$j] > $s[$j - 1] + 1;
        }
    }

    return @p;
}


# ---------------------------------------------------------------------------
# A test MaxMind DB

# The table and the builder live in SQGeo.pm, shared with the demo.


# mmdb_lookup($path, $ip, @keys): a value from the database with
# libmaxminddb's mmdblookup (Debian package mmdb-bin), e.g.
# mmdb_lookup($db, '10.1.0.7', qw(country iso_code)); undef when the
# address is not in it or has no such key.  Dies when mmdblookup fails
# otherwise (missing, bad file).

sub mmdb_lookup {
    my ($path, $ip, @keys) = @_;

    my $bin = $ENV{MMDBLOOKUP_BIN} // 'mmdblookup';
    my ($rc, $out) = _run($bin, '--file', $path, '--ip', $ip, @keys);

    return undef
        if $out =~ /Could not find an entry|lookup path does not match/;
    croak "mmdblookup failed ($rc): $out" if $rc != 0;
    return undef if $out !~ /\S/;
    return $1 if $out =~ /"((?:[^"\\]|\\.)*)"\s*<utf8_string>/;
    return $1 if $out =~ /^\s*(\d+)\s*<uint/m;
    return $out;
}


# ---------------------------------------------------------------------------
# A delaying, failing upstream

# start_upstream(%routes): a forking HTTP/1.x server on a free 127.0.0.1
# port, in its own process group, killed at exit.  Returns an
# SQTest::Upstream with ->port and ->stop.  Built-in paths:
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
    return bless { pid => $pid, port => $port }, 'SQTest::Upstream';
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


package SQTest::Upstream;

sub port { return $_[0]{port} }


# ->stop: kill the server and its connection handlers, wait for it.

sub stop {
    my ($self) = @_;

    my $pid = delete $self->{pid} or return;
    kill 'TERM', -$pid;
    waitpid $pid, 0;
    @UPSTREAMS = grep { $_ != $pid } @UPSTREAMS;
    return 1;
}


package SQTest;


# ---------------------------------------------------------------------------
# Cleanup: nginx, upstreams, sockets, the prefix; even after a die.

$SIG{INT} = $SIG{TERM} = sub { die "killed by signal\n" };

END {
    if ($$ == $OWNER_PID) {
        my $status = $?;
        _cleanup($status);
        $? = $status;
    }
}


sub _cleanup {
    my ($status) = @_;

    if ($NGINX{pid}) {
        eval { stop_nginx(timeout => 5) }
            or eval { stop_nginx(fast => 1, timeout => 5) };
    }

    for my $pid (@UPSTREAMS) {
        kill 'TERM', -$pid;
        waitpid $pid, 0;
    }
    @UPSTREAMS = ();

    unlink @LISTENERS;
    return unless defined $PREFIX;

    my $tb = Test::More->builder;
    if ((!$tb->is_passing || $status) && -s "$PREFIX/logs/error.log") {
        my @tail = grep { defined } (split /\n/, error_log())[-20 .. -1];
        Test::More::diag(join "\n", 'error log tail:', @tail);
    }

    remove_tree($PREFIX) unless $ENV{SQ_KEEP};
}


1;

__END__

=head1 NAME

SQTest - harness for servqual's nginx tests

=head1 SYNOPSIS

    use FindBin;
    use lib "$FindBin::Bin/lib";
    use Test::More;
    use SQTest;

    my $udp = udp_listener();
    start_nginx(<<'EOF');
        servqual_collector 127.0.0.1:%%UDP_PORT%% flush=100ms;
        servqual_geoip2 %%MMDB%%;
        set_real_ip_from 127.0.0.1;
        server {
            listen 127.0.0.1:%%PORT%%;
            location /a { servqual on; return 200 "a\n"; }
        }
    EOF

    my ($status, $h, $body) = http_get('/a', xff => '10.1.0.7');
    my $t = sum_datagrams($udp->recv_requests(1));
    is series_total($t, 'requests', endpoint => '/a', region => 'US'), 1;
    no_error_in_log();
    done_testing;

=head1 ENVIRONMENT

NGINX_BIN (default /usr/sbin/nginx), SERVQUAL_MODULE (default
build/ngx_http_servqual_module.so), MMDBLOOKUP_BIN (default mmdblookup on
PATH), SQ_KEEP=1 keeps t/servroot-<testname>/ after the run.

=head1 FUNCTIONS

Each function is described by the comment above its definition.

=cut
