#!/usr/bin/perl

# Nothing the collector read dies with it: the receive thread appends each
# datagram to the ingest log before it queues it, so a kill -9 while the
# queue holds a backlog loses only what the kernel still held.  Merging is
# held back (SERVQUAL_TEST_MERGE_HOLD) while nginx is under load, the
# collector is killed with the backlog queued, and after the restart
# sum(servqual_requests_total) + sum(servqual_lost_requests_total) equals
# the lines of nginx's access log, exactly, with (almost) nothing lost to
# the collector.  Datagrams rejected before the kill are rejected once
# after it, and a clean restart replays nothing.  Then the queue's memory:
# a burst makes the ring resident, and its pages are given back once the
# burst is merged.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);

use SQCollector;
use SQLoss qw(start_load stop_load served collector_totals reconcile);
use SQNginx qw(start_nginx reload_nginx stop_nginx);


my $c = SQCollector->new(windows => '{ slot: 2s, short: 2m, long: 10m }');
my $hold = "$c->{dir}/hold";

$ENV{SERVQUAL_TEST_MERGE_HOLD} = $hold;
$c->start;

like $c->log_text, qr/merging is held while "\Q$hold\E" exists/,
     'the test knob is announced';

start_nginx(<<'EOF2', workers => 2, vars => { COLL => $c->{udp} });
    servqual_collector 127.0.0.1:%%COLL%% flush=100ms node=backlog;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location / {
            return 200 "ok\n";
        }
    }
EOF2

sub rejected {
    my $m = $c->get('/metrics')->{content};
    my $n = 0;
    $n += $_ for $m =~ /^servqual_datagrams_rejected_total\{.*\} (\d+)$/mg;
    return $n;
}

sub replays {
    my @l = $c->log_text =~ /(\d+) datagrams replayed from the ingest log/g;
    return @l;
}

my $load = start_load(clients => 4);
sleep 1;

# merging held: what arrives from here on waits in the queue

open my $f, '>', $hold or die "$hold: $!";
close $f;
sleep 0.3;

my $bad = 25;
$c->send("not a datagram $_") for 1 .. $bad;
sleep 2;

my $m = $c->get('/metrics')->{content};
my $queued = $c->metric($m, 'servqual_ingest_queue_datagrams');
my $t0 = collector_totals($c);
my $held = served() - $t0->{total};

cmp_ok $queued, '>', $bad + 20, "the queue holds a backlog: $queued "
       . "datagrams";
cmp_ok $held, '>', 1000, "$held requests served and not counted at the "
       . 'kill (what a collector without the log would lose)';
is rejected(), 0, 'nothing rejected yet: the bad datagrams wait too';

$c->signal('KILL');
$c->wait_for(sub { !$c->alive }, 30);
delete $c->{pid};
unlink $hold;
sleep 1;
$c->start;

my @r = replays();
is scalar(@r), 1, 'one replay at the restart';
cmp_ok $r[0] // 0, '>=', $queued, "$r[0] datagrams replayed: the backlog "
       . 'with them';
$c->wait_for(sub { rejected() >= $bad }, 10);
is rejected(), $bad, "the $bad bad datagrams rejected once, after the "
   . 'kill as they would have been before it';

sleep 1;
stop_load($load);
reload_nginx();

my ($n, $t) = reconcile($c, 30);

ok $n > 1000, "nginx served $n requests";
is $t->{total} + $t->{lost}, $n,
   "counted $t->{total} + lost $t->{lost} (source $t->{source}, "
   . "transit $t->{transit}, collector $t->{collector}) = served";
is $t->{counted}, $t->{total},
   'inside the long window it is the sum of servqual_requests_total';
cmp_ok $t->{collector}, '<', $held / 10,
   "lost to the collector: $t->{collector} requests, of $held queued or "
   . 'unsent at the kill';

# a clean restart: everything stored, nothing replayed or counted twice

is $c->stop, 0, 'the collector stops cleanly';
$c->start;

my $again = collector_totals($c);
is scalar(replays()), 1, 'nothing replayed after a clean stop';
is $again->{total}, $t->{total}, 'the same total after a clean restart';
is $again->{lost}, $t->{lost}, 'the same loss after a clean restart';
is rejected(), 0, 'no rejection counted again';

stop_nginx();

# the ring's memory: a burst of 4,000 datagrams of 8,000 bytes (32 MB)
# held in the queue, then merged (rejected); the pages past the first
# 4 MB are given back

sub rss_kb {
    open my $s, '<', "/proc/$c->{pid}/status" or return 0;
    my ($kb) = join('', <$s>) =~ /^VmRSS:\s+(\d+) kB/m;
    return $kb // 0;
}

sub queue {
    my ($of) = @_;
    return $c->metric($c->get('/metrics')->{content},
                      'servqual_ingest_queue_bytes', of => $of);
}

open $f, '>', $hold or die "$hold: $!";
close $f;
sleep 0.3;

my $rss0 = rss_kb();
my $chunk = 'x' x 8000;
for my $i (1 .. 4000) {
    $c->send($chunk);
    sleep 0.01 if $i % 100 == 0;
}

ok $c->wait_for(sub { queue('used') > 30e6 }, 30),
   'the burst is queued: ' . queue('used') . ' bytes';

my $rss1 = rss_kb();
unlink $hold;

ok $c->wait_for(sub { queue('used') == 0 }, 60), 'the burst is merged';

my $rss2 = rss_kb();
my $released = $c->metric($c->get('/metrics')->{content},
                          'servqual_ingest_queue_released_bytes_total');

cmp_ok $released, '>', 24e6, "$released bytes of the queue given back";
cmp_ok $rss1 - $rss2, '>', 20e3, "resident: $rss0 kB before the burst, "
       . "$rss1 kB with it queued, $rss2 kB once it is merged";

is $c->stop, 0, 'the collector stops cleanly';
unlike $c->log_text, qr/AddressSanitizer|runtime error|ThreadSanitizer/,
       'no sanitizer report';

done_testing;
