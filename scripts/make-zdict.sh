#!/usr/bin/env bash
# scripts/make-zdict.sh - make the referral dictionary of SK_CAP_ZDICT (docs/PROTOCOL.md
# section 10) again, and measure it:
#
#   scripts/make-zdict.sh [--build DIR]
#
# Trains on 4000 varied referrals of seed 1 (scripts/gen-referrals.py), never on the seed 7
# referrals the tests and benchmarks measure, and writes proto/dict/referrals-1.zdict (32 KiB).
# The same inputs give the same bytes (ZDICT_trainFromBuffer is deterministic), so running it
# again on an unchanged tree leaves the file as it is. The dictionary is part of the protocol:
# a peer that sets SK_CAP_ZDICT has exactly these bytes. A different dictionary needs a new
# capability bit (docs/PROTOCOL.md section 8), not a new file under the same bit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
while [[ $# -gt 0 ]]; do
    case "$1" in
    --build) BUILD=${2:?--build needs a directory}; shift ;;
    *) echo "make-zdict.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
TOOL=$BUILD/bench/zdict_train
[[ -x $TOOL ]] || { echo "make-zdict.sh: $TOOL not built (cmake --build $BUILD --target zdict_train)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
/usr/bin/python3 "$ROOT/scripts/gen-referrals.py" --seed 1 --count 4000 --out "$WORK/train.json"
/usr/bin/python3 "$ROOT/scripts/gen-referrals.py" --seed 7 --count 1000 --out "$WORK/measure.json"
"$TOOL" --train "$WORK/train.json" --out "$ROOT/proto/dict/referrals-1.zdict" --size 32768
for batch in 1 5 20 200 1000; do
    "$TOOL" --measure "$WORK/measure.json" --dict "$ROOT/proto/dict/referrals-1.zdict" --batch "$batch"
done

# The same bytes as C, compiled into sakhi_proto (and so into the server and libsakhi);
# test_zstd_dict checks that the two agree.
/usr/bin/python3 - "$ROOT/proto/dict/referrals-1.zdict" "$ROOT/proto/sk_zdict_data.c" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
out = ["/*",
       " * sk_zdict_data.c - the referral dictionary of SK_CAP_ZDICT, proto/dict/referrals-1.zdict",
       " * as C (" + str(len(data)) + " bytes). Made by scripts/make-zdict.sh; do not edit.",
       " */",
       '#include "sk_zdict_data.h"',
       "",
       "/* clang-format off */",
       "const unsigned char sk_zdict_referrals[] = {"]
for i in range(0, len(data), 16):
    out.append("    " + " ".join(f"0x{b:02x}," for b in data[i:i + 16]))
out += ["};", "/* clang-format on */", "",
        "const size_t sk_zdict_referrals_len = sizeof(sk_zdict_referrals);", ""]
open(sys.argv[2], "w").write("\n".join(out))
PY
echo "wrote proto/dict/referrals-1.zdict and proto/sk_zdict_data.c"
