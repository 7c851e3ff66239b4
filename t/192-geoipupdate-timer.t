#!/usr/bin/perl

# The weekly database update example (conf.example/geoipupdate-servqual.*)
# is valid for systemd: systemd-analyze verify accepts the timer and the
# service (geoipupdate itself is not installed here: a stand-in path is
# put in its place), the timer's calendar expression parses and fires
# weekly, and the service checks the configuration with nginx -t before
# it reloads nginx.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQProc qw(prefix repo_root run_cmd read_file write_file);


my $ex = repo_root() . '/conf.example';
my $dir = prefix() . '/units';
mkdir $dir;

my $service = read_file("$ex/geoipupdate-servqual.service");
my $timer = read_file("$ex/geoipupdate-servqual.timer");

ok $service =~ m{^ExecStart=/usr/bin/geoipupdate}m,
   'the service runs geoipupdate';
my @post = $service =~ m{^ExecStartPost=(.*)$}mg;
is_deeply \@post, ['/usr/sbin/nginx -t -q',
                   '/bin/systemctl reload nginx.service'],
          'then nginx -t, and only if it passes, a reload';

(my $here = $service) =~ s{/usr/bin/geoipupdate}{/bin/true}g;
write_file("$dir/geoipupdate-servqual.service", $here);
write_file("$dir/geoipupdate-servqual.timer", $timer);

my ($rc, $out) = run_cmd('systemd-analyze', 'verify', '--man=no',
                         "$dir/geoipupdate-servqual.timer",
                         "$dir/geoipupdate-servqual.service");
is $rc, 0, 'systemd-analyze verify accepts the timer and the service'
    or diag $out;
unlike $out, qr/\S/, 'without a warning' or diag $out;

my ($cal) = $timer =~ /^OnCalendar=(.*)$/m;
($rc, $out) = run_cmd('systemd-analyze', 'calendar', '--iterations=2',
                      $cal);
is $rc, 0, "the calendar \"$cal\" parses" or diag $out;

my @next = $out =~ /(?:Next elapse|Iter\. #2):\s+\w+ (\d{4}-\d\d-\d\d)/g;
is scalar @next, 2, 'two elapses listed' or diag $out;
SKIP: {
    skip 'no elapses', 1 unless @next == 2;
    require Time::Local;
    my @t = map { [ split /-/ ] } @next;
    my ($a, $b) = map { Time::Local::timegm(0, 0, 12, $_->[2], $_->[1] - 1,
                                            $_->[0]) } @t;
    is(($b - $a) / 86400, 7, 'once a week');
}

like $timer, qr/^Persistent=true$/m, 'a run missed while off happens at boot';

done_testing;
