"""The Android demo's golden fixtures and generated Kotlin tables are current with the Python code.

The Kotlin core (android_demo/core) is tested on the JVM against fixtures the Python side wrote
(android_demo/tools/make_golden.py). If the Python implementation changes, these tests fail
until the fixtures are regenerated, so the Kotlin tests can never pass against stale numbers.
Regenerate with: .venv/bin/python android_demo/tools/make_golden.py
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from scoligait_edge.core.schema import FEATURE_NAMES, schema_hash

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "android_demo" / "tools"
GOLDEN = ROOT / "android_demo" / "core" / "src" / "test" / "resources" / "golden"
REGENERATE = ".venv/bin/python android_demo/tools/make_golden.py"


def _module(name: str):
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    if name in sys.modules:
        return sys.modules[name]
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_generated_kotlin_tables_are_current():
    gen = _module("gen_kotlin_tables")
    stale = gen.stale_files()
    assert not stale, f"stale generated Kotlin: {[str(p.relative_to(ROOT)) for p in stale]}; run {REGENERATE}"
    text = gen.SCHEMA_FILE.read_text(encoding="utf-8")
    assert f'PYTHON_SCHEMA_HASH: String = "{schema_hash()}"' in text


def test_generated_session_rules_are_the_shipped_json():
    """The Android kiosk's rules are generated from the file the Python station reads (one rule set)."""
    from scoligait_edge.session_rules import default_session_rules

    gen = _module("gen_kotlin_tables")
    text = gen.RULES_FILE.read_text(encoding="utf-8")
    rules = default_session_rules()
    assert f"SETTLE_FRAMES: Int = {rules.settle_frames}\n" in text
    assert f"TARGET_SCREENED_WINDOWS: Int = {rules.target_screened_windows}\n" in text
    assert f"MAX_RECORDING_S: Double = {rules.max_recording_s!r}\n" in text
    assert f"MINOR_NEEDS_GUARDIAN_CONSENT: Boolean = {str(rules.minor_needs_guardian_consent).lower()}\n" in text
    kiosk = (gen.KOTLIN_DIR / "KioskSession.kt").read_text(encoding="utf-8")
    assert "settleFrames: Int = GeneratedSessionRules.SETTLE_FRAMES" in kiosk  # no constants of its own


def test_stored_schema_hash_is_the_current_one():
    index = json.loads((GOLDEN / "index.json").read_text())
    assert index["schema_hash"] == schema_hash(), f"the knowledge-map schema changed; run {REGENERATE}"
    assert index["feature_names"] == list(FEATURE_NAMES)


def test_golden_outputs_recompute_from_their_inputs():
    mg = _module("make_golden")
    problems = mg.verify(GOLDEN)
    assert not problems, (
        "android_demo golden fixtures are stale:\n  " + "\n  ".join(problems[:20]) + f"\nrun {REGENERATE}"
    )


def test_fixtures_stay_small():
    size = sum(p.stat().st_size for p in GOLDEN.iterdir() if p.is_file())
    assert size < 5.5e6, f"golden fixtures are {size / 1e6:.1f} MB"  # 5.08 MB with the walking gate's 13 windows


def test_example_manifest_is_one_the_exporter_accepts():
    bundle = pytest.importorskip("scoligait_edge.bundle")
    data = json.loads((GOLDEN / "manifest_example.json").read_text())
    manifest = bundle.BundleManifest.model_validate(data)
    assert manifest.feature_schema.hash == schema_hash()
