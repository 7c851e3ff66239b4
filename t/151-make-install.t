#!/usr/bin/perl

# `make install` and `make uninstall` as an operator runs them, into a
# DESTDIR: the module where nginx looks for modules and its load snippet,
# the collector in sbin with its man page, a unit naming the installed
# binary and a configuration whose database is under /var/lib/servqual;
# an operator's edited configuration survives a second install and the
# uninstall; uninstall removes every other file.  Both binaries are linked
# with full RELRO and immediate binding, as Debian links nginx.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Find qw(find);
use Test::More;

use SQProc qw(repo_root prefix);


my $root = repo_root();

sub run {
    my $out = `@_ 2>&1`;
    return ($? >> 8, $out);
}

sub files_under {
    my ($dir) = @_;
    my @f;
    find({ wanted => sub { push @f, $File::Find::name unless -d },
           no_chdir => 1 }, $dir);
    return sort map { substr $_, length $dir } @f;
}

sub slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    return <$fh>;
}

# the linker flags

for my $bin ('build/ngx_http_servqual_module.so', 'build/servqual-collector') {
    my ($rc, $dyn) = run("readelf -dW $root/$bin");
    like $dyn, qr/\(FLAGS\)\s+BIND_NOW/, "$bin binds its symbols at load";
    my (undef, $hdr) = run("readelf -lW $root/$bin");
    like $hdr, qr/GNU_RELRO/, "$bin has a RELRO segment";
}

for my $case (['/usr', '/lib/systemd/system'],
              ['/usr/local', '/etc/systemd/system'])
{
    my ($prefix, $unitdir) = @$case;
    my $dest = prefix() . "/dest$prefix";
    $dest =~ s{/+$}{};
    my $make = "make -s -C $root DESTDIR=$dest PREFIX=$prefix";

    my ($rc, $out) = run("$make install");
    is $rc, 0, "make install PREFIX=$prefix" or diag $out;

    my @want = (
        '/usr/lib/nginx/modules/ngx_http_servqual_module.so',
        "$prefix/share/nginx/modules-available/mod-http-servqual.conf",
        "$prefix/share/man/man5/ngx_http_servqual_module.5",
        "$prefix/sbin/servqual-collector",
        "$prefix/share/man/man8/servqual-collector.8",
        '/etc/servqual/servqual-collector.yaml',
        "$unitdir/servqual-collector.service",
        "$prefix/share/doc/servqual/examples/prometheus.yml",
    );
    ok -f "$dest$_", "installs $_" for @want;
    ok -x "$dest$prefix/sbin/servqual-collector", 'the collector is executable';

    is slurp("$dest$prefix/share/nginx/modules-available/"
             . 'mod-http-servqual.conf'),
       "load_module modules/ngx_http_servqual_module.so;\n",
       'the snippet loads the module from nginx\'s modules directory';

    my $unit = slurp("$dest$unitdir/servqual-collector.service");
    like $unit, qr{^ExecStart=\Q$prefix\E/sbin/servqual-collector -c /etc/servqual/servqual-collector\.yaml$}m,
         'the unit runs the installed binary with the installed file';
    unlike $unit, qr{/usr/local/bin}, 'and names no other binary path';

    my $conf = "$dest/etc/servqual/servqual-collector.yaml";
    like slurp($conf), qr{^\s*path: /var/lib/servqual/servqual\.db$}m,
         'the database is in /var/lib/servqual';
    ok -d "$dest/var/lib/servqual", 'makes the state directory';
    my $here = slurp($conf);
    $here =~ s{/var/lib/servqual/}{$dest/var/lib/servqual/};
    open my $out_fh, '>', "$dest/here.yaml" or die;
    print $out_fh $here;
    close $out_fh;
    ($rc, $out) = run("$dest$prefix/sbin/servqual-collector -t"
                      . " -c $dest/here.yaml");
    unlink "$dest/here.yaml";
    is $rc, 0, 'the installed collector accepts the installed file'
        or diag $out;

    # an operator's change survives a second install and the uninstall
    open my $fh, '>>', $conf or die;
    print $fh "# edited\n";
    close $fh;
    ($rc, $out) = run("$make install");
    is $rc, 0, 'make install again' or diag $out;
    like slurp($conf), qr/# edited\n\z/, 'keeps the edited configuration';

    ($rc, $out) = run("$make uninstall");
    is $rc, 0, 'make uninstall' or diag $out;
    is_deeply [files_under($dest)], ['/etc/servqual/servqual-collector.yaml'],
        'uninstall leaves only the edited configuration';

    unlink $conf;
    ($rc, $out) = run("$make install && $make uninstall");
    is $rc, 0, 'install and uninstall' or diag $out;
    is_deeply [files_under($dest)], [], 'an unchanged one goes too';
}

done_testing;
