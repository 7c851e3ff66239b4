#!/usr/bin/perl

# servqual_collector with several addresses: up to four, UDP and unix
# sockets mixed, parameters after them; nginx -t rejects a duplicate
# address and a fifth one with a message that names the address, the
# file and the line.  Blocks run by SQBlocks::check_config_blocks.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQBlocks qw(blocks check_config_blocks);


check_config_blocks(blocks());

done_testing;


__DATA__

=== two collectors
--- http
servqual on;
servqual_collector 127.0.0.1:9125 127.0.0.1:9126 flush=250ms node=web-1;

=== four, unix sockets and UDP
--- http
servqual on;
servqual_collector unix:/tmp/sq-a.sock 127.0.0.1:9125 unix:/tmp/sq-b.sock
                   [::1]:9126 buffer=1400;

=== the first one without a port
--- http: servqual on; servqual_collector localhost 127.0.0.1:9126;

=== duplicate address
--- http: servqual_collector 127.0.0.1:9125 127.0.0.1:9126 127.0.0.1:9125;
--- error_like: duplicate servqual collector "127.0.0.1:9125", the same as "127.0.0.1:9125"

=== duplicate, the default port spelt out
--- http: servqual_collector 127.0.0.1 127.0.0.1:5170;
--- error_like: duplicate servqual collector "127.0.0.1:5170", the same as "127.0.0.1"

=== duplicate unix socket
--- http: servqual_collector unix:/tmp/sq.sock unix:/tmp/sq.sock;
--- error_like: duplicate servqual collector "unix:/tmp/sq.sock"

=== five
--- http
servqual_collector 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 127.0.0.1:4
                   127.0.0.1:5;
--- error_like: too many servqual collectors "127.0.0.1:5", at most 4 can be named

=== a bad second address
--- http: servqual_collector 127.0.0.1:9125 127.0.0.1:99999;
--- error_like: invalid port in servqual collector "127.0.0.1:99999"

=== a word after the address is a parameter
--- http: servqual_collector 127.0.0.1:9125 127.0.0.1:9126 fast;
--- error_like: invalid parameter "fast"

=== an address after a parameter
--- http: servqual_collector 127.0.0.1:9125 flush=1s 127.0.0.1:9126;
--- error_like: invalid parameter "127.0.0.1:9126"
