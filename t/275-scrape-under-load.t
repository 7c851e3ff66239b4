#!/usr/bin/perl

# /metrics while datagrams flow: 10,000 live series, the default export
# (every series' counters and histograms), 100 series a datagram sent at
# a steady rate by build/sq-loadgen.  Scrapes made during the load, with
# gzip as Prometheus asks and without, are answered and complete: every
# series in every per-series family, the last family there, promtool
# accepts the text.  The API and /healthz answer between the merge's
# turns while the queue holds datagrams.  And nothing is lost for it:
# every datagram sent is accepted, no sequence gap, no queue overflow,
# no kernel drop.  Nothing here is timed: the machine may be slow.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempfile);
use HTTP::Tiny;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use JSON::PP qw(decode_json);
use SQCollector;
use SQProc qw(repo_root spawn_to);
use Test::More;
use Time::HiRes qw(sleep time);

my $loadgen = repo_root() . '/build/sq-loadgen';
plan skip_all => "$loadgen missing (make build/sq-loadgen)" unless -x $loadgen;

my $c = SQCollector->new(listen => { receive_buffer_mb => 4, queue_mb => 64 },
    storage => 'off',
    extra => <<"YAML");
limits:
  max_series: 20000
alerts:
  scopes: [journey]
YAML

$c->start;

my $ua = HTTP::Tiny->new(timeout => 120);
my $url = "http://127.0.0.1:$c->{http}";

# the value of an unlabelled (or exactly labelled) sample, by regex: the
# texts are tens of MB
sub mv {
    my ($text, $name) = @_;
    return $text =~ /^\Q$name\E (\S+)$/m ? $1 + 0 : 0;
}

sub scrape {
    my ($gzip) = @_;
    my $r = $ua->get("$url/metrics", { headers => {
        'Accept-Encoding' => $gzip ? 'gzip' : 'identity' } });
    return ($r->{status}, '') unless $r->{status} == 200;
    return (200, $r->{content}) unless $gzip;
    my $text;
    gunzip(\$r->{content} => \$text) or return (0, "gunzip: $GunzipError");
    return (200, $text);
}

# 100 workers x 100 series = 10,000 series, 1,000 datagrams/s for 10 s

my $out = "$c->{dir}/loadgen.out";
my $pid = spawn_to($out, $loadgen, '-a', "127.0.0.1:$c->{udp}",
                   '-w', 100, '-s', 100, '-u', 10000,
                   '-r', 1000, '-d', 10, '-g');

my $gen_status;

sub running {
    return 0 if defined $gen_status;
    return 1 if waitpid($pid, 1) == 0;    # WNOHANG
    $gen_status = $?;
    return 0;
}

# a scrape of all 10,000 series: every series in every per-series family,
# and the text goes on to the last family; '' or what is missing
sub incomplete {
    my ($t) = @_;
    my @miss;
    for my $fam (qw(servqual_requests_total servqual_sent_bytes_total
                    servqual_request_duration_seconds_count
                    servqual_time_to_first_byte_seconds_count))
    {
        my $lines = () = $t =~ /^\Q$fam\E\{endpoint=/mg;
        push @miss, "$fam: $lines lines" if $lines != 10000;
    }
    my $classes = () = $t =~ /^servqual_responses_total\{[^}]*class="2xx"/mg;
    push @miss, "2xx: $classes lines" if $classes != 10000;
    push @miss, 'no last family'
        unless $t =~ /^# TYPE servqual_dimension_desired_seconds gauge$/m
               && $t =~ /\n\z/;
    return join ', ', @miss;
}

my ($api_ok, $api_tries, $health_ok, $busy) = (0, 0, 0, 0);
my ($n, $failed, $during, $gz_during, $plain_during) = (0, 0, 0, 0, 0);
my ($checked, $complete, $promtool_file) = (0, 0);

while (running()) {
    my $gzip = $n++ % 2 == 0;
    my ($status, $text) = scrape($gzip);
    my $while = running();
    $failed++ unless $status == 200;

    if ($while && $status == 200) {
        $during++;
        $gzip ? $gz_during++ : $plain_during++;

        if (mv($text, 'servqual_series') == 10000) {
            $checked++;
            my $miss = incomplete($text);
            $complete++ if $miss eq '';
            diag("scrape $n: $miss") if $miss ne '';

            if ($gzip && !defined $promtool_file) {
                (my $fh, $promtool_file) = tempfile();
                print $fh $text;
                close $fh;
            }
        }
    }

    $busy = 1 if mv($text, 'servqual_ingest_queue_datagrams') > 0;

    # the API between two turns of the merge
    for (1 .. 3) {
        my $q = $ua->get("$url/api/v1/quality?limit=10");
        $api_tries++;
        $api_ok++ if $q->{status} == 200
                     && eval { ref decode_json($q->{content})->{rows} };
        my $h = $ua->get("$url/healthz");
        $health_ok++ if $h->{status} == 200;
    }

    last if $n > 40;
}

if (!defined $gen_status) {
    waitpid($pid, 0);
    $gen_status = $?;
}
is($gen_status, 0, 'sq-loadgen ran');

my $gen = do { local (@ARGV, $/) = $out; <> };
my ($sent) = $gen =~ /^sent (\d+) datagrams/m;
ok($sent && $sent > 5000, "sq-loadgen sent $sent datagrams") or diag($gen);

cmp_ok($during, '>=', 2, "$during scrapes during the load");
is($failed, 0, "every one of the $n scrapes answered");
ok($gz_during && $plain_during, 'with gzip and without');

cmp_ok($checked, '>=', 1, "$checked scrapes during the load of all 10,000 "
       . 'series');
is($complete, $checked, 'each has every series in every per-series '
   . 'family, and ends with the last family');

SKIP: {
    skip 'promtool not installed', 1 unless `which promtool` =~ /\S/;
    skip 'no gzip scrape of every series', 1 unless defined $promtool_file;
    my $pt = `promtool check metrics < $promtool_file 2>&1`;
    is($?, 0, 'promtool check metrics passes on a scrape under load')
        or diag substr($pt, 0, 2000);
}

is($api_ok, $api_tries, "the API answered all $api_tries times during the "
   . 'load');
is($health_ok, $api_tries, '/healthz too');

# nothing lost: the queue is merged after the load

my $after;
$c->wait_for(sub {
    (undef, $after) = scrape(1);
    mv($after, 'servqual_ingest_queue_datagrams') == 0
        && ($after =~ /^servqual_datagrams_total\{result="accepted"\} (\d+)$/m
            ? $1 : 0) >= $sent;
}, 60);

my ($accepted) = $after =~
    /^servqual_datagrams_total\{result="accepted"\} (\d+)$/m;
is($accepted, $sent, 'every datagram sent was accepted');
is(mv($after, 'servqual_datagrams_lost_total'), 0, 'no sequence gap');
is(mv($after, 'servqual_ingest_queue_overflow_total'), 0,
   'no ingest-queue overflow');
my ($drops) =
    $after =~ /^servqual_receive_buffer_drops_total\{[^}]*\} (\d+)$/m;
