package SQProm;

# A real Prometheus (Debian's prometheus) for tests: started on a free
# loopback port with a temporary directory and the configuration and
# rule files given, its HTTP API queried (instant queries, alerts,
# targets), stopped at exit.

use strict;
use warnings;

use Carp qw(croak);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use SQProc qw(free_port write_file read_file);


my $BIN = '/usr/bin/prometheus';


# available(): whether Prometheus is installed

sub available {
    return -x $BIN;
}


# SQProm->start(config => YAML, files => { name => text }): Prometheus
# with that configuration (the files written next to it first, so that
# rule_files can name them), ready to answer; dies with its log if not.

sub start {
    my ($class, %o) = @_;

    my $self = bless {}, $class;
    $self->{dir} = tempdir(CLEANUP => 1);
    $self->{port} = free_port();
    $self->{log} = "$self->{dir}/prometheus.log";
    $self->{ua} = HTTP::Tiny->new(timeout => 5);

    for my $name (keys %{ $o{files} // {} }) {
        write_file("$self->{dir}/$name", $o{files}{$name});
    }

    write_file("$self->{dir}/prometheus.yml", $o{config});

    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $self->{log};
        open STDERR, '>&', \*STDOUT;
        { exec $BIN, "--config.file=$self->{dir}/prometheus.yml",
               "--storage.tsdb.path=$self->{dir}/tsdb",
               "--web.listen-address=127.0.0.1:$self->{port}" }
        POSIX::_exit(127);
    }

    $self->{pid} = $pid;
    $self->{owner} = $$;
    $self->{url} = "http://127.0.0.1:$self->{port}";

    $self->wait_for(sub {
        die "exited\n" if waitpid($pid, WNOHANG) == $pid && ($self->{gone} = 1);
        $self->{ua}->get("$self->{url}/-/ready")->{status} == 200
    }, 60, sub { $self->{gone} })
        or croak "Prometheus did not start:\n" . read_file($self->{log});

    return $self;
}


# ->wait_for(sub { ... }, $timeout, $give_up): poll every 200 ms until
# the sub returns true (a sub that dies counts as false); 1, or 0 on
# timeout or as soon as the sub $give_up returns true

sub wait_for {
    my ($self, $cb, $timeout, $give_up) = @_;

    my $end = time + ($timeout // 30);

    while (time < $end) {
        my $ok = eval { $cb->() };
        return 1 if $ok;
        return 0 if $give_up && $give_up->();
        sleep 0.2;
    }

    return 0;
}


# ->api(path): the decoded "data" of an API answer, undef on failure

sub api {
    my ($self, $path) = @_;

    my $r = $self->{ua}->get("$self->{url}$path");
    return undef unless $r->{success};

    my $j = eval { JSON::PP::decode_json($r->{content}) } or return undef;
    return $j->{status} eq 'success' ? $j->{data} : undef;
}


# ->query(PromQL [, TIME]): the result vector of an instant query (at
# TIME, epoch seconds, if given; otherwise now), a list of
# { metric => { labels }, value => number }

sub query {
    my ($self, $q, $at) = @_;

    (my $e = $q) =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge;
    $e .= sprintf '&time=%.3f', $at if defined $at;

    my $d = $self->api("/api/v1/query?query=$e") or return ();

    return map { { metric => $_->{metric}, value => $_->{value}[1] } }
           @{ $d->{result} };
}


# ->alerts(): the alerts the rules hold now, pending and firing

sub alerts {
    my ($self) = @_;

    my $d = $self->api('/api/v1/alerts') or return ();
    return @{ $d->{alerts} };
}


# ->targets(): the active targets, { labels, health, lastError }

sub targets {
    my ($self) = @_;

    my $d = $self->api('/api/v1/targets') or return ();
    return @{ $d->{activeTargets} };
}


sub log_text {
    my ($self) = @_;
    return read_file($self->{log});
}


sub stop {
    my ($self) = @_;

    my $pid = delete $self->{pid} or return;
    return unless $self->{owner} == $$ && !$self->{gone};

    kill 'TERM', $pid;

    my $end = time + 20;
    while (time < $end) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }

    kill 'KILL', $pid;
    waitpid $pid, 0;
}


sub DESTROY {
    my ($self) = @_;
    $self->stop;
}


1;
