#!/usr/bin/perl

# Windows by the time requests were served: a datagram is filed into the
# slot that holds the end of its window ("we"), not the slot it arrived
# in.  A datagram of the previous slot arriving after the boundary, after
# that slot was written to SQLite, lands in that slot's row (the slot is
# written again); one that a second worker's datagram of the new slot
# came before lands there too, and a kill -9 and the replay of the ingest
# log do not count it twice.  Windows far ahead of the collector's clock
# or far behind it are filed by receive time and counted in
# servqual_datagrams_refiled_total{reason}.  With real nginx, per-slot
# counts in SQLite equal per-slot counts of its access log over a run
# that crosses slot boundaries.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX qw(floor);
use Test::More;
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

use SQCollector;
use SQLoss qw(start_load stop_load served);
use SQNginx qw(start_nginx stop_nginx);
use SQProc qw(prefix);

plan skip_all => 'no sqlite3 command' unless `sqlite3 -version 2>/dev/null`;

my $SLOT = 5;
my $c = SQCollector->new(windows => "{ slot: ${SLOT}s, short: 2m, "
                                    . "long: 10m }");
$c->start;
my $db = "$c->{dir}/servqual.db";

# requests per stored slot of an endpoint: { t => requests }
sub rows {
    my ($endpoint) = @_;
    my %r;
    for (`sqlite3 '$db' "SELECT r.t, sum(r.requests) FROM rollups r JOIN series s ON s.id = r.series WHERE s.endpoint = '$endpoint' GROUP BY r.t"`) {
        $r{$1} = $2 if /^(\d+)\|(\d+)$/;
    }
    return \%r;
}

sub dg {
    my (%a) = @_;
    my $we = $a{we} // int(time * 1000);
    return SQCollector::datagram(node => 'served', pid => $a{pid},
        seq => $a{seq}, cr => $a{cr} // 0,
        extra => { ws => $we - 500, we => $we },
        series => [ SQCollector::series(endpoint => $a{endpoint},
                                        region => 'US',
                                        latencies => [ (0.05) x $a{n} ]) ]);
}

# wait until $off seconds into the next slot; returns that slot's start
sub next_slot {
    my ($off) = @_;
    my $now = time;
    my $start = (floor($now / $SLOT) + 1) * $SLOT;
    sleep $start + $off - $now;
    return $start;
}

sub refiled {
    my ($reason) = @_;
    return $c->metric($c->get('/metrics')->{content},
                      'servqual_datagrams_refiled_total', reason => $reason);
}

# -- a datagram of the previous slot, after that slot was written

my $p = next_slot(0.5);
$c->send(dg(pid => 1, seq => 1, n => 5, endpoint => '/late'));
my $q = next_slot(2.5);

ok $c->wait_for(sub { rows('/late')->{$p} }, 10),
   'the first slot is written once it is over';
is rows('/late')->{$p}, 5, 'with its 5 requests';

$c->send(dg(pid => 1, seq => 2, n => 7, cr => 5, endpoint => '/late',
            we => $p * 1000 + 4000));
$c->send(dg(pid => 1, seq => 3, n => 11, cr => 12, endpoint => '/late'));

