#!/usr/bin/perl

# The README's example configuration passes `nginx -t` as printed.  Only
# what lies outside nginx.conf is supplied here, at the paths the README
# names' places in a test prefix: the module's load snippet (what the
# package enables in modules-enabled), a GeoLite2-layout database and a
# certificate.  `make test-deb` runs the same block verbatim in a Debian
# root with the packages installed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path);
use Test::More;

use SQGeo qw(make_mmdb);
use SQProc qw(repo_root prefix);


my $root = repo_root();
my $nginx = $ENV{NGINX_BIN} // '/usr/sbin/nginx';
my $module = $ENV{SERVQUAL_MODULE}
             // "$root/build/ngx_http_servqual_module.so";

open my $fh, '<', "$root/README.md" or die;
my $readme = do { local $/; <$fh> };
my ($section) = $readme =~ /^## Example configuration\n(.*?)^## /ms;
ok defined $section, 'the README has an example configuration';
my ($conf) = ($section // '') =~ /^```nginx\n(.*?)^```$/ms;
ok defined $conf, 'with an nginx block';
$conf //= '';

like $conf, qr/^include \/etc\/nginx\/modules-enabled\/\*\.conf;$/m,
     'it loads the module through modules-enabled';
like $conf, qr/^\s*servqual_collector\s/m, 'it sets the collector';

# what the block names outside itself, under a test prefix
my $p = prefix() . '/readme';
make_path("$p/modules-enabled", "$p/GeoIP", "$p/ssl", "$p/logs");
open my $snip, '>', "$p/modules-enabled/50-mod-http-servqual.conf" or die;
print $snip "load_module $module;\n";
close $snip;
make_mmdb("$p/GeoIP/GeoLite2-Country.mmdb");
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=t"
       . " -keyout $p/ssl/key.pem -out $p/ssl/cert.pem >/dev/null 2>&1") == 0
    or BAIL_OUT('openssl failed');

my %path = (
    '/etc/nginx/modules-enabled/' => "$p/modules-enabled/",
    '/usr/share/GeoIP/'           => "$p/GeoIP/",
    '/etc/ssl/certs/ssl-cert-snakeoil.pem'   => "$p/ssl/cert.pem",
    '/etc/ssl/private/ssl-cert-snakeoil.key' => "$p/ssl/key.pem",
);
my $local = $conf;
for my $from (sort keys %path) {
    my $n = $local =~ s/\Q$from\E/$path{$from}/g;
    ok $n, "the block names $from";
}

# the block as it stands, plus where this unprivileged nginx -t writes
open my $out, '>', "$p/nginx.conf" or die;
print $out "pid $p/logs/nginx.pid;\nerror_log $p/logs/error.log;\n", $local;
close $out;

my $res = `$nginx -t -p $p/ -c $p/nginx.conf -e $p/logs/error.log 2>&1`;
is $? >> 8, 0, 'nginx -t accepts the README example' or diag $res;
unlike $res, qr/\[(warn|emerg)\]/, 'without warnings' or diag $res;

done_testing;
