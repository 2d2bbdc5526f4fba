#!/usr/bin/env bash
# The runtime from the wheel alone: a fresh venv with no extras (so no torch, no onnx export tools) runs the
# main job on the bundled sample video from outside the source tree. Needs .venv (setuptools) to build the wheel,
# or WHEEL=dist/scoligait_edge-X.Y.Z-py3-none-any.whl to check one already built (`make dist`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/scoligait-runtime.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)

if [ -n "${WHEEL:-}" ]; then
  mkdir -p "$WORK/dist" && cp "$WHEEL" "$WORK/dist/"
else
  .venv/bin/python -m pip wheel --quiet --no-deps --no-build-isolation -w "$WORK/dist" .
fi
"$PYTHON" -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
"$PY" -m pip install --quiet --upgrade pip
"$PY" -m pip install --quiet -c "$ROOT/constraints.txt" "$WORK"/dist/*.whl
echo "runtime venv: $(du -sm "$WORK/venv" | cut -f1) MB after $(( $(date +%s) - start )) s"

cd "$WORK"  # outside the source tree: only the installed wheel can be imported
for mod in torch onnx onnxscript safetensors sentence_transformers scipy ray; do
  "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$mod') is not None)" \
    || { echo "error: $mod is installed in the runtime venv" >&2; exit 1; }
done
"$PY" -c "import scoligait_edge, sys; assert scoligait_edge.__file__.startswith(sys.prefix), scoligait_edge.__file__"
# The whole sample video (230 frames): fewer frames end before a window passes the quality check (exit 3).
"$PY" -m scoligait_edge.run --headless --backend onnxruntime --output "$WORK/results.jsonl"
"$PY" - "$WORK/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
screened = [r for r in rows if r.get("status") == "screened"]
assert screened, f"no screened window in {len(rows)} results"
print(f"runtime wheel ok: {len(screened)} screened window(s) of {len(rows)}, torch not installed")
PY
echo "runtime wheel check: $(( $(date +%s) - start )) s"
