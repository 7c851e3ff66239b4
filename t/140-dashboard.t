#!/usr/bin/perl

# The dashboard in a real browser (headless Chromium): it loads with no
# console message and no failed request, every request it makes stays on
# 127.0.0.1 (all traffic goes through a recording proxy), and it shows the
# zone-of-tolerance bands with the degraded region's marker below its zone,
# the endpoints x regions grid, and the firing alert.  The screenshot is
# kept in t/output/dashboard.png (and dashboard-phone.png, 390 px wide,
# and dashboard-1280.png, the whole page 1280 px wide).
# It also shows the incident first, in words, the map with the degraded
# region coloured below, the grid's colour scale and the placement chart
# (uPlot) with its legend.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Test::More;

use SQCollector;


my $chromium = $ENV{CHROMIUM_BIN} // '/usr/bin/chromium';
plan skip_all => "no $chromium" unless -x $chromium;

my $c = SQCollector->new(min_requests => 20, alerts => { interval => '1s' });
$c->start;

# checkout: fast in the US and Germany, slow and failing in Brazil

my $seq = 0;
sub traffic {
    for my $i (1 .. 5) {
        $c->send(SQCollector::datagram(node => 'web1', pid => 7,
            seq => ++$seq, series => [
            SQCollector::series(endpoint => 'checkout', region => 'US',
                latencies => [ (0.05) x 40 ],
                counters => { status_2xx => 40, tls_1_3 => 40 }),
            SQCollector::series(endpoint => 'checkout', region => 'DE',
                latencies => [ (0.08) x 30 ],
                counters => { status_2xx => 30, tls_1_3 => 30 }),
            SQCollector::series(endpoint => 'checkout', region => 'BR',
                latencies => [ (3.0) x 30 ],
                counters => { status_2xx => 24, status_5xx => 6,
                              upstream_errors => 6, tls_1_3 => 30 }),
            SQCollector::series(endpoint => 'search', region => 'US',
                latencies => [ (0.02) x 40 ],
                counters => { status_2xx => 40, tls_1_3 => 40 }),
        ]));
    }
}

# a first run, stopped: the collector stores its partial minute at exit,
# so the chart has a stored minute to start from (then the live one)

