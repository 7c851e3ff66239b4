#!/usr/bin/perl

# A disk that stalls does not stop the sockets being read.  With storage
# on, every datagram is written to the ingest log before it is merged
# (a kill loses nothing the log has).  The receive thread used to write
# it itself, and a write to a file waits on the file system's journal
# while the disk stalls: the thread stopped reading, the socket's buffer
# filled, and the kernel dropped the rest.  Now a log thread of its own
# writes it, and the receive thread goes on reading into the queue.
#
# Here the log thread is held as if the disk stalled
# (SERVQUAL_TEST_LOG_HOLD: while the file exists) for 2 s while 600
# datagrams/s of 100 series (7 KB each) arrive at a socket whose receive
# buffer holds about 1 MB (a blocked reader drops within 0.3 s): the
# datagrams are read and wait in the queue, unlogged, nothing is merged
# meanwhile and HTTP is answered; afterwards every datagram sent was
# accepted, none lost, none dropped by the kernel.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use SQProc qw(repo_root spawn_to loadgen_sent);
use Test::More;
use Time::HiRes qw(sleep time);

my $loadgen = repo_root() . '/build/sq-loadgen';
plan skip_all => "$loadgen missing (make build/sq-loadgen)" unless -x $loadgen;

my $c = SQCollector->new(listen => { receive_buffer_mb => 1, queue_mb => 64 },
    extra => <<"YAML");
metrics:
  series: false
YAML
my $hold = "$c->{dir}/log.hold";
$ENV{SERVQUAL_TEST_LOG_HOLD} = $hold;

$c->start;

sub metrics { $c->get('/metrics')->{content} // '' }
sub mv { my ($t, @a) = @_; $c->metric($t, @a) // 0 }

# 20 workers x 100 series, 600 datagrams/s for 5 s

my $out = "$c->{dir}/loadgen.out";
my $pid = spawn_to($out, $loadgen, '-a', "127.0.0.1:$c->{udp}",
                   '-w', 20, '-s', 100, '-u', 2000,
                   '-r', 600, '-d', 5, '-g');

sleep 1;
my $m = metrics();
ok mv($m, 'servqual_datagrams_total', result => 'accepted') > 100,
   'datagrams are being merged';

open my $h, '>', $hold or die "$hold: $!";
close $h;
sleep 0.3;

# the stall: read, queued unlogged, not merged; HTTP answered

my $m0 = metrics();
my $t0 = time;
sleep 2;
my $t1 = time;
my $m1 = metrics();
my $asked = time - $t1;

my $read = mv($m1, 'servqual_ingest_queue_received_total')
         - mv($m0, 'servqual_ingest_queue_received_total');
my $merged = mv($m1, 'servqual_datagrams_total', result => 'accepted')
           - mv($m0, 'servqual_datagrams_total', result => 'accepted');
my $unlogged = mv($m1, 'servqual_ingest_queue_unlogged_datagrams');

ok $read >= 0.8 * 600 * ($t1 - $t0),
   sprintf '%d datagrams read from the socket in %.1f s of the stall',
           $read, $t1 - $t0;
ok $unlogged > 0 && $unlogged >= $read,
   "$unlogged wait in the queue, not yet logged";
is $merged, 0, 'none merged before it is logged';
ok $asked < 1, sprintf 'and /metrics answered in %.2f s', $asked;

unlink $hold;

my $sent = loadgen_sent($pid, $out);
ok $sent && $sent > 2000, "sq-loadgen sent $sent datagrams";

my $accepted;
($accepted, $m) = $c->wait_accepted($sent);

is $accepted, $sent, 'the disk back: every datagram sent was accepted';
is mv($m, 'servqual_ingest_queue_unlogged_datagrams'), 0,
   'and logged';
is mv($m, 'servqual_datagrams_lost_total'), 0, 'no sequence gap';
is mv($m, 'servqual_receive_buffer_drops_total'), 0,
   'no drop by the kernel';
is mv($m, 'servqual_ingest_queue_overflow_total'), 0, 'no queue overflow';

# what was logged during the stall is in the log: a kill -9 and a start
# replay it, and the count goes on from there

my $before = mv($m, 'servqual_counted_requests_total');
$c->signal('KILL');
$c->wait_for(sub { !$c->alive }, 30);
delete $c->{pid};
$c->start;

my $after = 0;
for (1 .. 50) {
    $after = mv(metrics(), 'servqual_counted_requests_total');
    last if $after >= $before;
    sleep 0.2;
}
is $after, $before, "after kill -9 and a start the count is whole ($after)";

is $c->stop, 0, 'the collector stops cleanly';

done_testing;
