#!/usr/bin/perl

# Signed datagrams at the collector: with auth.keys set, datagrams signed
# by either of two keys (a rotation) count; unsigned, forged (a wrong
# secret, an unknown key id, a changed byte), replayed and stale ones are
# rejected and counted by reason before they are decoded, so a forged
# sequence number moves nothing.  Without keys, a sequence number far
# ahead is taken but does not make the worker's next datagrams
# duplicates.  No secret appears in the log.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQCollector;
use SQSign qw(write_key sign_datagram now_ms);


my $c = SQCollector->new;
my @secret = ('A' x 16 . "\x01" x 16, join('', map { chr } 1 .. 32));
my @hex = (write_key("$c->{dir}/k1.key", 1, $secret[0]),
           write_key("$c->{dir}/k2.key", 2, $secret[1]));

$c->write_conf(<<"EOF2");
auth:
  keys: [ $c->{dir}/k1.key, $c->{dir}/k2.key ]
  max_age: 10s
EOF2
$c->start;

my $seq = 0;

sub map_of {
    my (%o) = @_;
    return SQCollector::datagram(node => $o{node} // 'web1', pid => 7,
        seq => $o{seq} // ++$seq,
        series => [ SQCollector::series(endpoint => 'checkout',
            region => 'BR', latencies => [ (0.05) x 10 ],
            counters => { status_2xx => 10 }) ]);
}

sub counts {
    my $m = $c->get('/metrics')->{content};
    my %n = map { $_ => $c->metric($m, 'servqual_datagrams_total',
                                   result => $_) // 0 }
            qw(accepted rejected duplicate);
    $n{$_} = $c->metric($m, 'servqual_datagrams_rejected_total',
                        reason => $_) // 0
        for qw(unsigned bad_mac stale replay);
    $n{lost} = $c->metric($m, 'servqual_datagrams_lost_total') // 0;
    return \%n;
}

sub settle {
    my ($total) = @_;
    $c->wait_for(sub {
        my $n = counts();
        $n->{accepted} + $n->{rejected} + $n->{duplicate} == $total;
    }, 30) or diag explain counts();
}

my $sent = 0;
sub send_all { $c->send(@_); $sent += @_; settle($sent) }

# signed by key 1 and by key 2: both count
my $first = sign_datagram(map_of(), id => 1, secret => $secret[0]);
send_all($first);
send_all(sign_datagram(map_of(), id => 2, secret => $secret[1]));
is counts()->{accepted}, 2, 'datagrams signed by either key are accepted';

# unsigned
send_all(map_of());
is counts()->{unsigned}, 1, 'an unsigned datagram is rejected: unsigned';

# forged: a wrong secret, an unknown key id, a byte of the map changed,
# the time changed after signing
send_all(sign_datagram(map_of(), id => 1, secret => 'x' x 32));
send_all(sign_datagram(map_of(), id => 9, secret => $secret[0]));
{
    my $d = sign_datagram(map_of(), id => 1, secret => $secret[0]);
    substr($d, 20, 1) = chr(ord(substr($d, 20, 1)) ^ 1);
    send_all($d);
    $d = sign_datagram(map_of(), id => 1, secret => $secret[0]);
    substr($d, -16, 8) = pack 'Q>', now_ms() - 1;
    send_all($d);
}
is counts()->{bad_mac}, 4, 'forged datagrams are rejected: bad_mac';

# replayed: the first datagram again, twice
send_all($first, $first);
is counts()->{replay}, 2, 'a replayed datagram is rejected: replay';

# stale: signed 60 s ago, or 60 s ahead of the collector's clock
send_all(sign_datagram(map_of(), id => 1, secret => $secret[0],
                       time => now_ms() - 60_000));
send_all(sign_datagram(map_of(), id => 2, secret => $secret[1],
                       time => now_ms() + 60_000));
is counts()->{stale}, 2, 'a datagram outside max_age is rejected: stale';

# the sequence attack: an unsigned and a forged datagram as worker web1/7
# with seq 2^63; the next genuine ones are neither duplicates nor a loss
send_all(map_of(seq => 1 << 63));
send_all(sign_datagram(map_of(seq => 1 << 63), id => 1, secret => 'y' x 32));
my $before = counts();
send_all(map { sign_datagram(map_of(), id => 1, secret => $secret[0]) }
         1 .. 5);
my $after = counts();
is $after->{accepted} - $before->{accepted}, 5,
    'after a forged seq = 2^63 the genuine datagrams are accepted';
is $after->{duplicate}, 0, 'none of them is a duplicate';
is $after->{lost}, 7, 'the lost count is the rejected genuine numbers only';

is $after->{accepted}, 7, 'accepted: the signed datagrams only';
is $after->{rejected}, 1 + 4 + 2 + 2 + 2, 'rejected: each one counted';

my $m = $c->get('/api/v1/quality')->{content};
like $m, qr/checkout/, 'the signed traffic is in the API';

# a reload keeps the keys and the replay window
$c->signal('HUP');
$c->wait_for(sub { $c->log_text =~ /reloaded/ }, 20);
send_all($first);
is counts()->{replay}, 3, 'a replay is caught after a reload too';

my $log = $c->log_text;
unlike $log, qr/\Q$_\E/i, 'no secret in the log' for @hex;

# a collector without keys: a sequence number far ahead is taken, and
# the worker's next datagrams are neither duplicates nor a loss
{
    my $u = SQCollector->new;
    $u->start;
    my @d = map { SQCollector::datagram(node => 'w', pid => 1, seq => $_,
                      series => [ SQCollector::series(endpoint => 'e',
                          region => 'US', latencies => [ 0.1 ]) ]) }
            1, 2, 1 << 63, 3, 4, 5;
    $u->send(@d);
    $u->wait_for(sub {
        ($u->metric($u->get('/metrics')->{content},
                    'servqual_datagrams_total', result => 'accepted')
         // 0) == 6 }, 30);
    my $um = $u->get('/metrics')->{content};
    is $u->metric($um, 'servqual_datagrams_total', result => 'accepted'), 6,
        'unsigned mode: all six taken';
    is $u->metric($um, 'servqual_datagrams_total', result => 'duplicate'),
        0, 'unsigned mode: no duplicates after a jump to 2^63';
    is $u->metric($um, 'servqual_datagrams_lost_total'), 0,
        'unsigned mode: the jump counts no loss';

    # a signed datagram is taken by a collector without keys
    $u->send(sign_datagram(SQCollector::datagram(node => 'w', pid => 1,
        seq => 6, series => [ SQCollector::series(endpoint => 'e',
        region => 'US', latencies => [ 0.1 ]) ]), id => 1,
        secret => $secret[0]));
    ok $u->wait_for(sub {
        ($u->metric($u->get('/metrics')->{content},
                    'servqual_datagrams_total', result => 'accepted')
         // 0) == 7 }, 30), 'a collector without keys takes signed ones';
    is $u->stop, 0, 'the collector without keys exits cleanly';
}

is $c->stop, 0, 'the collector with keys exits cleanly (no leak)';

done_testing;
