#!/usr/bin/perl

# No listener at the collector address: requests still succeed, the error
# log says so at most once a minute, and when a listener comes back the
# datagrams the workers kept are delivered: every request arrives, none
# dropped (over a unix socket and over UDP, where a refused datagram is
# learnt at the next flush and sent again).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep time);

use SQHttp qw(http_get);
use SQNginx qw(start_nginx stop_nginx error_log_mark error_log_since);
use SQProc qw(prefix free_udp_port);
use SQWire qw(sum_datagrams series_total udp_listener unix_listener);


sub traffic {
    my ($seconds) = @_;
    my ($n, $ok) = (0, 0);
    my $end = time + $seconds;
    while (time < $end) {
        my ($st) = http_get('/');
        $n++;
        $ok++ if $st == 200;
        sleep 0.01;
    }
    return ($n, $ok);
}

sub servqual_lines {
    my ($since) = @_;
    return grep { /servqual/ } split /\n/, error_log_since($since);
}

my $conf = <<'EOF';
    servqual_collector %%COLLECTOR%% flush=100ms;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location / {
            return 200 "ok\n";
        }
    }
EOF

# --- unix socket: the path does not exist yet

my $path = prefix() . '/down.sock';

start_nginx($conf, vars => { COLLECTOR => "unix:$path" });

my $mark = error_log_mark();
my ($n, $ok) = traffic(1.5);

is $ok, $n, "all $n requests answered with no collector";

my @lines = servqual_lines($mark);
is scalar(@lines), 1, 'one error log line about it in 1.5 s of flushes';
like $lines[0] // '', qr/\[error\].*servqual: connect\(\) to collector "unix:.*down\.sock" failed/,
     'the line names the collector';

my $sock = unix_listener($path);
http_get('/') for 1 .. 3;

my @d = $sock->recv_requests($n + 3);
my ($t, $h) = sum_datagrams(@d);

is $h->{dd}, 0, 'no datagram dropped: they were kept';
is $h->{dr}, 0, 'no request dropped';
is $h->{dr} + series_total($t, 'requests'), $n + 3,
   'dropped plus received is every request sent: nothing unaccounted';
is series_total($t, 'requests'), $n + 3,
   'every request sent while the collector was away arrives';
is $d[0]{seq}, 1, 'the first datagram made is the first received';

is scalar(servqual_lines($mark)), 1, 'still one line in the log';

stop_nginx();

# --- UDP: nobody bound to the port

my $port = free_udp_port();

start_nginx($conf, vars => { COLLECTOR => "127.0.0.1:$port" });

$mark = error_log_mark();
($n, $ok) = traffic(1.5);

is $ok, $n, "all $n requests answered with no UDP listener";
ok scalar(servqual_lines($mark)) <= 1, 'at most one error log line';

my $udp = udp_listener(port => $port);
http_get('/') for 1 .. 3;

@d = $udp->recv_requests($n + 3);
($t, $h) = sum_datagrams(@d);

is $h->{dd}, 0, 'no datagram dropped over UDP either';
is series_total($t, 'requests'), $n + 3,
   "all $n requests and the 3 after arrive: refused datagrams sent again";

stop_nginx();

done_testing;
