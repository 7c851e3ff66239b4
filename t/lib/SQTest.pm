package SQTest;

# The nginx tests' toolkit in one import: re-exports the functions of
# the modules that hold them, one concern each:
#
#   SQProc      the repository, the temporary prefix, free ports, polling,
#               running commands, /proc, cleanup at exit
#   SQNginx     nginx's configuration, nginx -t, start, reload, stop, its
#               processes and its error log
#   SQHttp      the HTTP client
#   SQWire      the wire format read from include/: building, encoding,
#               decoding and summing datagrams; the datagram listeners
#   SQGeo       the test MaxMind databases and mmdblookup
#   SQUpstream  the test backend
#   SQCollector the real collector (its own object API)
#   SQAlert     alert traffic, the webhook and Alertmanager
#
# A test may import from those modules directly instead.

use strict;
use warnings;

use Exporter qw(import);

use SQGeo qw(make_mmdb mmdb_lookup mmdb_regions mmdb_unknown_ips
             maxmind_test_db);
use SQHttp qw(http_get http_request http_abort);
use SQNginx qw(nginx_conf start_nginx nginx_test_config reload_nginx
               stop_nginx nginx_port master_pid worker_pids
               error_log error_log_mark error_log_since wait_for_log
               no_error_in_log);
use SQProc qw(repo_root prefix free_port free_udp_port wait_for);
use SQUpstream qw(start_upstream);
use SQWire qw(udp_listener unix_listener
              decode_datagram datagram_problems decode_hist sum_datagrams
              series_total hist_total seq_gaps
              sq_hist_index sq_hist_lower sq_hist_upper sq_hist_buckets
              counter_names wire_key);


our @EXPORT = qw(
    repo_root prefix free_port free_udp_port wait_for
    nginx_conf start_nginx nginx_test_config reload_nginx stop_nginx
    nginx_port master_pid worker_pids
    error_log error_log_mark error_log_since wait_for_log no_error_in_log
    http_get http_request http_abort
    udp_listener unix_listener
    decode_datagram datagram_problems decode_hist sum_datagrams
    series_total hist_total seq_gaps
    sq_hist_index sq_hist_lower sq_hist_upper sq_hist_buckets
    counter_names wire_key
    make_mmdb mmdb_lookup mmdb_regions mmdb_unknown_ips maxmind_test_db
    start_upstream
);

our @EXPORT_OK = @EXPORT;


1;

__END__

=head1 NAME

SQTest - harness for servqual's nginx tests

=head1 SYNOPSIS

    use FindBin;
    use lib "$FindBin::Bin/lib";
    use Test::More;
    use SQTest;

    my $udp = udp_listener();
    start_nginx(<<'EOF');
        servqual_collector 127.0.0.1:%%UDP_PORT%% flush=100ms;
        servqual_geoip2 %%MMDB%%;
        set_real_ip_from 127.0.0.1;
        server {
            listen 127.0.0.1:%%PORT%%;
            location /a { servqual on; return 200 "a\n"; }
        }
    EOF

    my ($status, $h, $body) = http_get('/a', xff => '10.1.0.7');
    my $t = sum_datagrams($udp->recv_requests(1));
    is series_total($t, 'requests', endpoint => '/a', region => 'US'), 1;
    no_error_in_log();
    done_testing;

=head1 ENVIRONMENT

NGINX_BIN (default /usr/sbin/nginx), SERVQUAL_MODULE (default
build/ngx_http_servqual_module.so), MMDBLOOKUP_BIN (default mmdblookup on
PATH), SERVQUAL_COLLECTOR (default build/servqual-collector), SQ_KEEP=1
keeps t/servroot-<testname>/ after the run.

=head1 FUNCTIONS

Each function is described by the comment above its definition, in the
module that holds it.

=cut
