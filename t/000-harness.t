#!/usr/bin/perl

# The test harness itself, without the servqual module: plain nginx,
# the delaying upstream, the MaxMind DB builder, the datagram listeners,
# the wire decoding and the histogram port.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Data::MessagePack;
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use Test::More;
use Time::HiRes qw(time);

use SQBlocks qw(blocks);
use SQCollector qw(collector_conf);
use SQGeo qw(mmdb_regions mmdb_unknown_ips make_mmdb mmdb_lookup);
use SQHttp qw(http_get http_abort);
use SQNginx qw(nginx_conf start_nginx nginx_test_config reload_nginx
               stop_nginx nginx_port master_pid worker_pids error_log_mark
               wait_for_log no_error_in_log);
use SQProc qw(prefix pid_alive read_file repo_root);
use SQUpstream qw(start_upstream);
use SQWire qw(wire_keys wire_key wire_field wire_hists wire_const
              counter_index datagram series encode_datagram
              counter_names sq_hist_index sq_hist_lower sq_hist_upper
              sq_hist_buckets decode_datagram datagram_problems decode_hist
              sum_datagrams series_total hist_total seq_gaps udp_listener
              unix_listener);


# --- histogram port: the C scheme's invariants --------------------------

subtest 'histogram buckets' => sub {
    is sq_hist_buckets(), 1728, 'SQ_HIST_BUCKETS';
    is sq_hist_index($_), $_, "value $_ has its own bucket" for 0, 1, 127;
    is sq_hist_index(128), 128, '128 starts the first split octave';
    is sq_hist_index(0xffffffff), sq_hist_buckets() - 1, 'max is last';
    is sq_hist_index(1 << 40), sq_hist_buckets() - 1, 'clamped';
    is sq_hist_upper(sq_hist_buckets() - 1), 1 << 32, 'ends at 2^32';

    my $bad = 0;
    for my $i (0 .. sq_hist_buckets() - 1) {
        my ($lo, $hi) = (sq_hist_lower($i), sq_hist_upper($i));
        $bad++ if sq_hist_index($lo) != $i || sq_hist_index($hi - 1) != $i;
        $bad++ if $i > 0 && sq_hist_upper($i - 1) != $lo;
        $bad++ if $lo >= 128 && ($hi - $lo) * 64 > $lo;
    }
    is $bad, 0, 'buckets tile [0, 2^32) within 1/64 of their bounds';

    my $i = sq_hist_index(250_000);
    ok sq_hist_lower($i) <= 250_000 && 250_000 < sq_hist_upper($i),
       '250 ms lies in its bucket';
};


# --- wire decoding with a datagram encoded here --------------------------

my @names = counter_names();
is $names[0], 'requests', 'counters start with requests';
is scalar(@names), 23, 'counter names from servqual_wire.h';

sub counters {
    my (%c) = @_;
    my %pos = map { $names[$_] => $_ } 0 .. $#names;
    my @a = (0) x @names;
    $a[ $pos{$_} ] = $c{$_} for keys %c;
    return \@a;
}

my $i250 = sq_hist_index(250_000);
my $dgram = {
    v => 1, node => 'test', pid => 42, seq => 1, ws => 1000, we => 2000,
    dd => 0, dr => 0, so => 0, go => 0,
    s => [
        ['/a', 'US', '', counters(requests => 2, status_2xx => 2),
         [100, 1, 5, 1], [50, 2]],
        ['/slow', 'BR', 'gold', counters(requests => 1, status_2xx => 1),
         [$i250, 1], [$i250, 1]],
    ],
};
my $bytes = Data::MessagePack->pack($dgram);

is_deeply decode_datagram($bytes), $dgram, 'decode_datagram round trip';
is_deeply [datagram_problems(decode_datagram($bytes))], [], 'conforms';
ok !eval { decode_datagram($bytes . "\x00"); 1 }, 'trailing byte rejected';
ok !eval { decode_datagram(Data::MessagePack->pack([1])); 1 },
   'non-map rejected';
ok scalar(datagram_problems({ %$dgram, s => [['/a', 'US', '', [1], [], []]]
    })), 'short counters array reported';
