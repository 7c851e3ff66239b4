#!/usr/bin/perl

# SIGHUP: a changed threshold changes the verdict and no count is lost; a
# bad new config is refused and the old one stays.  -t, -v and SIGTERM.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use SQCollector;
use Test::More;

my $bin = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';

like(`$bin -v 2>&1`, qr/^servqual-collector version \d+\.\d+\.\d+$/m,
     '-v prints the version');

my $c = SQCollector->new(conf => <<'YAML');
dimensions:
  reliability: { adequate: 99%, desired: 99.5%, min_requests: 10 }
YAML

my $out = `$bin -t -c $c->{conf} 2>&1`;
is($?, 0, '-t on a good config exits 0');
like($out, qr/test is successful/, '-t says so');

$out = `$bin -t -c conf.example/servqual-collector.yaml 2>&1`;
is($?, 0, 'the sample config passes -t') or diag $out;

# a bad config: every error, with file, line and key

my $bad = "$c->{dir}/bad.yaml";
open my $f, '>', $bad or die;
print $f <<'YAML';
listen:
  ingest: udp://127.0.0.1:1
dimensions:
  reliability:
    adequate: 99.9%
    desired: 99%
  responsiveness:
    weight: 0
windows:
  short: 5 fortnights
YAML
close $f;

$out = `$bin -t -c $bad 2>&1`;
isnt($?, 0, '-t on a bad config fails');
like($out, qr/\Q$bad\E:6: dimensions\.reliability: desired 0\.99 is not better/,
     'desired worse than adequate: file, line 6, key');
like($out, qr/\Q$bad\E:8: dimensions\.responsiveness\.weight: /,
     'weight 0: line 8');
like($out, qr/\Q$bad\E:10: windows\.short: invalid duration "5 fortnights"/,
     'bad duration: line 10');
like($out, qr/test failed/, 'and the test failed');

$c->start;

# 1000 requests with 7 failures: 99.3 %, within 99..99.5

sub batch {
    my ($seq) = @_;
    return SQCollector::datagram(seq => $seq, series => [
        SQCollector::series(endpoint => 'api', region => 'FR',
            latencies => [ (0.01) x 500 ],
            counters => { status_2xx => 496, status_5xx => 4 }) ]);
}

$c->send(batch(1));
$c->send(SQCollector::datagram(seq => 2, series => [
    SQCollector::series(endpoint => 'api', region => 'FR',
        latencies => [ (0.01) x 500 ],
        counters => { status_2xx => 497, status_5xx => 3 }) ]));

my $rel = sub {
    my $q = $c->json('/api/v1/quality?scope=series&endpoint=api');
    return $q->{rows}[0]{windows}{short};
};

ok($c->wait_for(sub { $rel->()->{requests} == 1000 }), '1000 requests in');
is($rel->()->{dimensions}{reliability}{state}, 'within',
   '99.3 % is within 99 %..99.5 %');

# raise the bar: adequate 99.5 %

$c->write_conf(<<'YAML');
dimensions:
  reliability: { adequate: 99.5%, desired: 99.9%, min_requests: 10 }
YAML
$c->signal('HUP');

ok($c->wait_for(sub {
    $rel->()->{dimensions}{reliability}{state} eq 'below' }),
   'after SIGHUP with adequate 99.5 %, 99.3 % is below');
is($rel->()->{requests}, 1000, 'no request lost across the reload');
is($rel->()->{dimensions}{reliability}{adequate}, 0.995,
   'the new adequate level is reported');

# more traffic after the reload is added to the same windows

$c->send(batch(3));
ok($c->wait_for(sub { $rel->()->{requests} == 1500 }),
   'traffic after the reload adds up: 1500');

# a bad config is refused, the old one stays

$c->write_conf(<<'YAML');
dimensions:
  reliability: { adequate: 99.9%, desired: 99% }
bogus: 1
YAML
$c->signal('HUP');

ok($c->wait_for(sub { $c->log_text =~ /reload .* failed, the old configuration stays/ }),
   'bad config: the log says the old one stays');
# the test's config starts with 5 lines of listen and storage
like($c->log_text, qr/\Q$c->{conf}\E:8: top level: unknown key "bogus"/,
     'the error names the file, line and key');
is($rel->()->{dimensions}{reliability}{adequate}, 0.995,
   'the old levels are still in effect');
is($rel->()->{requests}, 1500, 'and the counts');
my $m = $c->get('/metrics')->{content};
is($c->metric($m, 'servqual_config_reloads_total', result => 'ok'), 1,
   'one good reload');
is($c->metric($m, 'servqual_config_reloads_total', result => 'failed'), 1,
   'one failed reload');
ok($c->alive, 'still running');

is($c->stop, 0, 'SIGTERM: exit 0');
like($c->log_text, qr/exiting/, 'said it exits');

done_testing;
