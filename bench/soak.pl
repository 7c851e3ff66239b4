#!/usr/bin/perl

# make soak: every request counted or reported lost, under faults.  nginx
# with two workers under wrk load, reloaded every 2 s, while its collector
# is stopped once (SIGTERM, 2 s down) and killed once (SIGKILL, 2 s down);
# over UDP, then over a unix socket.  Prints, for each, the requests nginx
# served (its access log), those counted, those reported lost by cause
# and those unreported (must be 0), with the collector's and the workers'
# memory; writes them into bench/RESULTS.md (its own section).
#
#   bench/soak.pl [--seconds N] [--no-write]

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Getopt::Long;
use POSIX qw(strftime);
use Time::HiRes qw(sleep time);

use SQCollector;
use SQLoss qw(start_load stop_load served collector_totals reconcile);
use SQNginx qw(start_nginx reload_nginx stop_nginx worker_pids);
use SQProc qw(prefix repo_root);


my $seconds = 20;
my $write = 1;
GetOptions('seconds=i' => \$seconds, 'write!' => \$write) or die "usage\n";

sub rss_kib {
    my ($pid) = @_;
    open my $f, '<', "/proc/$pid/status" or return 0;
    while (my $l = <$f>) { return $1 if $l =~ /^VmRSS:\s+(\d+)/ }
    return 0;
}

sub run {
    my ($transport) = @_;

    my $sock = prefix() . "/soak-$transport.sock";
    my $windows = '{ slot: 5s, short: 5m, long: 30m }';
    my $c = SQCollector->new(windows => $windows);

    if ($transport eq 'unix') {
        open my $f, '>', $c->{conf} or die "$c->{conf}: $!";
        print $f "listen:\n  ingest: unix:$sock\n"
               . "  http: 127.0.0.1:$c->{http}\n"
               . "storage:\n  path: $c->{dir}/servqual.db\n"
               . "windows: $windows\n";
        close $f;
    }

    # nginx's workers may run as nobody: they must reach the socket
    my $start = sub {
        $c->start;
        chmod 0666, $sock if $transport eq 'unix';
    };

    $start->();

    my $coll = $transport eq 'unix' ? "unix:$sock" : "127.0.0.1:$c->{udp}";

    unlink prefix() . '/logs/access.log';
    start_nginx(<<'EOF', workers => 2, vars => { COLL => $coll });
    servqual_collector %%COLL%% flush=1s node=soak;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location / {
            return 200 "ok\n";
        }
    }
EOF

    my %mem = (collector_start => rss_kib($c->{pid}),
               worker_start => rss_kib((worker_pids())[0]));
    my $t0 = time;
    my $load = start_load(clients => 8, seconds => $seconds + 5);
    my ($reloads, $term, $kill) = (0, 0, 0);
    my $next_reload = $t0 + 2;

    # the outages run while the reloads go on: the collector is down for
    # 2 s, then started again
    my $up_at = 0;

    while (time < $t0 + $seconds || $up_at) {
        my $el = time - $t0;

        if (!$term && $el >= 0.3 * $seconds) {
            $term = 1;
            $c->stop;
            $up_at = time + 2;
        } elsif (!$kill && $el >= 0.6 * $seconds) {
            $kill = 1;
            $c->signal('KILL');
            $c->wait_for(sub { !$c->alive }, 30);
            delete $c->{pid};
            $up_at = time + 2;
        }

        if ($up_at && time >= $up_at) {
            $start->();
            $up_at = 0;
        }

        if (time >= $next_reload) {
            reload_nginx(timeout => 20);
            $reloads++;
            $next_reload += 2;
        }

        sleep 0.05;
    }

    stop_load($load);
    reload_nginx(timeout => 20);
    $reloads++;

    my ($n, $t) = reconcile($c, 60);
    $mem{collector_end} = rss_kib($c->{pid});
    $mem{worker_end} = rss_kib((worker_pids())[0]);

    if ($n != $t->{counted} + $t->{lost}) {
        print STDERR grep { /^servqual_(datagrams|workers|worker_|storage)/ }
            split /^/, $c->get('/metrics')->{content};
        print STDERR grep { /servqual/ } split /^/, $c->log_text;
    }

    stop_nginx();
    $c->stop;

    my $unreported = $n - $t->{counted} - $t->{lost};

    return {
        transport => $transport, seconds => $seconds, reloads => $reloads,
        served => $n, counted => $t->{counted}, source => $t->{source},
        transit => $t->{transit}, collector => $t->{collector},
        lost => $t->{lost}, unreported => $unreported, %mem,
    };
}

my @r = (run("udp"), run("unix"));

my $table = "| transport | seconds | reloads | served (access log) | counted "
          . "| lost: source | transit | collector | lost % | unreported "
          . "| collector RSS start → end | worker RSS start → end |\n"
          . "|---|---|---|---|---|---|---|---|---|---|---|---|\n";

for my $x (@r) {
    $table .= sprintf "| %s | %d | %d | %d | %d | %d | %d | %d | %.3f %% | %d "
                    . "| %.1f → %.1f MiB | %.1f → %.1f MiB |\n",
        @$x{qw(transport seconds reloads served counted source transit
               collector)},
        $x->{served} ? 100 * $x->{lost} / $x->{served} : 0,
        $x->{unreported},
        $x->{collector_start} / 1024, $x->{collector_end} / 1024,
        $x->{worker_start} / 1024, $x->{worker_end} / 1024;
}

print $table;

my $bad = grep { $_->{unreported} != 0 } @r;

if ($write) {
    my $file = repo_root() . '/bench/RESULTS.md';
    my $text = SQProc::read_file($file) // '';
    my $commit = `git -C '@{[repo_root()]}' rev-parse --short HEAD 2>/dev/null`;
    chomp $commit;
    my $section = "## Soak: every request counted or reported lost\n\n"
        . "Written by `make soak` (bench/soak.pl) on "
        . strftime('%Y-%m-%d %H:%M UTC', gmtime) . " at commit $commit.\n"
        . "nginx with 2 workers under wrk (8 connections), reloaded every "
        . "2 s; the collector stopped (SIGTERM) for 2 s at 30 % of the run "
        . "and killed (SIGKILL) for 2 s at 60 %; flush=1s.  Served is the "
        . "lines of nginx's access log; counted is "
        . "sum(servqual_requests_total); lost is "
        . "servqual_lost_requests_total by cause; unreported = served - "
        . "counted - lost, which must be 0.\n\n" . $table . "\n";
    $text =~ s/## Soak: every request counted or reported lost\n.*?(?=^## |\z)//ms;
    $text =~ s/\n*\z/\n\n/;
    $text .= $section;
    open my $f, '>', $file or die "$file: $!";
    print $f $text;
    close $f;
    print "written to $file\n";
}

exit($bad ? 1 : 0);
