#!/usr/bin/perl

# Directive checks: nginx -t rejects every bad value with a message that
# names the directive or the value, the file and the line; good
# configurations pass, and an enabled module without a collector is idle
# with a warning.  One block per configuration, run by
# SQBlocks::check_config_blocks (which describes the sections).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQBlocks qw(blocks check_config_blocks);


check_config_blocks(blocks());

done_testing;


__DATA__

=== everything
--- http
servqual on;
servqual_collector 127.0.0.1:5170 flush=250ms buffer=1400 node=web-1;
servqual_geoip2 %%MMDB%%;
servqual_region continent;
servqual_segment $cookie_plan max=8;
servqual_max_series 100;
--- location
servqual_endpoint home;

=== unix socket, default port
--- http: servqual on; servqual_collector unix:/tmp/sq.sock;

=== host without port
--- http: servqual on; servqual_collector localhost;

=== region variable
--- http: servqual on; servqual_collector 127.0.0.1:5170;
--- location: servqual_region $http_x_region;

=== on without collector
--- http: servqual on;
--- output_like: "servqual" is on but "servqual_collector" is not set
--- output_says: warns that the module is idle


# servqual

=== servqual foo
--- http: servqual foo; servqual_collector 127.0.0.1:5170;
--- error_like: invalid value "foo" in "servqual" directive


# servqual_collector

=== collector duplicate
--- http: servqual_collector 127.0.0.1:5170; servqual_collector 127.0.0.1:5170;
--- error_like: "servqual_collector" directive is duplicate

=== collector bad port
--- http: servqual_collector 127.0.0.1:99999;
--- error_like: invalid port in servqual collector "127.0.0.1:99999"

=== collector in server
--- config
server {
    listen 127.0.0.1:%%PORT%%;
    servqual_collector 127.0.0.1:5170;
}
--- error_like: "servqual_collector" directive is not allowed here

=== collector flush
--- http: servqual_collector 127.0.0.1:1 flush=soon;
--- error_like: invalid flush time "soon"

=== collector flush 0
--- http: servqual_collector 127.0.0.1:1 flush=0;
--- error_like: invalid flush time "0"

=== collector buffer
--- http: servqual_collector 127.0.0.1:1 buffer=1m;
--- error_like: invalid buffer size "1m", it must be between 1k and 64k

=== collector buffer small
--- http: servqual_collector 127.0.0.1:1 buffer=100;
--- error_like: invalid buffer size "100"

=== collector node
--- http eval: 'servqual_collector 127.0.0.1:1 node=' . ('x' x 65) . ';'
--- error_like: invalid node name "x+", it must be 1 to 64 bytes long

=== collector parameter
--- http: servqual_collector 127.0.0.1:1 fast;
--- error_like: invalid parameter "fast"

=== collector missing
--- http: servqual_collector;
--- error_like: invalid number of arguments in "servqual_collector" directive


# servqual_endpoint

=== endpoint empty
--- http: servqual_collector 127.0.0.1:5170;
--- location: servqual_endpoint "";
--- error_like: invalid endpoint name "", it must be 1 to 128 bytes long

=== endpoint long
--- http: servqual_collector 127.0.0.1:5170;
--- location eval: 'servqual_endpoint ' . ('e' x 129) . ';'
--- error_like: invalid endpoint name "e+", it must be 1 to 128

=== endpoint quote
--- http: servqual_collector 127.0.0.1:5170;
--- location: servqual_endpoint 'a"b';
--- error_like: must not contain control characters, quotes or backslashes

=== endpoint in http
--- http
servqual_endpoint x;
servqual_collector 127.0.0.1:5170;
--- error_like: "servqual_endpoint" directive is not allowed here


# servqual_geoip2

=== geoip2 missing file
--- http: servqual_geoip2 %%PREFIX%%/none.mmdb;
--- error_like
MMDB_open\(".*none\.mmdb"\) failed: Error opening the specified MaxMind DB file

=== geoip2 corrupt file
--- mmdb: GeoIP2-City-Test-Invalid-Node-Count
--- http: servqual_geoip2 %%TESTDB%%;
--- error_like
MMDB_open\(".*Invalid-Node-Count\.mmdb"\) failed: The MaxMind DB file contains invalid metadata

=== geoip2 not a database
--- http: servqual_geoip2 %%PREFIX%%/conf/test.conf;
--- error_like
MMDB_open\(".*test\.conf"\) failed: The MaxMind DB file contains invalid metadata

=== geoip2 duplicate
--- http: servqual_geoip2 %%MMDB%%; servqual_geoip2 %%MMDB%%;
--- error_like: "servqual_geoip2" directive is duplicate


# servqual_region

=== region
--- http: servqual_collector 127.0.0.1:5170;
--- location: servqual_region planet;
--- error_like
invalid region "planet", it must be "country", "continent", "subdivision" or a variable

=== region unknown variable
--- http: servqual_collector 127.0.0.1:5170;
--- location: servqual_region $no_such_var;
--- error_like: unknown "no_such_var" variable
--- no_line


# servqual_segment

=== segment not a variable
--- http: servqual_collector 127.0.0.1:5170;
--- location: servqual_segment gold;
--- error_like: invalid segment "gold", it must be a variable

=== segment max
--- http: servqual_collector 127.0.0.1:5170;
--- location: servqual_segment $arg_p max=0;
--- error_like: invalid segment limit "max=0", it must be between 1 and 64

=== segment max big
--- http: servqual_collector 127.0.0.1:5170;
--- location: servqual_segment $arg_p max=65;
--- error_like: invalid segment limit "max=65"

=== segment parameter
--- http: servqual_collector 127.0.0.1:5170;
--- location: servqual_segment $arg_p 5;
--- error_like: invalid parameter "5"


# servqual_max_series

=== max_series 0
--- http: servqual_collector 127.0.0.1:5170; servqual_max_series 0;
--- error_like: "servqual_max_series" directive value must be between 1 and 262144

=== max_series big
--- http: servqual_collector 127.0.0.1:5170; servqual_max_series 262145;
--- error_like: "servqual_max_series" directive value must be between 1 and 262144

=== max_series word
--- http: servqual_collector 127.0.0.1:5170; servqual_max_series many;
--- error_like: "servqual_max_series" directive invalid number