is_deeply decode_hist([100, 1, 5, 1]), { 100 => 1, 105 => 1 },
   'delta-encoded histogram';
ok !eval { decode_hist([1, 1, 0, 1]); 1 }, 'zero delta rejected';


# --- datagram listeners ---------------------------------------------------

subtest 'udp and unix listeners' => sub {
    my $udp = udp_listener();
    ok $udp->port > 0, 'udp port ' . $udp->port;

    my $tx = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                   PeerPort => $udp->port, Proto => 'udp')
        or die "udp: $!";
    send $tx, $bytes, 0 for 1 .. 2;

    my $d2 = { %$dgram, seq => 2 };
    send $tx, Data::MessagePack->pack({ %$d2, seq => 3 }), 0;
    send $tx, Data::MessagePack->pack($d2), 0;

    my @maps = $udp->recv_requests(8, timeout => 5, settle => 0.2);
    is scalar(@maps), 4, 'four datagrams';

    my ($t, $head) = sum_datagrams(@maps);
    is $head->{datagrams}, 4, 'header totals';
    is series_total($t, 'requests'), 12, 'all requests';
    is series_total($t, 'requests', endpoint => '/a', region => 'US'), 8,
       'series repeated over datagrams is summed';
    is $t->{'/slow'}{BR}{gold}{counters}{status_2xx}, 4, 'nested totals';
    is_deeply $t->{'/a'}{US}{''}{rt}, { 100 => 4, 105 => 4 }, 'rt sums';
    is hist_total($t, 'rt', endpoint => '/slow', lo => 200_000,
                  hi => 300_000), 4, 'slow requests in 200-300 ms';
    is hist_total($t, 'ttfb'), 12, 'ttfb counts = requests';
    is_deeply [seq_gaps(@maps)], ['test/42: duplicate 1'],
       'seq_gaps sees the duplicate';

    my $unix = unix_listener();
    like $unix->path, qr/collector\.sock\z/, 'unix path';
    my $ux = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Peer => $unix->path)
        or die "unix: $!";
    send $ux, $bytes, 0;
    my @raw = $unix->recv_all(timeout => 5, until => sub { @{ $_[0] } });
    is scalar(@raw), 1, 'unix datagram received';
    is decode_datagram($raw[0])->{node}, 'test', 'and decoded';

    my $t0 = time;
    my @none = $unix->recv_all(timeout => 0.3);
    ok !@none && time - $t0 >= 0.25, 'recv_all waits for its timeout';
    $unix->close;
    ok !-e $unix->path, 'closed and unlinked';
};


# --- the wire format's names, read from servqual_wire.h ------------------

subtest 'wire names from the header' => sub {
    my $h = read_file(repo_root() . '/include/servqual_wire.h');
    my ($table) = $h =~ /#define\s+SQ_WIRE_KEY_NAMES((?:.*\\\n)*.*)/;
    my @names = $table =~ /"([^"]+)"/g;

    is_deeply [wire_keys()], \@names, 'keys: SQ_WIRE_KEY_NAMES, in order';
    is scalar(wire_keys()), wire_const('SQ_WIRE_NKEYS'),
       'as many as SQ_WIRE_NKEYS counts';
    is wire_key('SQ_K_SEQ'), $names[3], 'SQ_K_SEQ names the fourth key';
    ok !eval { wire_key('SQ_K_NOPE'); 1 }, 'an unknown key id dies';
    is wire_field('SQ_F_COUNTERS'), 3, 'counters are series field 3';
    is wire_const('SQ_WIRE_SERIES_FIELDS'), 6, 'six series fields';
    is_deeply [wire_hists()], [qw(rt ttfb)], 'SQ_H_RT, then SQ_H_TTFB';
    is counter_index('SQ_C_5XX'), 5, 'SQ_C_5XX is counter 5';

    my $bytes = datagram(node => 'n', pid => 7, seq => 3, series => [
        series(endpoint => '/a', region => 'US', latencies => [0.1, 0.2],
               counters => { status_2xx => 2 }) ]);
    my $m = decode_datagram($bytes);
    is_deeply [datagram_problems($m)], [], 'a built datagram conforms';
    is_deeply [sort keys %$m], [sort @names], 'with every key';
    is $m->{ wire_key('SQ_K_SEQ') }, 3, 'seq as given';
    my $e = encode_datagram(%$m);
    is_deeply decode_datagram($e), $m, 'canonical encoding round trip';
    is encode_datagram(%{ decode_datagram($e) }), $e, 'and stable';
    my ($t) = sum_datagrams($m);
    is series_total($t, 'status_2xx'), 2, 'counters by name';
    is hist_total($t, 'ttfb'), 2, 'ttfb from the latencies';
};


