package SQNginx;

# The real nginx under test: its configuration (with placeholders), nginx
# -t, start, reload and stop with a temporary prefix on a free loopback
# port, its processes, and its error log.  nginx is stopped at exit, and
# the error log's tail shown when a test failed.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Spec;
use IO::Socket::INET;
use Test::More ();

use SQGeo qw(make_mmdb);
use SQWire ();
use SQProc qw(prefix repo_root free_port wait_for run_cmd read_file
              write_file pid_alive child_pids owner_process
              has_prefix);


our @EXPORT_OK = qw(
    nginx_conf start_nginx nginx_test_config reload_nginx stop_nginx
    nginx_port master_pid worker_pids
    error_log error_log_mark error_log_since wait_for_log no_error_in_log
);


my %NGINX;                     # the running nginx: pid, port, conf, opts


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
# the last unix_listener's path), %%PREFIX%%, %%MMDB%% (opts mmdb, which
# must exist, else <prefix>/test.mmdb, built by make_mmdb when missing),
# %%MODULE%% and any %%NAME%% given in vars.  An unknown placeholder is an
# error.

sub _substitute {
    my ($text, $o) = @_;

    my %v = (
        PREFIX => prefix(),
        MODULE => _module_path(),
        %{ $o->{vars} // {} },
    );

    $v{PORT} = $o->{port} if defined $o->{port};
    $v{UDP_PORT} = $o->{udp_port} // SQWire::last_udp_port();
    $v{UNIX_SOCK} = $o->{unix_sock} // SQWire::last_unix_path();

    if ($text =~ /%%MMDB%%/ && defined $o->{mmdb}) {
        croak "no database $o->{mmdb}" unless -f $o->{mmdb};
        $v{MMDB} = $o->{mmdb};
    } elsif ($text =~ /%%MMDB%%/) {
        $v{MMDB} = prefix() . '/test.mmdb';
        make_mmdb($v{MMDB}) unless -f $v{MMDB};
    }

    $text =~ s{%%([A-Z0-9_]+)%%}{
        defined $v{$1} ? $v{$1} : croak "no value for placeholder %%$1%%"
    }ge;

    return $text;
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

    write_file($conf, nginx_conf(%o, http => $http));
    unlink $log;

    my ($rc, $out) = run_cmd(_nginx_bin(), '-t', '-p', "$p/", '-c', $conf,
                          '-e', $log);
    my $logged = read_file($log);
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

    write_file($conf, nginx_conf(%o, http => $http));
    unlink "$p/logs/nginx.pid";

    my ($rc, $out) = run_cmd(_nginx_bin(), '-p', "$p/", '-c', $conf,
                          '-e', $log);
    _die_with_log("nginx failed to start (exit $rc): $out") if $rc != 0;

    my $pid = eval {
        wait_for($timeout, 'nginx.pid', sub {
            my $t = read_file("$p/logs/nginx.pid");
            $t =~ /^(\d+)/ ? $1 : undef;
        });
    };
    _die_with_log($@) unless $pid;

    %NGINX = (pid => $pid, port => $o{port}, conf => $conf, opts => \%o);

    eval {
        wait_for($timeout, "port $o{port}", sub { _port_open($o{port}) });
        wait_for($timeout, "$o{workers} workers", sub {
            pid_alive($pid) && _workers($pid) >= $o{workers};
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
        write_file($NGINX{conf}, nginx_conf(%c));
        $NGINX{opts} = \%c;
    }

    my $want = $NGINX{opts}{workers};
    my %old = map { $_ => 1 } child_pids($pid);
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
                !grep { $old{$_} } child_pids($pid);
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
        wait_for($timeout, "nginx $pid to exit", sub { !pid_alive($pid) });
    };

    %NGINX = ();
    return 1 if $ok;

    kill 'KILL', $pid, child_pids($pid);
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


# nginx sets its process title over argv: "nginx: worker process", and
# "nginx: worker process is shutting down" for old ones

sub _workers {
    my ($master) = @_;

    return grep {
        my $t = read_file("/proc/$_/cmdline");
        $t =~ s/\0.*//s;
        $t =~ /worker process\s*\z/;
    } child_pids($master);
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
    return read_file(prefix() . '/logs/error.log');
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


END {
    if (owner_process()) {
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

    return unless has_prefix();

    my $log = prefix() . '/logs/error.log';
    my $tb = Test::More->builder;

    if ((!$tb->is_passing || $status) && -s $log) {
        my @tail = grep { defined } (split /\n/, error_log())[-20 .. -1];
        Test::More::diag(join "\n", 'error log tail:', @tail);
    }
}


1;
