package SQCollector;

# The real servqual-collector under test: its configuration (one
# standard fixture with overridable parts), start, signals and stop on
# free loopback ports with a temporary directory, sending it datagrams
# (built by SQWire, which SQCollector::datagram and SQCollector::series
# are), and its HTTP API, metrics and log read back.

use strict;
use warnings;

use Exporter qw(import);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ':sys_wait_h';
use Time::HiRes qw(sleep time);

use SQProc qw(free_port free_udp_port read_file);
use SQWire qw(datagram series);

our @EXPORT_OK = qw(collector_conf);


# collector_conf(%parts): the standard test configuration, the YAML that
# write_conf puts after the listen and storage sections:
#   windows       'fast' (1 s slots, 3 s and 12 s windows) or a flow map
#                 such as '{ slot: 2s, short: 2m, long: 10m }'
#   min_requests  min_requests of every dimension
#   extra         YAML text put after those (overrides, journeys, ...)
#   alerts        { key => value } under alerts:, values as YAML text,
#                 e.g. { interval => '1s', webhook => '{ url: "..." }' }
#   tail          YAML text put last

my @DIMENSIONS = qw(reliability responsiveness assurance empathy tangibles);

sub collector_conf {
    my (%p) = @_;
    my $y = '';
    if (defined $p{windows}) {
        my $w = $p{windows} eq 'fast' ? '{ slot: 1s, short: 3s, long: 12s }'
                                      : $p{windows};
        $y .= "windows: $w\n";
    }
    if (defined $p{min_requests}) {
        $y .= "dimensions:\n";
        $y .= sprintf "  %-15s { min_requests: %d }\n", "$_:",
                      $p{min_requests} for @DIMENSIONS;
    }
    $y .= $p{extra} // '';
    if ($p{alerts}) {
        $y .= "alerts:\n";
        $y .= "  $_: $p{alerts}{$_}\n" for sort keys %{ $p{alerts} };
    }
    return $y . ($p{tail} // '');
}

# SQCollector->new(conf => YAML) or SQCollector->new(%parts): a collector
# (not started) whose configuration is the YAML given, or collector_conf
# of the parts.  Two parts go to write_conf instead: listen => { key =>
# value } (more listen keys, e.g. queue_mb => 64) and storage => 'off'.

sub new {
    my ($class, %a) = @_;
    my $self = bless {}, $class;
    $self->{listen_keys} = delete $a{listen} // {};
    $self->{storage} = delete $a{storage};
    my $conf = exists $a{conf} ? delete $a{conf} : collector_conf(%a);
    $self->{bin} = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';
    $self->{dir} = tempdir(CLEANUP => 1);
    $self->{udp} = free_udp_port();
    $self->{http} = free_port();
    $self->{conf} = "$self->{dir}/servqual-collector.yaml";
    $self->{log} = "$self->{dir}/collector.log";
    $self->{ua} = HTTP::Tiny->new(timeout => 30);
    $self->write_conf($conf // '');
    return $self;
}

# ->write_conf(YAML) or ->write_conf(%parts): (re)write the configuration
# file: listen (with new()'s listen keys) and storage (the database in the
# directory, or new()'s storage), then the YAML given or
# collector_conf(%parts).

sub write_conf {
    my ($self, @a) = @_;
    my $extra = @a == 1 ? $a[0] : collector_conf(@a);
    my $l = $self->{listen_keys};
    open my $f, '>', $self->{conf} or die "$self->{conf}: $!";
    print $f "listen:\n  ingest: udp://127.0.0.1:$self->{udp}\n"
           . "  http: 127.0.0.1:$self->{http}\n"
           . join('', map { "  $_: $l->{$_}\n" } sort keys %$l)
           . "storage:\n  path: "
           . ($self->{storage} // "$self->{dir}/servqual.db") . "\n"
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
    return read_file($self->{log});
}

# ->wait_for(sub { ... }, $timeout): poll until the sub returns true (a
# sub that dies counts as false); 1, or 0 after $timeout (default 20 s)

sub wait_for {
    my ($self, $cond, $timeout) = @_;
    return eval {
        SQProc::wait_for($timeout || 20, 'the collector',
                         sub { eval { $cond->() } });
        1;
    } ? 1 : 0;
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

# ->wait_accepted($n, $timeout): polls /metrics until n datagrams are
# accepted (or timeout seconds, default 20); returns (accepted, the
# metrics text last read).

sub wait_accepted {
    my ($self, $n, $timeout) = @_;
    my $end = time + ($timeout // 20);
    my ($m, $accepted);
    for (;;) {
        $m = $self->get('/metrics')->{content} // '';
        $accepted = $self->metric($m, 'servqual_datagrams_total',
                                  result => 'accepted') // 0;
        last if $accepted >= $n || time > $end;
        sleep 0.2;
    }
    return ($accepted, $m);
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
