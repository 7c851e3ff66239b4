package SQAlert;

# Helpers for the alert tests: traffic for a good and a bad region sent
# to a collector (an SQCollector) while a condition is polled, a tiny
# HTTP listener that keeps what is posted to it (the webhook), and a real
# Alertmanager on loopback.

use strict;
use warnings;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use POSIX ':sys_wait_h';
use Time::HiRes qw(sleep time);

use SQProc qw(free_port owner_process);
use SQUpstream qw(start_upstream);
use SQWire qw(datagram series);

our $SEQ = 0;

# one datagram: per region [requests, failures, latency]
sub traffic {
    my ($c, %regions) = @_;
    my @s;
    for my $r (sort keys %regions) {
        my ($n, $bad, $lat, $ep) = @{ $regions{$r} };
        push @s, series(endpoint => $ep // 'checkout',
            region => $r, latencies => [ ($lat // 0.04) x $n ],
            counters => { status_2xx => $n - $bad, status_5xx => $bad,
                          upstream_errors => $bad, tls_1_3 => $n });
    }
    $c->send(datagram(node => 'alert-test', pid => 4242, seq => ++$SEQ,
                      series => \@s));
}

# sends traffic every 0.1 s (the mix from $mix->()) until $cond->() is
# true or $timeout seconds pass; the seconds it took, or undef
sub pump {
    my ($c, $mix, $cond, $timeout) = @_;
    my $t0 = time;
    my $next = 0;
    while (time - $t0 < $timeout) {
        if (time >= $next) {
            traffic($c, %{ $mix->() });
            $next = time + 0.1;
        }
        my $ok = eval { $cond->() };
        return time - $t0 if $ok;
        sleep 0.05;
    }
    return undef;
}

# the firing alert of /api/v1/alerts that matches the labels given
sub firing {
    my ($c, %l) = @_;
    my $j = $c->json('/api/v1/alerts');
    A: for my $a (@{ $j->{firing} }) {
        for (keys %l) {
            next A unless ($a->{labels}{$_} // '') eq $l{$_};
        }
        return $a;
    }
    return undef;
}

# ---- the webhook: a test backend (SQUpstream) that appends each body
#      posted to /hook to a file, a line each

sub webhook {
    my ($class) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my $file = "$dir/posts";
    my $up = start_upstream('/hook' => sub {
        my ($method, $path, $h, $body) = @_;
        if (open my $f, '>>', $file) {
            print $f encode_json({ path => $path, body => $body }), "\n";
            close $f;
        }
        return (200, {}, '');
    });
    return bless { file => $file, port => $up->port, up => $up }, $class;
}

sub url { my ($self) = @_; return "http://127.0.0.1:$self->{port}/hook" }

# every body posted so far, decoded
sub posts {
    my ($self) = @_;
    open my $f, '<', $self->{file} or return ();
    my @p;
    while (my $line = <$f>) {
        my $r = decode_json($line);
        push @p, decode_json($r->{body});
    }
    return @p;
}

# ---- a real Alertmanager; group_by => [labels] for its route (default:
#      Alertmanager's own, one group)

sub alertmanager {
    my ($class, %o) = @_;
    my $bin = '/usr/bin/prometheus-alertmanager';
    return undef unless -x $bin;
    my $dir = tempdir(CLEANUP => 1);
    my $port = free_port();
    open my $f, '>', "$dir/am.yml" or die $!;
    print $f "route:\n  receiver: none\n";
    print $f "  group_by: [" . join(', ', @{ $o{group_by} }) . "]\n"
        if $o{group_by};
    print $f "receivers:\n  - name: none\n";
    close $f;
    my $self = bless { port => $port, dir => $dir, owner => $$,
                       ua => HTTP::Tiny->new(timeout => 10) }, $class;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/am.log";
        open STDERR, '>', "$dir/am.log";
        no warnings 'exec';
        exec { $bin } $bin, "--config.file=$dir/am.yml",
            "--storage.path=$dir/data", '--cluster.listen-address=',
            "--web.listen-address=127.0.0.1:$port";
        POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    my $t = time + 30;
    while (time < $t) {
        my $r = $self->{ua}->get("http://127.0.0.1:$port/-/ready");
        return $self if $r->{status} == 200;
        return undef if waitpid($pid, WNOHANG) == $pid;
        sleep 0.1;
    }
    return undef;
}

sub am_url { my ($self) = @_; return "http://127.0.0.1:$self->{port}" }

# the alerts Alertmanager holds (active ones)
sub am_alerts {
    my ($self) = @_;
    my $r = $self->{ua}->get("http://127.0.0.1:$self->{port}/api/v2/alerts");
    die "GET /api/v2/alerts: $r->{status}" unless $r->{status} == 200;
    return @{ decode_json($r->{content}) };
}

# its notification groups
sub am_groups {
    my ($self) = @_;
    my $r = $self->{ua}->get(
        "http://127.0.0.1:$self->{port}/api/v2/alerts/groups");
    die "GET /api/v2/alerts/groups: $r->{status}" unless $r->{status} == 200;
    return @{ decode_json($r->{content}) };
}

sub DESTROY {
    my ($self) = @_;
    $self->{up}->stop if $self->{up} && owner_process();
    if ($self->{pid} && $self->{owner} == $$) {
        kill 'TERM', $self->{pid};
        waitpid($self->{pid}, 0);
    }
}

1;
