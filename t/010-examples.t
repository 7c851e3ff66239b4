#!/usr/bin/perl

# The example configurations are valid: nginx -t accepts the demo
# nginx.conf and the deployment snippet with the module, the collector
# accepts its example YAML, promtool and amtool accept the Prometheus and
# Alertmanager examples, and every query of the Grafana dashboard names a
# metric a running collector exports.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Copy qw(copy);
use File::Path qw(make_path);
use JSON::PP ();
use Test::More;

use SQCollector;
use SQGeo qw(make_mmdb);
use SQNginx qw(nginx_test_config);
use SQProc qw(repo_root prefix);


my $root = repo_root();
my $ex = "$root/conf.example";
my $nginx = $ENV{NGINX_BIN} // '/usr/sbin/nginx';
my $collector = $ENV{SERVQUAL_COLLECTOR} // "$root/build/servqual-collector";

sub run {
    my $out = `@_ 2>&1`;
    return ($? >> 8, $out);
}

# the demo nginx.conf, laid out as `make run` lays it out

my $dir = prefix() . '/demo';
make_path("$dir/logs", "$dir/tmp", "$dir/html", "$dir/modules");
symlink "$root/build/ngx_http_servqual_module.so",
        "$dir/modules/ngx_http_servqual_module.so" or die "symlink: $!";
copy("$ex/nginx.conf", "$dir/nginx.conf") or die "copy: $!";
make_mmdb("$dir/demo.mmdb");
run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
    . " -keyout $dir/demo.key -out $dir/demo.crt");

my ($rc, $out) = run("$nginx -t -p $dir/ -c $dir/nginx.conf"
                     . " -e $dir/logs/error.log");
is $rc, 0, 'nginx -t accepts conf.example/nginx.conf' or diag $out;

# the deployment snippet, with a database that exists here

open my $in, '<', "$ex/servqual.conf" or die;
my $snippet = do { local $/; <$in> };
my $mmdb = prefix() . '/test.mmdb';
make_mmdb($mmdb);
$snippet =~ s{/usr/share/GeoIP/GeoLite2-Country\.mmdb}{$mmdb}
    or die 'the snippet names no GeoLite2 database';

($rc, $out) = nginx_test_config($snippet . <<'EOF');
    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;
        location /checkout { servqual_endpoint checkout; return 200; }
        location /healthz { servqual off; return 200; }
    }
EOF
is $rc, 0, 'nginx -t accepts conf.example/servqual.conf' or diag $out;
unlike $out, qr/\[warn\]/, 'without warnings';

# the collector's example configuration

($rc, $out) = run("$collector -t -c $ex/servqual-collector.yaml");
is $rc, 0, 'servqual-collector -t accepts the example YAML' or diag $out;

# Prometheus and Alertmanager examples

($rc, $out) = run("promtool check config $ex/prometheus.yml");
is $rc, 0, 'promtool check config accepts prometheus.yml' or diag $out;

($rc, $out) = run("amtool check-config $ex/alertmanager.yml");
is $rc, 0, 'amtool check-config accepts alertmanager.yml' or diag $out;

# the Grafana dashboard: valid JSON, and every metric its queries name is
# one the collector exports once it has seen traffic

open my $gf, '<', "$ex/grafana-dashboard.json" or die;
my $dash = eval { JSON::PP->new->decode(do { local $/; <$gf> }) };
ok $dash, 'grafana-dashboard.json parses';

my @exprs = map { $_->{expr} } map { @{ $_->{targets} // [] } }
            @{ $dash->{panels} // [] };
push @exprs, map { $_->{query} } grep { ($_->{type} // '') eq 'query' }
             @{ $dash->{templating}{list} // [] };
ok @exprs >= 10, scalar(@exprs) . ' queries';

my $c = SQCollector->new(min_requests => 1);
$c->start;
$c->send(SQCollector::datagram(node => 'n', pid => 1, seq => 1, series => [
    SQCollector::series(endpoint => 'home', region => 'US',
        latencies => [0.1, 0.2], counters => { status_2xx => 2 }) ]));
my $m;
$c->wait_for(sub {
    $m = $c->get('/metrics')->{content};
    $m =~ /^servqual_requests_total\{/m;
}, 20);

my %exported = map { $_ => 1 } $m =~ /^# TYPE (\S+) /mg;
for my $h (grep { /^# TYPE \S+ histogram/ } split /\n/, $m) {
    my ($n) = $h =~ /^# TYPE (\S+)/;
    $exported{"${n}_$_"} = 1 for qw(bucket sum count);
}

my %named = map { $_ => 1 } map { /\b(servqual_[a-z0-9_]+)/g } @exprs;
ok keys(%named) >= 10, keys(%named) . ' metrics named';
is_deeply [grep { !$exported{$_} } sort keys %named], [],
          'every metric the dashboard queries is exported';

done_testing;
