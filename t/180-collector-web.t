#!/usr/bin/perl

# The HTTP side protected as Prometheus exporters are: a web config
# (listen.web_config) with TLS and bcrypt basic auth users; /healthz open,
# everything else 401 with WWW-Authenticate without credentials; a real
# Prometheus scraping over TLS with basic_auth; -t checks the web config.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use HTTP::Tiny;
use MIME::Base64 qw(encode_base64);
use POSIX ':sys_wait_h';
use Test::More;

use SQCollector;
use SQProc qw(free_port read_file);

plan skip_all => 'openssl, prometheus or IO::Socket::SSL missing'
    unless `openssl version` && -x '/usr/bin/prometheus'
           && eval { require IO::Socket::SSL; 1 };

my $dir = tempdir(CLEANUP => 1);
my $bin = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';

system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
       . " -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
       . " -keyout $dir/collector.key -out $dir/collector.crt 2>/dev/null")
    == 0 or die 'openssl req failed';

# cost 4: the guessing below must fit more than 5 checks in a second on
# a busy machine under AddressSanitizer
my $hash = crypt('s3cret pass', '$2b$04$' . 'abcdefghijklmnopqrstuv');
like($hash, qr/^\$2b\$04\$.{53}$/, 'libcrypt makes a bcrypt hash');

sub write_web {
    my ($file, $text) = @_;
    open my $f, '>', $file or die "$file: $!";
    print $f $text;
    close $f;
}

# cert and key relative to the web config's own directory
write_web("$dir/web.yml", <<"YAML");
tls_server_config:
  cert_file: collector.crt
  key_file: collector.key
  min_version: TLS12
basic_auth_users:
  prometheus: '$hash'
YAML

# -- -t checks the web config

