#!/usr/bin/env bash
# The app's glue without the Android SDK (CI runs this after android_demo/core/run_jvm_tests.sh, whose
# core.jar it uses):
#  1. type-checks AssetBundle, ScreeningViewModel and OrtScreener against the core and stand-in stubs:
#     tools/app_stubs/ (the few Android, AndroidX lifecycle and CameraX classes they touch, and
#     PoseLandmarkerHelper's signature) and tools/ort_stubs/ (the ONNX Runtime Java API classes
#     OrtScreener uses: OrtEnvironment, OrtSession with SessionOptions and Result, OnnxTensor,
#     OnnxJavaType, OnnxValue);
#  2. runs the real OrtScreener on those ORT stubs (tools/glue_check/OrtScreenerCheck.kt): the tensors
#     it creates must have the shipped demo bundle's input names, dtypes and shapes;
#  3. runs tools/check_bundle_path.sh (the Gradle bundle path, tested without Gradle).
# Not a build: MainActivity, PoseLandmarkerHelper (MediaPipe), SkeletonOverlayView and the resources
# need the Android SDK and are only compiled in Android Studio.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CORE_JAR="${CORE_JAR:-$HERE/core/build/jvm-tests/core.jar}"
KOTLIN_STDLIB=/usr/share/java/kotlin-stdlib.jar
[ -s "$CORE_JAR" ] || { echo "no $CORE_JAR: run android_demo/core/run_jvm_tests.sh first" >&2; exit 2; }
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
APP="$HERE/app/src/main/kotlin/org/scoligait/demo"
kotlinc -jvm-target 1.8 -nowarn -cp "$CORE_JAR" "$HERE/tools/app_stubs" "$HERE/tools/ort_stubs" \
  "$APP/AssetBundle.kt" "$APP/ScreeningViewModel.kt" "$APP/OrtScreener.kt" \
  "$HERE/tools/glue_check/OrtScreenerCheck.kt" -d "$OUT/glue.jar" 2>&1 \
  | grep -v '^OpenJDK 64-Bit Server VM warning' || true
[ -s "$OUT/glue.jar" ] || { echo "app glue: type errors above" >&2; exit 1; }
echo "app glue (AssetBundle, ScreeningViewModel, OrtScreener) type-checks against the core and the stubs"
java -cp "$OUT/glue.jar:$CORE_JAR:$KOTLIN_STDLIB" org.scoligait.demo.check.OrtScreenerCheck "$REPO"
bash "$HERE/tools/check_bundle_path.sh"
