#!/usr/bin/perl

# A view build merges what arrives meanwhile.  At 100k series a build
# holds the loop 0.3-0.4 s; without a merge inside it, every datagram of
# those 0.4 s (about 60 MB at 20,000 datagrams/s) would wait in the
# ingest queue, and the collector's memory with it.  Here a build over
# 2,000 series is held at its first yield for 2.5 s
# (SERVQUAL_TEST_BUILD_HOLD: while the file exists) while 600
# datagrams/s of 100 series (7 KB each, about 11 MB in those 2.5 s)
# arrive: the loop answers no HTTP meanwhile (it is in the build), yet
# the queue never holds more than a few MB, and afterwards every
# datagram sent was accepted, none lost, and the next view has every
# series.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use SQCollector;
use SQProc qw(repo_root spawn_to loadgen_sent);
use Test::More;
use Time::HiRes qw(sleep time);

my $loadgen = repo_root() . '/build/sq-loadgen';
plan skip_all => "$loadgen missing (make build/sq-loadgen)" unless -x $loadgen;

my $c = SQCollector->new(listen => { receive_buffer_mb => 8, queue_mb => 64 },
    storage => 'off',
    extra => <<"YAML");
metrics:
  series: false
YAML
my $hold = "$c->{dir}/build.hold";
$ENV{SERVQUAL_TEST_BUILD_HOLD} = $hold;

$c->start;

sub metrics { $c->get('/metrics')->{content} // '' }
sub mv { my ($t, @a) = @_; $c->metric($t, @a) // 0 }

# 20 workers x 100 series = 2,000 series, 600 datagrams/s for 5 s

my $out = "$c->{dir}/loadgen.out";
my $pid = spawn_to($out, $loadgen, '-a', "127.0.0.1:$c->{udp}",
                   '-w', 20, '-s', 100, '-u', 2000,
                   '-r', 600, '-d', 5, '-g');

# after a second the series are there and views are being built: the
# next build (a 250 ms tick) stops at its first yield

sleep 1;
my $m = metrics();
is mv($m, 'servqual_series'), 2000, 'the 2,000 series are live';

open my $h, '>', $hold or die "$hold: $!";
close $h;
sleep 0.5;

# the loop is in the build: HTTP waits

my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$c->{http}",
                              Proto => 'tcp', Timeout => 5)
    or die "connect: $!";
print $s "GET /healthz HTTP/1.0\r\nHost: t\r\n\r\n";
my $rin = '';
vec($rin, fileno($s), 1) = 1;
my $answered = select(my $rout = $rin, undef, undef, 1.5);
ok !$answered, 'while the build is held the loop answers no HTTP';

sleep 0.5;
unlink $hold;

my $sent = loadgen_sent($pid, $out);
ok $sent && $sent > 2000, "sq-loadgen sent $sent datagrams";

my $accepted;
($accepted, $m) = $c->wait_accepted($sent);

is $accepted, $sent, 'every datagram sent was accepted';
is mv($m, 'servqual_datagrams_lost_total'), 0, 'no sequence gap';
is mv($m, 'servqual_ingest_queue_overflow_total'), 0, 'no queue overflow';

my $peak = mv($m, 'servqual_ingest_queue_bytes', of => 'peak');
ok $peak > 0 && $peak < 6 * 1024 * 1024,
   sprintf 'the queue held %.1f MB at most, for about 11 MB that arrived '
         . 'during the build', $peak / 1048576;

# the next view: every series, built after the hold

my $rows = 0;
for (1 .. 50) {
    $m = metrics();
    $rows = mv($m, 'servqual_view_rows');
    last if $rows >= 2000;
    sleep 0.2;
}
ok $rows >= 2000, "the next view has every series ($rows rows)";

is $c->stop, 0, 'the collector stops cleanly';

done_testing;