sub check {
    my ($web) = @_;
    write_web("$dir/bad.yml", $web);
    write_web("$dir/t.yaml", "listen:\n  web_config: $dir/bad.yml\n");
    my $out = `$bin -t -c $dir/t.yaml 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = check("basic_auth_users:\n  alice: plain-password\n");
isnt($rc, 0, '-t: a plain password refused');
like($out, qr/bad\.yml:2: basic_auth_users.*not a bcrypt hash/,
     'named with the web config file and line');
like($out, qr/t\.yaml:2: listen\.web_config: cannot use web config/,
     'and the collector config line that names it');

($rc, $out) = check("tls_server_config:\n  cert_file: nowhere.crt\n"
                    . "  key_file: collector.key\n");
isnt($rc, 0, '-t: a missing certificate refused');
like($out, qr/cannot load cert_file ".*nowhere\.crt"/, 'said which file');

($rc, $out) = check("tls_server_config:\n  cert_file: collector.crt\n");
like($out, qr/cert_file and key_file go together/, 'cert without key');

($rc, $out) = check("tls_server_config:\n  min_version: SSL3\n");
like($out, qr/bad\.yml:2: .*min_version.*TLS10, TLS11, TLS12 or TLS13/,
     'an unknown TLS version');

write_web("$dir/t.yaml", "listen:\n  web_config: $dir/web.yml\n");
$out = `$bin -t -c $dir/t.yaml 2>&1`;
is($? >> 8, 0, '-t: the good web config passes') or diag $out;

# -- the collector over TLS with basic auth

my $c = SQCollector->new(conf => '');
write_web($c->{conf}, <<"YAML");
listen:
  ingest: udp://127.0.0.1:$c->{udp}
  http: 127.0.0.1:$c->{http}
  web_config: $dir/web.yml
  http_timeout: 2s
storage:
  path: $c->{dir}/servqual.db
YAML

my $base = "https://127.0.0.1:$c->{http}";
my $ua = HTTP::Tiny->new(timeout => 10, verify_SSL => 1,
                         SSL_options => { SSL_ca_file =>
                                          "$dir/collector.crt" });
my $auth = 'Basic ' . encode_base64('prometheus:s3cret pass', '');
my $bad = 'Basic ' . encode_base64('prometheus:wrong', '');

{
    no warnings 'redefine';
    *SQCollector::get = sub {
        my ($self, $path) = @_;
        return $ua->get("$base$path", { headers => { Authorization => $auth } });
    };
}

$c->start;

my $r = $ua->get("$base/healthz");
is($r->{status}, 200, '/healthz over TLS without credentials: 200');

$r = $ua->get("$base/metrics");
is($r->{status}, 401, '/metrics without credentials: 401');
like($r->{headers}{'www-authenticate'} // '', qr/^Basic realm="servqual"/,
     'with WWW-Authenticate: Basic');

for my $p (qw(/ /api/v1/quality /api/v1/series /api/v1/alerts
              /api/v1/history /nowhere))
{
    is($ua->get("$base$p")->{status}, 401, "$p without credentials: 401");
}

$r = $ua->get("$base/metrics", { headers => { Authorization => $bad } });
is($r->{status}, 401, 'a wrong password: 401');
$r = $ua->get("$base/metrics", { headers => { Authorization =>
    'Basic ' . encode_base64('nobody:s3cret pass', '') } });
is($r->{status}, 401, 'an unknown user: 401');

for (1 .. 2) {
    $r = $ua->get("$base/metrics", { headers => { Authorization => $auth } });
    is($r->{status}, 200, "with credentials: 200 (try $_)");
}
like($r->{content}, qr/^servqual_build_info\{/m, 'the metrics');

my $plain = HTTP::Tiny->new(timeout => 5)
    ->get("http://127.0.0.1:$c->{http}/healthz");
isnt($plain->{status}, 200, 'plain HTTP on the TLS port is not answered');

# TLS 1.1 is below min_version
my $old = IO::Socket::SSL->new(PeerAddr => '127.0.0.1',
                               PeerPort => $c->{http},
                               SSL_verify_mode => 0,
                               SSL_version => 'TLSv1_1');
ok(!$old, 'a TLS 1.1 handshake is refused');

# -- a real Prometheus scrapes it with basic_auth and tls_config

my $pport = free_port();
write_web("$dir/prometheus.yml", <<"YAML");
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: servqual
    scheme: https
    basic_auth:
      username: prometheus
      password: 's3cret pass'
    tls_config:
      ca_file: $dir/collector.crt
    static_configs:
      - targets: ['127.0.0.1:$c->{http}']
  - job_name: servqual_wrong_password
    scheme: https
    basic_auth:
      username: prometheus
      password: wrong
    tls_config:
      ca_file: $dir/collector.crt
    static_configs:
      - targets: ['127.0.0.1:$c->{http}']
YAML

my $ppid = fork // die "fork: $!";
if ($ppid == 0) {
    open STDOUT, '>', "$dir/prometheus.log";
    open STDERR, '>&', \*STDOUT;
    exec '/usr/bin/prometheus', "--config.file=$dir/prometheus.yml",
         "--storage.tsdb.path=$dir/tsdb",
         "--web.listen-address=127.0.0.1:$pport";
    exit 127;
}

my $pua = HTTP::Tiny->new(timeout => 5);
my %health;
ok($c->wait_for(sub {
    my $t = $pua->get("http://127.0.0.1:$pport/api/v1/targets");
    return 0 unless $t->{success};
    my $j = JSON::PP::decode_json($t->{content});
    %health = map { $_->{labels}{job} => $_ }
              @{ $j->{data}{activeTargets} };
    return ($health{servqual}{health} // '') eq 'up'
        && ($health{servqual_wrong_password}{health} // '') eq 'down';
}, 60), 'Prometheus: the target is up over TLS with basic_auth')
    or diag explain \%health, read_file("$dir/prometheus.log");
like($health{servqual_wrong_password}{lastError} // '', qr/401/,
     'and down with a wrong password (401)');

ok($c->wait_for(sub {
    my $q = $pua->get("http://127.0.0.1:$pport/api/v1/query?query="
                      . 'servqual_build_info');
    my $j = JSON::PP::decode_json($q->{content});
    return @{ $j->{data}{result} } && $j->{data}{result}[0]{value}[1] > 0;
}, 30), 'Prometheus stored the collector\'s metrics');

kill 'TERM', $ppid;
waitpid($ppid, 0);

# -- password guessing: at most 5 bcrypt checks a second, then 429

my %codes;
my $retry;
for (1 .. 30) {
    my $g = $ua->get("$base/metrics", { headers => { Authorization =>
        'Basic ' . encode_base64("prometheus:guess$_", '') } });
    $codes{$g->{status}}++;
    $retry //= $g->{headers}{'retry-after'} if $g->{status} == 429;
}
ok($codes{429}, "guessing: 429 past 5 checks a second ("
   . join(', ', map { "$_ x $codes{$_}" } sort keys %codes) . ')');
is($retry, 1, 'with Retry-After: 1');
is($ua->get("$base/metrics", { headers => { Authorization => $auth } })
       ->{status}, 200, 'the known password still gets in');

# -- a slow client is cut off: a byte a second, the timeout 2 s

my $ssl = IO::Socket::SSL->new(PeerAddr => '127.0.0.1',
                               PeerPort => $c->{http},
                               SSL_ca_file => "$dir/collector.crt",
                               SSL_verifycn_name => 'localhost')
    or die "tls: " . IO::Socket::SSL::errstr();
my $req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
my $t0 = time;
my $sent = 0;
local $SIG{PIPE} = 'IGNORE';
for my $ch (split //, $req) {
    last unless defined syswrite($ssl, $ch);
    $sent++;
    sleep 1;
    last if time - $t0 > 10;
}
ok($sent < length $req, "the slow client was cut off after $sent bytes");
ok(time - $t0 <= 6, 'within the request timeout and a sweep');

is($ua->get("$base/healthz")->{status}, 200, 'still serving');
is($c->stop, 0, 'clean exit');

done_testing();
