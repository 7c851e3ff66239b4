#!/usr/bin/perl

# MaxMind's own test databases: GeoIP2 City and Country give the right
# country, continent and subdivision for IPv4 and IPv6 clients; a database
# whose data section is corrupt loads and answers what it can, without an
# error per request, a crash or a lost request.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQGeo qw(maxmind_test_db);
use SQHttp qw(http_get);
use SQNginx qw(start_nginx stop_nginx no_error_in_log);
use SQWire qw(sum_datagrams series_total udp_listener);


# t/mmdb/, each asserted present first
my %path = map { $_ => maxmind_test_db($_) }
    qw(GeoIP2-City-Test GeoIP2-Country-Test GeoLite2-City-Test
       GeoLite2-Country-Test GeoIP2-City-Test-Broken-Double-Format);

my $udp = udp_listener();

my %clients = (                 # from MaxMind's GeoIP2-City-Test.json
    '81.2.69.160'    => [qw(GB EU GB-ENG)],
    '89.160.20.112'  => [qw(SE EU SE-E)],
    '216.160.83.56'  => [qw(US NA US-WA)],
    '2001:218::1'    => [qw(JP AS JP)],
    '2a02:cf40::1'   => [qw(NO EU NO)],
);

for my $db (qw(GeoIP2-City-Test GeoIP2-Country-Test GeoLite2-City-Test
                GeoLite2-Country-Test))
{
    start_nginx(<<'EOF', mmdb => $path{$db});
        servqual_collector 127.0.0.1:%%UDP_PORT%% flush=100ms;
        servqual_geoip2 %%MMDB%%;

        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;

        server {
            listen 127.0.0.1:%%PORT%%;
            servqual on;

            location /country { return 200; }
            location /continent { servqual_region continent; return 200; }
            location /subdivision {
                servqual_region subdivision;
                return 200;
            }
        }
EOF

    for my $ip (sort keys %clients) {
        http_get("/$_", xff => $ip) for qw(country continent subdivision);
    }

    my ($t) = sum_datagrams($udp->recv_requests(3 * keys %clients));

    my %want;
    for my $ip (sort keys %clients) {
        my ($country, $continent, $sub) = @{ $clients{$ip} };
        $sub = $country if $db =~ /Country/;     # no subdivisions there
        $want{'/country'}{$country}++;
        $want{'/continent'}{$continent}++;
        $want{'/subdivision'}{$sub}++;
    }

    for my $ep (sort keys %want) {
        for my $region (sort keys %{ $want{$ep} }) {
            is series_total($t, 'requests', endpoint => $ep,
                            region => $region), $want{$ep}{$region},
               "$db: $ep $region";
        }
    }

    no_error_in_log("$db: no error in the log");
    stop_nginx();
}

# a database with a corrupt data section: nginx starts, the corrupt
# record's other fields are still read, every request is counted

my $broken = $path{'GeoIP2-City-Test-Broken-Double-Format'};
start_nginx(<<'EOF', mmdb => $broken);
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=100ms;
    servqual_geoip2 %%MMDB%%;

    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;
        location / { return 200; }
        location /broken { return 200; }
    }
EOF

# 2001:220::/32 is the record with the broken double
my @ips = ('81.2.69.160', '2001:218::1', '10.0.0.1');
my $n = 0;
for my $ip (@ips) {
    my ($st) = http_get('/', xff => $ip);
    $n++ if $st == 200;
}
my ($st) = http_get('/broken', xff => '2001:220::1');
$n++ if $st == 200;
push @ips, '2001:220::1';
is $n, scalar(@ips), 'a corrupt database does not fail requests';

my ($t) = sum_datagrams($udp->recv_requests(scalar @ips));
is series_total($t, 'requests'), scalar(@ips), 'all of them counted';
is series_total($t, 'requests', endpoint => '/broken', region => 'KR'), 1,
   'a record with a corrupt field still yields its readable country';
no_error_in_log('corrupt database: no error line per request');

done_testing;
