#!/usr/bin/env bash
# format-check.sh [--fix] [FILE...] - check that tracked C files match .clang-format; list the
# offenders. With --fix, reformat the offenders in place instead (clang-format -i).
# With FILE arguments, only those files are checked (e.g. the files you own, before a commit).
#
# Files come from `git ls-files` so build directories and scratch files never count. Outside a
# git checkout (e.g. an unpacked release tarball) it falls back to the source folders.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CALLER_DIR=$PWD
cd "$ROOT"
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
FIX=0
if [[ "${1:-}" == --fix ]]; then
    FIX=1
    shift
fi

if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
    echo "format-check: $CLANG_FORMAT not found (scripts/setup-deps.sh installs it)" >&2
    exit 2
fi

files=()
if [[ $# -gt 0 ]]; then
    for f in "$@"; do
        [[ "$f" == /* ]] || f="$CALLER_DIR/$f"
        files+=("$f")
    done
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    while IFS= read -r -d '' f; do
        [[ -f "$f" ]] && files+=("$f")
    done < <(git ls-files -z -- '*.c' '*.h')
else
    while IFS= read -r -d '' f; do
        files+=("${f#./}")
    done < <(find proto server client-lib tools tests bench -type f \( -name '*.c' -o -name '*.h' \) -print0 2>/dev/null)
fi

if [[ ${#files[@]} -eq 0 ]]; then
    echo "format-check: no C files found" >&2
    exit 2
fi

bad=()
for f in "${files[@]}"; do
    if ! "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1; then
        bad+=("$f")
    fi
done

if [[ ${#bad[@]} -ne 0 && $FIX -eq 1 ]]; then
    "$CLANG_FORMAT" -i "${bad[@]}"
    echo "format-check: reformatted ${#bad[@]} files:"
    printf '  %s\n' "${bad[@]}"
    exit 0
fi
if [[ ${#bad[@]} -ne 0 ]]; then
    echo "format-check: ${#bad[@]} of ${#files[@]} files are not clang-formatted:"
    printf '  %s\n' "${bad[@]}"
    echo "format-check: fix with: scripts/format-check.sh --fix ${bad[*]}"
    exit 1
fi
echo "format-check: all ${#files[@]} files clean ($("$CLANG_FORMAT" --version | head -1))"
