#!/usr/bin/perl

# Updating the database the way operators do: geoipupdate writes the new
# release next to the old file and renames it over it, then nginx is
# reloaded.  Until the reload the workers answer from the table built
# from the old file; after it, regions follow the new one.  A broken file
# renamed into place fails the reload cleanly: nginx keeps running on the
# table it has, and says why.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQGeo qw(make_mmdb mmdb_regions);
use SQHttp qw(http_get);
use SQNginx qw(start_nginx reload_nginx stop_nginx worker_pids
               no_error_in_log error_log);
use SQProc qw(prefix write_file);
use SQWire qw(sum_datagrams series_total udp_listener);


my $db = prefix() . '/GeoLite2-Country.mmdb';
my @regions = mmdb_regions();

# as geoipupdate does: a temporary file in the same directory, renamed
sub install {
    my ($write) = @_;
    my $tmp = "$db.tmp";
    $write->($tmp);
    rename $tmp, $db or die "rename: $!";
}

install(sub { make_mmdb($_[0], type => 'GeoIP2-Country') });

my $udp = udp_listener();

start_nginx(<<'EOF', mmdb => $db, workers => 2);
    servqual_collector 127.0.0.1:%%UDP_PORT%% flush=100ms;
    servqual_geoip2 %%MMDB%%;

    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;
        location / { return 200; }
    }
EOF


# the regions nginx reports for each region's IPv4 and IPv6 address;
# with rotate k, region i's networks are region i + k's

sub check {
    my ($k, $what) = @_;

    for my $r (@regions) {
        http_get('/', xff => $r->{$_}) for qw(ip4 ip6);
    }

    my ($t) = sum_datagrams($udp->recv_requests(2 * @regions));

    my %want = map { $regions[($_ + $k) % @regions]{country} => 2 }
               0 .. $#regions;
    my %got = map { $_ => series_total($t, 'requests', region => $_) }
              keys %{ $t->{'/'} };

    is_deeply \%got, \%want, $what;
}

check(0, 'the first release: every address in its region');

my @before = sort(worker_pids());

install(sub { make_mmdb($_[0], type => 'GeoIP2-Country', rotate => 1) });

check(0, 'a new file without a reload: the workers keep their table');

reload_nginx();

isnt join(' ', sort(worker_pids())), join(' ', @before),
     'the reload started new workers';
check(1, 'after the reload: regions follow the new file');


# a broken release: the reload fails, nginx keeps serving with its table

my @workers = sort(worker_pids());

install(sub { write_file($_[0], "not a MaxMind DB\n" x 100) });

ok !eval { reload_nginx(timeout => 5); 1 }, 'a broken file fails the reload';
like error_log(), qr/\[emerg\].*MMDB_open\("\Q$db\E"\) failed/,
     'the error log says which file and why';
is join(' ', sort(worker_pids())), join(' ', @workers),
   'the workers keep running';
check(1, 'regions still from the last good file');

# the next good release and a reload bring it back

install(sub { make_mmdb($_[0], type => 'GeoIP2-Country', rotate => 2) });
reload_nginx();
check(2, 'a good file again: the reload takes it');

stop_nginx();

done_testing;
