#!/usr/bin/env bash
# scripts/check-cycles.py finds a cycle and a layer violation in a small tree made for it, names
# the files and the names that tie them, and passes the real tree.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check="$ROOT/scripts/check-cycles.py"

# A tree with one call cycle (server/a.c <-> server/b.c, through one shared header), one
# include cycle (proto/x.h <-> proto/y.h) and a proto file that includes a server header.
mkdir -p "$tmp/proto" "$tmp/server"
cat >"$tmp/server/shared.h" <<'C'
int sk_a_one(void);
int sk_b_two(void);
C
printf '#include "shared.h"\nint sk_a_one(void)\n{\n    return sk_b_two();\n}\n' >"$tmp/server/a.c"
printf '#include "shared.h"\nstatic int helper(void)\n{\n    return 1;\n}\nint sk_b_two(void)\n{\n    return helper() + sk_a_one();\n}\n' >"$tmp/server/b.c"
printf '#include "y.h"\n' >"$tmp/proto/x.h"
printf '#include "x.h"\n' >"$tmp/proto/y.h"
printf '#include "shared.h"\nint sk_p(void)\n{\n    return 0;\n}\n' >"$tmp/proto/p.c"
check_root "$tmp" 1 "a tree with cycles"
grep -qx "cycle 1: proto/x proto/y" <<<"$out" || fail "include cycle not listed: $out"
grep -qx "cycle 2: server/a server/b" <<<"$out" || fail "call cycle not listed: $out"
grep -q "  server/a -> server/b: sk_b_two" <<<"$out" || fail "the name tying a to b: $out"
grep -q "  server/b -> server/a: sk_a_one" <<<"$out" || fail "the name tying b to a: $out"
grep -q "layer: proto/p reaches server/shared (proto/ is the bottom layer)" <<<"$out" ||
    fail "layer violation not listed: $out"
grep -qx "check-cycles: 6 modules, 7 dependencies, 2 cycles, 1 layer violations" <<<"$out" ||
    fail "summary line: $out"

# The model must not reach the message layer, not even through a third module.
mkdir -p "$tmp/m/proto"
printf '#include "sk_auth.h"\n' >"$tmp/m/proto/sk_case.c"
printf '#include "sk_msg.h"\n' >"$tmp/m/proto/sk_auth.h"
printf 'int x;\n' >"$tmp/m/proto/sk_msg.h"
check_root "$tmp/m" 1 "model reaching sk_msg"
grep -q "layer: proto/sk_case reaches proto/sk_msg" <<<"$out" || fail "model rule: $out"

# The project itself.
check_root "$ROOT" 0 "the tree has cycles or layer violations"

finish "check-cycles: all cases behave"
