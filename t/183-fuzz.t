#!/usr/bin/perl

# The libFuzzer harnesses (fuzz/*_fuzz.c, built by make fuzz-bins):
# every input of the seed corpus in the repository replayed, then each
# harness fuzzed for FUZZ_TEST_SECONDS (default 20) on a copy of its
# corpus.  Any crash fails the test and leaves its input in build/fuzz/.

use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More;

my $seconds = $ENV{FUZZ_TEST_SECONDS} // 20;
my @names = map { m{fuzz/(\w+)_fuzz\.c$} ? $1 : () } glob 'fuzz/*_fuzz.c';

plan skip_all => 'no harnesses' unless @names;

for my $n (@names) {
    my $bin = "build/fuzz/${n}_fuzz";
    ok(-x $bin, "$bin built") or next;

    my @seeds = grep { -f } glob "fuzz/corpus/$n/*";
    ok(@seeds >= 3, "$n: " . scalar(@seeds) . ' seeds in fuzz/corpus/' . $n);

    my $out = `$bin -runs=0 @seeds 2>&1`;
    is($?, 0, "$n: the corpus replays without a crash") or diag $out;

    next unless $seconds > 0;

    my $work = tempdir(CLEANUP => 1);
    mkdir 'build/fuzz/crashes';
    $out = `$bin -max_total_time=$seconds -timeout=10 -rss_limit_mb=2048 \\
            -print_final_stats=1 -artifact_prefix=build/fuzz/crashes/$n- \\
            $work fuzz/corpus/$n 2>&1`;
    is($?, 0, "$n: fuzzed for $seconds s without a crash")
        or diag join "\n", (split /\n/, $out)[-40 .. -1];
    my ($execs) = $out =~ /stat::number_of_executed_units:\s*(\d+)/;
    diag "$n: " . ($execs // '?') . " executions in $seconds s";
}

done_testing();
