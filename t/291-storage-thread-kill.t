#!/usr/bin/perl

# Counts stay exact when the collector dies in the middle of a slot
# write on the storage thread: nginx under load, the slot writes held
# open before their commit (SERVQUAL_TEST_STORE_HOLD) for a few slots,
# the collector killed (-9) with a transaction open and slots pending;
# after the restart servqual_counted_requests_total plus
# sum(servqual_lost_requests_total) equals the lines of nginx's access
# log, exactly, nothing lost to the collector, and after a clean stop the
# database's rows hold every request counted.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);

use SQCollector;
use SQLoss qw(start_load stop_load served collector_totals reconcile);
use SQNginx qw(start_nginx reload_nginx stop_nginx);

plan skip_all => 'no sqlite3 command' unless `sqlite3 -version 2>/dev/null`;

my $c = SQCollector->new(windows => '{ slot: 1s, short: 2m, long: 10m }');
my $hold = "$c->{dir}/hold";

$ENV{SERVQUAL_TEST_STORE_HOLD} = $hold;
$c->start;

start_nginx(<<'EOF2', workers => 2, vars => { COLL => $c->{udp} });
    servqual_collector 127.0.0.1:%%COLL%% flush=100ms node=storekill;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location / {
            return 200 "ok\n";
        }
    }
EOF2

sub mv {
    my ($name, %l) = @_;
    return $c->metric($c->get('/metrics')->{content}, $name, %l);
}

sub stored {
    my $db = "$c->{dir}/servqual.db";
    return `sqlite3 '$db' -cmd '.timeout 2000' 'SELECT coalesce(sum(requests), 0) FROM rollups'` + 0;
}

my $load = start_load(clients => 4);
sleep 1.5;

ok $c->wait_for(sub { (mv('servqual_storage_writes_total') // 0) > 0 }, 10),
   'slots are written under load';

# the writes held: the slots that end pile up, one transaction open

open my $f, '>', $hold or die "$hold: $!";
close $f;

ok $c->wait_for(sub { mv('servqual_storage_slots_pending') >= 3 }, 15),
   'slots pending behind a held write: '
   . mv('servqual_storage_slots_pending');

my $t0 = collector_totals($c);
my $unstored = $t0->{total} - stored();
cmp_ok $unstored, '>', 100, "$unstored requests counted and not in the "
       . 'database at the kill';

$c->signal('KILL');
$c->wait_for(sub { !$c->alive }, 30);
delete $c->{pid};
unlink $hold;
sleep 0.5;
$c->start;

like $c->log_text, qr/datagrams replayed from the ingest log/,
     'the restart replays the ingest log';

sleep 1;
stop_load($load);
reload_nginx();

my ($n, $t) = reconcile($c, 30);

ok $n > 1000, "nginx served $n requests";
is $t->{total} + $t->{lost}, $n,
   "counted $t->{total} + lost $t->{lost} (source $t->{source}, "
   . "transit $t->{transit}, collector $t->{collector}) = served";
is $t->{collector}, 0, 'nothing lost to the collector';

is $c->stop, 0, 'the collector stops cleanly';
is stored(), $t->{total}, "the database's rows hold every request "
   . "counted ($t->{total})";
unlike $c->log_text, qr/AddressSanitizer|runtime error/,
       'no sanitizer report';

stop_nginx();

done_testing;
