package SQGeo;

# MaxMind databases for the tests: one with a few countries on every
# continent, IPv4 and IPv6, in the GeoIP2 record layout, built with
# MaxMind::DB::Writer (Debian package libmaxmind-db-writer-perl), which
# the tests and the `make run` demo use; MaxMind's own test databases
# kept in t/mmdb/; and lookups with libmaxminddb's mmdblookup.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Spec;

our @EXPORT_OK = qw(mmdb_regions mmdb_unknown_ips make_mmdb mmdb_lookup
                    maxmind_test_db make_dense_mmdb);


# The regions of the test database, IPv4 and IPv6.  Addresses outside
# these (mmdb_unknown_ips) are not in it.

my @REGIONS = (
    [qw(US United_States NA North_America CA California
        10.1.0.0/16 2001:db8:1::/48)],
    [qw(BR Brazil SA South_America SP Sao_Paulo
        10.2.0.0/16 2001:db8:2::/48)],
    [qw(DE Germany EU Europe BE Berlin
        10.3.0.0/16 2001:db8:3::/48)],
    [qw(JP Japan AS Asia 13 Tokyo
        10.4.0.0/16 2001:db8:4::/48)],
    [qw(AU Australia OC Oceania NSW New_South_Wales
        10.5.0.0/16 2001:db8:5::/48)],
    [qw(ZA South_Africa AF Africa GP Gauteng
        10.6.0.0/16 2001:db8:6::/48)],
);


# mmdb_regions(): the test database's table, one hash ref per country:
#   { country => 'US', country_name, continent => 'NA', continent_name,
#     subdivision => 'CA', subdivision_name, net4 => '10.1.0.0/16',
#     net6 => '2001:db8:1::/48', ip4 => '10.1.0.7', ip6 => '2001:db8:1::7' }

sub mmdb_regions {
    return map {
        my @r = @$_;
        (my $base4 = $r[6]) =~ s{\.0\.0/16}{};
        (my $base6 = $r[7]) =~ s{::/48}{};
        my %r;
        @r{qw(country country_name continent continent_name subdivision
              subdivision_name net4 net6)} = map { tr/_/ /r } @r;
        $r{ip4} = "$base4.0.7";
        $r{ip6} = "${base6}::7";
        \%r;
    } @REGIONS;
}


# mmdb_unknown_ips(): addresses not in the test database.

sub mmdb_unknown_ips {
    return ('10.99.0.1', '192.0.2.1', '2001:db8:ff::1', '127.0.0.1');
}


# make_mmdb($path, type => 'GeoIP2-City' | 'GeoIP2-Country', rotate => k):
# write the test database (GeoIP2 record layout; City adds subdivisions
# and city; with rotate, the networks of region i are region i + k's, a
# new release where every network moved);
# IPv6 tree with IPv4 aliased (::ffff:a.b.c.d finds a.b.c.d); private
# and documentation ranges kept.  Returns $path.

