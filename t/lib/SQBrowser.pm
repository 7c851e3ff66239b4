package SQBrowser;

# Real pages in a real browser, for the browser's measurements: two pages
# carrying the servqual script, served by the nginx under test, and
# Debian's Chromium (headless, driven by puppeteer-core through
# t/lib/sq-browser.js) loading them and leaving them so that their
# beacons are sent.
#
#   "fast"   a short text page, stable: LCP early, CLS 0
#   "shift"  a page whose large image arrives late (nginx's limit_rate)
#            and, having no size, pushes the text down: LCP late, CLS
#            well above 0.25
#
# browser_skip() says why a test cannot run (or undef); browser_pages()
# writes the pages into nginx's html root; browser_http() is the http
# block serving them with the script and the beacon location;
# browser_visit(@paths) loads and leaves them.

use strict;
use warnings;

use Exporter qw(import);
use JSON::PP;

use SQProc qw(repo_root prefix run_cmd write_file);
use SQNginx qw(nginx_port);


our @EXPORT_OK = qw(browser_skip browser_pages browser_http browser_visit
                    browser_script);

my $CHROMIUM = $ENV{CHROMIUM_BIN} // '/usr/bin/chromium';

# the late image: its bytes and nginx's rate, about 2 s to arrive
my $IMAGE_BYTES = 300 * 1024;
my $IMAGE_RATE = '150k';


sub _modules { return repo_root() . '/build/beacon/node_modules' }


# browser_script(): the built script (make), served by the module.

sub browser_script { return repo_root() . '/build/servqual-beacon.js' }


sub browser_skip {
    return "no $CHROMIUM" unless -x $CHROMIUM;
    return 'no puppeteer-core (scripts/install-deps)'
        unless -f _modules() . '/puppeteer-core/package.json';
    return 'no build/servqual-beacon.js (make)' unless -f browser_script();
    return undef;
}


# browser_pages(): fast.html, shift.html and the late image in
# <prefix>/html; returns that directory.

sub browser_pages {
    my $dir = prefix() . '/html';
    mkdir $dir;
    mkdir "$dir/late";

    my $script = '<script src="/servqual/beacon.js" async></script>';

    # the shifting page is named by data-page, the fast one by its path
    (my $named = $script) =~ s/ async/ data-page="shift" async/;

    my $text = join "\n", map {
        "<p>Paragraph $_: the reader is reading this text when the picture"
        . " above it arrives and pushes it down the page, which is what a"
        . " layout shift is. Lorem ipsum dolor sit amet, consectetur"
        . " adipiscing elit, sed do eiusmod tempor incididunt.</p>"
    } 1 .. 12;

    write_file("$dir/fast.html", <<"HTML");
<!doctype html>
<html><head><meta charset="utf-8"><title>fast</title>
$script
</head>
<body style="margin:0;font:18px/1.4 sans-serif">
<h1>Fast and stable</h1>
<p>Nothing here moves.</p>
</body></html>
HTML

    write_file("$dir/shift.html", <<"HTML");
<!doctype html>
<html><head><meta charset="utf-8"><title>shift</title>
$named
</head>
<body style="margin:0;font:18px/1.4 sans-serif">
<img src="/late/big.svg" alt="">
$text
</body></html>
HTML

    my $svg = '<svg xmlns="http://www.w3.org/2000/svg" width="640"'
              . ' height="700"><rect width="640" height="700"'
              . ' fill="#4a7"/><circle cx="320" cy="210" r="180"'
              . ' fill="#fc3"/></svg>' . "\n";
    $svg .= '<!-- ' . ('x' x ($IMAGE_BYTES - length($svg) - 9)) . " -->\n";
    write_file("$dir/late/big.svg", $svg);

    return $dir;
}


# browser_http(%o): the http block's contents (placeholders as SQNginx
# substitutes them) serving the pages, the script (servqual_beacon_script)
# and the beacon; o{extra} goes first in the http block.

sub browser_http {
    my (%o) = @_;

    my $script = browser_script();
    my $extra = $o{extra} // '';

    return <<"CONF";
    $extra
    types { text/html html; image/svg+xml svg; }

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%PREFIX%%/html;
        servqual on;

        location = /servqual/beacon.js {
            servqual_endpoint script;
            servqual_beacon_script $script;
        }

        location = /servqual/beacon {
            servqual_endpoint beacon;
            servqual_beacon;
            servqual_beacon_pages /fast.html=fast shift;
        }

        location /late/ {
            servqual_endpoint image;
            limit_rate $IMAGE_RATE;
        }

        location = /fast.html {
            servqual_endpoint fast;
        }

        location = /shift.html {
            servqual_endpoint shift;
        }
    }
CONF
}


# browser_visit(@paths, { wait => ms }): loads each page of the running
# nginx in Chromium, stays wait ms (default 3500, past the late image)
# and leaves it; returns (exit code, the driver's output, [the pages'
# JSON lines, decoded]).

sub browser_visit {
    my (@paths) = @_;

    my %o = ref $paths[-1] eq 'HASH' ? %{ pop @paths } : ();
    my $port = nginx_port();

    local $ENV{NODE_PATH} = _modules();
    local $ENV{HOME} = prefix() . '/tmp';

    my ($rc, $out) = run_cmd('node', repo_root() . '/t/lib/sq-browser.js',
                             $CHROMIUM, $o{wait} // 3500,
                             map { "http://127.0.0.1:$port$_" } @paths);

    my @pages = map { decode_json($_) } grep { /^\{/ } split /\n/, $out;

    return ($rc, $out, \@pages);
}


1;
