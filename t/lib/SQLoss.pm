package SQLoss;

# Reconciling the collector's totals with nginx's own: load that runs in
# the background (wrk when installed, else forked clients), the requests
# nginx served (lines of its access log), and what the collector says:
# sum(servqual_requests_total), servqual_counted_requests_total and
# servqual_lost_requests_total by cause.

use strict;
use warnings;

use Exporter qw(import);
use POSIX ();
use Time::HiRes qw(sleep time);

use SQHttp qw(http_get);
use SQNginx qw(nginx_port);
use SQProc qw(prefix);


our @EXPORT_OK = qw(start_load stop_load served collector_totals
                    reconcile outage);


# start_load(seconds => S, clients => C, path => P): load against the
# running nginx until stop_load() or S seconds; returns a handle.

sub start_load {
    my (%o) = @_;

    my $secs = $o{seconds} // 3600;
    my $clients = $o{clients} // 4;
    my $path = $o{path} // '/';
    my $port = nginx_port();
    my @pids;

    if (!$o{perl} && -x '/usr/bin/wrk') {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', '/dev/null';
            { exec '/usr/bin/wrk', '-t', 1, '-c', $clients, '-d', "${secs}s",
                   "http://127.0.0.1:$port$path" }
            POSIX::_exit(127);
        }
        return { pids => [$pid] };
    }

    for (1 .. $clients) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            # the test's handler (SQProc) dies, which the eval below
            # would catch: a client stops at SIGTERM
            $SIG{TERM} = 'DEFAULT';
            my $end = time + $secs;
            while (time < $end) {
                eval { http_get($path, timeout => 5) };
            }
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }

    return { pids => \@pids };
}


sub stop_load {
    my ($l) = @_;

    kill 'TERM', @{ $l->{pids} };
    waitpid $_, 0 for @{ $l->{pids} };
}


# the requests nginx served: lines of its access log

sub served {
    my $log = prefix() . '/logs/access.log';
    open my $f, '<', $log or return 0;
    my $n = 0;
    $n++ while defined(my $l = <$f>);
    close $f;
    return $n;
}


# collector_totals($c): { counted => sum of servqual_requests_total,
# total => servqual_counted_requests_total (kept across restarts like the
# loss; the series' totals start again from the long window),
# source => n, transit => n, collector => n, lost => their sum }

sub collector_totals {
    my ($c) = @_;

    my $m = $c->get('/metrics');
    return undef unless $m->{status} == 200;

    my %t = (counted => 0, lost => 0);

    for (split /\n/, $m->{content}) {
        $t{counted} += $1 if /^servqual_requests_total\{.*\} (\d+)$/;
        $t{total} = $1 if /^servqual_counted_requests_total (\d+)$/;
        if (/^servqual_lost_requests_total\{cause="(\w+)"\} (\d+)$/) {
            $t{$1} = $2;
            $t{lost} += $2;
        }
    }

    return \%t;
}


# outage($c, signal, seconds): the collector stopped by the signal, down
# for the seconds given, then started again

sub outage {
    my ($c, $sig, $down) = @_;
    $c->signal($sig);
    $c->wait_for(sub { !$c->alive }, 30);
    delete $c->{pid};
    sleep $down;
    $c->start;
}


# reconcile($c, timeout): polls until servqual_counted_requests_total +
# lost equals served;
# returns (served, totals) as last seen

sub reconcile {
    my ($c, $timeout) = @_;

    my $end = time + ($timeout // 20);
    my ($n, $t);

    for (;;) {
        $n = served();
        $t = collector_totals($c);
        last if $t && defined $t->{total} && $t->{total} + $t->{lost} == $n;
        last if time > $end;
        sleep 0.25;
    }

    return ($n, $t);
}


1;
