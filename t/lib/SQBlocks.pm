package SQBlocks;

# Tests as data, in the spirit of Test::Nginx (lua-nginx-module's t/):
# a test file's __DATA__ holds blocks, each a name and sections,
#
#   === servqual foo
#   --- http
#   servqual foo;
#   --- error_like
#   invalid value "foo" in "servqual" directive
#
# and a runner turns each block into assertions: check_config_blocks
# (nginx -t), check_traffic_blocks (requests to the running nginx, then
# what its datagrams count).  A section header may
# carry its value inline ("--- mmdb: GeoIP2-City-Test"); "--- name eval"
# (or "--- name eval: ...") evaluates the section's text as Perl and
# keeps the result.

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use Test::More ();

use SQGeo qw(maxmind_test_db);
use SQHttp qw(http_get http_abort);
use SQNginx qw(nginx_test_config);
use SQWire qw(hist_total series_total sum_datagrams);


our @EXPORT_OK = qw(blocks check_config_blocks check_traffic_blocks);


# blocks($fh): the blocks read from $fh (default: the caller's DATA), a
# list of { name => ..., section => text, ... } in file order.  Text
# loses its trailing newlines; lines starting with "#" between blocks are
# comments.

sub blocks {
    my ($fh) = @_;

    $fh //= do { no strict 'refs'; \*{ caller() . '::DATA' } };

    my (@blocks, $b, $sec, $eval);
    my $end = sub {
        return unless $b && defined $sec;
        $b->{$sec} =~ s/\n+\z//;
        if ($eval) {
            my $v = eval $b->{$sec};
            croak "block \"$b->{name}\", section $sec: $@" if $@;
            $b->{$sec} = $v;
        }
        undef $sec;
    };

    while (my $line = <$fh>) {
        if ($line =~ /^=== (.+?)\s*$/) {
            $end->();
            $b = { name => $1 };
            push @blocks, $b;
        } elsif ($line =~ /^--- (\w+)(\s+eval)?(?::\s*(.*?))?\s*$/) {
            croak "section \"$1\" outside a block" unless $b;
            $end->();
            ($sec, $eval) = ($1, $2);
            $b->{$sec} = defined $3 ? $3 : '';
            $end->() if defined $3;
        } elsif (defined $sec) {
            $b->{$sec} .= $line;
        } elsif ($line !~ /^\s*(#.*)?$/) {
            croak "stray line in the blocks: $line";
        }
    }
    $end->();

    return @blocks;
}


# check_config_blocks(@blocks): "nginx -t" for each block, the
# configuration being
#
#     <http>
#     server {
#         listen 127.0.0.1:%%PORT%%;
#         location / {
#             <location>
#             return 200;
#         }
#     }
#
# or, with a "config" section, that text alone as the http block's
# contents.  Sections:
#   http, location, config  the configuration, as above
#   mmdb                    a MaxMind test database of t/mmdb/ (asserted
#                           present first) for the %%TESTDB%% placeholder
#   error_like              a regex: nginx -t must fail, say this, and
#                           name the file and line (unless no_line)
#   no_line                 the message names no line
#   output_like             a regex the output of a passing check matches,
#   output_says             and the name of that assertion
# Without error_like the check must pass.

sub check_config_blocks {
    my (@blocks) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    for my $b (@blocks) {
        my $name = $b->{name};
        my %vars;

        $vars{TESTDB} = maxmind_test_db($b->{mmdb}) if defined $b->{mmdb};

        my $text = $b->{config} // _wrap($b->{http} // '',
                                         $b->{location} // '');
        my ($rc, $out) = nginx_test_config($text, vars => \%vars);

        if (defined $b->{error_like}) {
            Test::More::isnt($rc, 0, "$name: nginx -t fails");
            Test::More::like($out, qr/$b->{error_like}/, "$name: says why");
            next if defined $b->{no_line};
            Test::More::like($out, qr/in \S+\/conf\/test\.conf:\d+/,
                             "$name: names file and line");
            next;
        }

        Test::More::is($rc, 0, "$name: nginx -t passes")
            or Test::More::diag($out);
        Test::More::like($out, qr/$b->{output_like}/,
                         "$name: " . ($b->{output_says} // 'says so'))
            if defined $b->{output_like};
    }
}


sub _wrap {
    my ($http, $loc) = @_;

    return <<"EOF";
    $http
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            $loc
            return 200;
        }
    }
EOF
}


# check_traffic_blocks($listener, %opts, @blocks): for each block, send
# its requests to the running nginx, collect the datagrams that count
# them (SQWire::Listener->recv_requests) and check the totals.  Sections:
#
#   requests   one request per line, "xN" repeats it:
#                GET /path [Name: value] [xN] [=> status | name]
#                ABORT /path [after=seconds] [xN]
#                CURL curl arguments ("curl -sk --max-time 10 -o
#                     /dev/null" before them; opts vars substitute
#                     %%NAME%% in them)
#              "=> status | name" asserts the response's status
#   expect     one total per line, "what [filters] = n | name":
#                what     a counter name, or a histogram (rt, ttfb)
#                filters  endpoint=E region=R segment=S, and lo=us hi=us
#                         for a histogram (digits may hold "_")
#              as SQWire's series_total and hist_total count them.
#   opts vars => { NAME => value }

my $EXPECT = qr/^\s*(\w+)((?:\s+\w+=\S+)*)\s*=\s*(\d+)\s*\|\s*(.+?)\s*$/;

sub check_traffic_blocks {
    my ($listener, @rest) = @_;

    my %o;
    %o = %{ shift @rest } if ref $rest[0] eq 'HASH';

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    for my $b (@rest) {
        my $n = 0;

        for my $line (split /\n/, $b->{requests} // '') {
            next if $line =~ /^\s*(#.*)?$/;
            $n += _send($line, $o{vars} // {}, $b->{name});
        }

        my ($t) = sum_datagrams($listener->recv_requests($n));

        for my $line (split /\n/, $b->{expect} // '') {
            next if $line =~ /^\s*(#.*)?$/;
            my ($what, $f, $want, $name) = $line =~ $EXPECT
                or croak "block \"$b->{name}\": bad expect line: $line";
            my %f = map { split /=/, $_, 2 } split ' ', $f;
            s/_//g for grep { defined } @f{qw(lo hi)};
            my $got = (grep { $_ eq $what } SQWire::wire_hists())
                      ? hist_total($t, $what, %f)
                      : series_total($t, $what, %f);
            Test::More::is($got, $want, $name);
        }
    }
}


# one request line: sends it (times xN), returns the number sent

sub _send {
    my ($line, $vars, $block) = @_;

    my $times = $line =~ s/\s+x(\d+)\b// ? $1 : 1;
    my ($want, $name);
    ($want, $name) = ($1, $2) if $line =~ s/\s*=>\s*(\d{3})\s*\|\s*(.+?)\s*$//;

    if ($line =~ /^\s*CURL\s+(.+?)\s*$/) {
        (my $args = $1) =~ s{%%(\w+)%%}{
            $vars->{$1} // croak "no value for %%$1%%"
        }ge;
        system("curl -sk --max-time 10 -o /dev/null $args") for 1 .. $times;
        return $times;
    }

    if ($line =~ /^\s*ABORT\s+(\S+)(?:\s+after=([\d.]+))?\s*$/) {
        http_abort($1, defined $2 ? (after => $2) : ()) for 1 .. $times;
        return $times;
    }

    my ($path, $hdr) = $line =~ /^\s*GET\s+(\S+)((?:\s+[\w-]+:\s*\S+)*)\s*$/
        or croak "block \"$block\": bad request line: $line";
    my %h = $hdr =~ /([\w-]+):\s*(\S+)/g;

    for (1 .. $times) {
        my ($st) = http_get($path, %h ? (headers => \%h) : ());
        Test::More::is($st, $want, $name) if defined $want;
    }

    return $times;
}


1;
