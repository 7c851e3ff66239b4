#!/usr/bin/perl

# The build is fast and minimal: with nothing changed `make` has nothing
# to do (and takes seconds at most, not nginx's configure); a changed
# module source rebuilds only the module, without configuring nginx
# again; a changed `config` configures it again.  `make -W FILE -n` asks
# what a change would do without touching the file.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);

use SQProc qw(repo_root);


my $root = repo_root();
my $targets = 'module collector units asan';

sub run {
    my $out = `@_ 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = run("make -s -C $root $targets");
is $rc, 0, 'built' or diag $out;

($rc, $out) = run("make -q -C $root $targets");
is $rc, 0, 'then make has nothing to do' or diag $out;

my $t0 = time;
($rc, $out) = run("make -s -C $root all units asan");
my $took = time - $t0;
is $rc, 0, 'make all units asan, nothing changed' or diag $out;
is $out, '', 'prints nothing';
cmp_ok $took, '<', 10, sprintf('takes seconds at most (%.2f s)', $took);

($rc, $out) = run("make -n -C $root"
                  . " -W src/module/ngx_http_servqual_agg.c $targets");
like $out, qr{objs/Makefile modules}, 'a module source rebuilds the module';
unlike $out, qr{\./configure}, 'without configuring nginx again';
unlike $out, qr{\bsrc/collector/}, 'and without touching the collector';

($rc, $out) = run("make -n -C $root -W config module");
like $out, qr{\./configure}, 'a changed config file configures nginx again';

done_testing;
