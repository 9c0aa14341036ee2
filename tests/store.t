#!/bin/sh
# store.t - the hash-list commands end to end: import (formats, duplicates,
# a bad line at 500,001, SIGKILL half way), lookup JSON, lists, list-set,
# export round trip, remove, drop, audit.
SCRIM=${SCRIM_BIN:-$(dirname "$0")/../build/rel/bin}/scrim
T=$(mktemp -d /tmp/scrim-store-t.XXXXXX)
BG=
cleanup() { [ -n "$BG" ] && kill -9 "$BG" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
DB=$T/db
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; [ -n "$2" ] && echo "# $2"; }
check() { if eval "$2"; then ok "$1"; else nok "$1" "$3"; fi; }
echo 1..30

# hashes: 500,000 distinct PDQs (perl, deterministic), the first few reused
perl -e 'srand(7); for (1..500000) { printf "%016x%016x%016x%016x\n",
  int(rand(2**32))*2**32+int(rand(2**32)), int(rand(2**32))*2**32+int(rand(2**32)),
  int(rand(2**32))*2**32+int(rand(2**32)), int(rand(2**32))*2**32+int(rand(2**32)) }' > "$T/big.hex"
head -1000 "$T/big.hex" > "$T/small.hex"
H1=$(sed -n 1p "$T/small.hex")
H2=$(sed -n 2p "$T/small.hex")
# H1 with its last byte inverted: distance 8
H1N=$(echo "$H1" | perl -ne 'chomp; my $l=substr($_,62,2); printf "%s%02x", substr($_,0,62), hex($l)^0xff')
MD5=d41d8cd98f00b204e9800998ecf8427e
SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# 1-3: import hex, duplicates counted, counts in lists
out=$("$SCRIM" import --db "$DB" --list main --create --description "test list" "$T/small.hex" 2>&1)
check "import hex into a new list" '[ $? -eq 0 ] && echo "$out" | grep -q "added 1000 (pdq 1000"' "$out"
{ head -10 "$T/small.hex"; echo "# comment"; echo; echo "$H1"; } > "$T/dup.hex"
out=$("$SCRIM" import --db "$DB" --list main "$T/dup.hex" 2>&1)
check "re-import counts duplicates" 'echo "$out" | grep -q "added 0 .*duplicates 11 (pdq 11"' "$out"
out=$("$SCRIM" lists --db "$DB" --json)
check "lists --json has name, kind, enabled, radius, count" \
  'echo "$out" | grep -q "\"name\":\"main\",\"kind\":\"block\",\"enabled\":true,\"radius\":31,\"count\":1000"' "$out"

# 4-7: lookup output
out=$("$SCRIM" lookup --db "$DB" "$H1N")
check "lookup finds the near neighbour with its distance" \
  '[ "$out" = "{\"query\":\"$H1N\",\"matches\":[{\"list\":\"main\",\"hash\":\"$H1\",\"distance\":8,\"id\":null,\"label\":null,\"type\":\"pdq\"}],\"allowed\":[]}" ]' "$out"
out=$("$SCRIM" lookup --db "$DB" --radius 7 "$H1N")
check "--radius overrides the list radius" 'echo "$out" | grep -q "\"matches\":\[\]"' "$out"
out=$(printf '%s\n# c\n\n%s\n' "$H1" "$H2" | "$SCRIM" lookup --db "$DB" - | wc -l)
check "lookup - reads one query per line" '[ "$out" -eq 2 ]' "$out"
out=$("$SCRIM" lookup --db "$DB" 1234 2>&1); rc=$?
check "a malformed query is an error" '[ $rc -eq 1 ] && echo "$out" | grep -q "not a PDQ hash"' "$out"

# 8-10: pytx and csv (auto-detected), allow lists reported apart
printf 'pdq %s\nmd5 %s\nsha256 %s\n' "$H1" "$MD5" "$SHA" > "$T/a.pytx"
out=$("$SCRIM" import --db "$DB" --list benign --create --kind allow "$T/a.pytx" 2>&1)
check "pytx import (auto-detected)" 'echo "$out" | grep -q "added 3 (pdq 1, md5 1, sha256 1)"' "$out"
out=$("$SCRIM" lookup --db "$DB" "$H1")
check "allow-list hits go under allowed" \
  'echo "$out" | grep -q "\"matches\":\[{\"list\":\"main\".*\"allowed\":\[{\"list\":\"benign\",\"hash\":\"$H1\",\"distance\":0"' "$out"
out=$("$SCRIM" lookup --db "$DB" "$MD5" "sha256:$SHA" --list benign)
check "md5 and sha256 exact lookups" '[ $(echo "$out" | grep -c "\"allowed\":\[{\"list\":\"benign\"") -eq 2 ]' "$out"
printf 'label,hash,type,extra\n"a, b",%s,pdq,x\nc,%s,md5,y\n' "$H2" "$MD5" > "$T/a.csv"
out=$("$SCRIM" import --db "$DB" --list csvl --create - < "$T/a.csv" 2>&1)
check "csv from stdin with quoted fields and unknown columns" 'echo "$out" | grep -q "added 2 (pdq 1, md5 1"' "$out"
out=$("$SCRIM" lookup --db "$DB" --list csvl "$H2")
check "csv labels come back" 'echo "$out" | grep -q "\"label\":\"a, b\""' "$out"

