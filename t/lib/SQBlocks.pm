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
# and a runner turns each block into assertions.  A section header may
# carry its value inline ("--- mmdb: GeoIP2-City-Test"); "--- name eval"
# (or "--- name eval: ...") evaluates the section's text as Perl and
# keeps the result.

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use Test::More ();

use SQGeo qw(maxmind_test_db);
use SQNginx qw(nginx_test_config);


our @EXPORT_OK = qw(blocks check_config_blocks);


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


1;
