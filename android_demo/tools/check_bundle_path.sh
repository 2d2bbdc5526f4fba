#!/usr/bin/env bash
# The bundle path of app/build.gradle.kts, tested without Gradle (called by check_app_glue.sh, so CI runs
# it): the block between the "scoligait bundle path" markers of the build file is cut out and compiled
# with kotlinc together with tools/glue_check/BundlePathCheck.kt, which resolves gradle.properties the
# way the build does, finds where the README's export writes, copies the export's selection and reads
# it with the core's BundleReader (see that file for the full list). Needs the core.jar that
# android_demo/core/run_jvm_tests.sh builds.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
CORE_JAR="${CORE_JAR:-$HERE/core/build/jvm-tests/core.jar}"
KOTLIN_STDLIB=/usr/share/java/kotlin-stdlib.jar
[ -s "$CORE_JAR" ] || { echo "no $CORE_JAR: run android_demo/core/run_jvm_tests.sh first" >&2; exit 2; }
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
{
  echo "import java.io.File"
  sed -n '/^\/\/ --- scoligait bundle path/,/^\/\/ --- end scoligait bundle path ---/p' "$HERE/app/build.gradle.kts"
} > "$OUT/BuildBundlePath.kt"
grep -q "fun scoligaitBundleDir" "$OUT/BuildBundlePath.kt" \
  || { echo "app/build.gradle.kts: no 'scoligait bundle path' block with scoligaitBundleDir" >&2; exit 1; }
kotlinc -jvm-target 1.8 -nowarn -cp "$CORE_JAR" "$OUT/BuildBundlePath.kt" "$HERE/tools/glue_check/BundlePathCheck.kt" \
  -d "$OUT/check.jar" 2>&1 | grep -v '^OpenJDK 64-Bit Server VM warning' || true
[ -s "$OUT/check.jar" ] || { echo "bundle path check: compile errors above" >&2; exit 1; }
java -cp "$OUT/check.jar:$CORE_JAR:$KOTLIN_STDLIB" BundlePathCheckKt "$HERE"
