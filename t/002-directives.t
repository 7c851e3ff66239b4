#!/usr/bin/perl

# Directive checks: nginx -t rejects every bad value with a message that
# names the directive or the value, the file and the line; good
# configurations pass, and an enabled module without a collector is idle
# with a warning.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQTest;


my $mmdb_dir = repo_root() . '/../shared/mmdb';

sub conf {
    my ($http, $loc) = @_;
    $loc //= '';
    return <<"EOF";
    $http
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            $loc
            return 200;
        }
    }
EOF
}

sub rejects {
    my ($name, $text, $re, %o) = @_;
    my ($rc, $out) = nginx_test_config($text);
    isnt $rc, 0, "$name: nginx -t fails";
    like $out, $re, "$name: says why";
    return if $o{no_line};
    like $out, qr/in \S+\/conf\/test\.conf:\d+/, "$name: names file and line";
}

sub accepts {
    my ($name, $text) = @_;
    my ($rc, $out) = nginx_test_config($text);
    is $rc, 0, "$name: nginx -t passes" or diag $out;
    return $out;
}

my $coll = 'servqual_collector 127.0.0.1:5170;';

accepts('everything', conf(<<"EOF", 'servqual_endpoint home;'));
    servqual on;
    servqual_collector 127.0.0.1:5170 flush=250ms buffer=1400 node=web-1;
    servqual_geoip2 %%MMDB%%;
    servqual_region continent;
    servqual_segment \$cookie_plan max=8;
    servqual_max_series 100;
EOF

accepts('unix socket, default port', conf(
    "servqual on; servqual_collector unix:/tmp/sq.sock;"));
accepts('host without port', conf("servqual on; servqual_collector localhost;"));
accepts('region variable', conf("servqual on; $coll",
                                'servqual_region $http_x_region;'));

my $out = accepts('on without collector', conf('servqual on;'));
like $out, qr/"servqual" is on but "servqual_collector" is not set/,
     'on without collector: warns that the module is idle';

# servqual

rejects('servqual foo', conf("servqual foo; $coll"),
        qr/invalid value "foo" in "servqual" directive/);

# servqual_collector

rejects('collector duplicate', conf("$coll $coll"),
        qr/"servqual_collector" directive is duplicate/);
rejects('collector bad port', conf('servqual_collector 127.0.0.1:99999;'),
        qr/invalid port in servqual collector "127.0.0.1:99999"/);
rejects('collector in server', <<'EOF',
    server {
        listen 127.0.0.1:%%PORT%%;
        servqual_collector 127.0.0.1:5170;
    }
EOF
        qr/"servqual_collector" directive is not allowed here/);
rejects('collector flush', conf('servqual_collector 127.0.0.1:1 flush=soon;'),
        qr/invalid flush time "soon"/);
rejects('collector flush 0', conf('servqual_collector 127.0.0.1:1 flush=0;'),
        qr/invalid flush time "0"/);
rejects('collector buffer', conf('servqual_collector 127.0.0.1:1 buffer=1m;'),
        qr/invalid buffer size "1m", it must be between 1k and 64k/);
rejects('collector buffer small',
        conf('servqual_collector 127.0.0.1:1 buffer=100;'),
        qr/invalid buffer size "100"/);
rejects('collector node', conf('servqual_collector 127.0.0.1:1 node=' .
                               ('x' x 65) . ';'),
        qr/invalid node name "x+", it must be 1 to 64 bytes long/);
rejects('collector parameter', conf('servqual_collector 127.0.0.1:1 fast;'),
        qr/invalid parameter "fast"/);
rejects('collector missing', conf('servqual_collector;'),
        qr/invalid number of arguments in "servqual_collector" directive/);

# servqual_endpoint

rejects('endpoint empty', conf($coll, 'servqual_endpoint "";'),
        qr/invalid endpoint name "", it must be 1 to 128 bytes long/);
rejects('endpoint long', conf($coll, 'servqual_endpoint ' . ('e' x 129) . ';'),
        qr/invalid endpoint name "e+", it must be 1 to 128/);
rejects('endpoint quote', conf($coll, q{servqual_endpoint 'a"b';}),
        qr/must not contain control characters, quotes or backslashes/);
rejects('endpoint in http', "servqual_endpoint x;\n" . conf($coll),
        qr/"servqual_endpoint" directive is not allowed here/);

# servqual_geoip2

rejects('geoip2 missing file', conf("servqual_geoip2 %%PREFIX%%/none.mmdb;"),
        qr/MMDB_open\(".*none\.mmdb"\) failed: Error opening the specified MaxMind DB file/);
rejects('geoip2 corrupt file',
        conf("servqual_geoip2 $mmdb_dir/GeoIP2-City-Test-Invalid-Node-Count.mmdb;"),
        qr/MMDB_open\(".*Invalid-Node-Count\.mmdb"\) failed: /);
rejects('geoip2 not a database', conf("servqual_geoip2 %%PREFIX%%/conf/test.conf;"),
        qr/MMDB_open\(".*test\.conf"\) failed: The MaxMind DB file contains invalid metadata/);
rejects('geoip2 duplicate',
        conf("servqual_geoip2 %%MMDB%%; servqual_geoip2 %%MMDB%%;"),
        qr/"servqual_geoip2" directive is duplicate/);

# servqual_region

rejects('region', conf($coll, 'servqual_region planet;'),
        qr/invalid region "planet", it must be "country", "continent", "subdivision" or a variable/);
rejects('region unknown variable', conf($coll, 'servqual_region $no_such_var;'),
        qr/unknown "no_such_var" variable/, no_line => 1);

# servqual_segment

rejects('segment not a variable', conf($coll, 'servqual_segment gold;'),
        qr/invalid segment "gold", it must be a variable/);
rejects('segment max', conf($coll, 'servqual_segment $arg_p max=0;'),
        qr/invalid segment limit "max=0", it must be between 1 and 64/);
rejects('segment max big', conf($coll, 'servqual_segment $arg_p max=65;'),
        qr/invalid segment limit "max=65"/);
rejects('segment parameter', conf($coll, 'servqual_segment $arg_p 5;'),
        qr/invalid parameter "5"/);

# servqual_max_series

rejects('max_series 0', conf("$coll servqual_max_series 0;"),
        qr/"servqual_max_series" directive value must be between 1 and 262144/);
rejects('max_series big', conf("$coll servqual_max_series 262145;"),
        qr/"servqual_max_series" directive value must be between 1 and 262144/);
rejects('max_series word', conf("$coll servqual_max_series many;"),
        qr/"servqual_max_series" directive invalid number/);

done_testing;
