#!/bin/sh
# store.t - the hash-list commands end to end: import (formats, duplicates,
# a bad line at 500,001, SIGKILL half way), lookup JSON, lists, list-set,
# export round trip, remove, drop, audit.
. "$(dirname "$0")/tap.sh"
plan 30
SCRIM=$BIN/scrim
temp_dir T store
BG=
at_exit '[ -z "$BG" ] || kill -9 "$BG" 2>/dev/null'
DB=$T/db

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
out=$("$SCRIM" import --db "$DB" --list main --create --description "test list" "$T/small.hex" 2>&1); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "added 1000 (pdq 1000"
ok $? "import hex into a new list" "$out"
{ head -10 "$T/small.hex"; echo "# comment"; echo; echo "$H1"; } > "$T/dup.hex"
out=$("$SCRIM" import --db "$DB" --list main "$T/dup.hex" 2>&1)
echo "$out" | grep -q "added 0 .*duplicates 11 (pdq 11"
ok $? "re-import counts duplicates" "$out"
out=$("$SCRIM" lists --db "$DB" --json)
echo "$out" | grep -q "\"name\":\"main\",\"kind\":\"block\",\"enabled\":true,\"radius\":31,\"count\":1000"
ok $? "lists --json has name, kind, enabled, radius, count" "$out"

