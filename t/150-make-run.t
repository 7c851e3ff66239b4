#!/usr/bin/perl

# `make run` from a clean clone, as a newcomer types it: it builds, the
# dashboard answers, /metrics shows several regions, the degraded region's
# alert fires within the first minute; when the run ends no process it
# started is left, its temporary directory is gone, and nothing was written
# outside the clone but that directory.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

use SQProc qw(repo_root);


for my $p ([5170, 'udp'], [9170, 'tcp'], [8080, 'tcp'], [8081, 'tcp'],
           [8443, 'tcp'])
{
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$p->[0]",
                                  Proto => $p->[1], ReuseAddr => 1);
    plan skip_all => "port $p->[0] is taken: the demo needs it" unless $s;
    close $s;
}

my $top = tempdir(CLEANUP => 1);
# as /tmp is: nginx's workers (an unprivileged user) read the demo's pages
# under TMPDIR; behind a 0700 directory the shop answered 500 and 404
chmod 0755, $top;
my $clone = "$top/servqual";
my $tmp = "$top/tmp";
my $home = "$top/home";
mkdir $_ for $tmp, $home;

system('git', 'clone', '-q', repo_root(), $clone) == 0
    or BAIL_OUT('git clone failed');

my $log = "$top/make-run.log";
my $pid = fork // die "fork: $!";

if ($pid == 0) {
    $ENV{TMPDIR} = $tmp;
    $ENV{HOME} = $home;
    delete $ENV{SERVQUAL_COLLECTOR};    # the clone's own build
    open STDOUT, '>', $log or die;
    open STDERR, '>&', \*STDOUT;
    exec 'make', '-C', $clone, 'run', 'DURATION=80';
    die "exec make: $!";
}

sub output {
    open my $fh, '<', $log or return '';
    local $/;
    return <$fh>;
}

sub wait_until {
    my ($timeout, $cond) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        return 1 if $cond->();
        return 0 if waitpid($pid, WNOHANG) == $pid;
        sleep 0.5;
    }
    return 0;
}

my $ua = HTTP::Tiny->new(timeout => 10);
my $base = 'http://127.0.0.1:9170';

ok wait_until(600, sub { output() =~ /Dashboard\s+\Q$base\E\//
                         && output() =~ /traffic flowing/ }),
   'make run builds and prints the dashboard URL'
    or diag output();

my $page = $ua->get("$base/");
is $page->{status}, 200, 'the dashboard answers';
like $page->{content}, qr/servqual/, 'with the page';

my $alert;
ok wait_until(75, sub {
    my $r = $ua->get("$base/api/v1/alerts");
    return 0 unless $r->{status} == 200;
    my $a = eval { JSON::PP->new->decode($r->{content}) } or return 0;
    ($alert) = grep { ($_->{labels}{region} // '') eq 'BR'
                      && ($_->{severity} // '') eq 'critical' }
               @{ $a->{firing} // [] };
    return $alert;
}), 'the degraded region (BR) has a critical alert firing';

# one degraded region: one incident, however many rows and dimensions fire

my $inc;
ok wait_until(30, sub {
    my $r = $ua->get("$base/api/v1/incidents");
    return 0 unless $r->{status} == 200;
    $inc = eval { JSON::PP->new->decode($r->{content}) } or return 0;
    my @i = @{ $inc->{incidents} };
    return @i == 1 && ($i[0]{scope}{region} // '') eq 'BR'
           && $i[0]{cause} eq 'region';
}), 'one incident, Brazil, from '
    . ($inc ? $inc->{alerts_firing} : '?') . ' firing alerts'
    or diag explain [ map { $_->{title} } @{ $inc->{incidents} || [] } ];
my ($br) = @{ $inc->{incidents} || [] };
my ($emp) = grep { $_->{dimension} eq 'empathy' } @{ $br->{dimensions} || [] };
SKIP: {
    skip 'empathy not firing yet', 1 unless $emp;
    like $emp->{text}, qr/^p75 [\d.]+ (s|ms) vs [\d.]+ \S*s elsewhere, /,
         "empathy as two request times: $emp->{text}";
}
like $br && $br->{owner} // '', qr/\S/, 'owners from conf.example';

my $m = $ua->get("$base/metrics")->{content} // '';
my %regions = map { $_ => 1 }
              $m =~ /^servqual_requests_total\{[^}]*region="([^"]+)"/mg;
ok keys(%regions) >= 5, 'metrics show ' . join(', ', sort keys %regions);

# the shop's pages load the beacon script, served by the demo's nginx
my $js = $ua->get('http://127.0.0.1:8080/servqual/beacon.js');
is $js->{status}, 200, 'the demo serves the beacon script';
like $js->{content} // '', qr/sendBeacon/, 'the one make built';
like $ua->get('http://127.0.0.1:8080/')->{content} // '',
     qr{<script src="/servqual/beacon\.js" async>},
     'and its home page loads it';

my %pids;
my $out = output();
$pids{collector} = $1 if $out =~ /collector up \(pid (\d+)\)/;
$pids{nginx} = $1 if $out =~ /nginx up \(master pid (\d+)\)/;
my ($dir) = $out =~ /Files: (\S+)/;
ok $dir && index($dir, $tmp) == 0, 'the demo works in a temporary directory';

waitpid $pid, 0;
is $? >> 8, 0, 'make run ends by itself after DURATION';

$out = output();
like $out, qr/stopped traffic/, 'it stopped the traffic';
like $out, qr/stopped nginx/, 'nginx';
like $out, qr/stopped collector/, 'and the collector';

sub gone {
    my ($p) = @_;
    open my $fh, '<', "/proc/$p/stat" or return 1;
    my $stat = <$fh> // '';
    return $stat =~ /^\d+ \(.*\) Z/;     # a zombie has exited
}

is_deeply [grep { !gone($pids{$_}) } sort keys %pids], [],
          'no process it started is left';
ok !IO::Socket::INET->new(PeerAddr => '127.0.0.1:8443', Timeout => 1),
   'nothing listens on the demo ports any more';

ok !-e $dir, 'its temporary directory is removed';
opendir my $th, $tmp or die;
is_deeply [grep { !/^\.\.?$/ } readdir $th], [], 'nothing else left in TMPDIR';
opendir my $hh, $home or die;
is_deeply [grep { !/^\.\.?$/ } readdir $hh], [], 'nothing written to HOME';

my $status = `git -C $clone status --porcelain --ignored`;
is_deeply [grep { !m{^!! build/$} } split /\n/, $status], [],
          'in the clone, only build/ was written';

done_testing;
