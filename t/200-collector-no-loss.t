#!/usr/bin/perl

# Nothing lost while the collector works (the short version of
# bench/scale.pl): 10,000 live series, 100 a datagram, sent by
# build/sq-loadgen for a few seconds while the collector writes a slot
# every second (1 s slots, storage on), evaluates alerts every second,
# answers scrapes and API calls, and rebuilds its view at a reload
# (SIGHUP) in the middle of it.  The receive thread keeps the sockets
# drained: every datagram sent is accepted, with no sequence gap, no
# kernel receive-buffer drop (SO_RXQ_OVFL, read back per listener) and
# no ingest-queue overflow, and the receive-buffer size is the one
# listen.receive_buffer_mb asks for.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use SQProc qw(repo_root spawn_to);
use Test::More;
use Time::HiRes qw(sleep time);

my $loadgen = repo_root() . '/build/sq-loadgen';
plan skip_all => "$loadgen missing (make build/sq-loadgen)" unless -x $loadgen;

my $c = SQCollector->new(listen => { receive_buffer_mb => 4, queue_mb => 64 },
    extra => <<"YAML");
windows: { slot: 1s, short: 3s, long: 12s }
limits:
  max_series: 20000
alerts:
  interval: 1s
metrics:
  series: false
YAML

$c->start;

sub metrics { $c->get('/metrics')->{content} }
sub mv { my ($t, @a) = @_; $c->metric($t, @a) // 0 }

my $before = metrics();
my $listen = "udp://127.0.0.1:$c->{udp}";

is(mv($before, 'servqual_receive_buffer_drops_total', listen => $listen), 0,
   'the listener reports its kernel drops, none yet');
is(mv($before, 'servqual_ingest_queue_bytes', of => 'capacity'), 64 << 20,
   'the queue has the size listen.queue_mb gives');

# 100 workers x 100 series = 10,000 series, 1,500 datagrams/s for 6 s

my $out = "$c->{dir}/loadgen.out";
my $pid = spawn_to($out, $loadgen, '-a', "127.0.0.1:$c->{udp}",
                   '-w', 100, '-s', 100, '-u', 10000,
                   '-r', 1500, '-d', 6, '-g');

# work on the loop while the datagrams come: scrapes, API calls, and a
# reload (which builds the view at once) in the middle
my $t0 = time;
my $reloaded = 0;
while (waitpid($pid, 1) == 0) {    # WNOHANG
    $c->get('/metrics');
    $c->get('/api/v1/quality');
    if (!$reloaded && time - $t0 > 3) {
        $c->signal('HUP');
        $reloaded = 1;
    }
    sleep 0.2;
}
is($?, 0, 'sq-loadgen ran');

my $text = do { local (@ARGV, $/) = $out; <> };
my ($sent) = $text =~ /^sent (\d+) datagrams/m;
ok($sent && $sent > 4000, "sq-loadgen sent $sent datagrams") or diag($text);

# the queue is merged after the load: wait for it to be empty
my $after;
$c->wait_for(sub {
    $after = metrics();
    mv($after, 'servqual_datagrams_total', result => 'accepted') >= $sent
        && mv($after, 'servqual_ingest_queue_datagrams') == 0;
}, 60);

is(mv($after, 'servqual_datagrams_total', result => 'accepted'), $sent,
   'every datagram sent was accepted');
is(mv($after, 'servqual_ingest_queue_received_total'), $sent,
   'the receive thread read every one');
is(mv($after, 'servqual_datagrams_lost_total'), 0, 'no sequence gap');
is(mv($after, 'servqual_receive_buffer_drops_total', listen => $listen), 0,
   'no kernel receive-buffer drop');
is(mv($after, 'servqual_ingest_queue_overflow_total'), 0,
   'no ingest-queue overflow');
is(mv($after, 'servqual_lost_requests_total', cause => $_), 0,
   "no request lost ($_)") for qw(source transit collector);
is(mv($after, 'servqual_series'), 10000, '10,000 live series');

# the periodic work did run while the datagrams came
cmp_ok(mv($after, 'servqual_storage_writes_total')
       - mv($before, 'servqual_storage_writes_total'), '>=', 4,
       'slots were written during the load');
cmp_ok(mv($after, 'servqual_alert_evaluations_total')
       - mv($before, 'servqual_alert_evaluations_total'), '>=', 4,
       'alerts were evaluated during the load');
cmp_ok(mv($after, 'servqual_view_builds_total')
       - mv($before, 'servqual_view_builds_total'), '>=', 4,
       'views were built during the load');
is(mv($after, 'servqual_config_reloads_total', result => 'ok'), 1,
   'the reload in the middle succeeded');
cmp_ok(mv($after, 'servqual_ingest_queue_bytes', of => 'peak'), '>', 0,
       'the queue held datagrams');

# SO_RCVBUF: the kernel doubles what is asked (SO_RCVBUFFORCE as root)
SKIP: {
    skip 'not root, or no ss', 1 if $> != 0 || !`ss -V 2>/dev/null`;
    my $ss = `ss -uanm 'sport = :$c->{udp}'`;
    my ($rb) = $ss =~ /\brb(\d+)/;
    is($rb, 2 * (4 << 20), 'the receive buffer listen.receive_buffer_mb '
       . 'asks for') or diag($ss);
}

is($c->stop, 0, 'clean exit');
unlike($c->log_text, qr/ERROR|AddressSanitizer|runtime error/,
       'no error logged') or diag($c->log_text);

done_testing;
