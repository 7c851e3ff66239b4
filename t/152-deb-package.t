#!/usr/bin/perl

# `make deb` builds the two packages with debhelper and dh_nginx: the
# module with its load snippet and the nginx ABI dependency, the collector
# with its conffile, unit and man page; the browser script, the file
# `make` built, beside the module; lintian (when installed) finds nothing,
# informational and pedantic tags included, beyond the overrides the
# packaging justifies; systemd-analyze verifies the packaged unit.
# The installed-package test is `make test-deb` (a Debian root, minutes).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQProc qw(repo_root prefix);


my $root = repo_root();
my $deb = "$root/build/deb";

sub run {
    my $out = `@_ 2>&1`;
    return ($? >> 8, $out);
}

for my $t (qw(dpkg-buildpackage dh dh_nginx)) {
    plan skip_all => "$t is missing (scripts/install-deps installs it)"
        if system("command -v $t >/dev/null") != 0;
}

my ($rc, $out) = run("make -s -C $root deb");
is $rc, 0, 'make deb' or diag $out;

my $mod = "$deb/libnginx-mod-http-servqual_0.1.0_amd64.deb";
my $col = "$deb/servqual-collector_0.1.0_amd64.deb";
ok -f $mod, 'builds libnginx-mod-http-servqual';
ok -f $col, 'builds servqual-collector';

my (undef, $list) = run("dpkg-deb -c $mod");
like $list, qr{ \./usr/lib/nginx/modules/ngx_http_servqual_module\.so$}m,
     'the module in nginx\'s modules directory';
like $list, qr{ \./usr/share/nginx/modules-available/mod-http-servqual\.conf$}m,
     'its load snippet in modules-available';
like $list, qr{ \./usr/share/man/man5/ngx_http_servqual_module\.5\.gz$}m,
     'the directives\' man page';
like $list, qr{ \./usr/share/servqual/servqual-beacon\.js$}m,
     'the browser script in /usr/share/servqual';
my ($js) = $list
    =~ m{^\S+\s+\S+\s+(\d+)\s.* \./usr/share/servqual/servqual-beacon\.js$}m;
is $js, -s "$root/build/servqual-beacon.js",
   'the script is the built one (same size as build/servqual-beacon.js)';
my (undef, $dep) = run("dpkg-deb -f $mod Depends");
like $dep, qr/\bnginx-abi-[0-9.]+-[0-9]+\b/,
     "depends on the nginx ABI it was built for ($dep)";
my (undef, $post) = run("dpkg-deb -I $mod postinst");
like $post, qr{modules-enabled}, 'its postinst enables the snippet';

(undef, $list) = run("dpkg-deb -c $col");
like $list, qr{ \./usr/sbin/servqual-collector$}m, 'the collector';
like $list, qr{ \./lib/systemd/system/servqual-collector\.service$}m,
     'its unit';
like $list, qr{ \./usr/share/man/man8/servqual-collector\.8\.gz$}m,
     'its man page';
my (undef, $conffiles) = run("dpkg-deb -I $col conffiles");
is $conffiles, "/etc/servqual/servqual-collector.yaml\n",
   'the configuration is a conffile';

my $x = prefix() . '/x';
mkdir $x;
($rc, $out) = run("dpkg-deb -x $col $x && dpkg-deb -x $mod $x");
is $rc, 0, 'unpacks' or diag $out;

my $slurp = sub {
    open my $fh, '<:raw', $_[0] or return '';
    local $/;
    return <$fh>;
};
ok $slurp->("$x/usr/share/servqual/servqual-beacon.js")
       eq $slurp->("$root/build/servqual-beacon.js"),
   'the packaged script has the built script\'s bytes';

for my $bin ('usr/lib/nginx/modules/ngx_http_servqual_module.so',
             'usr/sbin/servqual-collector')
{
    my (undef, $dyn) = run("readelf -dW $x/$bin");
    like $dyn, qr/\(FLAGS\)\s+BIND_NOW/, "$bin: -z now";
}

my $unit = do {
    open my $fh, '<', "$x/lib/systemd/system/servqual-collector.service"
        or die;
    local $/;
    <$fh>;
};
for my $k ('DynamicUser=yes', 'StateDirectory=servqual',
           'ProtectSystem=strict', 'NoNewPrivileges=yes')
{
    like $unit, qr/^\Q$k\E$/m, "the unit has $k";
}

SKIP: {
    skip 'systemd-analyze is missing', 2
        if system('command -v systemd-analyze >/dev/null') != 0;

    # the unit in the package's tree, with the host's targets beside it
    system("mkdir -p $x/usr/lib/systemd/system"
           . " && cp -a /lib/systemd/system/*.target $x/usr/lib/systemd/system/");
    my $verify = "MANPATH=$x/usr/share/man systemd-analyze verify --root=$x"
                 . ' /lib/systemd/system/servqual-collector.service';
    ($rc, $out) = run($verify);
    is $rc, 0, 'systemd-analyze verify accepts the packaged unit'
        or diag $out;

    unlink "$x/usr/sbin/servqual-collector";
    ($rc, $out) = run($verify);
    isnt $rc, 0, 'and refuses it without the binary';
}

SKIP: {
    skip 'lintian is not installed', 1
        if system('command -v lintian >/dev/null') != 0;

    my @changes = glob("$deb/*.changes");
    ($rc, $out) = run('lintian --fail-on error,warning,info,pedantic'
                      . " -I --pedantic @changes");
    is $rc, 0, 'lintian: no tag, informational and pedantic included'
        or diag $out;
}

done_testing;