# 4-7: lookup output
out=$("$SCRIM" lookup --db "$DB" "$H1N")
[ "$out" = "{\"query\":\"$H1N\",\"matches\":[{\"list\":\"main\",\"hash\":\"$H1\",\"distance\":8,\"id\":null,\"label\":null,\"type\":\"pdq\"}],\"allowed\":[]}" ]
ok $? "lookup finds the near neighbour with its distance" "$out"
out=$("$SCRIM" lookup --db "$DB" --radius 7 "$H1N")
echo "$out" | grep -q "\"matches\":\[\]"
ok $? "--radius overrides the list radius" "$out"
out=$(printf '%s\n# c\n\n%s\n' "$H1" "$H2" | "$SCRIM" lookup --db "$DB" - | wc -l)
[ "$out" -eq 2 ]
ok $? "lookup - reads one query per line" "$out"
out=$("$SCRIM" lookup --db "$DB" 1234 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "not a PDQ hash"
ok $? "a malformed query is an error" "$out"

# 8-10: pytx and csv (auto-detected), allow lists reported apart
printf 'pdq %s\nmd5 %s\nsha256 %s\n' "$H1" "$MD5" "$SHA" > "$T/a.pytx"
out=$("$SCRIM" import --db "$DB" --list benign --create --kind allow "$T/a.pytx" 2>&1)
echo "$out" | grep -q "added 3 (pdq 1, md5 1, sha256 1)"
ok $? "pytx import (auto-detected)" "$out"
out=$("$SCRIM" lookup --db "$DB" "$H1")
echo "$out" | grep -q "\"matches\":\[{\"list\":\"main\".*\"allowed\":\[{\"list\":\"benign\",\"hash\":\"$H1\",\"distance\":0"
ok $? "allow-list hits go under allowed" "$out"
out=$("$SCRIM" lookup --db "$DB" "$MD5" "sha256:$SHA" --list benign)
[ $(echo "$out" | grep -c "\"allowed\":\[{\"list\":\"benign\"") -eq 2 ]
ok $? "md5 and sha256 exact lookups" "$out"
printf 'label,hash,type,extra\n"a, b",%s,pdq,x\nc,%s,md5,y\n' "$H2" "$MD5" > "$T/a.csv"
out=$("$SCRIM" import --db "$DB" --list csvl --create - < "$T/a.csv" 2>&1)
echo "$out" | grep -q "added 2 (pdq 1, md5 1"
ok $? "csv from stdin with quoted fields and unknown columns" "$out"
out=$("$SCRIM" lookup --db "$DB" --list csvl "$H2")
echo "$out" | grep -q "\"label\":\"a, b\""
ok $? "csv labels come back" "$out"

# 13-15: export round trip
for f in csv pytx hex; do
  "$SCRIM" export --db "$DB" --list main --format $f > "$T/exp.$f" 2>/dev/null
done
"$SCRIM" import --db "$DB" --list copy --create --quiet "$T/exp.csv" >/dev/null 2>&1
"$SCRIM" export --db "$DB" --list copy --format hex > "$T/copy.hex"
sort "$T/copy.hex" | cmp -s - "$(sort "$T/small.hex" > "$T/s1"; echo "$T/s1")"
ok $? "export csv -> import -> export hex round-trips"
[ $(sort -u "$T/exp.hex" | wc -l) -eq 1000 ]
ok $? "export hex has every hash once"
"$SCRIM" export --db "$DB" --list benign --format pytx > "$T/b.pytx"
printf 'pdq %s\nvideo_md5 %s\nvideo_sha256 %s\n' "$H1" "$MD5" "$SHA" | sort > "$T/s2"
sort "$T/b.pytx" | cmp -s - "$T/s2"
ok $? "export pytx writes pytx's signal types" "$(cat "$T/b.pytx")"

# 16-18: list-set
"$SCRIM" list-set --db "$DB" main --disable
out=$("$SCRIM" lookup --db "$DB" --list main "$H1")
echo "$out" | grep -q "\"matches\":\[\]"
ok $? "a disabled list gives no matches" "$out"
"$SCRIM" list-set --db "$DB" main --enable --radius 5 --kind allow
out=$("$SCRIM" lookup --db "$DB" --list main "$H1N")
echo "$out" | grep -q "\"allowed\":\[\]"
ok $? "list radius applies" "$out"
"$SCRIM" list-set --db "$DB" main --radius 31
out=$("$SCRIM" lookup --db "$DB" --list main "$H1N")
echo "$out" | grep -q "\"matches\":\[\],\"allowed\":\[{\"list\":\"main\""
ok $? "kind allow moves hits to allowed" "$out"
"$SCRIM" list-set --db "$DB" main --kind block

# 19-20: usage errors
out=$("$SCRIM" list-set --db "$DB" main --radius 65 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "0 to 64"
ok $? "radius out of range is refused" "$out"
out=$("$SCRIM" lookup --db "$DB" --list nosuch "$H1" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "no list named .nosuch."
ok $? "unknown list is an error" "$out"

# 21-23: a malformed line 500,001 aborts everything and is named
{ cat "$T/big.hex"; echo "zz-not-a-hash"; } > "$T/bad.hex"
before=$("$SCRIM" lists --db "$DB" --json | grep '"name":"main"')
out=$("$SCRIM" import --db "$DB" --list main --quiet "$T/bad.hex" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "bad.hex:500001: expected a pdq of 64 hex digits"
ok $? "bad line 500,001 fails the import" "$out"
after=$("$SCRIM" lists --db "$DB" --json | grep '"name":"main"')
[ "$before" = "$after" ]
ok $? "and leaves the list as it was" "$before / $after"
out=$("$SCRIM" lookup --db "$DB" --list main "$(sed -n 400000p "$T/big.hex")")
echo "$out" | grep -q "\"matches\":\[\]"
ok $? "no hash of the failed import is visible" "$out"

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
[ $rc -eq 137 ]
ok $? "import killed half way" "exit status $rc"
after=$("$SCRIM" lists --db "$DB" --json | grep '"name":"main"')
[ "$before" = "$after" ]
ok $? "database opens cleanly with the list as before" "$before / $after"
out=$("$SCRIM" import --db "$DB" --list main --quiet "$T/big.hex" 2>&1)
echo "$out" | grep -q "added 499000 (pdq 499000.*duplicates 1000"
ok $? "and takes the same import afterwards" "$out"

# 27-28: remove
out=$("$SCRIM" remove --db "$DB" --list main "$H1" "$H2" "$H1" 2>&1)
echo "$out" | grep -q "removed 2, not found 1"
ok $? "remove counts removed and missing" "$out"
out=$("$SCRIM" lookup --db "$DB" --list main "$H1")
echo "$out" | grep -q "\"matches\":\[\]"
ok $? "a removed hash is no longer found" "$out"

# 29-30: drop and audit
"$SCRIM" drop --db "$DB" --list copy >/dev/null
out=$("$SCRIM" lists --db "$DB" --json)
! echo "$out" | grep -q "\"name\":\"copy\""
ok $? "drop deletes the list" "$out"
out=$("$SCRIM" audit --db "$DB")
(for a in create import set remove drop; do echo "$out" | grep -q " $a " || exit 1; done)
ok $? "audit records create, import, set, remove and drop" "$out"
done_testing
