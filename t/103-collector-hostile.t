#!/usr/bin/perl

# Hostile input: thousands of malformed datagrams (random bytes, mutations
# of valid ones, one of each rejection reason) while valid traffic flows.
# The collector stays up, counts every rejection by reason, and the valid
# traffic is counted exactly.  make test runs this under ASan and UBSan.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use SQCollector;
use SQProc qw(free_udp_port);
use SQWire qw(msgpack_pack wire_const wire_key);
use Test::More;

my $c = SQCollector->new;
my $sock = "$c->{dir}/ingest.sock";
$c->{udp} = free_udp_port();
$c->write_conf('');
# a second ingest socket, unix, which can carry oversized datagrams
{
    open my $f, '<', $c->{conf} or die;
    local $/;
    my $t = <$f>;
    $t =~ s{ingest: (\S+)}{ingest: [ "$1", "unix:$sock" ]};
    open $f, '>', $c->{conf} or die;
    print $f $t;
}
$c->start;

my $unix = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Peer => $sock)
    or die "unix socket: $!";

srand(20240611);

my $good_seq = 0;
my $sent = 0;

sub good {
    $good_seq++;
    return SQCollector::datagram(node => 'good', pid => 1, seq => $good_seq,
        series => [ SQCollector::series(endpoint => 'steady', region => 'US',
            latencies => [ (0.05) x 10 ], counters => { status_2xx => 10 }) ]);
}

my $mseq = 0;
sub mutant_base {
    $mseq++;
    return SQCollector::datagram(node => 'mutant-node', pid => 2,
        seq => $mseq, series => [
            SQCollector::series(endpoint => 'mutant', region => 'XX',
                latencies => [ 0.1, 0.2, 0.3, 7 ],
                counters => { status_2xx => 3, status_5xx => 1 }),
            SQCollector::series(endpoint => 'mutant2', region => 'YY',
                segment => 'p', latencies => [ 0.01 ]) ]);
}

sub received {
    my $m = $c->get('/metrics')->{content};
    my $n = 0;
    $n += $c->metric($m, 'servqual_datagrams_total', result => $_) // 0
        for qw(accepted rejected duplicate);
    return $n;
}

sub send_paced {
    my (@d) = @_;
    while (my @batch = splice(@d, 0, 100)) {
        for (@batch) {
            if (ref $_) { $unix->send($$_) or die "unix send: $!" }
            else        { $c->send($_) }
            $sent++;
        }
        $c->wait_for(sub { received() == $sent }, 60)
            or return 0;
    }
    return 1;
}

# one of each reason

my $valid = mutant_base();
my %crafted = (
    malformed      => "\xc1",
    truncated      => substr($valid, 0, length($valid) - 5),
    trailing_bytes => $valid . "\x00",
    too_deep       => ("\x91" x 40) . "\x01",
    not_a_map      => msgpack_pack([ 1, 2, 3 ]),
    bad_version    => SQCollector::datagram(extra => {
        wire_key('SQ_K_VERSION') => wire_const('SQ_WIRE_VERSION') + 1 }),
    missing_field  => SQCollector::datagram(without => [
        wire_key('SQ_K_SEQ') ]),
    wrong_type     => SQCollector::datagram(extra => {
        wire_key('SQ_K_PID') => 'abc' }),
    oversized      => SQCollector::datagram(node => 'x' x 100),
    bad_label      => SQCollector::datagram(series => [
        SQCollector::series(endpoint => "a\nb", region => 'US',
                            latencies => [ 1 ]) ]),
    bad_histogram  => SQCollector::datagram(series => [
        SQCollector::series(endpoint => 'h', region => 'US',
            counters => { requests => 1 }, hist => [ 5000, 1 ]) ]),
    absurd_count   => SQCollector::datagram(series => [
        SQCollector::series(endpoint => 'h', region => 'US',
            counters => { requests => 1 }, hist => [ 10, 1 << 45 ]) ]),
    bad_window     => SQCollector::datagram(extra => {
        wire_key('SQ_K_WS') => 2_000_000_000_000,
        wire_key('SQ_K_WE') => 1_000_000_000_000 }),
    inconsistent   => SQCollector::datagram(series => [
        SQCollector::series(endpoint => 'h', region => 'US',
            latencies => [ 1 ], counters => { status_5xx => 5 }) ]),
    too_large      => \('x' x 70000),
);

my @all;
for my $round (1 .. 20) {
    push @all, good();
    push @all, $crafted{$_} for sort keys %crafted;
    # random bytes
    for (1 .. 50) {
        push @all, join '', map { chr int rand 256 } 1 .. int rand 600;
    }
    # mutations of valid datagrams: flipped bytes, cut short, spliced
    for (1 .. 100) {
        my $d = mutant_base();
        my $k = 1 + int rand 4;
        substr($d, int rand length $d, 1) = chr int rand 256 for 1 .. $k;
        $d = substr($d, 0, int rand length $d) if rand() < 0.2;
        $d .= substr(mutant_base(), int rand 20) if rand() < 0.1;
        push @all, $d;
    }
    push @all, good() for 1 .. 5;
    # valid traffic over the unix socket too
    push @all, \good() for 1 .. 2;
}

ok(send_paced(@all), "all $sent datagrams were received and counted");
ok($c->alive, 'the collector is still running');

my $m = $c->get('/metrics')->{content};

for my $r (sort keys %crafted) {
    cmp_ok($c->metric($m, 'servqual_datagrams_rejected_total',
                      reason => $r) // 0, '>=', 20,
           "rejected as $r, counted");
}

my $rejected = $c->metric($m, 'servqual_datagrams_total',
                          result => 'rejected');
cmp_ok($rejected, '>=', 20 * (keys(%crafted) + 50),
       "thousands rejected ($rejected)");

is($c->metric($m, 'servqual_requests_total', endpoint => 'steady',
              region => 'US', segment => ''), 10 * $good_seq,
   "the valid traffic is counted exactly ($good_seq datagrams)");

my $q = $c->json('/api/v1/quality?scope=series&endpoint=steady');
is($q->{rows}[0]{windows}{short}{requests}, 10 * $good_seq,
   '/api/v1/quality agrees');

like($c->log_text, qr/rejected a datagram .*: truncated/,
     'rejections are logged');
my @lines = $c->log_text =~ /rejected a datagram .*: truncated/g;
is(scalar @lines, 1, 'at most once a minute per reason');

is($c->json('/healthz')->{status}, 'ok', 'healthy');
is($c->stop, 0, 'clean exit');
unlike($c->log_text, qr/AddressSanitizer|runtime error|LeakSanitizer/,
       'no sanitizer reports');

done_testing;