ok $c->wait_for(sub { (rows('/late')->{$p} // 0) == 12 }, 10),
   'a datagram of the previous slot, received 2.5 s after it ended and '
   . 'after it was written: its 7 requests are in that slot\'s row';
ok $c->wait_for(sub { (rows('/late')->{$q} // 0) == 11 }, 2 * $SLOT + 5),
   'the datagram of the new slot is in the new slot';
is refiled($_), 0, "nothing refiled ($_)" for qw(skew late order);

# -- a new slot began with another worker's datagram; then a datagram of
#    the slot before it, and a kill -9 before anything is written again

$p = next_slot(0.3);
$c->send(dg(pid => 2, seq => 1, n => 3, endpoint => '/order',
            we => $p * 1000 - 200));
$q = next_slot(0.2);
$c->send(dg(pid => 3, seq => 1, n => 4, endpoint => '/order'));
$c->send(dg(pid => 2, seq => 2, n => 6, cr => 3, endpoint => '/order',
            we => $q * 1000 - 100));
sleep 0.3;
$c->signal('KILL');
$c->wait_for(sub { !$c->alive }, 30);
delete $c->{pid};
$c->start;
next_slot(2);

is_deeply rows('/order'), { $p - $SLOT => 3, $p => 6, $q => 4 },
    'after a kill -9 and the ingest log replayed: each datagram in the '
    . 'slot of its window, none counted twice';
my $m = $c->get('/metrics')->{content};
my $total = 0;
for (split /\n/, $m) {
    $total += $1 if /^servqual_requests_total\{endpoint="\/order".*\} (\d+)$/;
}
is $total, 13, 'servqual_requests_total counts them once';

# -- far ahead and far behind: filed by receive time, counted

my $now = int(time);
$c->send(dg(pid => 4, seq => 1, n => 2, endpoint => '/skew',
            we => ($now + 3600) * 1000));
$c->send(dg(pid => 4, seq => 2, n => 3, cr => 2, endpoint => '/skew',
            we => ($now - 3600) * 1000));
ok $c->wait_for(sub { (refiled('skew') // 0) == 1
                      && (refiled('late') // 0) == 1 }, 10),
   'a window an hour ahead counted as skew, one an hour behind as late';
my $r;
$c->wait_for(sub {
    $r = $c->row($c->json('/api/v1/quality'), scope => 'endpoint',
                 endpoint => '/skew');
    $r && $r->{windows}{short}{requests} == 5
}, 10);
is $r && $r->{windows}{short}{requests}, 5,
   'both in the short window: filed by receive time, not dropped';

# -- real nginx: per-slot counts of the access log equal the rows

start_nginx(<<'EOF', workers => 2, vars => { COLL => $c->{udp} });
    servqual_collector 127.0.0.1:%%COLL%% flush=100ms node=served;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location /n {
            return 200 "ok\n";
        }
    }
EOF

# load in the middle of each slot, none within a flush of a boundary, so
# that no worker's window straddles one (such a window goes whole to the
# slot of its end, which the access log would not match)
my @slots;
for (1 .. 3) {
        push @slots, next_slot(0.5);
    my $l = start_load(clients => 2, path => '/n', perl => 1);
    sleep $SLOT - 3;
    stop_load($l);
}
my $last = next_slot(2);

my %log;
{
    open my $f, '<', prefix() . '/logs/access.log' or die $!;
    my %mon;
    @mon{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = 0 .. 11;
    while (<$f>) {
        next unless m{\[(\d+)/(\w+)/(\d+):(\d+):(\d+):(\d+) ([-+]\d\d)(\d\d)\]};
        my $t = timegm($6, $5, $4, $1, $mon{$2}, $3)
                - ($7 * 3600 + ($7 < 0 ? -1 : 1) * $8 * 60);
        $log{ $t - $t % $SLOT }++;
    }
}
ok scalar(keys %log) >= 3, 'the load crossed slot boundaries: '
                           . join(' ', map { "$_:$log{$_}" } sort keys %log);
ok $c->wait_for(sub { is_same(rows('/n'), \%log) }, 2 * $SLOT + 5),
   'per-slot requests in SQLite equal the access log\'s per slot'
    or diag explain { rows => rows('/n'), log => \%log };

sub is_same {
    my ($a, $b) = @_;
    return 0 unless keys %$a == keys %$b;
    for (keys %$b) {
        return 0 unless ($a->{$_} // -1) == $b->{$_};
    }
    return 1;
}

stop_nginx();
is $c->stop, 0, 'the collector stops cleanly';
unlike $c->log_text, qr/AddressSanitizer|runtime error/, 'no sanitizer report';

done_testing;
