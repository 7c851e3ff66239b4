#!/usr/bin/perl

# The whole path: real nginx with the module, real collector.  Customers
# from a fast, a slow and a failing country; the collector's
# /api/v1/quality and /metrics count every request exactly and place each
# country as designed, and /metrics passes promtool.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempfile);
use POSIX ();
use Test::More;

use SQCollector;
use SQGeo qw(mmdb_regions);
use SQHttp qw(http_get);
use SQNginx qw(start_nginx no_error_in_log);
use SQUpstream qw(start_upstream);


my $c = SQCollector->new(min_requests => 20);
$c->start;

my %r = map { $_->{country} => $_ } mmdb_regions();

# the application: slow for Brazil (beyond 4 T of Apdex), failing for
# Germany one time in four
my $n_de = 0;
my $up = start_upstream('/shop' => sub {
    my (undef, undef, $h) = @_;
    my $ip = $h->{'x-client'} // '';
    if ($ip =~ /^10\.2\./) {
        select undef, undef, undef, 2.2;
    } elsif ($ip =~ /^10\.3\.0\.(\d+)$/ && $1 % 4 == 0) {
        return (503, {}, "down\n");
    }
    return (200, {}, "ok\n");
});

start_nginx(<<'EOF', vars => { UP => $up->port, COLL => $c->{udp} });
    servqual_collector 127.0.0.1:%%COLL%% flush=200ms node=e2e;
    servqual_geoip2 %%MMDB%%;

    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;

        location /shop {
            servqual_endpoint shop;
            proxy_set_header X-Client $remote_addr;
            proxy_pass http://127.0.0.1:%%UP%%;
        }
    }
EOF

sub burst {
    my ($prefix, $n, $par) = @_;
    my @pids;
    for my $k (0 .. $par - 1) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            for (my $i = $k; $i < $n; $i += $par) {
                http_get('/shop', xff => "$prefix.0.$i", timeout => 30);
            }
            POSIX::_exit(0);   # not exit: no destructors in the child
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
}

burst('10.1', 60, 4);      # US: fast
burst('10.2', 30, 15);     # BR: 2.2 s each
burst('10.3', 60, 4);      # DE: 15 of 60 fail

my $total = 150;
my $q;

ok $c->wait_for(sub {
    $q = $c->json('/api/v1/quality');
    my $row = $c->row($q, scope => 'endpoint', endpoint => 'shop');
    $row && $row->{windows}{short}{requests} == $total;
}, 30), "the collector counted all $total requests"
    or diag join "\n", map { "$_->{scope} " . ($_->{endpoint} // "") . " $_->{region} $_->{segment} $_->{windows}{short}{requests}" } @{ $q->{rows} };

my %row = map { $_ => $c->row($q, scope => 'series', endpoint => 'shop',
                              region => $_) } qw(US BR DE);

is $row{US}{windows}{short}{requests}, 60, 'US: 60 requests';
is $row{BR}{windows}{short}{requests}, 30, 'BR: 30 requests';
is $row{DE}{windows}{short}{requests}, 60, 'DE: 60 requests';

my $dim = sub { $row{ $_[0] }{windows}{short}{dimensions}{ $_[1] } };

is $dim->('US', 'responsiveness')->{state}, 'above',
   'US: responsiveness above the zone';
is $dim->('US', 'reliability')->{state}, 'above',
   'US: reliability above the zone';
is $dim->('BR', 'responsiveness')->{state}, 'below',
   'BR: responsiveness below the zone';
is $dim->('BR', 'responsiveness')->{value}, 0, 'BR: Apdex 0';
is $dim->('BR', 'empathy')->{state}, 'below',
   'BR: served far worse than the rest (empathy below)';
is $dim->('DE', 'reliability')->{state}, 'below',
   'DE: reliability below the zone';
ok abs($dim->('DE', 'reliability')->{value} - 0.75) < 1e-9,
   'DE: success ratio 45/60';
is $dim->('US', 'assurance')->{state}, 'below',
   'plain HTTP: assurance below the zone';

my $m = $c->get('/metrics')->{content};

is $c->metric($m, 'servqual_requests_total', endpoint => 'shop',
              region => 'DE'), 60, '/metrics: DE requests exact';
is $c->metric($m, 'servqual_responses_total', endpoint => 'shop',
              region => 'DE', class => '5xx'), 15, '/metrics: DE 5xx exact';
is $c->metric($m, 'servqual_request_duration_seconds_bucket',
              endpoint => 'shop', region => 'BR', le => '1'), 0,
   '/metrics: no BR request under 1 s';
is $c->metric($m, 'servqual_request_duration_seconds_count',
              endpoint => 'shop', region => 'BR'), 30,
   '/metrics: BR histogram count';
is $c->metric($m, 'servqual_datagrams_lost_total'), 0, 'no datagram lost';

my ($fh, $file) = tempfile();
print $fh $m;
close $fh;
my $out = `promtool check metrics < $file 2>&1`;
is $?, 0, 'promtool check metrics passes' or diag $out;

no_error_in_log();
like $c->log_text, qr/\S/, 'the collector logged';
unlike $c->log_text, qr/reject|malformed/i, 'it rejected nothing';

done_testing;
