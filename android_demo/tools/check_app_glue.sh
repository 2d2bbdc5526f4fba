#!/usr/bin/env bash
# Type-checks the app's glue (AssetBundle, ScreeningPipeline, ScreeningViewModel) against the core
# and stand-in stubs of Android, AndroidX lifecycle, CameraX, MediaPipe and ONNX Runtime
# (tools/app_stubs/). Not a build: MainActivity, PoseLandmarkerHelper, OrtScreener and the
# resources need the Android SDK. Run after android_demo/core/run_jvm_tests.sh (it uses its core.jar).
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
CORE_JAR="${CORE_JAR:-$HERE/core/build/jvm-tests/core.jar}"
[ -s "$CORE_JAR" ] || { echo "no $CORE_JAR: run android_demo/core/run_jvm_tests.sh first" >&2; exit 2; }
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
APP="$HERE/app/src/main/kotlin/org/scoligait/demo"
kotlinc -jvm-target 1.8 -nowarn -cp "$CORE_JAR" "$HERE/tools/app_stubs" \
  "$APP/AssetBundle.kt" "$APP/ScreeningPipeline.kt" "$APP/ScreeningViewModel.kt" -d "$OUT/glue.jar" 2>&1 \
  | grep -v '^OpenJDK 64-Bit Server VM warning' || true
[ -s "$OUT/glue.jar" ] || { echo "app glue: type errors above" >&2; exit 1; }
echo "app glue type-checks against the core and the stubs"
