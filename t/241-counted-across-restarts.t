#!/usr/bin/perl

# Every request counted or reported lost over a run longer than the long
# window: after a restart servqual_requests_total starts again from the
# rollups inside the long window, so it falls short of what nginx served;
# servqual_counted_requests_total is kept like the loss counters (stored
# with them, restored, the ingest log replayed on top), so it plus
# sum(servqual_lost_requests_total) equals the lines of nginx's access
# log, exactly, through a kill (SIGKILL) and a stop (SIGTERM).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);

use SQCollector;
use SQLoss qw(start_load stop_load served collector_totals reconcile
              outage);
use SQNginx qw(start_nginx reload_nginx stop_nginx);


my $c = SQCollector->new(windows => '{ slot: 1s, short: 3s, long: 6s }');
$c->start;

start_nginx(<<'EOF2', workers => 2, vars => { COLL => $c->{udp} });
    servqual_collector 127.0.0.1:%%COLL%% flush=100ms node=inv;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location / {
            return 200 "ok\n";
        }
    }
EOF2

# about 16 s of load: well past the long window (6 s) before the last
# restart, so the rollups of the first seconds are outside it

my $load = start_load(clients => 2);
sleep 4;
outage($c, 'KILL', 1);
sleep 4;
reload_nginx();
sleep 1;
outage($c, 'TERM', 1);
sleep 5;
stop_load($load);

# the running workers say what they have at their next flush; the last
# restart after it all: a kill, the state and the ingest log read back
sleep 1;
outage($c, 'KILL', 0.5);
reload_nginx();

my ($n, $t) = reconcile($c, 30);

ok $n > 200, "nginx served $n requests";
ok $t && defined $t->{total}, 'the collector exports '
   . 'servqual_counted_requests_total';
is $t->{total} + $t->{lost}, $n,
   "servqual_counted_requests_total $t->{total} + lost $t->{lost} (source "
   . "$t->{source}, transit $t->{transit}, collector $t->{collector}) "
   . "= served";
cmp_ok $t->{counted} + $t->{lost}, '<', $n,
   "sum(servqual_requests_total) $t->{counted} + lost falls short after "
   . 'a restart past the long window: why the counter exists';
cmp_ok $t->{counted}, '<', $t->{total},
   'the series totals hold only the long window since the restart';

# a restart does not count anything twice or forget anything

$c->stop;
$c->start;
my $again = collector_totals($c);
is $again->{total}, $t->{total}, 'the same total after a clean restart';
is $again->{lost}, $t->{lost}, 'the same loss after a clean restart';

stop_nginx();
is $c->stop, 0, 'the collector stops cleanly';
unlike $c->log_text, qr/AddressSanitizer|runtime error/, 'no sanitizer report';

done_testing;
