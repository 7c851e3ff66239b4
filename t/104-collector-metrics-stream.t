#!/usr/bin/perl

# /metrics with thousands of series is streamed in parts: complete and
# valid when read whole, harmless when the client goes away in the middle,
# and ingest and the API keep working while a slow client reads it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempfile);
use IO::Socket::INET;
use SQCollector;
use Test::More;

# per-series scores opt in: the stream walks every row
my $c = SQCollector->new(extra => "metrics:\n  scores: [series, endpoint]\n");
$c->start;

# 4000 series, 40 datagrams of 100

my $seq = 0;
for my $d (0 .. 39) {
    $c->send(SQCollector::datagram(seq => ++$seq, series => [ map {
        SQCollector::series(endpoint => "/e" . ($d * 100 + $_),
            region => 'US', latencies => [ 0.01, 0.2 ],
            counters => { status_2xx => 2 })
    } 0 .. 99 ]));
    $c->wait_for(sub { $c->json('/healthz')->{series} >= ($d + 1) * 100 });
}

is($c->json('/healthz')->{series}, 4000, '4000 series');

my $text = $c->get('/metrics')->{content};
my @req = $text =~ /^servqual_requests_total\{/mg;
is(scalar @req, 4000, 'every series in /metrics');
my @rows = $text =~ /^servqual_quality_index\{scope="series"/mg;
is(scalar @rows, 0, 'no index without scored dimensions (too few requests)');
like($text, qr/^servqual_window_requests\{scope="endpoint",endpoint="\/e3999"/m,
     'the last family is complete');

SKIP: {
    skip 'promtool not installed', 1 unless `which promtool` =~ /\S/;
    my ($fh, $file) = tempfile();
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics < $file 2>&1`;
    is($?, 0, 'promtool check metrics passes on the streamed text')
        or diag $out;
}

# clients that go away in the middle

for (1 .. 5) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$c->{http}")
        or die "connect: $!";
    print $s "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    my $got = '';
    while (length $got < 50000) {
        my $n = sysread($s, my $buf, 16384);
        last unless $n;
        $got .= $buf;
    }
    close $s;
}

ok($c->alive, 'alive after five clients left in the middle');

# a slow client holds a scrape open; ingest and the API go on

my $slow = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$c->{http}")
    or die "connect: $!";
print $slow "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
sysread($slow, my $first, 1000);
like($first, qr{^HTTP/1\.1 200}, 'the slow client got its first part');

$c->send(SQCollector::datagram(seq => ++$seq, series => [
    SQCollector::series(endpoint => '/late', region => 'US',
                        latencies => [ 0.01 ]) ]));
ok($c->wait_for(sub { $c->json('/healthz')->{series} == 4001 }, 20),
   'a datagram sent meanwhile is taken');
my $q = $c->json('/api/v1/quality?endpoint=/late&scope=series');
is($q->{rows}[0]{windows}{short}{requests}, 1, 'and scored');
close $slow;

is($c->get('/metrics')->{status}, 200, 'a new scrape after all that');
is($c->stop, 0, 'clean exit');
unlike($c->log_text, qr/AddressSanitizer|LeakSanitizer|runtime error/,
       'no sanitizer reports');

done_testing;
