#!/bin/sh
# A disk that stalls, under bench/scale.pl's load (100k series, 20,000
# datagrams/s, storage on): the collector's storage on an ext4 file
# system in a file that lies on a second ext4 file system; the second is
# frozen (fsfreeze) for FOR seconds, AT seconds into the load.  Writes to
# the page cache go on meanwhile; whatever must reach the disk (a sync,
# the journal's commit, a write that extends a file) waits, as on a disk
# that stalls.  Prints scale.pl's table (kernel drops, queue, scrapes).
#
#   bench/disk-stall.sh [--collector BIN] [--seconds 90] [--at 40]
#                       [--for 25] [--rate 20000 (datagrams/s)]
#                       [--out FILE (scale.pl's report)]
#
# Root, loop devices, mkfs.ext4 and fsfreeze; not part of make bench.
# What it measured is in docs/scaling.md ("A disk that stalls").

set -eu

BIN=build/servqual-collector
SECS=90
AT=40
FOR=25
OUT=
RATE=20000

while [ $# -gt 0 ]; do
    case $1 in
    --collector) BIN=$2; shift 2 ;;
    --seconds)   SECS=$2; shift 2 ;;
    --at)        AT=$2; shift 2 ;;
    --for)       FOR=$2; shift 2 ;;
    --out)       OUT=$2; shift 2 ;;
    --rate)      RATE=$2; shift 2 ;;
    *) echo "usage: $0 [--collector BIN] [--seconds N] [--at N] [--for N]" \
            "[--rate N] [--out FILE]" >&2
       exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
BIN=$(readlink -f "$BIN")

W=$(mktemp -d)
L0=
L1=

cleanup() {
    fsfreeze -u "$W/a" 2>/dev/null || true
    umount "$W/b" 2>/dev/null || true
    [ -n "$L1" ] && losetup -d "$L1" 2>/dev/null || true
    umount "$W/a" 2>/dev/null || true
    [ -n "$L0" ] && losetup -d "$L0" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT INT TERM

mkdir -p "$W/a" "$W/b"
truncate -s 4G "$W/a.img"
L0=$(losetup -f --show "$W/a.img")
mkfs.ext4 -q "$L0"
mount "$L0" "$W/a"
truncate -s 3G "$W/a/b.img"
L1=$(losetup -f --show "$W/a/b.img")
mkfs.ext4 -q "$L1"
mount "$L1" "$W/b"

mkdir -p "$W/b/run"
perl bench/scale.pl --tmp "$W/b/run" --out "$W/out.md" --seconds "$SECS" \
    --collector "$BIN" --rate "$RATE" > "$W/log" 2>&1 &
P=$!

sleep "$AT"
fsfreeze -f "$W/a"
echo "disk-stall: frozen for $FOR s"
sleep "$FOR"
fsfreeze -u "$W/a"
echo "disk-stall: thawed"

# scale.pl exits 1 when anything was lost
wait $P || true
[ -f "$W/out.md" ] || { tail -20 "$W/log"; exit 1; }
grep -E '^[|] (collector|after)|^Scrapes' "$W/out.md"
if [ -n "$OUT" ]; then cp "$W/out.md" "$OUT"; fi
grep -E 'scrape [0-9]+:' "$W/log" || true
