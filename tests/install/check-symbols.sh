#!/bin/sh
# Fails when libsakhi (shared or static) exports a defined global symbol outside sakhi_/sk_.
# The shared library should export sakhi_* only; the static archive may also carry sk_*
# internals (hiding cannot help a static link, so the names are kept in our namespace).
set -eu
so="$1"; a="$2"
bad=0
out=$(nm -D --defined-only "$so" | awk 'NF>=3 && $2 ~ /[A-Z]/ {print $3}' | grep -v '^sakhi_' || true)
if [ -n "$out" ]; then echo "shared library exports foreign symbols:"; echo "$out"; bad=1; fi
n=$(nm -D --defined-only "$so" | awk 'NF>=3 && $2 ~ /[A-Z]/' | grep -c ' sakhi_' || true)
if [ "$n" -lt 40 ]; then echo "only $n sakhi_ symbols exported"; bad=1; fi
out=$(nm -g --defined-only "$a" 2>/dev/null | awk 'NF>=3 {print $3}' | grep -v '^sakhi_' | grep -v '^sk_' || true)
if [ -n "$out" ]; then echo "static library exports foreign symbols:"; echo "$out"; bad=1; fi
exit $bad
