#!/usr/bin/perl

# A unix datagram socket as the collector, two workers, and traffic while
# nginx reloads several times: every request sent is counted, old workers
# send what they have as they exit, and sequence numbers show no loss.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);

use SQGeo qw(mmdb_regions);
use SQHttp qw(http_get);
use SQNginx qw(start_nginx reload_nginx stop_nginx worker_pids
               no_error_in_log);
use SQProc qw(prefix);
use SQWire qw(sum_datagrams series_total seq_gaps unix_listener);


my $sock = unix_listener();

my $conf = <<'EOF';
    servqual_collector unix:%%UNIX_SOCK%% flush=%%FLUSH%%;
    servqual_geoip2 %%MMDB%%;

    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location / {
            return 200 "ok\n";
        }
    }
EOF

# a long flush: what the workers send comes from their exit at reload
my $port = start_nginx($conf, workers => 2, vars => { FLUSH => '30s' });

my @regions = mmdb_regions();
my $pid = fork // die "fork: $!";

if ($pid == 0) {
    # the client: requests without a pause, counting its successes
    my $ok = 0;
    my $deadline = time + 4;
    while (time < $deadline) {
        for my $r (@regions) {
            my ($st) = eval { http_get('/', port => $port, xff => $r->{ip4}) };
            $ok++ if defined $st && $st == 200;
        }
    }
    open my $fh, '>', prefix() . '/sent' or die;
    print $fh "$ok\n";
    close $fh;
    exit 0;
}

my @pids;
for my $i (1 .. 4) {
    sleep 0.5;
    push @pids, worker_pids();
    reload_nginx(vars => { FLUSH => '30s' });
}

waitpid $pid, 0;

stop_nginx();

open my $fh, '<', prefix() . '/sent' or die 'the client did not report';
chomp(my $sent = <$fh>);

ok $sent > 50, "the client got $sent answers during 4 reloads";

my @d = $sock->recv_requests($sent);
my ($t, $h) = sum_datagrams(@d);

is series_total($t, 'requests'), $sent,
   'every request answered was counted, across reloads';
is series_total($t, 'status_2xx'), $sent, 'all of them 200';

my %by_pid = map { $_->{pid} => 1 } @d;
ok keys(%by_pid) >= 8, keys(%by_pid) . ' workers sent (2 x 5 generations)';

is_deeply [seq_gaps(@d)], [], 'no datagram lost';
is $h->{dd}, 0, 'no datagram dropped';

no_error_in_log();

done_testing;
