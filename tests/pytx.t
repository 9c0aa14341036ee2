#!/bin/sh
# pytx.t - lists as python-threatexchange (pytx) writes them, written by
# hand from its code (cli/dataset_cmd.py, exchanges/fetch_state.py,
# exchanges/impl/file_api.py, cli/dataset/simple_serialization.py):
# "TYPE SIGNAL" lines, `dataset -P` lines (with and without type, collab,
# tags), `dataset --csv` and the same as TSV, ThreatExchange cache rows;
# exact counts, unknown types, false positives, --strict, what a match
# says of its source; export round trips and what pytx reads back; import
# --replace, remove --from and the import history, by the CLI and over HTTP.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/daemon_lib.sh"
need_tools curl python3 sha256sum
plan 38
SCRIM=$BIN/scrim
temp_dir T pytx
DB=$T/db

# hashes: 10 PDQs, 3 MD5s, a SHA-256 (deterministic)
set -- $(python3 -c 'import random
r = random.Random(23)
print(" ".join("%064x" % r.getrandbits(256) for _ in range(10)))')
P1=$1 P2=$2 P3=$3 P4=$4 P5=$5 P6=$6 P7=$7 Q1=$8 Q2=$9 Q3=${10}
M1=0cc175b9c0f1b6a831c399e269772661
M2=92eb5ffee6ae2fec3ad71c777531578f
M3=4a8a08f09d37b73795649038408b5f33
S1=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
VPDQ="[\"$P5,100,0.0\", \"$P6,87,1.0\", \"$P7,100,2.5\"]"

# imp LIST FILE [OPTIONS...]: scrim import's line in $out, status in $rc
imp() {
    _l=$1 _f=$2
    shift 2
    out=$("$SCRIM" import --db "$DB" --list "$_l" --create "$@" "$_f" 2>&1)
    rc=$?
}
# look HASH LIST: the lookup's JSON in $T/look.json
look() { "$SCRIM" lookup --db "$DB" --list "$2" "$1" >"$T/look.json"; }

# 1-2: pytx's file exchange, "TYPE SIGNAL" lines (what it reads and writes)
cat >"$T/file.txt" <<EOF
pdq $P1
video_md5 $M1
video_sha256 $S1
url https://example.com/a
raw_text some text to match
pdq $P1
EOF
imp file "$T/file.txt"
is "$out" "file: added 3 (pdq 1, md5 1, sha256 1), duplicates 1 (pdq 1, md5 0, sha256 0), 6 lines, unknown types 2 (url 1, raw_text 1; skipped)" \
    "TYPE SIGNAL lines: counts, unknown types by name"
"$SCRIM" lookup --db "$DB" --list file "md5:$M1" "sha256:$S1" >"$T/look.json"
is "$(grep -c '"matches":\[{"list":"file"' "$T/look.json")" 2 "video_md5 and video_sha256 are MD5 and SHA-256 entries"

# 3-8: `threatexchange dataset -P`: TYPE SIGNAL 'COLLAB' CATEGORY TAG,TAG
cat >"$T/dataset.txt" <<EOF
pdq $P2 'Sample Data' POSITIVE_CLASS media_type_photo,priority
pdq $P3 "O'Brien's collab" INVESTIGATION_SEED
pdq $P4 'Sample Data' NEGATIVE_CLASS
video_md5 $M2 'StopNCII' POSITIVE_CLASS +1 +csp1
vpdq $VPDQ 'Sample Data' DISPUTED video_tag
url https://example.com/b 'Sample Data' POSITIVE_CLASS
EOF
imp ds "$T/dataset.txt"
is "$out" "ds: added 4 (pdq 2, md5 1, sha256 0), duplicates 0 (pdq 0, md5 0, sha256 0), 6 lines, videos 1 added, 0 duplicates, false positives 1 (not stored), unknown types 1 (url 1; skipped)" \
    "dataset -P lines: counts"
look "$P2" ds
is "$(pyjson 'o["matches"][0]["source"], o["matches"][0]["category"], o["matches"][0]["tags"]' "$T/look.json")" \
    "Sample Data POSITIVE_CLASS ['media_type_photo', 'priority']" "a match gives the collab, category and tags"
look "$P3" ds
is "$(pyjson 'o["matches"][0]["source"], o["matches"][0]["category"], "tags" in o["matches"][0]' "$T/look.json")" \
    "O'Brien's collab INVESTIGATION_SEED False" "a double-quoted collab, no tags"
look "$P4" ds
is "$(pyjson 'len(o["matches"])' "$T/look.json")" 0 "a NEGATIVE_CLASS signal never matches"
look "$P6" ds
is "$(pyjson 'o["matches"][0]["type"], o["matches"][0]["frames"], o["matches"][0]["quality"], o["matches"][0]["category"]' "$T/look.json")" \
    "video 3 87 DISPUTED" "a vpdq signal is a video entry of its frames"
imp ds "$T/dataset.txt" --strict
[ $rc -eq 1 ] && echo "$out" | grep -q "dataset.txt:6: unknown signal type 'url'"
ok $? "--strict refuses an unknown type, naming the line" "$out"

# 9-10: -s TYPE (no type column) and -S (signals only)
printf '%s %s\n%s\n' "$P7" "'Sample Data' POSITIVE_CLASS" "$M3" >"$T/only.txt"
imp only "$T/only.txt"
is "$out" "only: added 2 (pdq 1, md5 1, sha256 0), duplicates 0 (pdq 0, md5 0, sha256 0), 2 lines" \
    "dataset -P -s TYPE lines: no type, told by the length"
printf 'pdq %s\nvideo_md5 %s\n' "$P7" "$M3" >"$T/S.txt"
imp sigs "$T/S.txt"
is "$out" "sigs: added 2 (pdq 1, md5 1, sha256 0), duplicates 0 (pdq 0, md5 0, sha256 0), 2 lines" "dataset -P -S lines"

# 11-14: `threatexchange dataset -P --csv` (Python's csv: CRLF, quoting)
printf 'signal_type,signal_str,collab,category,tags\r\n' >"$T/dataset.csv"
{
  printf 'pdq,%s,Sample Data,POSITIVE_CLASS,tag1 tag2\r\n' "$P1"
  printf 'pdq,%s,Sample Data,NEGATIVE_CLASS,\r\n' "$P4"
  printf 'video_md5,%s,"Collab, Inc.",INVESTIGATION_SEED,\r\n' "$M1"
  printf 'vpdq,"%s",Sample Data,POSITIVE_CLASS,v\r\n' "$(echo "$VPDQ" | sed 's/"/""/g')"
  printf 'raw_text,"a ""quoted"", text",Sample Data,POSITIVE_CLASS,\r\n'
  printf 'trend_query,"{""and"": [""x""]}",Sample Data,POSITIVE_CLASS,\r\n'
} >>"$T/dataset.csv"
imp csv "$T/dataset.csv"
is "$out" "csv: added 3 (pdq 1, md5 1, sha256 0), duplicates 0 (pdq 0, md5 0, sha256 0), 7 lines, videos 1 added, 0 duplicates, false positives 1 (not stored), unknown types 2 (raw_text 1, trend_query 1; skipped)" \
    "dataset --csv: counts"
"$SCRIM" lookup --db "$DB" --list csv "md5:$M1" >"$T/look.json"
is "$(pyjson 'o["matches"][0]["source"], o["matches"][0]["category"]' "$T/look.json")" \
    "Collab, Inc. INVESTIGATION_SEED" "a quoted collab with a comma"
tr ',' '\t' <"$T/dataset.csv" | sed 's/\t Inc\./, Inc./' >"$T/dataset.tsv"
printf 'pdq\t%s\tSample Data\tPOSITIVE_CLASS\t\r\n' "$P2" >>"$T/dataset.tsv"
grep -v '^vpdq\|^raw_text\|^trend' "$T/dataset.tsv" >"$T/d2.tsv"
imp tsv "$T/d2.tsv"
is "$out" "tsv: added 3 (pdq 2, md5 1, sha256 0), duplicates 0 (pdq 0, md5 0, sha256 0), 5 lines, false positives 1 (not stored)" \
    "the same as TSV"
look "$P1" tsv
is "$(pyjson 'o["matches"][0]["tags"]' "$T/look.json")" "['tag1', 'tag2']" "TSV tags"

# 15-16: ThreatExchange cache rows (simple.pdq.te): HASH,ID,DATE,TAGS
cat >"$T/simple.pdq.te" <<EOF
$P1,2880742865368386,2020-07-31T18:47:52+0000,media_priority_samples disputed media_type_photo
$P4,2888629371260007,2020-07-31T18:47:52+0000,false_positive media_type_photo
EOF
imp te "$T/simple.pdq.te"
is "$out" "te: added 1 (pdq 1, md5 0, sha256 0), duplicates 0 (pdq 0, md5 0, sha256 0), 2 lines, false positives 1 (not stored)" \
    "ThreatExchange cache rows; the false_positive tag"
look "$P1" te
is "$(pyjson 'o["matches"][0]["id"], len(o["matches"][0]["tags"])' "$T/look.json")" "2880742865368386 3" "its descriptor id and tags"

# 17-18: a signal marked a false positive later: removed from the list
printf "pdq %s 'Sample Data' NEGATIVE_CLASS\n" "$P1" >"$T/fp.txt"
imp csv "$T/fp.txt"
is "$out" "csv: added 0 (pdq 0, md5 0, sha256 0), duplicates 0 (pdq 0, md5 0, sha256 0), 1 lines, false positives 1 (not stored; 1 removed from the list)" \
    "a later false positive is counted and removed"
look "$P1" csv
is "$(pyjson 'len(o["matches"])' "$T/look.json")" 0 "... and no longer matches"

# 19-22: export round trips: csv and pytx; what pytx's file exchange reads
for f in csv pytx; do
    "$SCRIM" export --db "$DB" --list ds --format $f >"$T/ds.$f"
    "$SCRIM" import --db "$DB" --list "ds-$f" --create "$T/ds.$f" >/dev/null 2>&1
    "$SCRIM" export --db "$DB" --list "ds-$f" --format $f >"$T/ds2.$f"
    cmp -s "$T/ds.$f" "$T/ds2.$f"
    ok $? "export $f -> import -> export $f: identical" "$(diff "$T/ds.$f" "$T/ds2.$f" | head -5)"
done
is "$(wc -l <"$T/ds.csv")" 5 "the csv has the header and every entry, the video too"
# pytx's LocalFileSignalExchangeAPI: line.strip().partition(" "), then each
# SignalType.validate_signal_str (pdq, video_md5: lower-case hex; vpdq:
# VpdqCompactFeature.from_str of each JSON string)
python3 - "$T/ds.pytx" >"$T/check" 2>&1 <<'EOF'
import json, re, sys
ok = {"pdq": "^[0-9a-f]{64}$", "video_md5": "^[0-9a-f]{32}$", "video_sha256": "^[0-9a-f]{64}$"}
n = 0
for line in open(sys.argv[1]):
    t, _, sig = line.strip().partition(" ")
    if t == "vpdq":
        for f in json.loads(sig):
            h, q, ts = f.split(",")
            assert re.match("^[0-9a-f]{64}$", h) and 0 <= int(q) <= 100 and float(ts) >= 0, f
    else:
        assert re.match(ok[t], sig), line
    n += 1
print(n)
EOF
is "$(cat "$T/check")" 4 "pytx reads the pytx export back (its types, valid signals)"

# 23-28: --replace: the list becomes the file's entries; remove --from
python3 -c 'import random
r = random.Random(5)
for i in range(2050): print("pdq %064x" % r.getrandbits(256))' >"$T/all.txt"
head -n 2000 "$T/all.txt" >"$T/big.txt"
imp big "$T/big.txt"
sed -n '101,2050p' "$T/all.txt" >"$T/big2.txt"
imp big "$T/big2.txt" --replace
is "$out" "big: added 50 (pdq 50, md5 0, sha256 0), duplicates 0 (pdq 0, md5 0, sha256 0), 1950 lines, kept 1900 (0 updated), removed 100" \
    "--replace: added, kept, removed"
H_GONE=$(sed -n '5p' "$T/big.txt" | cut -d' ' -f2)
H_NEW=$(tail -n 1 "$T/big2.txt" | cut -d' ' -f2)
look "$H_GONE" big
is "$(pyjson 'len(o["matches"])' "$T/look.json")" 0 "a hash left out no longer matches"
look "$H_NEW" big
is "$(pyjson 'len(o["matches"])' "$T/look.json")" 1 "a new one does"
"$SCRIM" lists --db "$DB" --json | grep '"name":"big"' >"$T/big.json"
is "$(pyjson 'o["count"], o["imports"][0]["mode"], o["imports"][0]["sha256"], o["imports"][0]["source"], o["imports"][1]["mode"]' "$T/big.json")" \
    "1950 replace $(sha256sum <"$T/big2.txt" | cut -d' ' -f1) $T/big2.txt add" \
    "lists --json: the last imports, with the file's SHA-256"
# a withdrawal list (StopNCII: hashes the client should delete)
{ sed -n '101,110p' "$T/big.txt"; sed -n '1,3p' "$T/big.txt"; echo "url https://example.com/c"; } >"$T/withdraw.txt"
out=$("$SCRIM" remove --db "$DB" --list big --from "$T/withdraw.txt" 2>&1)
is "$out" "big: removed 10, not found 3, unknown types 1 (url 1; skipped)" "remove --from: removed, not found"
look "$(sed -n '105p' "$T/big.txt" | cut -d' ' -f2)" big
is "$(pyjson 'len(o["matches"])' "$T/look.json")" 0 "a withdrawn hash no longer matches"

# 29-38: over HTTP: POST /v1/lists/NAME/import?replace=1
TOKEN=pytx-token-0123456789abcdef
echo "$TOKEN" >"$T/token"
scrimd_start --db "$DB" --listen none --admin-token-file "$T/token" --preload 0
ok $? "scrimd starts"
printf 'pdq %s\npdq %s\nvideo_md5 %s\n' "$Q1" "$Q2" "$M1" >"$T/h1.txt"
http POST '/v1/lists/h/import?create=1' -H "$(auth)" --data-binary @"$T/h1.txt"
is "$code:$(pyjson 'o["added"], o["mode"]' "$T/out")" "200:3 add" "POST import"
printf "pdq %s\npdq %s 'Sample Data' POSITIVE_CLASS t\nurl x\n" "$Q2" "$Q3" >"$T/h2.txt"
http POST '/v1/lists/h/import?replace=1&source=feed-2.txt' -H "$(auth)" --data-binary @"$T/h2.txt"
is "$code:$(pyjson 'o["added"], o["kept"], o["removed"], o["unknown"], o["removed_by_type"]["md5"]' "$T/out")" \
    "200:1 1 2 1 1" "POST import?replace=1: added, kept, removed"
http GET "/v1/lookup?pdq=$Q1"
is "$code:$(pyjson 'len(o["matches"])' "$T/out")" "200:0" "the replaced entry no longer matches"
http GET "/v1/lookup?pdq=$Q3"
is "$code:$(pyjson 'o["matches"][0]["source"], o["matches"][0]["tags"]' "$T/out")" "200:Sample Data ['t']" "the new one does, with its source"
http GET /v1/lists/h -H "$(auth)"
is "$code:$(pyjson 'o["imports"][0]["source"], o["imports"][0]["sha256"], o["imports"][0]["mode"]' "$T/out")" \
    "200:feed-2.txt $(sha256sum <"$T/h2.txt" | cut -d' ' -f1) replace" "GET /v1/lists/NAME: the import history"
http POST '/v1/lists/h/import?replace=2' -H "$(auth)" --data-binary @"$T/h2.txt"
is "$code" 400 "?replace=2 is refused"
http POST '/v1/lists/h/import?strict=1' -H "$(auth)" --data-binary @"$T/h2.txt"
is "$code:$(pyjson 'o["error"]["code"]' "$T/out")" "400:bad_request" "?strict=1: an unknown type is refused"
scrimd_stop
ok $? "scrimd stops cleanly"
no_sanitizer_reports "$T/stderr"
done_testing
