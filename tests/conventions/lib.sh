# lib.sh - sourced by the conventions tests: strict mode, the tree's root ($ROOT), a temporary
# directory removed at exit ($tmp), a failure count with fail and finish, and a run of the
# checking script ($check) on a tree with check_root.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# Report one failed expectation and count it.
fail()
{
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# Run "$check" --root "$1", its output into $out; count a failure (what it is: $3, and the
# output) unless it exits with $2.
check_root()
{
    local rc=0
    out=$("$check" --root "$1") || rc=$?
    [[ $rc -eq $2 ]] || fail "$3: exit $rc, expected $2: $out"
}

# Exit 1 with the count if anything failed, else print $1 and exit 0.
finish()
{
    if ((fails)); then
        echo "$fails failure(s)"
        exit 1
    fi
    echo "$1"
    exit 0
}
