# lib.sh - sourced by the conventions tests: strict mode, the tree's root ($ROOT), a temporary
# directory removed at exit ($tmp), and a failure count with fail and finish.
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
