#!/usr/bin/perl

# Storage failures are visible and recovered: while another process holds
# the database locked, slot writes fail; /metrics shows the errors, the
# slots pending and the last successful write, the error is logged once,
# and when the lock goes the pending slots are written, nothing lost.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Handle;
use Test::More;
use Time::HiRes qw(sleep time);

use SQCollector;

plan skip_all => 'no sqlite3 command' unless `sqlite3 -version 2>/dev/null`;

my $c = SQCollector->new(windows => '{ slot: 1s, short: 1m, long: 10m }');
$c->start;

my $seq = 0;
my $sent = 0;

sub traffic {
    my ($n) = @_;
    $c->send(SQCollector::datagram(seq => ++$seq, series => [
        SQCollector::series(endpoint => 'api', region => 'US',
            latencies => [ (0.05) x $n ], counters => { status_2xx => $n }),
    ]));
    $sent += $n;
}

sub mv {
    my ($name, %l) = @_;
    return $c->metric($c->get('/metrics')->{content}, $name, %l);
}

sub stored {
    my $db = "$c->{dir}/servqual.db";
    return `sqlite3 '$db' -cmd '.timeout 2000' 'SELECT coalesce(sum(requests), 0) FROM rollups'` + 0;
}

traffic(10);
ok $c->wait_for(sub { (mv('servqual_storage_writes_total') // 0) > 0 }, 10),
   'slots are written';
my $last = mv('servqual_storage_last_write_timestamp_seconds');
ok $last > time - 30, "the last successful write is recent ($last)";

# another process takes the database's write lock and keeps it

my $db = "$c->{dir}/servqual.db";
open my $lock, '|-', "sqlite3 '$db'" or die "sqlite3: $!";
$lock->autoflush(1);
print $lock "BEGIN EXCLUSIVE;\nSELECT count(*) FROM series;\n";
sleep 0.5;

my $t0 = time;
while (time < $t0 + 4) {
    traffic(5);
    sleep 0.25;
}

ok $c->wait_for(sub { mv('servqual_storage_errors_total', op => 'write') > 0 },
                10), 'failed writes counted';
ok mv('servqual_storage_slots_pending') >= 2,
   'slots pending while the database is locked: '
   . mv('servqual_storage_slots_pending');
my @lines = grep { /storage: .*will retry/ } split /\n/, $c->log_text;
is scalar(@lines), 1, 'the failure is logged once, not once a try';

print $lock "COMMIT;\n.quit\n";
close $lock;

ok $c->wait_for(sub { mv('servqual_storage_slots_pending') == 0 }, 20),
   'once the lock is gone the pending slots are written';
ok mv('servqual_storage_last_write_timestamp_seconds') > $last,
   'the last successful write moved on';
ok $c->wait_for(sub { stored() == $sent }, 10),
   "every request stored ($sent)" or diag 'stored: ' . stored();
is mv('servqual_lost_requests_total', cause => 'collector'), 0,
   'nothing lost inside the collector';

is $c->stop, 0, 'clean exit';
unlike $c->log_text, qr/AddressSanitizer|runtime error/, 'no sanitizer report';

done_testing;
