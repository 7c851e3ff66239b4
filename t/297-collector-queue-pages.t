#!/usr/bin/perl

# The ingest queue's pages: the loop gives back the pages of what it
# merged, a MB at a time, before it hands them back to the receive
# thread, so a backlog that never empties does not keep every page of
# the ring it walks.  Here an 8 MB queue is filled while merging is held
# for a second (SERVQUAL_TEST_MERGE_HOLD), then walked about twenty
# times by 3,000 datagrams/s of 7 KB while scrapes of every series keep
# the merge yielding (a backlog that lasts, the ring wrapping under it):
# every datagram sent is merged or counted as dropped (queue overflow,
# kernel), none is damaged (no rejection: a page given back too early
# would read as zeros), pages were given back, and once it is over the
# queue's memory is its first 4 MB at most.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use HTTP::Tiny;
use SQCollector;
use SQProc qw(repo_root spawn_to);
use Test::More;
use Time::HiRes qw(sleep time);

my $loadgen = repo_root() . '/build/sq-loadgen';
plan skip_all => "$loadgen missing (make build/sq-loadgen)" unless -x $loadgen;

my $c = SQCollector->new(listen => { receive_buffer_mb => 8, queue_mb => 8 },
    storage => 'off',
    extra => <<"YAML");
limits:
  max_series: 20000
YAML

my $hold = "$c->{dir}/hold";
open my $hf, '>', $hold or die "$hold: $!";
close $hf;
$ENV{SERVQUAL_TEST_MERGE_HOLD} = $hold;
$c->start;
delete $ENV{SERVQUAL_TEST_MERGE_HOLD};

my $ua = HTTP::Tiny->new(timeout => 60);
my $url = "http://127.0.0.1:$c->{http}";

sub mv {
    my ($text, $name) = @_;
    return $text =~ /^\Q$name\E (\S+)$/m ? $1 + 0 : 0;
}

my $out = "$c->{dir}/loadgen.out";
my $pid = spawn_to($out, $loadgen, '-a', "127.0.0.1:$c->{udp}",
                   '-w', 100, '-s', 100, '-u', 10000,
                   '-r', 3000, '-d', 6, '-g');

# a second of backlog, then scrapes of every series while it runs: the
# merge yields to each

sleep 1;
unlink $hold or die "$hold: $!";

my $scrapes = 0;
while (waitpid($pid, 1) == 0) {
    my $r = $ua->get("$url/metrics",
                     { headers => { 'Accept-Encoding' => 'gzip' } });
    $scrapes++ if $r->{status} == 200;
}

my $text = do { local (@ARGV, $/) = $out; <> } // '';
my ($sent) = $text =~ /^sent (\d+) datagrams/m;
ok $sent && $sent > 10000, "sq-loadgen sent $sent datagrams";
ok $scrapes > 0, "$scrapes scrapes of every series during the load";

my ($m, $accepted, $dropped) = ('', 0, 0);
for (1 .. 100) {
    $m = $ua->get("$url/metrics")->{content} // '';
    $accepted = mv($m, 'servqual_datagrams_total{result="accepted"}');
    my ($k) = $m =~ /^servqual_receive_buffer_drops_total\{[^}]*\} (\d+)$/m;
    $dropped = mv($m, 'servqual_ingest_queue_overflow_total') + ($k // 0);
    last if $accepted + $dropped >= $sent
            && mv($m, 'servqual_ingest_queue_datagrams') == 0;
    sleep 0.2;
}

is $accepted + $dropped, $sent,
   "merged $accepted + dropped $dropped (counted) = sent $sent";
my $rejected = 0;
$rejected += $1
    while $m =~ /^servqual_datagrams_rejected_total\{[^}]*\} (\d+)$/mg;
is $rejected, 0, 'no datagram damaged (none rejected)';

my $released = mv($m, 'servqual_ingest_queue_released_bytes_total');
ok $released > 0,
   sprintf 'the queue gave back %.1f MB of pages', $released / 1048576;

my $resident = mv($m, 'servqual_ingest_queue_bytes{of="resident"}');
ok $resident <= 4 * 1048576 + 65536,
   sprintf 'afterwards the queue holds %.1f MB of memory', $resident / 1048576;

is $c->stop, 0, 'the collector stops cleanly';
unlike $c->log_text, qr/AddressSanitizer|runtime error/, 'no sanitizer report';

done_testing;
