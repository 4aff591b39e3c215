#!/usr/bin/env bash
# format-check.sh - check that every tracked C file matches .clang-format; list the offenders.
#
# Files come from `git ls-files` so build directories and scratch files never count. Outside a
# git checkout (e.g. an unpacked release tarball) it falls back to the source folders.
# Fix offenders with: clang-format -i <file>
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}

if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
    echo "format-check: $CLANG_FORMAT not found (scripts/setup-deps.sh installs it)" >&2
    exit 2
fi

files=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
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

if [[ ${#bad[@]} -ne 0 ]]; then
    echo "format-check: ${#bad[@]} of ${#files[@]} files are not clang-formatted:"
    printf '  %s\n' "${bad[@]}"
    echo "format-check: fix with: clang-format -i ${bad[*]}"
    exit 1
fi
echo "format-check: all ${#files[@]} files clean ($("$CLANG_FORMAT" --version | head -1))"
