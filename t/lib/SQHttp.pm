package SQHttp;

# A plain HTTP/1.x client for the tests: one request per connection to
# 127.0.0.1 (the running nginx's port unless another is given), the raw
# response parsed into status, headers and a de-chunked body; and a client
# that gives up before the response.

use strict;
use warnings;

use Carp qw(croak);
use Errno qw(EINTR);
use Exporter qw(import);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

use SQNginx qw(nginx_port);


our @EXPORT_OK = qw(http_get http_request http_abort);


# http_get($path, %opts): a GET request; see http_request.

sub http_get {
    my ($path, %o) = @_;

    return http_request('GET', $path, %o);
}


# http_request($method, $path, %opts): one request on a fresh connection
# to 127.0.0.1 with "Connection: close".  Returns (status, headers, body);
# headers is a hash ref with lower-case names (repeated headers joined
# with ", "); a chunked body is decoded.  Dies on connection failure or
# timeout.
#   port      default: the running nginx's port
#   headers   { Name => value }, e.g. { 'X-Forwarded-For' => '10.1.0.5' }
#   xff       shorthand for the X-Forwarded-For header
#   body      request body (sets Content-Length)
#   host      Host header (default "localhost")
#   version   "1.1" (default) or "1.0"
#   timeout   seconds (default 10)

sub http_request {
    my ($method, $path, %o) = @_;

    my $s = _http_send($method, $path, %o);
    my $timeout = $o{timeout} // 10;
    my $deadline = time + $timeout;
    my $raw = '';

    for (;;) {
        my $left = $deadline - time;
        croak "http $method $path: timed out" if $left <= 0;
        next unless IO::Select->new($s)->can_read($left);
        my $n = sysread $s, $raw, 65536, length $raw;
        next if !defined $n && $! == EINTR;
        croak "http $method $path: read: $!" unless defined $n;
        last if $n == 0;
    }

    close $s;
    return _http_parse($raw, $method);
}


# http_abort($path, %opts): send a request and close the connection after
# opts after => seconds (default 0.1) without reading the response: the
# client abort nginx logs as 499 when the response was not ready yet.

sub http_abort {
    my ($path, %o) = @_;

    my $s = _http_send('GET', $path, %o);
    sleep($o{after} // 0.1);
    close $s;
    return 1;
}


sub _http_send {
    my ($method, $path, %o) = @_;

    my $port = $o{port} // nginx_port() // croak "no port for http request";
    my %h = (Host => $o{host} // 'localhost', Connection => 'close',
             %{ $o{headers} // {} });
    $h{'X-Forwarded-For'} = $o{xff} if defined $o{xff};
    $h{'Content-Length'} = length $o{body} if defined $o{body};

    my $req = "$method $path HTTP/" . ($o{version} // '1.1') . "\r\n"
              . join('', map { "$_: $h{$_}\r\n" } sort keys %h) . "\r\n"
              . ($o{body} // '');

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp',
                                  Timeout => $o{timeout} // 10)
        or croak "connect 127.0.0.1:$port: $!";
    binmode $s;

    my $off = 0;
    while ($off < length $req) {
        my $n = syswrite $s, $req, length($req) - $off, $off;
        next if !defined $n && $! == EINTR;
        croak "write to 127.0.0.1:$port: $!" unless defined $n;
        $off += $n;
    }

    return $s;
}


sub _http_parse {
    my ($raw, $method) = @_;

    my $end = index $raw, "\r\n\r\n";
    croak "malformed http response: " . substr($raw, 0, 200) if $end < 0;

    my ($status_line, @lines) = split /\r\n/, substr($raw, 0, $end);
    my $body = substr $raw, $end + 4;

    $status_line =~ m{^HTTP/\d\.\d (\d{3})}
        or croak "malformed status line: $status_line";
    my $status = $1;

    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*\z/ or next;
        $k = lc $k;
        $h{$k} = defined $h{$k} ? "$h{$k}, $v" : $v;
    }

    $body = _dechunk($body)
        if ($h{'transfer-encoding'} // '') =~ /chunked/i;
    $body = '' if $method eq 'HEAD';

    return ($status, \%h, $body);
}


sub _dechunk {
    my ($in) = @_;

    my $out = '';
    while ($in =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $len = hex $1;
        last if $len == 0;
        $out .= substr $in, 0, $len, '';
        $in =~ s/^\r\n//;
    }

    return $out;
}


1;
