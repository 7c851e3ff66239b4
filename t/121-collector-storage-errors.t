#!/usr/bin/perl

# The history store's failures and housekeeping: a corrupt database file,
# a path that cannot be written and a directory each stop the collector at
# start with the file and the reason, and fail -t; rows older than
# storage.retention are deleted; "path: off" runs without storage.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use Test::More;

my $c = SQCollector->new;
my $bin = $c->{bin};
my $dir = $c->{dir};

# runs the collector (or -t), returns (exit status, output)
sub run {
    my ($path, @args) = @_;
    $c->write_conf('');
    # the last storage.path wins: the harness writes one already
    open my $f, '<', $c->{conf} or die $!;
    my $yaml = do { local $/; <$f> };
    close $f;
    $yaml =~ s{^(  path: ).*$}{$1$path}m;
    open $f, '>', $c->{conf} or die $!;
    print $f $yaml;
    close $f;
    my $out = `timeout 30 $bin -c $c->{conf} @args 2>&1`;
    return ($? >> 8, $out);
}

# -- a corrupt file

my $bad = "$dir/corrupt.db";
open my $g, '>', $bad or die $!;
print $g "this is not a database\n" x 500;
close $g;

my ($rc, $out) = run($bad);
isnt($rc, 0, 'corrupt database: non-zero exit');
like($out, qr/\Q$bad\E.*not a database/, 'corrupt database: file and reason')
    or diag($out);

($rc, $out) = run($bad, '-t');
is($rc, 1, 'corrupt database: -t fails');
like($out, qr/storage\.path: \Q$bad\E.*not a database.*test failed/s,
     '-t names the file and the reason') or diag($out);

# -- a path that cannot be written

my $nodir = "$dir/no/such/dir/servqual.db";
($rc, $out) = run($nodir);
isnt($rc, 0, 'missing directory: non-zero exit');
like($out, qr/\Q$nodir\E.*unable to open database file.*No such file/,
     'missing directory: file and reason') or diag($out);

($rc, $out) = run($nodir, '-t');
is($rc, 1, 'missing directory: -t fails');
like($out, qr/\Q$nodir\E.*No such file or directory/, '-t says why')
    or diag($out);

($rc, $out) = run($dir);
isnt($rc, 0, 'a directory: non-zero exit');
like($out, qr/\Q$dir\E: /, 'a directory: named') or diag($out);

SKIP: {
    skip 'root can write anything', 2 if $> == 0;
    my $ro = "$dir/ro";
    mkdir $ro;
    chmod 0555, $ro;
    ($rc, $out) = run("$ro/servqual.db");
    isnt($rc, 0, 'read-only directory: non-zero exit');
    like($out, qr/\Q$ro\E/, 'read-only directory: named');
}

# -- -t with a usable path does not create the database

my $fresh = "$dir/fresh.db";
($rc, $out) = run($fresh, '-t');
is($rc, 0, '-t: a path that can be created is fine') or diag($out);
ok(!-e $fresh, '-t does not create the database');

# -- retention: rows older than storage.retention are deleted at start
#    and then once a minute

SKIP: {
    skip 'no sqlite3 command', 4 unless `sqlite3 -version 2>/dev/null`;

    my $db = "$dir/servqual.db";
    $c->write_conf("  retention: 1d\n");
    $c->start;
    $c->stop;

    my $now = time;
    my $old = $now - 3 * 86400;
    my $recent = $now - 3600;
    system('sqlite3', $db, <<"SQL") == 0 or die 'sqlite3 failed';
INSERT INTO series (endpoint, region, segment) VALUES ('old', 'US', '');
INSERT INTO rollups (series, t, secs, complete, requests, slot)
    VALUES (1, $old, 60, 1, 1, x'01010000');
INSERT INTO rollups (series, t, secs, complete, requests, slot)
    VALUES (1, $recent, 60, 1, 1, x'01010000');
INSERT INTO alerts (t, status, severity, endpoint, region, segment,
    dimension, indicator, since, labels)
    VALUES ($old, 'firing', 'critical', 'old', 'US', '', 'reliability',
            'success_ratio', $old, '{}');
SQL
    is(`sqlite3 $db 'SELECT count(*) FROM rollups'`, "2\n", 'two rollups');

    $c->start;
    is(`sqlite3 $db 'SELECT t FROM rollups'`, "$recent\n",
       'the rollup past retention is deleted, the recent one kept');
    is(`sqlite3 $db 'SELECT count(*) FROM alerts'`, "0\n",
       'the alert past retention is deleted');
    is($c->stop, 0, 'clean exit');
}

# -- storage off

$c->write_conf('');
{
    open my $f, '<', $c->{conf} or die $!;
    my $yaml = do { local $/; <$f> };
    close $f;
    $yaml =~ s{^(  path: ).*$}{${1}off}m;
    open $f, '>', $c->{conf} or die $!;
    print $f $yaml;
    close $f;
}
$c->start;
like($c->log_text, qr/storage is off/, 'path: off: storage is off');
is($c->get('/api/v1/history?endpoint=x')->{status}, 503,
   'no history without storage');
is($c->stop, 0, 'clean exit');

done_testing;
