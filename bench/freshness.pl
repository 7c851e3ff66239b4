#!/usr/bin/perl

# End-to-end freshness: the time from a region turning bad to the alert
# firing, with the collector at its default configuration (ports and
# storage path aside) and nginx at the module's defaults (flush=1s).
#
# nginx serves /ok (200) and /bad (503) under one endpoint name; a client
# sends requests from every region of the test MaxMind DB to /ok.  After
# a warm-up, one region at a time switches to /bad, and the collector's
# /api/v1/alerts is polled until a critical reliability alert for that
# region fires.  Writes a Markdown section.
#
#   bench/freshness.pl --tmp DIR --out FILE --mmdb FILE [--quick]

use strict;
use warnings;

use FindBin qw($Bin);
use lib "$Bin/lib";

use Bench;
use Getopt::Long qw(GetOptions);
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes qw(time sleep);

my %opt;
GetOptions(\%opt, 'tmp=s', 'out=s', 'mmdb=s', 'quick')
    or die "usage: $0 --tmp DIR --out FILE --mmdb FILE [--quick]\n";

for (qw(tmp out mmdb)) {
    die "$0: --$_ is required\n" unless defined $opt{$_};
}

$SIG{INT} = $SIG{TERM} = sub { Bench::stop_all(); exit 1 };
END { Bench::stop_all() }

my $repo = repo_root();
my $collector = $ENV{SERVQUAL_COLLECTOR_BIN}
                // "$repo/build/servqual-collector";
my $warmup = $opt{quick} ? 12 : 20;
my $timeout = 90;
my @trial_regions = $opt{quick} ? (2) : (2 .. 6);    # BR DE JP AU ZA

open my $out, '>', $opt{out} or die "$opt{out}: $!\n";
print $out "## 4. End-to-end freshness\n\n";

if (!-x $collector) {
    print $out "**not measured yet** (build/servqual-collector not built).\n\n";
    exit 0;
}


# -- the collector, default configuration but ports and storage

my $dir = "$opt{tmp}/freshness";
mkdir $dir;

my $ingest = free_port('udp');
my $http = free_port('tcp');

open my $fh, '>', "$dir/collector.yaml" or die "$dir/collector.yaml: $!\n";
print $fh <<"EOF";
listen:
  ingest: udp://127.0.0.1:$ingest
  http: 127.0.0.1:$http
storage:
  path: $dir/servqual.db
EOF
close $fh;

my $cpid = Bench::spawn('collector', 'sh', '-c', 'exec "$@" 2>>"$0"',
                        "$dir/collector.log", $collector, '-c',
                        "$dir/collector.yaml");
wait_port($http, 15, $cpid);

sub get {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$http",
                                  Proto => 'tcp', Timeout => 5) or return;
    print $s "GET $path HTTP/1.0\r\nHost: bench\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    close $s;
    return unless $r =~ m{\AHTTP/1\.\d 200};
    $r =~ s/\A.*?\r\n\r\n//s;
    return $r;
}

if (!defined get('/api/v1/alerts')) {
    print $out "**not measured yet**: the collector has no "
             . "`/api/v1/alerts` at this commit.\n\n";
    exit 0;
}


# -- nginx, module defaults

my $port = free_port('tcp');
my $conf = write_conf("$dir/nginx", port => $port, collector => $ingest,
                      servqual => 'on', mmdb => $opt{mmdb}, endpoints => 0);