my $counted = sub {
    my ($n) = @_;
    return $c->wait_for(sub {
        my $q = $c->json('/api/v1/quality?scope=endpoint&endpoint=checkout');
        ($q->{rows}[0]{windows}{short}{requests} // 0) >= $n;
    }, 10);
};

traffic();
ok $counted->(500), 'a first run counted';
is $c->stop, 0, 'stopped: its partial minute stored';
$c->start;
traffic();

ok $c->wait_for(sub {
    my $a = $c->json('/api/v1/alerts');
    grep { ($_->{labels}{region} // '') eq 'BR' } @{ $a->{firing} };
}, 30), 'the collector has a firing alert for BR';

# a recording proxy: every request the browser makes passes here

my $proxy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 64, ReuseAddr => 1)
    or die "proxy: $!";
my $proxy_port = $proxy->sockport;
my $log = tempdir(CLEANUP => 1) . '/requests';

my $ppid = fork // die "fork: $!";
if ($ppid == 0) {
    my $ua = HTTP::Tiny->new(timeout => 10);
    while (my $cl = $proxy->accept) {
        my $head = '';
        while (defined(my $l = <$cl>)) {
            $head .= $l;
            last if $l eq "\r\n";
        }
        my ($method, $url) = $head =~ /^(\S+) (\S+)/;
        my ($referer) = $head =~ /^Referer: (\S+)/mi;
        my $status = 403;
        my ($ctype, $body) = ('text/plain', "refused\n");
        if ($method && $method ne 'CONNECT'
            && $url =~ m{^http://127\.0\.0\.1:\d+/})
        {
            my $r = $ua->request($method, $url);
            ($status, $ctype, $body) = ($r->{status},
                $r->{headers}{'content-type'} // 'text/plain',
                $r->{content} // '');
        }
        if (open my $fh, '>>', $log) {
            print $fh join(' ', $method // '-', $url // '-', $status,
                           $referer // '-'), "\n";
            close $fh;
        }
        print $cl "HTTP/1.1 $status X\r\nContent-Type: $ctype\r\n"
                . 'Content-Length: ' . length($body) . "\r\n"
                . "Connection: close\r\n\r\n$body";
        close $cl;
    }
    POSIX::_exit(0);
}
close $proxy;

my $out = "$FindBin::Bin/output";
make_path($out);
my $profile = tempdir(CLEANUP => 1);
my $url = "http://127.0.0.1:$c->{http}/";

my @flags = ('--headless', '--no-sandbox', '--disable-gpu',
             '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update',
             '--disable-sync', '--disable-default-apps', '--no-pings',
             '--disable-domain-reliability',
             '--disable-client-side-phishing-detection',
             '--disable-features=NetworkTimeServiceQuerying,Translate,'
             . 'OptimizationHints,MediaRouter,AutofillServerCommunication',
             "--user-data-dir=$profile",
             "--proxy-server=http://127.0.0.1:$proxy_port",
             "'--proxy-bypass-list=<-loopback>'",
             '--enable-logging=stderr', '--v=1',
             '--virtual-time-budget=8000', '--window-size=1400,1100');

sub chromium {
    my ($what, $err) = @_;
    my $o = `$chromium @flags $what '$url' 2>$err`;
    return ($? >> 8, $o);
}

my ($rc, $dom) = chromium('--dump-dom', "$out/chromium.log");
is $rc, 0, 'chromium loaded the dashboard';

($rc) = chromium("--screenshot=$out/dashboard.png", "$out/chromium-2.log");
ok -s "$out/dashboard.png", "screenshot in t/output/dashboard.png";

# the page on a phone

{
    my @wide = @flags;
    @flags = map { s/--window-size=\S+/--window-size=390,844/r } @wide;
    chromium("--screenshot=$out/dashboard-phone.png", "$out/chromium-3.log");
    @flags = @wide;
}
ok -s "$out/dashboard-phone.png", 'a phone-size screenshot too';

# and the whole page at 1280 px

{
    my @wide = @flags;
    @flags = map { s/--window-size=\S+/--window-size=1280,3000/r } @wide;
    chromium("--screenshot=$out/dashboard-1280.png", "$out/chromium-4.log");
    @flags = @wide;
}
ok -s "$out/dashboard-1280.png", 'the whole page at 1280 px';

kill 'TERM', $ppid;
waitpid $ppid, 0;

open my $lf, '<', "$out/chromium.log" or die;
my @console = grep { /:CONSOLE/ } <$lf>;
is_deeply \@console, [], 'no console message (errors included)';

open my $rf, '<', $log or die "the browser made no request through the proxy";
my @req = <$rf>;
chomp @req;

# the page's own requests: the page itself and what it refers to (the
# browser's background requests have no referer; the proxy refuses them
# like anything not for 127.0.0.1, so nothing leaves the machine)
my @page = grep { m{^GET \Q$url\E \d+ -$} || m{ \Q$url\E\S*$} } @req;

ok scalar(grep { m{^GET \Q$url\E 200 } } @page),
   'the page came through the proxy';
ok scalar(grep { m{/api/v1/quality 200 } } @page), 'it fetched the scores';
ok scalar(grep { m{/api/v1/alerts 200 } } @page), 'and the alerts';
ok scalar(grep { m{/api/v1/incidents 200 } } @page), 'and the incidents';
is_deeply [grep { !m{^GET http://127\.0\.0\.1:$c->{http}/\S* 200 } } @page],
          [], 'every request of the page stayed on 127.0.0.1 and succeeded';
is_deeply [grep { !/ 403 / && !m{^GET http://127\.0\.0\.1:} } @req], [],
          'nothing else was let through';

# what the page shows

like $dom, qr/Zone of tolerance: checkout/,
     'the band chart opens on the endpoint in the worst shape';
like $dom, qr/<rect[^>]*class="band"/, 'the zones are drawn as bands';
like $dom, qr/<circle[^>]*class="marker below"/,
     'a marker below its zone';
like $dom, qr/<td class="cell below[^"]*"[^>]*data-region="BR"/,
     'the grid shows checkout in BR below its zone';
like $dom, qr/<td[^>]*class="cell above[^"]*"[^>]*data-region="US"/,
     'and the US above';
like $dom, qr/Critical: checkout in BR is below the adequate level on/,
     'the firing alert, in words';

# incidents first, the map, the grid's legend and the chart

like $dom, qr/<h2 id="inc-title">Incidents<\/h2>.*<h2 id="map-title">/s,
     'incidents come first, then the map';
like $dom, qr/<article class="incident critical" data-region="BR"[^>]*>\s*<h3>Critical: checkout in Brazil: reliability [\d.]+ % \(adequate 99\.5 %\)/,
     'the incident, in words';
like $dom, qr/slower than other regions: p75 3\.0 s vs \d+ ms/,
     'empathy as two request times';
like $dom, qr/Look at: checkout in BR/, 'which requests to look at';
like $dom, qr/<path class="country below" data-region="BR"/,
     'the map: Brazil coloured below its zone';
like $dom, qr/<path class="country above" data-region="US"/,
     'the map: the US above';
like $dom, qr/<path class="country" data-region="FR"/,
     'the map: a country without traffic left grey';
like $dom, qr/class="scale"[^>]*aria-label="colour scale/,
     'the grid has a colour scale legend';
like $dom, qr/<div id="trend"[^>]*data-points="[1-9]/,
     'the chart has points (the live minute at least)';
like $dom, qr/<div id="trend"[^>]*data-stored="[1-9]/,
     'drawn from the first stored minute';
like $dom, qr/\d+ stored minutes? and the current one \(live\)/,
     'and says so';
like $dom, qr/class="uplot/, 'drawn by uPlot';
like $dom, qr/class="u-legend.*Reliability.*Responsiveness.*Empathy.*adequate.*desired/s,
     'with a legend for each dimension and the two levels';
like $dom, qr/<td class="cell[^"]*"[^>]*tabindex="0"|<td[^>]*tabindex="0"[^>]*class="cell/,
     'grid cells take the keyboard';


is $c->stop, 0, 'the collector exits cleanly';

done_testing;
