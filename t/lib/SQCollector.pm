package SQCollector;

# Helpers for the collector's end-to-end tests: start the real
# servqual-collector on free loopback ports with a temporary directory and
# config, build datagrams as include/servqual_wire.h defines them, send
# them, and read the HTTP API back.

use strict;
use warnings;

use Data::MessagePack;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ':sys_wait_h';
use Time::HiRes qw(sleep time);

our @COUNTERS = qw(requests status_1xx status_2xx status_3xx status_4xx
    status_5xx client_aborts body_incomplete upstream_errors
    upstream_timeouts bytes_sent tls_none tls_1_0 tls_1_1 tls_1_2 tls_1_3
    http_1_0 http_1_1 http_2 http_3 compressible compressed hsts);

our $MP = Data::MessagePack->new->prefer_integer(1)->utf8(1);

sub free_port {
    my ($proto) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Proto => $proto || 'tcp', ($proto && $proto eq 'udp')
            ? () : (Listen => 1, ReuseAddr => 1))
        or die "cannot bind: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# the bucket index of a value in microseconds (include/servqual_hist.h)
sub hist_index {
    my ($v) = @_;
    $v = int($v);
    return $v if $v < 128;
    $v = 0xffffffff if $v > 0xffffffff;
    my $e = 0;
    $e++ while ($v >> ($e + 1));
    return (($e - 6) << 6) + ($v >> ($e - 6));
}

# a sparse histogram [d0, c0, d1, c1, ...] from values in seconds
sub histogram {
    my (@seconds) = @_;
    my %b;
    $b{hist_index($_ * 1e6)}++ for @seconds;
    my ($prev, @out) = (0);
    for my $i (sort { $a <=> $b } keys %b) {
        push @out, (@out ? $i - $prev : $i), $b{$i};
        $prev = $i;
    }
    return \@out;
}

# one series: counters by name (requests defaults to the latencies given)
sub series {
    my (%a) = @_;
    my @lat = @{ $a{latencies} || [] };
    my %c = (requests => scalar(@lat), %{ $a{counters} || {} });
    return [ $a{endpoint}, $a{region}, $a{segment} // '',
             [ map { $c{$_} // 0 } @COUNTERS ],
             $a{hist} || histogram(@lat),
             $a{ttfb_hist} || histogram(@{ $a{ttfb} || \@lat }) ];
}

sub datagram {
    my (%a) = @_;
    my $now = int(time * 1000);
    my %m = (v => 1, node => $a{node} // 'test', pid => $a{pid} // 1000,
             seq => $a{seq} // 1, ws => $now - 1000, we => $now,
             dd => $a{dd} // 0, dr => $a{dr} // 0, so => 0, go => 0,
             s => $a{series} || []);
    $m{$_} = $a{extra}{$_} for keys %{ $a{extra} || {} };
    delete $m{$_} for @{ $a{without} || [] };
    return $MP->pack(\%m);
}

sub new {
    my ($class, %a) = @_;
    my $self = bless { %a }, $class;
    $self->{bin} = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';
    $self->{dir} = tempdir(CLEANUP => 1);
    $self->{udp} = free_port('udp');
    $self->{http} = free_port('tcp');
    $self->{conf} = "$self->{dir}/servqual-collector.yaml";
    $self->{log} = "$self->{dir}/collector.log";
    $self->{ua} = HTTP::Tiny->new(timeout => 30);
    $self->write_conf($a{conf} // '');
    return $self;
}

sub write_conf {
    my ($self, $extra) = @_;
    open my $f, '>', $self->{conf} or die "$self->{conf}: $!";
    print $f "listen:\n  ingest: udp://127.0.0.1:$self->{udp}\n"
           . "  http: 127.0.0.1:$self->{http}\n"
           . "storage:\n  path: $self->{dir}/servqual.db\n"
           . $extra;
    close $f;
}

sub start {
    my ($self) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', $self->{log};
        open STDERR, '>>', $self->{log};
        exec $self->{bin}, '-c', $self->{conf};
        die "exec $self->{bin}: $!";
    }
    $self->{pid} = $pid;
    $self->{owner} = $$;
    $self->wait_for(sub { $self->get('/healthz')->{status} == 200 }, 60)
        or die "collector did not start:\n" . $self->log_text;
    return $self;
}

sub alive {
    my ($self) = @_;
    return 0 unless $self->{pid} && $self->{owner} == $$;
    return waitpid($self->{pid}, WNOHANG) == 0;
}

sub signal {
    my ($self, $sig) = @_;
    kill $sig, $self->{pid};
}

# SIGTERM, then the exit status (undef if it did not exit in time)
sub stop {
    my ($self) = @_;
    return undef unless $self->{pid};
    kill 'TERM', $self->{pid};
    my $t = time + 30;
    while (time < $t) {
        my $r = waitpid($self->{pid}, WNOHANG);
        if ($r == $self->{pid}) {
            delete $self->{pid};
            return $?;
        }
        sleep 0.05;
    }
    kill 'KILL', $self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
    return undef;
}

sub DESTROY {
    my ($self) = @_;
    # only in the process that started it, not in a forked helper
    if ($self->{pid} && $self->{owner} && $self->{owner} == $$) {
        kill 'KILL', $self->{pid};
        waitpid($self->{pid}, 0);
    }
}

sub log_text {
    my ($self) = @_;
    open my $f, '<', $self->{log} or return '';
    local $/;
    return <$f>;
}

sub wait_for {
    my ($self, $cond, $timeout) = @_;
    my $t = time + ($timeout || 20);
    while (time < $t) {
        my $ok = eval { $cond->() };
        return 1 if $ok;
        sleep 0.05;
    }
    return 0;
}

sub socket {
    my ($self) = @_;
    $self->{sock} ||= IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{udp}, Proto => 'udp') or die "udp: $!";
    return $self->{sock};
}

sub send {
    my ($self, @dgrams) = @_;
    my $s = $self->socket;
    for my $d (@dgrams) {
        defined $s->send($d) or die "send: $!";
    }
}

sub get {
    my ($self, $path) = @_;
    return $self->{ua}->get("http://127.0.0.1:$self->{http}$path");
}

sub json {
    my ($self, $path) = @_;
    my $r = $self->get($path);
    die "GET $path: $r->{status} $r->{content}" unless $r->{status} == 200;
    return decode_json($r->{content});
}

# the value of a metric line, labels given as a hash; undef if absent
sub metric {
    my ($self, $text, $name, %labels) = @_;
    LINE: for my $line (split /\n/, $text) {
        next unless $line =~ /^\Q$name\E(?:\{(.*)\})? (\S+)$/;
        my ($l, $v) = ($1 // '', $2);
        my %have = $l =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
        for (keys %labels) {
            next LINE unless defined $have{$_} && $have{$_} eq $labels{$_};
        }
        return $v;
    }
    return undef;
}

# the row of /api/v1/quality for (scope, endpoint, region, segment)
sub row {
    my ($self, $q, %k) = @_;
    for my $r (@{ $q->{rows} }) {
        next if $k{scope} && $r->{scope} ne $k{scope};
        next if defined $k{endpoint}
            && ($r->{endpoint} // $r->{journey} // '') ne $k{endpoint};
        next if defined $k{region} && $r->{region} ne $k{region};
        next if defined $k{segment} && $r->{segment} ne $k{segment};
        return $r;
    }
    return undef;
}

1;
