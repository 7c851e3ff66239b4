#!/usr/bin/perl

# The beacon endpoint (servqual_beacon) under good and hostile bodies:
# good beacons land in the series of their page, region and segment with
# their values; oversized, malformed and absurd ones get the right status
# and count nothing beyond clamped values; the beacon request itself is
# counted like any request; nothing worse than [error] in the log.  The
# script location (servqual_beacon_script): its bytes, type, lifetime and
# ETag.  Then nginx -t on bad uses of the directives.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQBlocks qw(blocks check_config_blocks);
use SQHttp qw(http_request http_get);
use SQNginx qw(start_nginx error_log);
use SQProc qw(prefix);
use SQWire qw(udp_listener decode_datagram encode_datagram
              datagram_problems sum_datagrams series_total hist_total
              sq_hist_index sq_hist_lower sq_hist_upper wire_const);


my $udp = udp_listener();

my $script = prefix() . '/conf/sq.js';
{
    open my $fh, '>', $script or die "$script: $!";
    print $fh "/* servqual test script */\n";
    close $fh;
}

start_nginx(<<'EOF');
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=100ms buffer=1024;
    servqual_region $http_x_region;
    servqual_segment $http_x_plan;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location = /sq/b {
            servqual_endpoint beacon;
            servqual_beacon;
            servqual_beacon_pages /=home /checkout=checkout search;
        }

        location = /sq/small {
            servqual_endpoint beacon-small;
            servqual_beacon;
            servqual_beacon_max_body 100;
        }

        location = /sq/off {
            servqual off;
            servqual_beacon;
            servqual_beacon_pages /=home;
        }

        location = /sq.js {
            servqual_endpoint script;
            servqual_beacon_script %%PREFIX%%/conf/sq.js;
        }

        location / {
            servqual_endpoint home;
            return 200 "home\n";
        }
    }
EOF


