package SQAlert;

# Helpers for the alert tests: traffic for a good and a bad region sent
# to a collector (an SQCollector) while a condition is polled, a tiny
# HTTP listener that keeps what is posted to it (the webhook), and a real
# Alertmanager on loopback.

use strict;
use warnings;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ':sys_wait_h';
use Time::HiRes qw(sleep time);

use SQProc qw(free_port);
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

# ---- the webhook: a forked listener appending each body as a line

sub webhook {
    my ($class, %a) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => 0, Listen => 16, ReuseAddr => 1) or die "listen: $!";
    my $self = bless { file => "$dir/posts", port => $srv->sockport,
                       owner => $$ }, $class;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        while (my $cl = $srv->accept) {
            my ($head, $buf) = ('', '');
            while ($head !~ /\r\n\r\n/) {
                my $n = sysread($cl, $buf, 4096);
                last unless $n;
                $head .= $buf;
            }
            my ($h, $body) = split /\r\n\r\n/, $head, 2;
            $body //= '';
            my ($len) = $h =~ /^content-length:\s*(\d+)/mi;
            while (defined $len && length($body) < $len) {
                my $n = sysread($cl, $buf, $len - length $body);
                last unless $n;
                $body .= $buf;
            }
            my ($path) = $h =~ /^POST (\S+)/;
            if (open my $f, '>>', $self->{file}) {
                print $f encode_json({ path => $path // '',
                                       body => $body }), "\n";
                close $f;
            }
            print $cl "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                    . "Connection: close\r\n\r\n";
            close $cl;
        }
        POSIX::_exit(0);
    }
    close $srv;
    $self->{pid} = $pid;
    return $self;
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

# ---- a real Alertmanager

sub alertmanager {
    my ($class) = @_;
    my $bin = '/usr/bin/prometheus-alertmanager';
    return undef unless -x $bin;
    my $dir = tempdir(CLEANUP => 1);
    my $port = free_port();
    open my $f, '>', "$dir/am.yml" or die $!;
    print $f "route:\n  receiver: none\nreceivers:\n  - name: none\n";
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

sub DESTROY {
    my ($self) = @_;
    if ($self->{pid} && $self->{owner} == $$) {
        kill 'TERM', $self->{pid};
        waitpid($self->{pid}, 0);
    }
}

1;
