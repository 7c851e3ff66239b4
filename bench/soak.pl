#!/usr/bin/perl

# make soak: every request counted or reported lost, under faults.  nginx
# with two workers under wrk load, reloaded 100 times (every --every
# seconds), while its collector is stopped once (SIGTERM, 2 s down, at 30 %
# of the reloads) and killed once (SIGKILL, 2 s down, at 60 %); over UDP,
# then over a unix socket.  Prints, for each, the requests nginx served
# (its access log), those counted, those reported lost by cause and those
# unreported (must be 0), with the collector's and a worker's memory
# (RSS) sampled every 10 reloads: first, last and largest sample; writes
# them into bench/RESULTS.md (its own section).
#
#   bench/soak.pl [--reloads N] [--every SECONDS] [--no-write]

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


my $nreloads = 100;
my $every = 1;
my $write = 1;
GetOptions('reloads=i' => \$nreloads, 'every=f' => \$every,
           'write!' => \$write) or die "usage\n";
my $seconds = $nreloads * $every;

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
    my $next_reload = $t0 + $every;
    my (@crss, @wrss);

    # the outages run while the reloads go on: the collector is down for
    # 2 s, then started again
    my $up_at = 0;

    while ($reloads < $nreloads || $up_at) {
        if (!$term && $reloads >= 0.3 * $nreloads) {
            $term = 1;
            $c->stop;
            $up_at = time + 2;
        } elsif (!$kill && !$up_at && $reloads >= 0.6 * $nreloads) {
            # (after the first outage is over: a short soak reaches 60 %
            # while the collector is still down)
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

        if (time >= $next_reload && $reloads < $nreloads) {
            reload_nginx(timeout => 20);
            $reloads++;
            $next_reload = time + $every;

            if ($reloads % 10 == 0) {
                # the collector as it runs (after its restarts), and one
                # of the workers the reload started
                push @crss, $c->alive ? rss_kib($c->{pid}) : 0;
                push @wrss, rss_kib((worker_pids())[0]);
            }
        }

        sleep 0.05;
    }

    my $secs = time - $t0;
    stop_load($load);
    reload_nginx(timeout => 20);
    $reloads++;
    @crss = grep { $_ } @crss;

    my ($n, $t) = reconcile($c, 60);
    $mem{collector_end} = rss_kib($c->{pid});
    $mem{worker_end} = rss_kib((worker_pids())[0]);

    if ($n != $t->{total} + $t->{lost}) {
        print STDERR grep { /^servqual_(datagrams|workers|worker_|storage)/ }
            split /^/, $c->get('/metrics')->{content};
        print STDERR grep { /servqual/ } split /^/, $c->log_text;
    }

    stop_nginx();
    $c->stop;

    my $unreported = $n - $t->{total} - $t->{lost};

    return {
        transport => $transport, seconds => $secs, reloads => $reloads,
        crss => \@crss, wrss => \@wrss,
        served => $n, counted => $t->{total}, source => $t->{source},
        transit => $t->{transit}, collector => $t->{collector},
        lost => $t->{lost}, unreported => $unreported, %mem,
    };
}

my @r = (run("udp"), run("unix"));

# first, last and largest of RSS samples (KiB), in MiB
sub flat {
    my ($s) = @_;
    return 'n/a' unless @$s;
    my ($max) = sort { $b <=> $a } @$s;
    return sprintf '%.1f → %.1f (%+.0f %%), max %.1f MiB',
        $s->[0] / 1024, $s->[-1] / 1024,
        100 * ($s->[-1] - $s->[0]) / $s->[0], $max / 1024;
}

my $table = "| transport | seconds | reloads | served (access log) | counted "
          . "| lost: source | transit | collector | lost % | unreported "
          . "| collector RSS start → end | worker RSS start → end "
          . "| collector RSS every 10 reloads: first → last, max "
          . "| worker RSS every 10 reloads: first → last, max |\n"
          . "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";

for my $x (@r) {
    $table .= sprintf "| %s | %d | %d | %d | %d | %d | %d | %d | %.3f %% | %d "
                    . "| %.1f → %.1f MiB | %.1f → %.1f MiB | %s | %s |\n",
        @$x{qw(transport seconds reloads served counted source transit
               collector)},
        $x->{served} ? 100 * $x->{lost} / $x->{served} : 0,
        $x->{unreported},
        $x->{collector_start} / 1024, $x->{collector_end} / 1024,
        $x->{worker_start} / 1024, $x->{worker_end} / 1024,
        flat($x->{crss}), flat($x->{wrss});
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
        . "nginx with 2 workers under wrk (8 connections), reloaded "
        . "$nreloads times, one every $every s; the collector stopped "
        . "(SIGTERM) for 2 s at 30 % of the reloads and killed (SIGKILL) "
        . "for 2 s at 60 %; flush=1s.  RSS is sampled every 10 reloads "
        . "(the collector after its restarts, a worker the reload started). "
        . "Served is the "
        . "lines of nginx's access log; counted is "
        . "servqual_counted_requests_total; lost is "
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