is($drops, 0, 'no kernel receive-buffer drop');
my ($peak) = $after =~ /^servqual_ingest_queue_bytes\{of="peak"\} (\d+)$/m;
cmp_ok($peak, '>', 0, "the queue held datagrams (peak $peak bytes)");
note($busy ? 'a scrape found datagrams queued'
           : 'no scrape found datagrams queued');

is($c->stop, 0, 'clean exit');
unlike($c->log_text, qr/ERROR|AddressSanitizer|runtime error/,
       'no error logged') or diag($c->log_text);

# A backlog: 20,000 datagrams/s for 3 s into a queue that holds them
# all (about 440 MB), with merging held back (SERVQUAL_TEST_MERGE_HOLD)
# so that the backlog is there however fast the merge is.  Once the hold
# is gone and the merge has begun, a scrape and the API are answered
# while it still has a backlog: the scrape shows datagrams still queued
# (a merge that kept the loop until the queue was empty would answer
# only then, and show 0).  Past 16 MB queued the merge takes turns of
# 50 ms before HTTP has its turn (the backlog costs time, not memory),
# so the answers take a few of those.  Then all of it is merged.

my $b = SQCollector->new(listen => { receive_buffer_mb => 32, queue_mb => 512 },
    storage => 'off',
    extra => <<"YAML");
limits:
  max_series: 20000
alerts:
  scopes: [journey]
metrics:
  series: false
YAML

my $hold = "$b->{dir}/hold";
open my $hf, '>', $hold or die "$hold: $!";
close $hf;
$ENV{SERVQUAL_TEST_MERGE_HOLD} = $hold;
$b->start;
delete $ENV{SERVQUAL_TEST_MERGE_HOLD};
$url = "http://127.0.0.1:$b->{http}";

my $bout = "$b->{dir}/loadgen.out";
system("'$loadgen' -a 127.0.0.1:$b->{udp} -w 100 -s 100 -u 10000 -r 20000 "
       . "-d 3 -g >'$bout' 2>&1");
is($?, 0, 'the burst was sent');

# the hold is looked at every 100 ms: the merge has begun after 0.15 s
unlink $hold or die "$hold: $!";
sleep 0.15;

my $t1 = time;
my $m = $ua->get("$url/metrics");
my $t2 = time;
my $q = $ua->get("$url/api/v1/quality?limit=10");
note(sprintf "scrape %.2f s, api %.2f s", $t2 - $t1, time - $t2);
is($m->{status}, 200, 'a scrape answered right after the burst');
is($q->{status}, 200, 'and the API');
my $queued = mv($m->{content}, 'servqual_ingest_queue_datagrams');
cmp_ok($queued, ">", 0, "while $queued datagrams were still queued")
    or diag(length($m->{content}) . ' bytes: '
            . substr($m->{content}, 0, 300));

$gen = do { local (@ARGV, $/) = $bout; <> };
($sent) = $gen =~ /^sent (\d+) datagrams/m;
ok($sent && $sent > 10000, "the burst: $sent datagrams") or diag($gen);

$b->wait_for(sub {
    $after = $ua->get("$url/metrics")->{content};
    mv($after, 'servqual_ingest_queue_datagrams') == 0
        && ($after =~ /^servqual_datagrams_total\{result="accepted"\} (\d+)$/m
            ? $1 : 0) >= $sent;
}, 120);

($accepted) = $after =~
    /^servqual_datagrams_total\{result="accepted"\} (\d+)$/m;
is($accepted, $sent, 'every datagram of the burst was accepted');
is(mv($after, 'servqual_datagrams_lost_total'), 0, 'no sequence gap');
is(mv($after, 'servqual_ingest_queue_overflow_total'), 0,
   'no ingest-queue overflow');

is($b->stop, 0, 'clean exit');
unlike($b->log_text, qr/ERROR|AddressSanitizer|runtime error/,
       'no error logged') or diag($b->log_text);

done_testing;
