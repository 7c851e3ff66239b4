#!/usr/bin/perl

# Slot writes are the storage thread's ("sq-storage", a connection of its
# own): while a slot's transaction is held open before its commit
# (SERVQUAL_TEST_STORE_HOLD: while the file exists), the event loop goes
# on: datagrams are accepted and counted, /metrics and /healthz answer at
# once, the slots wait as pending.  On a collector that wrote on the loop
# every answer would wait for the commit.  Once released, the rows hold
# exactly what was sent.  A kill -9 in the middle of a held write loses
# nothing: the ingest log's stored position moves only after the commit,
# so the restart replays the datagrams of the slots not committed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep time);

use SQCollector;

plan skip_all => 'no sqlite3 command' unless `sqlite3 -version 2>/dev/null`;

my $c = SQCollector->new(windows => '{ slot: 1s, short: 1m, long: 10m }');
my $hold = "$c->{dir}/hold";
$ENV{SERVQUAL_TEST_STORE_HOLD} = $hold;
$c->start;

like $c->log_text, qr/slot writes are held before their commit while "\Q$hold\E" exists/,
     'the test knob is announced';

my (%names, $nice);
for my $t (glob "/proc/$c->{pid}/task/*/comm") {
    open my $f, '<', $t or next;
    chomp(my $n = <$f> // '');
    $names{$n}++;
    next unless $n eq 'sq-storage';
    (my $stat = $t) =~ s/comm$/stat/;
    open my $s, '<', $stat or next;
    my $line = <$s> // '';
    # the fields after the command's closing parenthesis; nice is 19th
    my @f = split ' ', substr($line, rindex($line, ')') + 2);
    $nice = $f[16];
}
is $names{'sq-storage'}, 1, 'one storage thread, named sq-storage ('
   . join(', ', sort keys %names) . ')';
is $nice, 10, 'it runs at nice 10: the merge has the core first';

my $seq = 0;
my $sent = 0;

sub traffic {
    my ($n) = @_;
    $c->send(SQCollector::datagram(seq => ++$seq, series => [
        SQCollector::series(endpoint => 'api', region => 'US',
            latencies => [ (0.05) x $n ], counters => { status_2xx => $n }),
    ]));
    $sent += $n;
}

sub mv {
    my ($name, %l) = @_;
    return $c->metric($c->get('/metrics')->{content}, $name, %l);
}

sub stored {
    my $db = "$c->{dir}/servqual.db";
    return `sqlite3 '$db' -cmd '.timeout 2000' 'SELECT coalesce(sum(requests), 0) FROM rollups'` + 0;
}

traffic(10);
ok $c->wait_for(sub { (mv('servqual_storage_writes_total') // 0) > 0
                      && stored() == $sent }, 10),
   'slots are written';
my $prep = mv('servqual_storage_prepare_seconds');
ok defined $prep && $prep >= 0 && $prep < 0.5,
   "the loop's part of a slot write is exported ($prep s)";

# the next slot's write waits before its commit

open my $f, '>', $hold or die "$hold: $!";
close $f;

my $writes = mv('servqual_storage_writes_total');
my $before = $sent;
my ($slowest, $answers, $advanced) = (0, 0, 0);
my $accepted = mv('servqual_datagrams_total', result => 'accepted');
my $accepted0 = $accepted;
my $t0 = time;

while (time < $t0 + 5) {
    traffic(5);
    sleep 0.2;

    my $t = time;
    my $m = $c->get('/metrics');
    my $h = $c->get('/healthz');
    my $d = time - $t;
    $slowest = $d if $d > $slowest;
    $answers++ if $m->{status} == 200 && $h->{status} == 200;

    my $a = $c->metric($m->{content}, 'servqual_datagrams_total',
                       result => 'accepted');
    $advanced++ if $a > $accepted;
    $accepted = $a;
}

is $answers, 25, 'every /metrics and /healthz answered while writes were '
   . 'held';
cmp_ok $slowest, '<', 0.5, sprintf('the slowest pair of answers took '
       . '%.0f ms', $slowest * 1000);
cmp_ok $advanced, '>=', 15, "the accepted count went on advancing "
       . "($advanced of 25 samples)";
ok $c->wait_for(sub { mv('servqual_datagrams_total', result => 'accepted')
                      == $accepted0 + 25 }, 5),
   'each datagram sent while held was accepted and counted';
cmp_ok mv('servqual_storage_slots_pending'), '>=', 3,
   'the slots wait as pending: ' . mv('servqual_storage_slots_pending');
cmp_ok mv('servqual_storage_writes_total'), '<=', $writes + 1,
   'no write committed while held (one may have begun before)';
cmp_ok stored(), '<=', $before, 'the rows held back are not in the '
       . 'database: ' . stored() . " of $sent requests";
is mv('servqual_requests_total', endpoint => 'api', region => 'US') // 0,
   $sent, 'in memory every request is counted'
   if defined mv('servqual_requests_total', endpoint => 'api',
                 region => 'US');

# released: the pending slots are written, every request stored

unlink $hold;

ok $c->wait_for(sub { mv('servqual_storage_slots_pending') == 0
                      && stored() == $sent }, 20),
   "released, the pending slots are written: $sent requests stored"
   or diag 'stored: ' . stored();
is mv('servqual_lost_requests_total', cause => 'collector'), 0,
   'nothing lost inside the collector';

# kill -9 while a slot's write is held: the restart replays what was not
# committed, and stores it

open $f, '>', $hold or die "$hold: $!";
close $f;

$t0 = time;
while (time < $t0 + 3) {
    traffic(7);
    sleep 0.1;
}

ok $c->wait_for(sub { mv('servqual_storage_slots_pending') >= 2 }, 10),
   'a write is held and slots wait';
cmp_ok stored(), '<', $sent, 'at the kill the database lacks requests: '
       . stored() . " of $sent";

$c->signal('KILL');
$c->wait_for(sub { !$c->alive }, 30);
delete $c->{pid};
unlink $hold;
$c->start;

like $c->log_text, qr/(\d+) datagrams replayed from the ingest log/,
     'the restart replays the ingest log';
ok $c->wait_for(sub { stored() == $sent
                      && mv('servqual_storage_slots_pending') == 0 }, 20),
   "after the restart every request is stored: $sent"
   or diag 'stored: ' . stored();
is mv('servqual_lost_requests_total', cause => 'collector'), 0,
   'nothing lost inside the collector';
is mv('servqual_counted_requests_total'), $sent,
   "counted $sent, each request once";

is $c->stop, 0, 'clean exit';
unlike $c->log_text, qr/AddressSanitizer|runtime error/,
       'no sanitizer report';

done_testing;