sub beacon {
    my ($body, %o) = @_;

    my $path = $o{path} // '/sq/b';
    my ($status) = http_request('POST', $path, body => $body,
                                headers => { 'X-Region' => 'eu',
                                             'X-Plan' => 'gold',
                                             'Content-Type' => 'text/plain',
                                             %{ $o{headers} // {} } });
    return $status;
}


# good beacons

my $requests = 0;

is(beacon('p=/&n=navigate&lcp=1840&inp=96&cls=0.0213&fcp=912&ttfb=180'),
   204, 'a good beacon: 204');
is(beacon('ttfb=20.5&p=/checkout&n=reload&lcp=2600.25&cls=0.3'),
   204, 'another page, keys in any order, decimals: 204');
is(beacon('p=search&n=back-forward&lcp=700&future=x1'),
   204, 'an unknown key of the plain form is skipped: 204');
is(beacon('p=/not/listed&n=prerender&lcp=500'),
   204, 'an unknown page: 204 (as "_other")');
is(beacon('p=/&lcp=99999999999999999999999999999&cls=12345.5&inp=60001'),
   204, 'absurd large values: 204, clamped');
is(beacon('p=/&n=navigate&lcp=1000', headers => { 'X-Region' => 'us' }),
   204, 'another region: 204');
$requests += 6;

# many distinct values: histograms continued across 1 KiB datagrams

my $many = 120;
my $ok = 0;
for my $i (1 .. $many) {
    $ok++ if beacon(sprintf('p=search&n=navigate&lcp=%d&inp=%d&cls=0.%04d'
                            . '&fcp=%d&ttfb=%d.5', 97 * $i, 13 * $i,
                            83 * $i, 53 * $i, 7 * $i)) == 204;
}
is($ok, $many, "$many beacons of distinct values: 204");
$requests += $many;

my ($st) = http_get('/', headers => { 'X-Region' => 'eu',
                                      'X-Plan' => 'gold' });
is($st, 200, 'an ordinary request');

# hostile ones: not counted

my %bad = (
    'negative'           => 'p=/&lcp=-1',
    'NaN'                => 'p=/&lcp=NaN',
    'exponent'           => 'p=/&lcp=1e300',
    'Infinity'           => 'p=/&cls=Infinity',
    'a key twice'        => 'p=/&cls=0.1&cls=0.2',
    'percent-encoded'    => 'p=%2F&lcp=1',
    'no page'            => 'lcp=100&n=navigate',
    'empty value'        => 'p=/&lcp=',
    'trailing &'         => 'p=/&lcp=1&',
    'no value'           => 'p=/&lcp',
    'a dot alone'        => 'p=/&lcp=.5',
    'unfinished decimal' => 'p=/&lcp=5.',
    'upper-case key'     => 'P=/&lcp=1',
    'JSON'               => '{"p":"/","lcp":1}',
    'a long page'        => 'p=/' . ('a' x 200),
    'a bad navigation'   => 'p=/&n=NAVIGATE',
    'binary'             => "p=/\0\xff&lcp=1",
    'newline'            => "p=/&lcp=1\n",
);

for my $name (sort keys %bad) {
    is(beacon($bad{$name}), 400, "$name: 400");
    $requests++;
}

is(beacon(''), 400, 'an empty body: 400');
is(beacon('p=/&lcp=1&pad=' . ('x' x 3000)), 413,
   'past the default 2k: 413');
is(beacon('p=/&lcp=1&pad=' . ('x' x 100), path => '/sq/small'), 413,
   'past servqual_beacon_max_body 100: 413');
is(beacon('p=/&lcp=1', path => '/sq/small'), 204,
   'within servqual_beacon_max_body: 204');
$requests += 4;

is(beacon('p=/&lcp=1', path => '/sq/off'), 204,
   'where servqual is off: 204, and nothing counted');

($st) = http_request('GET', '/sq/b');
is($st, 405, 'GET: 405');
($st) = http_request('PUT', '/sq/b', body => 'p=/&lcp=1');
is($st, 405, 'PUT: 405');
$requests += 2;

# the script

my ($s, $h, $body) = http_get('/sq.js');
is($s, 200, 'the script: 200');
is($body, "/* servqual test script */\n", 'the script: its bytes');
like($h->{'content-type'} // '', qr{^application/javascript},
     'the script: its type');
like($h->{'cache-control'} // '', qr/max-age=\d{6,}/,
     'the script: a long cache lifetime');
like($h->{etag} // '', qr/^"[0-9a-f]+-[0-9a-f]+"$/, 'the script: an ETag');
($s) = http_get('/sq.js', headers => { 'If-None-Match' => $h->{etag} });
is($s, 304, 'the script: 304 for its ETag');
($s) = http_request('POST', '/sq.js', body => 'x');
is($s, 405, 'the script: POST 405');

# what the datagrams say

my @raw = $udp->recv_all(timeout => 10, idle => 1.5);
my @maps = map { decode_datagram($_) } @raw;
ok(@maps, 'datagrams came');
is_deeply([ map { datagram_problems($_) } @maps ], [],
          'every datagram conforms to the wire format');
is(scalar(grep { encode_datagram(%{ decode_datagram($_) }) eq $_ } @raw),
   scalar @raw, 'every datagram is canonically encoded');
my $t = sum_datagrams(@maps);

my %home = (endpoint => 'home', region => 'eu', segment => 'gold');

is(series_total($t, 'beacons'), 7 + $many,
   'beacons counted: the good ones');
is(series_total($t, 'beacons', %home), 2, 'home/eu/gold: 2 beacons');
is(series_total($t, 'requests', %home), 1,
   'home/eu/gold: its 1 ordinary request in the same series');
is(series_total($t, 'beacons', endpoint => 'home', region => 'us'), 1,
   'home/us: 1 beacon');
is(series_total($t, 'beacons', endpoint => 'checkout'), 1, 'checkout: 1');
is(series_total($t, 'nav_reload', endpoint => 'checkout'), 1,
   'checkout: a reload');
is(series_total($t, 'beacons', endpoint => 'search'), 1 + $many,
   "search: 1 + $many");
for my $hist (qw(inp cls fcp ttfb)) {
    is(hist_total($t, "browser_$hist", endpoint => 'search'), $many,
       "search: $many $hist samples across datagrams");
}
my $split = grep {
    grep { $_->[0] eq 'search'
           && @$_ == wire_const('SQ_WIRE_SERIES_FIELDS_BROWSER') }
         @{ $_->{s} }
} @maps;
ok($split > 1, "search's browser data continued in $split datagrams");
is(series_total($t, 'nav_back_forward', endpoint => 'search'), 1,
   'search: a back-forward navigation');
is(series_total($t, 'beacons', endpoint => '_other'), 2,
   'the unlisted page and the small location (no pages): "_other"');
is(series_total($t, 'nav_other'), 3,
   'a prerender and the beacons without "n": nav_other');
is(series_total($t, 'beacons_clamped'), 1, 'one beacon clamped');
is(series_total($t, 'nav_navigate'), 2 + $many, 'the navigations');
is(series_total($t, 'beacons', endpoint => 'beacon'), 0,
   'the beacon location: no browser data of its own');


sub in_bucket {
    my ($hist, $v, %f) = @_;

    my $i = sq_hist_index($v);
    return hist_total($t, "browser_$hist", %f, lo => sq_hist_lower($i),
                      hi => sq_hist_upper($i));
}

is(in_bucket('lcp', 1840000, %home), 1, 'home: LCP 1840 ms');
is(in_bucket('inp', 96000, %home), 1, 'home: INP 96 ms');
is(in_bucket('cls', 2130, %home), 1, 'home: CLS 0.0213');
is(in_bucket('fcp', 912000, %home), 1, 'home: FCP 912 ms');
is(in_bucket('ttfb', 180000, %home), 1, 'home: TTFB 180 ms');
is(in_bucket('lcp', 60000000, %home), 1, 'home: the absurd LCP at 60 s');
is(in_bucket('inp', 60000000, %home), 1, 'home: INP 60001 ms at 60 s');
is(in_bucket('cls', 10 * wire_const('SQ_WIRE_CLS_SCALE'), %home), 1,
   'home: the absurd CLS at 10');
is(hist_total($t, 'browser_lcp', %home), 2, 'home: 2 LCP samples');
is(hist_total($t, 'browser_fcp', %home), 1, 'home: 1 FCP sample');
is(in_bucket('lcp', 2600250, endpoint => 'checkout'), 1,
   'checkout: LCP 2600.25 ms');
is(in_bucket('cls', 30000, endpoint => 'checkout'), 1, 'checkout: CLS 0.3');
is(in_bucket('ttfb', 20500, endpoint => 'checkout'), 1,
   'checkout: TTFB 20.5 ms');
is(hist_total($t, 'browser_inp', endpoint => 'checkout'), 0,
   'checkout: no INP sent, none counted');
is(hist_total($t, 'browser_lcp'), 7 + $many,
   'LCP samples: one a good beacon');

is(series_total($t, 'requests', endpoint => 'beacon')
   + series_total($t, 'requests', endpoint => 'beacon-small'), $requests,
   "every beacon request counted as a request ($requests)");
is(series_total($t, 'status_4xx', endpoint => 'beacon')
   + series_total($t, 'status_4xx', endpoint => 'beacon-small'),
   scalar(keys %bad) + 5, 'the refused ones as 4xx');
is(series_total($t, 'requests', endpoint => 'script'), 3,
   'the script requests counted');

my $log = error_log();
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no [alert], [crit] or [emerg]');
unlike($log, qr/exited on signal|core dumped/, 'no worker crashed');
like($log, qr/servqual: malformed beacon/, 'malformed beacons at [info]');


# bad uses of the directives

check_config_blocks(blocks());

done_testing;


__DATA__

=== beacon with an argument
--- location: servqual_beacon on;
--- error_like: invalid number of arguments in "servqual_beacon" directive

=== beacon in http
--- http: servqual_beacon;
--- error_like: "servqual_beacon" directive is not allowed here

=== beacon twice
--- location: servqual_beacon; servqual_beacon;
--- error_like: "servqual_beacon" directive is duplicate

=== max body too small
--- location: servqual_beacon; servqual_beacon_max_body 8;
--- error_like: invalid beacon body size "8", it must be between 16 and 65536

=== max body not a size
--- location: servqual_beacon; servqual_beacon_max_body lots;
--- error_like: invalid beacon body size "lots"

=== max body twice
--- location: servqual_beacon_max_body 1k; servqual_beacon_max_body 2k;
--- error_like: "servqual_beacon_max_body" directive is duplicate

=== page with a space
--- location: servqual_beacon_pages "/a b";
--- error_like: invalid beacon page "/a b"

=== page with an empty name
--- location: servqual_beacon_pages /a=;
--- error_like: invalid beacon page endpoint name "/a="

=== page twice
--- location: servqual_beacon_pages /a /b=x /a=y;
--- error_like: duplicate beacon page "/a"

=== pages twice
--- location: servqual_beacon_pages /a; servqual_beacon_pages /b;
--- error_like: "servqual_beacon_pages" directive is duplicate

=== script missing
--- location: servqual_beacon_script /nonexistent/sq.js;
--- error_like: open\(\) "/nonexistent/sq.js" failed

=== everything
--- http
servqual on;
servqual_collector 127.0.0.1:5170;
servqual_beacon_max_body 4k;
--- location: servqual_beacon; servqual_beacon_pages / /a=b c;
