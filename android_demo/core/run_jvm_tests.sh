#!/usr/bin/env bash
# Compile the Kotlin core (pure Kotlin/JVM, no Android) and its tests with Debian's kotlinc, run
# them with JUnit 4 against the Python golden vectors, and exit non-zero on any failure.
# Needs: apt-get install -y kotlin junit4   (no Gradle, no Android SDK, no network).
# Last line printed: "N passed, M failed". Parity figures: the "PARITY ..." lines.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD="${BUILD_DIR:-$HERE/build/jvm-tests}"
JAVA_LIBS=/usr/share/java

need() { [ -e "$1" ] || { echo "missing $1: install it with 'apt-get install -y kotlin junit4'" >&2; exit 2; }; }
command -v kotlinc >/dev/null || { echo "kotlinc not found: apt-get install -y kotlin" >&2; exit 2; }
need "$JAVA_LIBS/junit4.jar"
need "$JAVA_LIBS/hamcrest-core.jar"
need "$JAVA_LIBS/kotlin-stdlib.jar"
CP_LIBS="$JAVA_LIBS/junit4.jar:$JAVA_LIBS/hamcrest-core.jar:$JAVA_LIBS/kotlin-stdlib.jar"

start=$(date +%s)
rm -rf "$BUILD"
mkdir -p "$BUILD"
echo "kotlinc: $(kotlinc -version 2>&1 | grep -o 'kotlinc-jvm [^ ]*' || true)"
# -nowarn: kotlinc 1.3 on a newer JDK warns about its own options; real errors still fail the build
kotlinc -jvm-target 1.8 -nowarn "$HERE/src/main/kotlin" -d "$BUILD/core.jar" 2>&1 | grep -v '^OpenJDK 64-Bit Server VM warning' || true
[ -s "$BUILD/core.jar" ] || { echo "compiling the core failed" >&2; exit 1; }
kotlinc -jvm-target 1.8 -nowarn -cp "$BUILD/core.jar:$CP_LIBS" "$HERE/src/test/kotlin" -d "$BUILD/core-tests.jar" 2>&1 \
  | grep -v '^OpenJDK 64-Bit Server VM warning' || true
[ -s "$BUILD/core-tests.jar" ] || { echo "compiling the tests failed" >&2; exit 1; }
compiled=$(date +%s)

set +e
java -cp "$BUILD/core.jar:$BUILD/core-tests.jar:$HERE/src/test/resources:$CP_LIBS" \
  -Dscoligait.repoRoot="$REPO" org.scoligait.core.JvmTestMain "$BUILD/core-tests.jar" | tee "$BUILD/test-output.txt"
rc=${PIPESTATUS[0]}
set -e
end=$(date +%s)
echo "parity summary (max |Kotlin - Python|):"
grep '^PARITY' "$BUILD/test-output.txt" | sed 's/^PARITY /  /' || true
echo "compile $((compiled - start)) s, tests $((end - compiled)) s, total $((end - start)) s"
tail -n 1 < <(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$BUILD/test-output.txt") || echo "0 passed, 1 failed"
exit "$rc"