sub make_mmdb {
    my ($path, %o) = @_;

    require MaxMind::DB::Writer::Tree;

    my $type = $o{type} // 'GeoIP2-City';
    my $city = $type =~ /City/;

    my %types = (
        country => 'map', continent => 'map', subdivisions => ['array', 'map'],
        registered_country => 'map', city => 'map', names => 'map',
        iso_code => 'utf8_string', code => 'utf8_string',
        en => 'utf8_string', geoname_id => 'uint32',
    );

    my $tree = MaxMind::DB::Writer::Tree->new(
        ip_version               => 6,
        record_size              => 28,
        database_type            => $type,
        languages                => ['en'],
        description              => { en => 'servqual test database' },
        alias_ipv6_to_ipv4       => 1,
        remove_reserved_networks => 0,
        map_key_type_callback    => sub { $types{ $_[0] } },
    );

    # rotate => k: region i's networks answer region i + k's country
    my @r = mmdb_regions();
    my $k = $o{rotate} // 0;
    my @nets = map { [ @{ $r[$_] }{qw(net4 net6)} ] } 0 .. $#r;
    @nets = (@nets[$#nets - $k + 1 .. $#nets], @nets[0 .. $#nets - $k])
        if $k;

    my $id = 1000;
    for my $i (0 .. $#r) {
        my $r = $r[$i];
        my %rec = (
            country => { iso_code => $r->{country}, geoname_id => $id++,
                         names => { en => $r->{country_name} } },
            registered_country => { iso_code => $r->{country},
                                    geoname_id => $id - 1,
                                    names => { en => $r->{country_name} } },
            continent => { code => $r->{continent}, geoname_id => $id++,
                           names => { en => $r->{continent_name} } },
        );
        if ($city) {
            $rec{subdivisions} = [{ iso_code => $r->{subdivision},
                                    geoname_id => $id++,
                                    names => { en => $r->{subdivision_name} },
                                  }];
            $rec{city} = { geoname_id => $id++,
                           names => { en => "$r->{subdivision_name} City" } };
        }
        $tree->insert_network($_, \%rec) for @{ $nets[$i] };
    }

    open my $fh, '>:raw', $path or croak "$path: $!";
    $tree->write_tree($fh);
    close $fh or croak "$path: $!";
    chmod 0644, $path;

    return $path;
}


# make_dense_mmdb($path, ipv4 => N, ipv6 => M, type => 'GeoLite2-Country' |
# 'GeoLite2-City', seed => S): a database as dense as MaxMind's real
# ones, for the region table's tests and benchmarks.  Networks are laid
# one after another from 1.0.0.0 and from 2001:200::, each aligned, of
# lengths drawn as in real databases (IPv4 mostly /20 to /24, some
# shorter and some down to /29; IPv6 mostly /32 to /48, some to /64),
# with a gap now and then (addresses in no network) and the country kept
# from the network before about one time in three (adjacent networks
# that merge).  250 countries on 7 continents; City adds up to 20
# subdivisions per country, changes country ten times less often (the
# subdivision as often as Country changes country) and splits IPv4
# finer (more /24 to /32).
# The same seed gives the same database.  With sample => N, "$path.sample"
# lists about N addresses, each inside a network drawn uniformly from all
# the networks (as traffic spreads over networks, not over address
# space), IPv4 and IPv6 alternating.  Returns $path.

sub make_dense_mmdb {
    my ($path, %o) = @_;

    require MaxMind::DB::Writer::Tree;

    my $type = $o{type} // 'GeoLite2-Country';
    my $city = $type =~ /City/;
    my ($n4, $n6) = ($o{ipv4} // 250_000, $o{ipv6} // 170_000);

    srand($o{seed} // 1);

    my %types = (
        country => 'map', continent => 'map', subdivisions => ['array', 'map'],
        iso_code => 'utf8_string', code => 'utf8_string',
        geoname_id => 'uint32',
    );

    my $tree = MaxMind::DB::Writer::Tree->new(
        ip_version               => 6,
        record_size              => 28,
        database_type            => $type,
        languages                => ['en'],
        description              => { en => 'servqual dense test database' },
        alias_ipv6_to_ipv4       => 1,
        remove_reserved_networks => 0,
        map_key_type_callback    => sub { $types{ $_[0] } },
    );

    my @continents = qw(AF AN AS EU NA OC SA);
    my @countries = map { chr(65 + int($_ / 26)) . chr(65 + $_ % 26) }
                    map { $_ * 2 + 1 } 0 .. 249;
    my %records;
    my $record = sub {
        my ($c, $sub) = @_;
        my $key = "$c-" . ($sub // '');
        return $records{$key} //= {
            country => { iso_code => $c },
            continent => { code => $continents[ord($c) % 7] },
            defined $sub
                ? (subdivisions => [{ iso_code => sprintf('S%d', $sub) }])
                : (),
        };
    };

    # a country, zipf-like (a few hold most networks), sticky; in City
    # the subdivision changes as often as the country does in Country,
    # the country ten times less (City merged by country is about as
    # dense as Country)
    my ($country, $sub) = ('US', 0);
    my $next = sub {
        if (rand() > ($city ? 0.9 : 0.35)) {
            $country = $countries[int(250 * rand() ** 3)];
        }
        if (rand() > 0.35) {
            $sub = int(20 * rand() ** 2);
        }
        return $record->($country, $city ? $sub : undef);
    };

    my @len4 = ((16) x 2, (17) x 2, (18) x 3, (19) x 4, (20) x 8, (21) x 8,
                (22) x 12, (23) x 10, (24) x 40, (25) x 2, (26) x 2,
                (27) x 2, (28) x 2, (29) x 3, (12) x 1, (14) x 1);
    # City databases split the space finer: more /24 and longer
    push @len4, (24) x 60, (25) x 10, (26) x 10, (27) x 10, (28) x 10,
                (29) x 10, (30) x 5, (32) x 5 if $city;
    my $pos = 1 << 24;                          # 1.0.0.0
    my $every = $o{sample} ? ($n4 + $n6) / $o{sample} : 0;
    my (@s4, @s6);

    for (1 .. $n4) {
        my $len = $len4[int rand @len4];
        my $align = 32;
        $align-- while $align > 0 && !($pos & (1 << (32 - $align)));
        $len = $align if $len < $align;
        last if $pos + (1 << (32 - $len)) > 0xe0000000;   # multicast
        $tree->insert_network(
            join('.', unpack 'C4', pack 'N', $pos) . "/$len", $next->());
        push @s4, join '.', unpack 'C4', pack 'N',
                  $pos + int rand(1 << (32 - $len))
            if $every && rand($every) < 1;
        $pos += 1 << (32 - $len);
        $pos += 1 << (32 - 24 + int rand 4) if rand() < 0.05;   # a gap
    }

    # IPv6 in units of /64, from 2001:200::
    my @len6 = ((29) x 4, (32) x 30, (36) x 6, (40) x 6, (44) x 10,
                (48) x 40, (56) x 2, (64) x 2);
    $pos = 0x2001_0200 << 32;

    for (1 .. $n6) {
        my $len = $len6[int rand @len6];
        my $align = 64;
        $align-- while $align > 0 && !($pos & (1 << (64 - $align)));
        $len = $align if $len < $align;
        my $p = sprintf '%016x', $pos;
        $tree->insert_network(
            join(':', unpack '(A4)4', $p) . "::/$len", $next->());
        push @s6, sprintf('%s:%x:%x:%x:%x:%x', join(':', unpack '(A4)3', $p),
                          hex(substr $p, 12, 4)
                          + ($len < 64 ? int rand(1 << (64 - ($len > 48
                                             ? $len : 48))) : 0),
                          map { int rand 65536 } 1 .. 4)
            if $every && rand($every) < 1;
        $pos += 1 << (64 - $len);
        $pos += 1 << (64 - 40 + int rand 8) if rand() < 0.05;
    }

    open my $fh, '>:raw', $path or croak "$path: $!";
    $tree->write_tree($fh);
    close $fh or croak "$path: $!";
    chmod 0644, $path;

    if ($every) {
        open $fh, '>', "$path.sample" or croak "$path.sample: $!";
        while (@s4 || @s6) {
            print $fh shift(@s4), "\n" if @s4;
            print $fh shift(@s6), "\n" if @s6;
        }
        close $fh or croak "$path.sample: $!";
    }

    return $path;
}


# mmdb_lookup($path, $ip, @keys): a value from the database with
# libmaxminddb's mmdblookup (Debian package mmdb-bin), e.g.
# mmdb_lookup($db, '10.1.0.7', qw(country iso_code)); undef when the
# address is not in it or has no such key.  Dies when mmdblookup fails
# otherwise (missing, bad file).

sub mmdb_lookup {
    my ($path, $ip, @keys) = @_;

    my $bin = $ENV{MMDBLOOKUP_BIN} // 'mmdblookup';
    require SQProc;
    my ($rc, $out) = SQProc::run_cmd($bin, '--file', $path, '--ip', $ip,
                                     @keys);

    return undef
        if $out =~ /Could not find an entry|lookup path does not match/;
    croak "mmdblookup failed ($rc): $out" if $rc != 0;
    return undef if $out !~ /\S/;
    return $1 if $out =~ /"((?:[^"\\]|\\.)*)"\s*<utf8_string>/;
    return $1 if $out =~ /^\s*(\d+)\s*<uint/m;
    return $out;
}


# maxmind_test_db($name): the path of one of MaxMind's test databases in
# t/mmdb/ (e.g. 'GeoIP2-City-Test'), after a test that asserts the file
# is there, so no test passes because a database is missing.

sub maxmind_test_db {
    my ($name) = @_;

    my $dir = abs_path(File::Spec->catdir(dirname(__FILE__), '..', 'mmdb'));
    my $path = "$dir/$name.mmdb";

    require Test::More;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    Test::More::ok(-f $path && -s _, "MaxMind test database $name.mmdb "
                                     . 'is in t/mmdb')
        or Test::More::diag("missing: $path");

    return $path;
}


1;
