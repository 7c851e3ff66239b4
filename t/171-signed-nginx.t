#!/usr/bin/perl

# nginx signs: servqual_collector ... key=FILE.  The datagrams nginx sends
# carry the envelope (checked here with Digest::SHA, independently of the
# C code) and a collector with the same key counts every request; one
# with another secret under the same id rejects them all as bad_mac.
# Key files that group or others can read are refused by nginx -t and
# servqual-collector -t, as ssh refuses such private keys; no secret is
# ever in a log or an error.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(hmac_sha256);
use Test::More;

use SQCollector;
use SQHttp qw(http_get);
use SQNginx qw(start_nginx stop_nginx nginx_test_config error_log
               no_error_in_log);
use SQProc qw(prefix run_cmd);
use SQSign qw(write_key now_ms);
use SQWire qw(udp_listener decode_datagram);


my $dir = prefix();
my $secret = join '', map { chr(($_ * 37) & 0xff) } 1 .. 32;
my $hex = write_key("$dir/conf/sq.key", 3, $secret);
write_key("$dir/conf/other.key", 3, 'z' x 32);
write_key("$dir/conf/open.key", 3, $secret, 0644);
write_key("$dir/conf/group.key", 3, $secret, 0640);
{
    open my $f, '>', "$dir/conf/bad.key" or die;
    print $f "3:not-hex\n";
    close $f;
    chmod 0600, "$dir/conf/bad.key";
}

my $http = <<'EOF2';
    servqual_collector 127.0.0.1:%%COLL%% flush=100ms node=signer
                       key=%%KEY%%;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;
        location / { return 200 "ok\n"; }
    }
EOF2

# -- nginx -t

for my $case ([ 'open.key', qr/permissions 0644 for key file "[^"]*open\.key" are too open/ ],
              [ 'group.key', qr/permissions 0640 for key file .* are too open/ ],
              [ 'bad.key', qr/key file "[^"]*bad\.key" must hold one line "ID:HEX"/ ],
              [ 'none.key', qr/cannot open key file "[^"]*none\.key"/ ])
{
    my ($rc, $out) = nginx_test_config($http, vars => {
        COLL => 9, KEY => "$dir/conf/$case->[0]" });
    isnt $rc, 0, "nginx -t refuses $case->[0]";
    like $out, $case->[1], "nginx -t says why ($case->[0])";
    like $out, qr/in \S+test\.conf:\d+/, "nginx -t names file and line";
    unlike $out, qr/\Q$hex\E/i, 'nginx -t shows no secret';
}

my ($rc, $out) = nginx_test_config($http, vars => {
    COLL => 9, KEY => 'sq.key' });
is $rc, 0, 'nginx -t takes a 0600 key file, relative to the prefix'
    or diag $out;

# -- servqual-collector -t

my $bin = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';
for my $case ([ 'open.key', qr/:\d+: auth\.keys: permissions 0644 for key file "[^"]*open\.key" are too open/ ],
              [ 'group.key', qr/:\d+: auth\.keys: permissions 0640/ ],
              [ 'bad.key', qr/:\d+: auth\.keys: key file "[^"]*bad\.key" must hold/ ])
{
    my $conf = "$dir/conf/c-$case->[0].yaml";
    open my $f, '>', $conf or die;
    print $f "auth:\n  keys:\n    - $dir/conf/sq.key\n"
           . "    - $dir/conf/$case->[0]\n";
    close $f;
    my ($crc, $cout) = run_cmd($bin, '-t', '-c', $conf);
    isnt $crc, 0, "servqual-collector -t refuses $case->[0]";
    like $cout, $case->[1], "servqual-collector -t says why ($case->[0])";
    unlike $cout, qr/\Q$hex\E/i, 'servqual-collector -t shows no secret';
}
{
    my $conf = "$dir/conf/c-dup.yaml";
    open my $f, '>', $conf or die;
    print $f "auth:\n  keys: [ $dir/conf/sq.key, $dir/conf/other.key ]\n";
    close $f;
    my ($crc, $cout) = run_cmd($bin, '-t', '-c', $conf);
    like $cout, qr/auth\.keys: key id 3 of .* is also the id of/,
        'servqual-collector -t refuses two keys with one id';
}

# -- what nginx sends: the map, then the envelope, verified here

my $l = udp_listener();
start_nginx($http, vars => { COLL => $l->port, KEY => "$dir/conf/sq.key" });
http_get('/', port => SQNginx::nginx_port()) for 1 .. 5;
my @d = $l->recv_all(until => sub { @{ $_[0] } >= 1 }, timeout => 10);
ok @d >= 1, 'nginx sent a datagram';
{
    my $d = $d[0];
    my ($map, $mac, $t, $id, $magic) =
        (substr($d, 0, -48), substr($d, -48, 32), substr($d, -16, 8),
         substr($d, -8, 4), substr($d, -4));
    is $magic, "\xc1SQ1", 'the trailer ends with the magic';
    is unpack('N', $id), 3, 'the key id of the file';
    ok abs(unpack('Q>', $t) - now_ms()) < 10_000, 'the time is now';
    is unpack('H*', $mac),
       unpack('H*', hmac_sha256($map . $t . $id . $magic, $secret)),
       'the MAC is HMAC-SHA256 over the map and the trailer\'s tail';
    is decode_datagram($map)->{node}, 'signer',
       'the map is the unchanged msgpack map';
    ok length($d) <= 65507, 'within the largest UDP payload';
}
stop_nginx();

# -- to a collector with the key: every request counted

my $c = SQCollector->new;
write_key("$c->{dir}/sq.key", 3, $secret);
$c->write_conf("auth:\n  keys: [ $c->{dir}/sq.key ]\n");
$c->start;

start_nginx($http, vars => { COLL => $c->{udp}, KEY => "$dir/conf/sq.key" });
my $port = SQNginx::nginx_port();
my $n = 0;
for (1 .. 40) { my ($st) = http_get('/', port => $port); $n++ if $st == 200 }

sub requests {
    my $m = $c->get('/metrics')->{content};
    my $sum = 0;
    $sum += $1 while $m =~ /^servqual_requests_total\{[^}]*\} (\d+)$/mg;
    return $sum;
}

ok $c->wait_for(sub { requests() == $n }, 20),
    "all $n requests counted from signed datagrams";
my $m = $c->get('/metrics')->{content};
is $c->metric($m, 'servqual_datagrams_rejected_total', reason => $_), 0,
    "none rejected: $_" for qw(unsigned bad_mac stale replay);
stop_nginx();
no_error_in_log();

# -- nginx with another secret under the same id: all rejected

start_nginx($http, vars => { COLL => $c->{udp},
                             KEY => "$dir/conf/other.key" });
$port = SQNginx::nginx_port();
http_get('/', port => $port) for 1 .. 10;
ok $c->wait_for(sub {
    ($c->metric($c->get('/metrics')->{content},
                'servqual_datagrams_rejected_total', reason => 'bad_mac')
     // 0) >= 1 }, 20), 'a wrong secret: rejected as bad_mac';
stop_nginx();
is requests(), $n, 'and nothing of it counted';

unlike error_log(), qr/\Q$hex\E/i, 'no secret in the nginx log';
unlike $c->log_text, qr/\Q$hex\E/i, 'no secret in the collector log';
is $c->stop, 0, 'the collector exits cleanly';

done_testing;
