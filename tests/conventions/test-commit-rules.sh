#!/usr/bin/env bash
# The commit-message check (scripts/check-commits.sh) accepts a message that follows
# docs/DEVELOPING.md and refuses each way of breaking it, with its reason.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check="$ROOT/scripts/check-commits.sh"

expect()
{
    local want=$1 reason=$2 text=$3 out rc=0
    printf '%b' "$text" >"$tmp/msg"
    out=$("$check" --message "$tmp/msg" 2>&1) || rc=$?
    if [[ "$want" == pass && $rc -ne 0 ]] || [[ "$want" == fail && $rc -ne 1 ]]; then
        echo "FAIL: expected $want (rc $rc) for: $text"
        echo "$out"
        fails=$((fails + 1))
    elif [[ "$want" == fail && "$out" != *"$reason"* ]]; then
        echo "FAIL: expected the reason '$reason', got: $out"
        fails=$((fails + 1))
    fi
}

expect pass "" 'Re-push records a restored server lost\n\nA restore loses what came after the backup.\n'
expect pass "" 'Cap unauthenticated connections per address\n\nWhy.\n# a comment git strips\n'
expect fail "at most 72" "Re-push every record and entry that a restored server may have lost, keeping op numbers\n\nWhy.\n"
expect fail "imperative" 'Added the epoch to WELCOME\n\nWhy.\n'
expect fail "imperative" 'Fixing the frame reader\n\nWhy.\n'
expect fail "period" 'Add the epoch to WELCOME.\n\nWhy.\n'
expect fail "second line" 'Add the epoch to WELCOME\nWhy.\n'
expect fail "no body" 'Add the epoch to WELCOME\n'
expect fail "no body" 'Add the epoch to WELCOME\n\n# only a comment\n'
expect fail "empty subject" '\n\nWhy.\n'

finish "commit rules: 10 cases as expected"