# one endpoint name, two outcomes
{
    local @ARGV = ($conf);
    local $^I = '';
    while (<>) {
        if (/^\s+location \/ \{/) {
            print "        location = /ok { servqual_endpoint shop; "
                . "return 200; }\n"
                . "        location = /bad { servqual_endpoint shop; "
                . "return 503; }\n";
        }
        print;
    }
}

my $npid = start_nginx($conf, $port);


# -- traffic and polling

my @addr = address_list(12);
my %bad;                        # region number => 1
my $client;

# the region number of a client address (10.R.x.x, 2001:db8:R::...)
sub region_of {
    my ($a) = @_;
    return $a =~ /^10\.(\d+)/ ? $1 : hex((split /:/, $a)[2]);
}

sub send_round {
    $client //= IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Proto => 'tcp')
        or die "connect nginx: $!\n";
    my $req = '';
    for my $a (@addr) {
        my $path = $bad{ region_of($a) } ? '/bad' : '/ok';
        $req .= "GET $path HTTP/1.1\r\nHost: bench\r\n"
              . "X-Forwarded-For: $a\r\n\r\n";
    }
    print $client $req;
    my ($buf, $n) = ('', 0);
    while ($n < @addr) {
        sysread($client, $buf, 65536, length $buf) or die "nginx closed\n";
        $n = () = $buf =~ m{HTTP/1\.1 \d+}g;
    }
}

# about 60 rounds (720 requests) a second
sub traffic_for {
    my ($seconds, $until) = @_;
    my $end = time + $seconds;
    my $next_poll = 0;

    while (time < $end) {
        send_round();
        if ($until && time >= $next_poll) {
            $next_poll = time + 0.2;
            return 1 if $until->();
        }
        sleep 0.015;
    }
    return 0;
}

my $iso = { 2 => 'BR', 3 => 'DE', 4 => 'JP', 5 => 'AU', 6 => 'ZA' };
my $json = JSON::PP->new;

sub firing {
    my ($region) = @_;
    my $body = get('/api/v1/alerts') // return 0;
    my $a = eval { $json->decode($body) } or return 0;
    return grep {
        ($_->{severity} // '') eq 'critical'
        && ($_->{labels}{region} // '') eq $region
        && ($_->{labels}{dimension} // '') eq 'reliability'
    } @{ $a->{firing} // [] };
}

traffic_for($warmup);

my @trials;

for my $r (@trial_regions) {
    my $code = $iso->{$r};

    # a trial starts just after an evaluation (the previous alert fired):
    # wait a random part of the 10 s interval so that the trials sample
    # every phase of it
    traffic_for(rand 10);

    $bad{$r} = 1;
    my $t0 = time;
    my $fired = traffic_for($timeout, sub { firing($code) });
    push @trials, { region => $code, seconds => $fired ? time - $t0 : undef };
    delete $bad{$r};
}

close $client if $client;
Bench::stop_nginx($npid, 'QUIT');
Bench::stop_nginx($cpid, 'TERM');


# -- the report

my @t = map { $_->{seconds} } grep { defined $_->{seconds} } @trials;

print $out <<"EOF";
The collector at its default configuration (ports and storage path
aside: `alerts.interval` 10 s, windows 5 m / 1 h, reliability adequate
99.5 %), nginx with the module's defaults (`flush=1s`) and the test
MaxMind DB.  A client sends about 700 requests a second, spread over the
six regions, to `location = /ok { servqual_endpoint shop; return 200; }`;
after $warmup s one region at a time switches to `/bad` (`return 503`,
same endpoint name) and `/api/v1/alerts` is polled every 0.2 s until a
critical reliability alert for that region fires.  Each trial starts at
a random point of the evaluation interval.  The time is the module's
flush (up to 1 s), the wait for the collector's next evaluation (up to
`alerts.interval`) and the evaluation itself.

| region | turned bad → alert firing |
|---|---:|
EOF

for (@trials) {
    printf $out "| %s | %s |\n", $_->{region},
        defined $_->{seconds} ? sprintf('%.1f s', $_->{seconds})
                              : "no alert within $timeout s";
}

if (@t) {
    my ($lo, $hi) = spread(@t);
    printf $out "\nMedian %.1f s (%.1f–%.1f s) over %d regions.\n\n",
        median(@t), $lo, $hi, scalar @t;
} else {
    print $out "\nNo alert fired within $timeout s.\n\n";
}

close $out or die "$opt{out}: $!\n";

open my $sum, '>', "$opt{out}.summary" or die "$opt{out}.summary: $!\n";
printf $sum "- end-to-end freshness (region turns bad → alert firing, "
          . "default config): %s\n",
    @t ? sprintf('**%.1f s** median (%.1f–%.1f s)', median(@t), spread(@t))
       : 'no alert fired';
close $sum;