# 13-15: export round trip
for f in csv pytx hex; do
  "$SCRIM" export --db "$DB" --list main --format $f > "$T/exp.$f" 2>/dev/null
done
"$SCRIM" import --db "$DB" --list copy --create --quiet "$T/exp.csv" >/dev/null 2>&1
"$SCRIM" export --db "$DB" --list copy --format hex > "$T/copy.hex"
check "export csv -> import -> export hex round-trips" \
  'sort "$T/copy.hex" | cmp -s - "$(sort "$T/small.hex" > "$T/s1"; echo "$T/s1")"'
check "export hex has every hash once" '[ $(sort -u "$T/exp.hex" | wc -l) -eq 1000 ]'
"$SCRIM" export --db "$DB" --list benign --format pytx > "$T/b.pytx"
check "export pytx round-trips" 'sort "$T/b.pytx" | cmp -s - "$(sort "$T/a.pytx" > "$T/s2"; echo "$T/s2")"'

# 16-18: list-set
"$SCRIM" list-set --db "$DB" main --disable
out=$("$SCRIM" lookup --db "$DB" --list main "$H1")
check "a disabled list gives no matches" 'echo "$out" | grep -q "\"matches\":\[\]"' "$out"
"$SCRIM" list-set --db "$DB" main --enable --radius 5 --kind allow
out=$("$SCRIM" lookup --db "$DB" --list main "$H1N")
check "list radius applies" 'echo "$out" | grep -q "\"allowed\":\[\]"' "$out"
"$SCRIM" list-set --db "$DB" main --radius 31
out=$("$SCRIM" lookup --db "$DB" --list main "$H1N")
check "kind allow moves hits to allowed" 'echo "$out" | grep -q "\"matches\":\[\],\"allowed\":\[{\"list\":\"main\""' "$out"
"$SCRIM" list-set --db "$DB" main --kind block

# 19-20: usage errors
out=$("$SCRIM" list-set --db "$DB" main --radius 65 2>&1); rc=$?
check "radius out of range is refused" '[ $rc -eq 2 ] && echo "$out" | grep -q "0 to 64"' "$out"
out=$("$SCRIM" lookup --db "$DB" --list nosuch "$H1" 2>&1); rc=$?
check "unknown list is an error" '[ $rc -ne 0 ] && echo "$out" | grep -q "no list named .nosuch."' "$out"

# 21-23: a malformed line 500,001 aborts everything and is named
{ cat "$T/big.hex"; echo "zz-not-a-hash"; } > "$T/bad.hex"
before=$("$SCRIM" lists --db "$DB" --json | grep '"name":"main"')
out=$("$SCRIM" import --db "$DB" --list main --quiet "$T/bad.hex" 2>&1); rc=$?
check "bad line 500,001 fails the import" '[ $rc -eq 1 ] && echo "$out" | grep -q "bad.hex:500001: expected a pdq of 64 hex digits"' "$out"
after=$("$SCRIM" lists --db "$DB" --json | grep '"name":"main"')
check "and leaves the list as it was" '[ "$before" = "$after" ]' "$before / $after"
out=$("$SCRIM" lookup --db "$DB" --list main "$(sed -n 400000p "$T/big.hex")")
check "no hash of the failed import is visible" 'echo "$out" | grep -q "\"matches\":\[\]"' "$out"

# 24-26: SIGKILL half way through an import.  The input comes through a
# FIFO this shell keeps open, so the import has read every line and cannot
# have committed when it is killed.
mkfifo "$T/fifo"
"$SCRIM" import --db "$DB" --list main --quiet "$T/fifo" >/dev/null 2>&1 &
BG=$!
exec 3>"$T/fifo"
cat "$T/big.hex" >&3
sleep 1
kill -9 $BG 2>/dev/null
wait $BG 2>/dev/null; rc=$?
BG=
exec 3>&-
check "import killed half way" '[ $rc -eq 137 ]' "exit status $rc"
after=$("$SCRIM" lists --db "$DB" --json | grep '"name":"main"')
check "database opens cleanly with the list as before" '[ "$before" = "$after" ]' "$before / $after"
out=$("$SCRIM" import --db "$DB" --list main --quiet "$T/big.hex" 2>&1)
check "and takes the same import afterwards" 'echo "$out" | grep -q "added 499000 (pdq 499000.*duplicates 1000"' "$out"

# 27-28: remove
out=$("$SCRIM" remove --db "$DB" --list main "$H1" "$H2" "$H1" 2>&1)
check "remove counts removed and missing" 'echo "$out" | grep -q "removed 2, not found 1"' "$out"
out=$("$SCRIM" lookup --db "$DB" --list main "$H1")
check "a removed hash is no longer found" 'echo "$out" | grep -q "\"matches\":\[\]"' "$out"

# 29-30: drop and audit
"$SCRIM" drop --db "$DB" --list copy >/dev/null
out=$("$SCRIM" lists --db "$DB" --json)
check "drop deletes the list" '! echo "$out" | grep -q "\"name\":\"copy\""' "$out"
out=$("$SCRIM" audit --db "$DB")
check "audit records create, import, set, remove and drop" \
  '(for a in create import set remove drop; do echo "$out" | grep -q " $a " || exit 1; done)' "$out"
