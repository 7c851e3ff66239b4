#!/usr/bin/perl

# The unix ingest socket's owner, group and mode (listen.socket_owner,
# socket_group, socket_mode): nginx workers that run as nobody (the tests
# run as root, nginx starts its workers as nobody:nogroup) send through a
# collector's socket made group nogroup, mode 0660, and every request is
# counted.  Left as created (root, 0755 under umask 022) the same workers
# cannot send, and nginx says so.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use SQCollector;
use SQHttp qw(http_get);
use SQNginx qw(start_nginx stop_nginx error_log no_error_in_log);
use SQProc qw(run_cmd prefix);

plan skip_all => 'needs root: nginx workers run as nobody only then'
    if $> != 0;
plan skip_all => 'needs the user nobody and the group nogroup'
    unless defined getpwnam('nobody') && defined getgrnam('nogroup');

my $bin = $ENV{SERVQUAL_COLLECTOR} || 'build/servqual-collector';

# -t checks the names and the mode
{
    my $conf = prefix() . '/conf/check.yaml';
    open my $f, '>', $conf or die;
    print $f "listen:\n  socket_owner: no-such-user\n"
           . "  socket_group: no-such-group\n  socket_mode: rw\n";
    close $f;
    my ($rc, $out) = run_cmd($bin, '-t', '-c', $conf);
    isnt $rc, 0, '-t refuses unknown users, groups and bad modes';
    like $out, qr/:2: listen\.socket_owner: unknown user "no-such-user"/,
        'an unknown user, named with file and line';
    like $out, qr/:3: listen\.socket_group: unknown group "no-such-group"/,
        'an unknown group';
    like $out, qr/:4: listen\.socket_mode: invalid mode "rw"/,
        'a mode that is not octal';
}

sub collector {
    my ($socket_conf) = @_;
    my $c = SQCollector->new;
    chmod 0755, $c->{dir};            # nobody must reach the socket
    my $sock = "$c->{dir}/ingest.sock";
    $c->write_conf('');
    open my $f, '<', $c->{conf} or die;
    local $/;
    my $t = <$f>;
    $t =~ s{ingest: (\S+)\n}{ingest: [ "$1", "unix:$sock" ]\n$socket_conf};
    open $f, '>', $c->{conf} or die;
    print $f $t;
    close $f;
    $c->start;
    return ($c, $sock);
}

sub requests {
    my ($c) = @_;
    my $m = $c->get('/metrics')->{content};
    my $sum = 0;
    $sum += $1 while $m =~ /^servqual_requests_total\{[^}]*\} (\d+)$/mg;
    return $sum;
}

my $http = <<'EOF2';
    servqual_collector unix:%%SOCK%% flush=100ms;

    server {
        listen 127.0.0.1:%%PORT%%;
        servqual on;
        location / { return 200 "ok\n"; }
    }
EOF2

# -- group nogroup, mode 0660: the workers send

my ($c, $sock) = collector("  socket_group: nogroup\n"
                           . "  socket_mode: '0660'\n");
my @st = stat $sock;
is sprintf('%04o', $st[2] & 07777), '0660', 'the socket has mode 0660';
is scalar getgrgid($st[5]), 'nogroup', 'and group nogroup';

start_nginx($http, workers => 2, vars => { SOCK => $sock });
my @users = map { (stat "/proc/$_")[4] } SQNginx::worker_pids();
is_deeply [ map { scalar getpwuid($_) } @users ], [ 'nobody', 'nobody' ],
    'the workers run as nobody';

my $n = 0;
for (1 .. 30) {
    my ($st) = http_get('/', port => SQNginx::nginx_port());
    $n++ if $st == 200;
}
ok $c->wait_for(sub { requests($c) == $n }, 20),
    "all $n requests reached the collector through the socket";
stop_nginx();
no_error_in_log();
is $c->stop, 0, 'clean exit';

# -- owner nobody, mode 0600: the workers send too

($c, $sock) = collector("  socket_owner: nobody\n  socket_mode: '0600'\n");
@st = stat $sock;
is_deeply [ scalar getpwuid($st[4]), sprintf('%04o', $st[2] & 07777) ],
    [ 'nobody', '0600' ], 'the socket is nobody\'s, mode 0600';

start_nginx($http, vars => { SOCK => $sock });
$n = 0;
for (1 .. 10) {
    my ($st) = http_get('/', port => SQNginx::nginx_port());
    $n++ if $st == 200;
}
ok $c->wait_for(sub { requests($c) == $n }, 20),
    "all $n requests reached the collector";
stop_nginx();
is $c->stop, 0, 'clean exit';

# -- left as created: the same workers cannot send

($c, $sock) = collector('');
@st = stat $sock;
is $st[4], 0, 'without socket_owner the socket is root\'s';

start_nginx($http, vars => { SOCK => $sock });
http_get('/', port => SQNginx::nginx_port()) for 1 .. 5;
SQNginx::wait_for_log(qr/servqual: \S+ to collector "unix:[^"]+" failed/);
like error_log(), qr/\(13: Permission denied\)/,
    'a root-owned socket refuses nobody: permission denied';
stop_nginx();
is requests($c), 0, 'and nothing arrives';
is $c->stop, 0, 'clean exit';

done_testing;
