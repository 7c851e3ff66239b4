#!/usr/bin/perl

# Two collectors for availability: one nginx names both in
# servqual_collector, each datagram goes to each with the same sequence
# numbers, and each collector has its own delivery state.  Under load
# collector B is stopped (SIGTERM) and started again, then killed
# (SIGKILL) and started again: A counts every request nginx served (its
# access log, exactly, nothing lost), and B accounts for every one as
# counted or lost (its backlog sent later, what it had not stored when
# killed reported as lost, what a reload left spooled sent by the next
# workers), so counted + lost = served at both.  A third collector, on
# a unix datagram socket, is stopped and started in between: the same
# holds for it.

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


my $w = '{ slot: 2s, short: 2m, long: 10m }';
my $a = SQCollector->new(windows => $w);
my $b = SQCollector->new(windows => $w);
$a->start;
$b->start;

# C takes the datagrams on a unix socket the workers (nobody when the
# tests run as root) can write to
my $c = SQCollector->new(windows => $w);
chmod 0755, $c->{dir};
my $sock = "$c->{dir}/ingest.sock";
{
    open my $f, '<', $c->{conf} or die;
    local $/;
    my $t = <$f>;
    $t =~ s{ingest: (\S+)\n}{ingest: [ "$1", "unix:$sock" ]\n  socket_mode: "0666"\n};
    open $f, '>', $c->{conf} or die;
    print $f $t;
    close $f;
}
$c->start;

start_nginx(<<'EOF', workers => 2,
    servqual_collector 127.0.0.1:%%COLLA%% 127.0.0.1:%%COLLB%%
                       unix:%%SOCK%% flush=100ms node=pair;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location / {
            return 200 "ok\n";
        }
    }
EOF
    vars => { COLLA => $a->{udp}, COLLB => $b->{udp}, SOCK => $sock });

my $load = start_load(clients => 4);
sleep 1.5;

outage($b, 'TERM', 2);
sleep 1.5;

$c->stop;
sleep 1.5;
$c->start;
sleep 1;

outage($b, 'KILL', 1);
sleep 1.5;

# a reload while B is away: the retired workers leave B's datagrams in
# its own spool file (servqual.PID.1.spool), the new ones send it to B
$b->stop;
delete $b->{pid};
reload_nginx();
sleep 0.5;
$b->start;
sleep 1.5;

stop_load($load);

# the workers exit and say all they have
reload_nginx();

my ($na, $ta) = reconcile($a, 30);
my ($nb, $tb) = reconcile($b, 30);
my ($nc, $tc) = reconcile($c, 30);

ok $na > 500, "nginx served $na requests";
ok $ta && $tb, 'both collectors answer';
is $ta->{counted}, $na,
   "collector A counted every request ($ta->{counted} of $na)";
is $ta->{lost}, 0, 'collector A lost none';
is $tb->{counted} + $tb->{lost}, $nb,
   "collector B: counted $tb->{counted} + lost $tb->{lost} (source "
   . ($tb->{source} // 0) . ", transit " . ($tb->{transit} // 0)
   . ", collector " . ($tb->{collector} // 0) . ") = served";
ok $tb->{lost} < 0.05 * $nb,
   sprintf('collector B: the loss is small, %.2f %% (the workers kept '
           . 'what it could not take)', 100 * $tb->{lost} / $nb);

is $tc->{counted} + $tc->{lost}, $nc,
   "collector C (unix socket): counted $tc->{counted} + lost $tc->{lost} "
   . "= served";

# each collector its own delivery state: B's outage was B's alone

my $log = error_log_since(0);
like $log, qr/collector "127\.0\.0\.1:$b->{udp}"/,
     'nginx said that collector B could not take datagrams';
like $log, qr/collector "unix:\Q$sock\E"/,
     'and that collector C could not';
unlike $log, qr/collector "127\.0\.0\.1:$a->{udp}"/,
       'and nothing about collector A';
like $log, qr/adopted from "[^"]*\/servqual\.\d+\.1\.spool"/,
     "B's spool file, left at a reload, was adopted";
unlike $log, qr/servqual\.\d+\.spool/, 'A had nothing to spool';

stop_nginx();
is $a->stop, 0, 'collector A stops cleanly';
is $b->stop, 0, 'collector B stops cleanly';
is $c->stop, 0, 'collector C stops cleanly';
unlike $a->log_text . $b->log_text . $c->log_text, qr/AddressSanitizer|runtime error/,
       'no sanitizer report';

done_testing;
