#!/usr/bin/perl

# The region table is exact: t/module/rtable_t builds it from each of
# MaxMind's test databases and from generated dense ones (as many
# networks as GeoLite2-Country; a City one with subdivisions) and
# compares it, for 1M random addresses each (IPv4, IPv6 at and around
# every kind of range boundary, IPv4-mapped and the other IPv4 aliases,
# addresses in no network), with MMDB_lookup_sockaddr() plus the value
# lookup, in the three region modes; the same again under ASan/UBSan with
# fewer addresses.  Then nginx itself: on the dense database the regions
# in the datagrams are mmdblookup's, and the workers share the table's
# pages with the master instead of holding copies.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQGeo qw(maxmind_test_db make_dense_mmdb mmdb_lookup);
use SQHttp qw(http_get);
use SQNginx qw(start_nginx stop_nginx worker_pids master_pid
               no_error_in_log);
use SQProc qw(prefix repo_root run_cmd read_file);
use SQWire qw(sum_datagrams series_total udp_listener);


my $root = repo_root();
my @dbs = map { maxmind_test_db($_) }
    qw(GeoIP2-City-Test GeoIP2-Country-Test GeoLite2-City-Test
       GeoLite2-Country-Test GeoIP2-City-Test-Broken-Double-Format);

# as many networks as GeoLite2-Country (about 420k, IPv4 and IPv6)
my $dense = make_dense_mmdb(prefix() . '/dense-country.mmdb',
                            type => 'GeoLite2-Country', ipv4 => 250_000,
                            ipv6 => 170_000, seed => 1);
my $city = make_dense_mmdb(prefix() . '/dense-city.mmdb',
                           type => 'GeoLite2-City', ipv4 => 60_000,
                           ipv6 => 30_000, seed => 2);
push @dbs, $dense, $city;


# runs rtable_t and turns its TAP lines into tests of this file

sub rtable_t {
    my ($bin, @args) = @_;

    ok -x $bin, "$bin is built" or return;

    my ($rc, $out) = run_cmd($bin, @args);
    is $rc, 0, "$bin exits 0";

    my $n = 0;
    for (split /\n/, $out) {
        if (/^(not )?ok \d+ - (.*)/) {
            ok !$1, $2;
            $n++;
        } elsif (/^#/) {
            note $_;
        }
    }

    is $n, 4 * @dbs, "$bin: every database and mode checked";
}

rtable_t("$root/build/t/rtable_t", '-n', 1_000_000, @dbs);
rtable_t("$root/build/asan/t/rtable_t", '-n', 50_000, @dbs);


# nginx on the dense database: regions as mmdblookup says

my $udp = udp_listener();

start_nginx(<<'EOF', mmdb => $dense, workers => 2);
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=100ms;
    servqual_geoip2 %%MMDB%%;

    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location /country { return 200; }
        location /continent { servqual_region continent; return 200; }
    }
EOF

srand(7);
my (@ips, %want);

for my $i (0 .. 59) {
    my $ip = $i % 3 == 0 ? sprintf('%d.%d.%d.%d', 1 + int rand 30,
                                   map { int rand 256 } 1 .. 3)
           : $i % 3 == 1 ? sprintf('2001:%x:%x::%x', 0x200 + int rand 0x4000,
                                   int rand 0x10000, 1 + int rand 0xffff)
           : sprintf('::ffff:%d.%d.%d.%d', 1 + int rand 30,
                     map { int rand 256 } 1 .. 3);
    push @ips, $ip;
    $want{'/country'}{ mmdb_lookup($dense, $ip, qw(country iso_code))
                       // 'unknown' }++;
    $want{'/continent'}{ mmdb_lookup($dense, $ip, qw(continent code))
                         // 'unknown' }++;
}

for my $ip (@ips) {
    http_get($_, xff => $ip) for qw(/country /continent);
}

my ($t) = sum_datagrams($udp->recv_requests(2 * @ips));

for my $ep (sort keys %want) {
    my %got;
    for my $region (keys %{ $t->{$ep} }) {
        $got{$region} = series_total($t, 'requests', endpoint => $ep,
                                     region => $region);
    }
    is_deeply \%got, $want{$ep}, "dense database: $ep regions as "
                                 . 'mmdblookup gives them';
}


# the table is one read-only mapping, written in the master: in a worker
# its pages are shared (with the master and the other worker), none
# private

my ($kib) = read_file(prefix() . '/logs/error.log')
    =~ /servqual region table of "[^"]+": .*?, (\d+) KiB, \d+ ms/;
ok $kib, "the master logged the table's size ($kib KiB)";

for my $w (worker_pids()) {
    my $smaps = read_file("/proc/$w/smaps");
    my ($m) = grep { /^Size:\s+(\d+) kB/m && abs($1 - $kib) <= 4 }
              grep { /\A\S+ r--p 00000000 00:00 0\s/ }
              split /(?=^[0-9a-f]+-[0-9a-f]+ )/m, $smaps;

    ok $m, "worker $w maps the table" or next;

    my %f = map { /^(\w+):\s+(\d+) kB/ ? ($1 => $2) : () } split /\n/, $m;
    cmp_ok $f{Private_Dirty} + $f{Private_Clean}, '==', 0,
           "worker $w holds no private copy of it";
    cmp_ok $f{Shared_Dirty} + $f{Shared_Clean}, '>', 0,
           "worker $w shares its pages ($f{Rss} kB resident)";
}

no_error_in_log('dense database: no error in the log');
stop_nginx();

done_testing;
