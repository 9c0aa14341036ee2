#!/usr/bin/env bash
# make-demo-db.sh [DB] - builds the small demo database that `make run` serves:
# a block list "demo" holding the PDQ, MD5 and SHA-256 of the test fixture
# image (tests/fixtures/blobs.jpg) and, when ../shared is there, the PDQ
# reference hashes of ../shared/data/pdq/exact.csv; and an empty allow list
# "demo-allow".  Safe to run again: repeated hashes are stored once.
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:-var/demo.db}
S=bin/scrim
mkdir -p "$(dirname "$db")"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
f=tests/fixtures/blobs.jpg
{
    echo "type,hash,id,label"
    echo "pdq,$($S hash "$f" | cut -d, -f1),blobs,demo fixture"
    echo "md5,$(md5sum < "$f" | cut -d' ' -f1),blobs,demo fixture"
    echo "sha256,$(sha256sum < "$f" | cut -d' ' -f1),blobs,demo fixture"
    if [ -f ../shared/data/pdq/exact.csv ]; then
        tail -n +2 ../shared/data/pdq/exact.csv | awk -F, '$2 >= 50 {print "pdq," $1 "," $3 ",reference sample"}'
    fi
} > "$tmp"
$S import --quiet --db "$db" --list demo --create --kind block \
    --description "demo block list (test fixtures)" --format csv "$tmp"
if ! $S lists --db "$db" | grep -q demo-allow; then
    $S import --quiet --db "$db" --list demo-allow --create --kind allow \
        --description "demo allow list (empty)" --format hex /dev/null
fi
$S lists --db "$db"
