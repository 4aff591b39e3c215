#!/bin/sh
# doc-example.sh DOC JAR LIBDIR JAVA JAVAC - the Java example of docs/CLIENT-API.md, compiled and
# run as an app would: the ```java block that follows the marker line
# "<!-- java_doc_example -->" is written to Example.java, compiled against sakhi.jar with
# warnings as errors, and run under -Xcheck:jni on a fresh store. It must print the captured
# referral back ("Diskit pending") and exit 0. JAVA_OPTS_EXTRA is passed to the JVM.
set -eu
DOC=$1 JAR=$2 LIBDIR=$3 JAVA=$4 JAVAC=$5
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sakhi-java-doc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
awk '/^<!-- java_doc_example -->$/ {m = 1; next}
     m == 1 && /^```java$/ {m = 2; next}
     m == 2 && /^```$/ {exit}
     m == 2 {print}' "$DOC" >"$tmp/Example.java"
if ! grep -q 'class Example' "$tmp/Example.java"; then
    echo "doc-example: no java block after the marker in $DOC" >&2
    exit 1
fi
"$JAVAC" -encoding UTF-8 -Xlint:all -Werror -cp "$JAR" -d "$tmp/classes" "$tmp/Example.java"
out=$("$JAVA" -Xcheck:jni -Djava.library.path="$LIBDIR" -cp "$JAR:$tmp/classes" Example \
    "$tmp/store" 720415 2>&1) || { echo "$out"; echo "doc-example: the example failed" >&2; exit 1; }
echo "$out"
case "$out" in
*"Diskit pending"*) ;;
*) echo "doc-example: the example did not print its referral back" >&2; exit 1 ;;
esac
