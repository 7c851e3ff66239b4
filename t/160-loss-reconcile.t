#!/usr/bin/perl

# Every request counted or reported lost: nginx with two workers under
# load, reloaded while it runs (once while its collector is away), its
# collector killed (SIGKILL) and stopped (SIGTERM) and started again; then sum(servqual_requests_total) +
# sum(servqual_lost_requests_total) equals the lines of nginx's access
# log, exactly, and the loss is small.  Also: a datagram of wire version 1
# is still taken.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);

use SQCollector;
use SQLoss qw(start_load stop_load served collector_totals reconcile
              outage);
use SQNginx qw(start_nginx reload_nginx stop_nginx error_log_since);


my $c = SQCollector->new(windows => '{ slot: 2s, short: 2m, long: 10m }');
$c->start;

start_nginx(<<'EOF', workers => 2, vars => { COLL => $c->{udp} });
    servqual_collector 127.0.0.1:%%COLL%% flush=100ms node=loss;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location / {
            return 200 "ok\n";
        }
    }
EOF

my $load = start_load(clients => 4);
sleep 1;
reload_nginx();
sleep 0.5;
outage($c, 'KILL', 1.5);
sleep 1;
reload_nginx();
sleep 0.5;
outage($c, 'TERM', 1);
sleep 1;

# a reload while the collector is away: the retired workers leave what
# they could not send in a spool file, the new ones send it
$c->stop;
reload_nginx();
sleep 0.5;
$c->start;
sleep 1.5;
stop_load($load);

# the retired workers said all at their exit; the running ones say what
# they have at their next flush; a last reload makes them exit too
reload_nginx();

my ($n, $t) = reconcile($c, 30);

ok $n > 500, "nginx served $n requests";
ok $t, 'the collector answers';
is $t->{counted} + $t->{lost}, $n,
   "counted $t->{counted} + lost $t->{lost} (source $t->{source}, "
   . "transit $t->{transit}, collector $t->{collector}) = served";
is $t->{total} + $t->{lost}, $n,
   "servqual_counted_requests_total $t->{total} + lost = served";
is $t->{total}, $t->{counted},
   'inside the long window it is the sum of servqual_requests_total';
like error_log_since(0), qr/servqual: \d+ bytes of datagrams adopted from/,
     'a spool file was adopted';
ok $t->{lost} < 0.03 * $n,
   sprintf('the loss is small: %.2f %% of the requests (the workers '
           . 'kept what the collector could not take)', 100 * $t->{lost} / $n);

# a version 1 datagram (docs/wire-format.md) is still taken

my $before = collector_totals($c);
my @v1;
{
    open my $f, '<', "$FindBin::Bin/../docs/wire-format.md" or die $!;
    local $/;
    my $doc = <$f>;
    push @v1, map { s/\s+//gr } $doc =~ /```hex-v1\n(.*?)```/sg;
}
is scalar(@v1), 2, 'the document has two version 1 vectors';
$c->send(pack 'H*', $_) for @v1;
my $after;
ok $c->wait_for(sub {
    $after = collector_totals($c);
    $after->{counted} == $before->{counted} + 4
        && $after->{source} == $before->{source} + 40
}, 10), 'version 1: both datagrams taken (1 + 3 requests), their "dr" '
        . 'counted as lost at the source'
    or diag "before @{[ %$before ]} after @{[ %$after ]}";

stop_nginx();
is $c->stop, 0, 'the collector stops cleanly';
unlike $c->log_text, qr/AddressSanitizer|runtime error/, 'no sanitizer report';

done_testing;
