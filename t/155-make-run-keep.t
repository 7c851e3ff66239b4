#!/usr/bin/perl

# `make run KEEP=1` keeps the demo's directory and says where: the
# collector's and nginx's logs and the database are there after the run;
# without KEEP (or with KEEP=0) the directory goes.  Run in a network
# namespace of its own when root, so that it never skips for ports.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Test::More;

use SQProc qw(repo_root);


# in a network namespace of its own where it can be (root): the demo's
# fixed ports are then free whatever else runs on this machine
if (!$ENV{SQ_IN_NETNS} && $> == 0
    && system('unshare --net true 2>/dev/null') == 0)
{
    exec 'unshare', '--net', 'sh', '-c', 'ip link set lo up && exec "$@"',
         'sh', 'env', 'SQ_IN_NETNS=1', $^X, $0;
    die "exec unshare: $!";
}

for my $p ([5170, 'udp'], [9170, 'tcp'], [8080, 'tcp'], [8081, 'tcp'],
           [8443, 'tcp'])
{
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$p->[0]",
                                  Proto => $p->[1], ReuseAddr => 1);
    plan skip_all => "port $p->[0] is taken: the demo needs it" unless $s;
    close $s;
}

my $root = repo_root();
my $tmp = tempdir(CLEANUP => 1);

sub demo {
    my ($keep) = @_;
    local $ENV{TMPDIR} = $tmp;
    my $out = `make -s -C $root run DURATION=6 $keep 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = demo('KEEP=1');
is $rc, 0, 'make run KEEP=1 DURATION=6' or diag $out;
my ($dir) = $out =~ /^servqual demo: kept (\S+)$/m;
ok defined $dir, 'says where it kept the directory' or diag $out;
$dir //= "$tmp/none";
ok -d $dir, 'the directory is there';
ok -s "$dir/$_", "with $_" for qw(collector.log logs/error.log servqual.db
                                  nginx.conf servqual-collector.yaml);
like $out, qr/\Q$dir\E/, 'the path printed is the one kept';
remove_tree($dir);

for my $keep ('', 'KEEP=0') {
    ($rc, $out) = demo($keep);
    my $name = $keep || "without KEEP";
    is $rc, 0, "make run, $name" or diag $out;
    my ($gone) = $out =~ /^servqual demo: removed (\S+)$/m;
    ok defined $gone && !-e $gone, "$name: removes its directory"
        or diag $out;
}

done_testing;