# --- the collector fixture and test blocks --------------------------------

subtest 'collector fixture' => sub {
    my $y = collector_conf(windows => 'fast', min_requests => 20,
                           extra => "limits:\n  max_series: 3\n",
                           alerts => { interval => '1s' });
    like $y, qr/^windows: \{ slot: 1s, short: 3s, long: 12s \}$/m,
         'fast windows';
    is scalar(() = $y =~ /^  \w+: +\{ min_requests: 20 \}$/mg), 5,
       'min_requests for the five dimensions';
    like $y, qr/^limits:\n  max_series: 3\nalerts:\n  interval: 1s\n\z/m,
         'extra, then alerts';
    is collector_conf(), '', 'nothing by default';
};

subtest 'test blocks' => sub {
    my $text = join "\n", '# a comment', '=== one', '--- http: a;',
        '--- location', 'b;', 'c;', '', '=== two',
        q{--- http eval: 'x' x 3}, '';
    open my $fh, '<', \$text or die;
    my @b = blocks($fh);
    is_deeply \@b, [ { name => 'one', http => 'a;', location => "b;\nc;" },
                     { name => 'two', http => 'xxx' } ], 'parsed';
};


# --- MaxMind DB -----------------------------------------------------------

my $mmdb = prefix() . '/test.mmdb';

subtest 'mmdb builder' => sub {
    make_mmdb($mmdb);
    ok -s $mmdb, 'database written';

    my $gone = prefix() . '/gone.mmdb';
    ok !eval { nginx_conf(http => 'servqual_geoip2 %%MMDB%%;',
                          mmdb => $gone); 1 },
       'a database given for %%MMDB%% must exist';
    ok !-e $gone, 'and is not generated in its place';

    my @r = mmdb_regions();
    is scalar(@r), 6, 'six countries';
    is_deeply [sort map { $_->{continent} } @r], [qw(AF AS EU NA OC SA)],
       'on six continents';

  SKIP: {
        skip 'mmdblookup (mmdb-bin) not installed', 1
            unless grep { -x "$_/mmdblookup" } split /:/, $ENV{PATH};

        for my $r (@r) {
            for my $ip ($r->{ip4}, $r->{ip6}) {
                is mmdb_lookup($mmdb, $ip, qw(country iso_code)),
                   $r->{country}, "$ip country";
            }
            is mmdb_lookup($mmdb, $r->{ip4}, qw(continent code)),
               $r->{continent}, "$r->{ip4} continent";
            is mmdb_lookup($mmdb, $r->{ip6}, qw(subdivisions 0 iso_code)),
               $r->{subdivision}, "$r->{ip6} subdivision";
        }
        is mmdb_lookup($mmdb, '::ffff:10.2.0.7', qw(country iso_code)), 'BR',
           'IPv4-mapped IPv6 aliased';
        is mmdb_lookup($mmdb, $_, qw(country iso_code)), undef,
           "$_ unknown" for mmdb_unknown_ips();

        my $cdb = prefix() . '/country.mmdb';
        make_mmdb($cdb, type => 'GeoIP2-Country');
        is mmdb_lookup($cdb, '10.4.0.7', qw(country iso_code)), 'JP',
           'country database';
        is mmdb_lookup($cdb, '10.4.0.7', qw(subdivisions 0 iso_code)),
           undef, 'without subdivisions';
    }
};


# --- the upstream -----------------------------------------------------------

