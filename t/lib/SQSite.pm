package SQSite;

# Another nginx beside SQNginx's, for tests of several sites: the same
# configuration text (SQNginx::nginx_conf) in its own prefix, a
# subdirectory of the test's, on its own port; load against it from
# forked clients; stopped at exit.

use strict;
use warnings;

use Carp qw(croak);
use File::Path qw(make_path);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

use SQNginx qw(nginx_conf);
use SQProc qw(prefix free_port wait_for run_cmd read_file write_file
              pid_alive);


# SQSite->start($name, $http_text, %opts): nginx with that http block
# (placeholders and options as SQNginx::nginx_conf) in prefix/$name/

sub start {
    my ($class, $name, $http, %o) = @_;

    my $p = prefix();
    my $dir = "$p/$name";
    make_path(map { "$dir/$_" } qw(conf logs tmp));
    chmod 0755, $dir, map { "$dir/$_" } qw(conf logs tmp);

    $o{port} //= free_port();

    my $conf = nginx_conf(%o, http => $http);
    $conf =~ s{\Q$p\E/(logs|tmp)/}{$dir/$1/}g;
    write_file("$dir/conf/nginx.conf", $conf);

    my ($rc, $out) = run_cmd($ENV{NGINX_BIN} // '/usr/sbin/nginx',
                             '-p', "$dir/", '-c', "$dir/conf/nginx.conf",
                             '-e', "$dir/logs/error.log");
    croak "nginx $name failed to start (exit $rc): $out\n"
          . read_file("$dir/logs/error.log") if $rc != 0;

    my $self = bless { name => $name, dir => $dir, port => $o{port},
                       owner => $$ }, $class;

    $self->{pid} = wait_for(10, "nginx $name pid", sub {
        read_file("$dir/logs/nginx.pid") =~ /^(\d+)/ ? $1 : undef;
    });

    wait_for(10, "nginx $name port", sub {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$o{port}",
                              Timeout => 1);
    });

    return $self;
}


# SQSite->attach($port): the load helpers for an nginx started otherwise
# (SQNginx's); ->stop then stops only the load

sub attach {
    my ($class, $port) = @_;
    return bless { port => $port, owner => $$ }, $class;
}


sub port { return $_[0]{port} }


# the requests it served: lines of its access log

sub served {
    my ($self) = @_;
    my $t = read_file("$self->{dir}/logs/access.log") // '';
    return scalar(() = $t =~ /\n/g);
}


sub error_log {
    my ($self) = @_;
    return read_file("$self->{dir}/logs/error.log");
}


# ->load(clients => C, path => P): clients requesting P in a loop until
# ->stop_load

sub load {
    my ($self, %o) = @_;

    my $url = "http://127.0.0.1:$self->{port}" . ($o{path} // '/');

    for (1 .. $o{clients} // 4) {
        my $pid = fork // croak "fork: $!";
        if ($pid == 0) {
            $SIG{TERM} = 'DEFAULT';
            my $ua = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
            $ua->get($url) for 1 .. 1_000_000;
            POSIX::_exit(0);
        }
        push @{ $self->{load} }, $pid;
    }

    return $self;
}


sub stop_load {
    my ($self) = @_;

    my @p = @{ delete $self->{load} // [] };
    kill 'TERM', @p;
    waitpid $_, 0 for @p;
}


sub stop {
    my ($self) = @_;

    return unless $self->{owner} == $$;
    $self->stop_load;

    my $pid = delete $self->{pid} or return;
    kill 'QUIT', $pid;
    my $end = time + 20;
    sleep 0.05 while pid_alive($pid) && time < $end;
}


sub DESTROY {
    my ($self) = @_;
    $self->stop;
}


1;
