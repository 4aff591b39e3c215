#!/usr/bin/env bash
# bench/engine.sh BEFORE_BUILD AFTER_BUILD [ROUNDS] - what moving the sync session into the
# sans-I/O engine (proto/sk_engine.c) costs a device: bench_client (bench/run.sh --only client:
# 1,000 referrals pushed over TLS by a field device, then pulled by a fresh administrator's
# device) run against two builds, alternately, ROUNDS times each (default 3), on the same
# machine in the same run. Prints one markdown row per figure: the median of each build and
# the ratio after/before (throughput: above 1 is faster; CPU: below 1 is cheaper).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BEFORE=${1:?usage: engine.sh BEFORE_BUILD AFTER_BUILD [ROUNDS]}
AFTER=${2:?usage: engine.sh BEFORE_BUILD AFTER_BUILD [ROUNDS]}
ROUNDS=${3:-3}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/sakhi-bench-engine-XXXXXX")
trap 'rm -rf "$OUT"' EXIT

one() { # build label round
    local work
    work=$("$ROOT/bench/run.sh" --only client --build "$1" --keep 2>&1 >/dev/null |
           sed -n 's/^run.sh: work directory kept: //p')
    [[ -n $work && -r $work/client.json ]] || { echo "engine.sh: bench_client failed for $1" >&2; exit 1; }
    cp "$work/client.json" "$OUT/$2.$3.json"
    rm -rf "$work"
}

for r in $(seq 1 "$ROUNDS"); do
    one "$BEFORE" before "$r"
    one "$AFTER" after "$r"
done

python3 - "$OUT" "$ROUNDS" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def med(label, *path):
    vals = []
    for r in range(1, rounds + 1):
        v = json.load(open(f"{out}/{label}.{r}.json"))
        for p in path:
            v = v[p]
        vals.append(float(v))
    return statistics.median(vals)
rows = [("push, referrals/s", ("push", "per_s")),
        ("push, client CPU s per 1,000", ("push", "cpu_s_per_1000")),
        ("pull, records/s", ("pull", "per_s")),
        ("pull, client CPU s per 1,000", ("pull", "cpu_s_per_1000"))]
print("| figure (median of %d) | before | after | after / before |" % rounds)
print("|---|---|---|---|")
for name, path in rows:
    b, a = med("before", *path), med("after", *path)
    print(f"| {name} | {b:.3g} | {a:.3g} | {a / b:.2f} |")
EOF