my $up = start_upstream('/custom' => sub { (201, { 'X-C' => 'y' }, "c\n") });

subtest 'upstream' => sub {
    my ($s, $h, $b) = http_get('/status/503', port => $up->port);
    is $s, 503, 'status route';

    ($s, $h, $b) = http_get('/big/5000', port => $up->port);
    is length($b), 5000, 'big body';

    ($s, $h, $b) = http_get('/big/100.json', port => $up->port);
    like $h->{'content-type'}, qr{application/json}, 'json body';
    is length($b), 100, 'json size';

    ($s, $h, $b) = http_get('/custom', port => $up->port);
    is "$s $h->{'x-c'} $b", "201 y c\n", 'custom route';

    my $t0 = time;
    ($s, $h, $b) = http_get('/delay/300', port => $up->port);
    ok time - $t0 >= 0.3, 'delay waited';
    is $b, "delayed 300\n", 'delay body';
};


# --- nginx ------------------------------------------------------------------

my ($rc, $out) = nginx_test_config('server { listen 127.0.0.1:%%PORT%%; }',
                                   module => 0);
is $rc, 0, 'nginx -t accepts a good config' or diag $out;

($rc, $out) = nginx_test_config('server { lisen 1; }', module => 0);
isnt $rc, 0, 'nginx -t rejects a bad one';
like $out, qr/unknown directive "lisen" in \S+test\.conf:\d+/,
   'with directive, file and line';

ok !eval { nginx_conf(http => '%%NOPE%%', module => 0); 1 },
   'unknown placeholder is an error';

my %opts = (module => 0, workers => 2, vars => { UP => $up->port });
my $port = start_nginx(<<'EOF', %opts);
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /hello {
            return 200 "hello $remote_addr\n";
        }

        location /up/ {
            proxy_pass http://127.0.0.1:%%UP%%/;
            proxy_read_timeout 1s;
        }
    }
EOF

is nginx_port(), $port, "nginx on port $port";
my @workers = worker_pids();
is scalar(@workers), 2, 'two workers';

my ($s, $h, $b) = http_get('/hello');
is "$s $b", "200 hello 127.0.0.1\n", 'return 200';
is $h->{'content-type'}, 'text/plain', 'headers';

($s, $h, $b) = http_get('/hello', xff => '2001:db8:3::7');
is $b, "hello 2001:db8:3::7\n", 'X-Forwarded-For through realip';

my $t0 = time;
($s, $h, $b) = http_get('/up/delay/200');
ok $s == 200 && time - $t0 >= 0.2, 'proxied to the delaying upstream';

($s) = http_get('/up/close');
is $s, 502, 'upstream closing gives 502';

($s) = http_get('/up/delay/3000');
is $s, 504, 'upstream timeout gives 504';

($s, $h, $b) = http_get('/up/trickle/100');
is $b, "trickled 100\n", 'trickled body';

ok http_abort('/up/delay/500', after => 0.05), 'client abort sent';

my $mark = error_log_mark();
reload_nginx();
my @new = worker_pids();
is scalar(@new), 2, 'two new workers after reload';
ok !(grep { my $n = $_; grep { $_ == $n } @workers } @new),
   'all workers replaced';
like wait_for_log(qr/reconfiguring/, since => $mark), qr/reconfiguring/,
     'reload in the error log';

($s) = http_get('/hello');
is $s, 200, 'serves after reload';

my $bad = "server { listen 127.0.0.1:%%PORT%%; bogus; }";
ok !eval { reload_nginx(http => $bad); 1 }, 'a failing reload dies';
like $@, qr/unknown directive "bogus"/, 'with the error log lines';

$mark = error_log_mark();
reload_nginx(http => "server { listen 127.0.0.1:%%PORT%%;\n"
                     . "location / { return 204; } }");
($s) = http_get('/hello');
is $s, 204, 'reload with a new configuration';

no_error_in_log('no [error] since the last reload', since => $mark);

my $master = master_pid();
stop_nginx();
ok !-d "/proc/$master" || pid_alive($master) == 0, 'nginx stopped';

done_testing;
