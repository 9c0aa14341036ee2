#!/usr/bin/env bash
# bench/replace.sh [N] - `scrim import --replace` on a list of N PDQs
# (default 1,000,000, the figure of issue 23): the new file leaves out
# 1,000 of them and brings 500 new ones.  Prints the wall and CPU time and
# peak memory of the first import, of the replace, and of the same replace
# again (nothing changes), the database size, and how many lookups a
# concurrent `scrim lookup` loop answered during the replace (each sees the
# old list or the new one; tests/test_replace.c checks that).  Needs about
# 330 bytes of disk per hash in $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s all >/dev/null
n=${1:-1000000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/replace-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
python3 - "$n" "$dir" <<'EOF'
import random, sys
n, d = int(sys.argv[1]), sys.argv[2]
r = random.Random(1)
h = ["%064x" % r.getrandbits(256) for _ in range(n + 500)]
with open(d + "/old.txt", "w") as f:
    f.writelines("pdq %s\n" % x for x in h[:n])
drop = set(r.sample(range(n), 1000))
with open(d + "/new.txt", "w") as f:
    f.writelines("pdq %s\n" % x for i, x in enumerate(h[:n]) if i not in drop)
    f.writelines("pdq %s\n" % x for x in h[n:])
with open(d + "/probe.txt", "w") as f:   # 100 dropped, 100 added
    f.writelines("%s\n" % h[i] for i in sorted(drop)[:100])
    f.writelines("%s\n" % x for x in h[n:n + 100])
EOF
db=$dir/db
run() { # LABEL ARGS...: one timed scrim import
    local label=$1
    shift
    /usr/bin/time -f "$label: %e s wall, %U s user, %S s sys, %M KB peak RSS" \
        bin/scrim import --db "$db" --list big --quiet "$@"
}
echo "== $n PDQs ($(date -u +%F), $(git rev-parse --short HEAD), $(nproc) cores)"
run "import" --create "$dir/old.txt"
echo "database: $(du -sh "$db" | cut -f1)"
# lookups of the 200 probe hashes in a loop while the replace runs
( while [ ! -e "$dir/done" ]; do
      bin/scrim lookup --db "$db" --list big - <"$dir/probe.txt" >/dev/null
      echo x >>"$dir/loops"
  done ) &
loop=$!
run "replace" --replace "$dir/new.txt"
touch "$dir/done"
wait "$loop"
echo "lookup loop: $(wc -l <"$dir/loops") passes of 200 lookups ran alongside"
run "replace again (no change)" --replace "$dir/new.txt"
echo "database: $(du -sh "$db" | cut -f1)"
bin/scrim lists --db "$db" --json | python3 -c 'import json, sys
o = json.loads(sys.stdin.readline())
print("list:", o["count"], "entries; last import", o["imports"][0])'
