#!/usr/bin/env bash
# check-commits.sh [REV-RANGE] - hold commit messages to the convention in docs/DEVELOPING.md.
#
# Each non-merge commit in the range must have:
#   - a subject of at most 72 characters, not ending in a period, in the imperative mood (the
#     subject's first word is not a past tense or gerund such as "Added", "Fixes", "Adding");
#   - a blank second line and a body of at least one line that says why.
# Without an argument the range is every commit since the one that added this script (older
# history predates the rule and is left as it is). `scripts/hooks/commit-msg` applies the same
# rules to one message file: `git config core.hooksPath scripts/hooks` turns it on.
# Exit status: 0 when every commit passes, 1 when any fails (each failure is printed), 2 on usage.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# check_message FILE LABEL: print what is wrong with the message in FILE; return 1 if anything.
check_message()
{
    local file=$1 label=$2 subject second body first bad=0
    subject=$(sed -n 1p "$file")
    second=$(sed -n 2p "$file")
    body=$(sed -n '3,$p' "$file" | grep -v '^#' | grep -c '[^[:space:]]' || true)
    first=${subject%% *}
    if ((${#subject} > 72)); then
        echo "$label: subject is ${#subject} characters (at most 72): $subject"
        bad=1
    fi
    if [[ -z "$subject" ]]; then
        echo "$label: empty subject"
        bad=1
    fi
    if [[ "$subject" == *. ]]; then
        echo "$label: subject ends with a period: $subject"
        bad=1
    fi
    if [[ "$first" =~ ^(Added|Adds|Adding|Fixed|Fixes|Fixing|Changed|Changes|Changing|Updated|Updates|Updating|Removed|Removes|Removing|Moved|Moves|Moving|Renamed|Renames|Renaming|Implemented|Implements|Implementing|Refactored|Refactors|Refactoring|Improved|Improves|Improving|Replaced|Replaces|Replacing|Made|Makes|Making|Created|Creates|Creating|Wrote|Writes|Writing)$ ]]; then
        echo "$label: subject is not in the imperative ('$first'): $subject"
        bad=1
    fi
    if [[ -n "$second" ]]; then
        echo "$label: the second line must be blank"
        bad=1
    fi
    if ((body == 0)); then
        echo "$label: no body: say why the change is made"
        bad=1
    fi
    return $bad
}

if [[ "${1:-}" == --message ]]; then
    [[ $# -eq 2 ]] || { echo "usage: check-commits.sh --message FILE" >&2; exit 2; }
    check_message "$2" "commit message" && exit 0 || exit 1
fi

if [[ $# -gt 1 ]]; then
    echo "usage: check-commits.sh [REV-RANGE | --message FILE]" >&2
    exit 2
fi
if [[ $# -eq 1 ]]; then
    range=$1
else
    since=$(git log --diff-filter=A --format=%H -- scripts/check-commits.sh | tail -n 1)
    if [[ -z "$since" ]]; then
        echo "check-commits: scripts/check-commits.sh is not committed yet; nothing to check"
        exit 0
    fi
    if git rev-parse -q --verify "$since^" >/dev/null; then
        range="$since^..HEAD"
    else
        range=HEAD # a shallow clone that starts at the rule, or the rule is the first commit
    fi
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
n=0
failed=0
for c in $(git rev-list --no-merges "$range"); do
    git log -1 --format=%B "$c" >"$tmp"
    n=$((n + 1))
    check_message "$tmp" "commit $(git rev-parse --short "$c")" || failed=$((failed + 1))
done
echo "check-commits: $n commits checked, $failed failed"
((failed == 0))
