"""The out-of-distribution flag: fitting, scoring, the bundle round trip and the Screener's per-window flag."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from scoligait_edge.bundle.input_reference import INPUT_REFERENCE_NAME, InputReference, fit_input_reference
from scoligait_edge.bundle.load import load_bundle
from scoligait_edge.errors import BundleError, BundleSignatureError


def _training(n: int = 200, length: int = 24, cols: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    centre = rng.normal(0, 5, cols)
    km = centre + rng.normal(0, 1, (n, length, cols))
    valid = rng.random((n, length)) > 0.1
    return km, valid, centre


def test_a_window_at_the_training_centre_is_not_flagged_and_a_shifted_one_is():
    km, valid, centre = _training()
    ref = fit_input_reference(km, valid)
    assert ref.n_windows == 200 and ref.n_columns == 40
    window = np.tile(np.asarray(ref.center), (24, 1))
    fraction, flagged = ref.score_window(window, np.ones(24, bool))
    assert fraction == 0.0 and flagged is False
    typical = ref.score_window(km[0], valid[0])  # a training window itself
    assert typical[1] is False and typical[0] < 0.05
    shifted = window.copy()
    shifted[:, :20] += 50.0  # half the columns, ~50 robust SD away
    fraction, flagged = ref.score_window(shifted, np.ones(24, bool))
    assert fraction == pytest.approx(0.5) and flagged is True
    few = window.copy()
    few[:, :2] += 50.0  # 5 % of the columns: an odd joint or two is not "unlike the training data"
    assert ref.score_window(few, np.ones(24, bool)) == (pytest.approx(0.05), False)


def test_invalid_rows_are_ignored_and_an_empty_window_gets_no_verdict():
    km, valid, _ = _training()
    ref = fit_input_reference(km, valid)
    window = np.tile(np.asarray(ref.center), (24, 1))
    mask = np.ones(24, bool)
    window[:4] = 1e6  # garbage on rows the map marks invalid must not count
    mask[:4] = False
    assert ref.score_window(window, mask)[1] is False
    assert ref.score_window(window, np.zeros(24, bool)) == (None, None)


def test_a_constant_training_column_does_not_flag_everything():
    km, valid, _ = _training()
    km[..., 0] = 0.0
    ref = fit_input_reference(km, valid)
    assert ref.scale[0] >= 1e-3
    window = np.tile(np.asarray(ref.center), (24, 1))
    window[:, 0] = 1e-4
    assert ref.score_window(window, np.ones(24, bool))[0] == 0.0


def test_the_reference_round_trips_as_json_and_refuses_bad_numbers():
    km, valid, _ = _training()
    ref = fit_input_reference(km, valid, source="unit test")
    assert InputReference.model_validate_json(ref.model_dump_json()) == ref
    with pytest.raises(ValueError):
        InputReference(n_windows=1, center=[0.0, 1.0], scale=[1.0])
    with pytest.raises(ValueError):
        InputReference(n_windows=1, center=[0.0], scale=[0.0])


# ----------------------------------------------------------------- bundle
def _demo_like_reference(tmp_path: Path) -> Path:
    from tests.screener_helpers import simulated_window_set

    km, valid, _ = simulated_window_set()
    path = tmp_path / INPUT_REFERENCE_NAME
    path.write_text(fit_input_reference(km, valid, source="tests: simulated_window_set").model_dump_json())
    return path


@pytest.fixture(scope="module")
def ood_bundle(screening_bundle, tmp_path_factory):
    """The Screener test bundle with an input reference fitted on its own simulated training windows."""
    from scoligait_edge.export.build import add_input_reference
    from tests.signing_helpers import fixture_signing_key

    tmp = tmp_path_factory.mktemp("ood_bundle")
    dst = tmp / "bundle"
    shutil.copytree(screening_bundle, dst, ignore=shutil.ignore_patterns("engines"))
    add_input_reference(dst, _demo_like_reference(tmp), signing_key=fixture_signing_key(), report=lambda s: None)
    return dst


def test_bundle_round_trip_keeps_the_model_and_refuses_tampering(screening_bundle, ood_bundle, tmp_path):
    with load_bundle(screening_bundle) as old:  # a bundle without a reference loads as before
        assert old.manifest.input_reference is None and old.input_reference() is None
    with load_bundle(ood_bundle) as b:
        assert b.signature.verified and b.manifest.input_reference == INPUT_REFERENCE_NAME
        ref = b.input_reference()
        assert ref is not None and ref.n_columns == 238 and ref.source == "tests: simulated_window_set"
        for name in b.manifest.files:  # the model files are untouched
            if name != INPUT_REFERENCE_NAME:
                assert (ood_bundle / name).read_bytes() == (screening_bundle / name).read_bytes()
    bad = tmp_path / "tampered"
    shutil.copytree(ood_bundle, bad)
    data = json.loads((bad / INPUT_REFERENCE_NAME).read_text())
    data["far_z"] = 1000.0  # loosen the check without re-signing
    (bad / INPUT_REFERENCE_NAME).write_text(json.dumps(data))
    with pytest.raises(BundleError, match=INPUT_REFERENCE_NAME):
        load_bundle(bad)
    unlisted = tmp_path / "unlisted"
    shutil.copytree(ood_bundle, unlisted)
    man = json.loads((unlisted / "manifest.json").read_text())
    man["input_reference"] = None  # switching the check off is a manifest edit: the signature refuses it
    (unlisted / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(BundleSignatureError):
        load_bundle(unlisted)


def test_export_cli_adds_the_reference_to_an_existing_bundle(screening_bundle, tmp_path):
    from scoligait_edge.export.__main__ import main
    from tests.signing_helpers import fixture_signing_key

    dst = tmp_path / "bundle"
    shutil.copytree(screening_bundle, dst, ignore=shutil.ignore_patterns("engines"))
    ref = _demo_like_reference(tmp_path)
    assert (
        main(
            ["--bundle", str(dst), "--input-reference", str(ref), "--sign", "--signing-key", str(fixture_signing_key())]
        )
        == 0
    )
    with load_bundle(dst) as b:
        assert b.signature.verified and b.input_reference() == InputReference.model_validate_json(ref.read_bytes())
    wrong = tmp_path / "wrong.json"
    wrong.write_text(InputReference(n_windows=1, center=[0.0], scale=[1.0]).model_dump_json())
    assert (
        main(["--bundle", str(dst), "--input-reference", str(wrong), "--signing-key", str(fixture_signing_key())]) == 2
    )


# ----------------------------------------------------------------- screener
def _walk(seed: int, camera: str, upside_down: bool = False):
    from scoligait_edge.research.sim.simulate import sample_subject, simulate_clip

    subject = sample_subject(np.random.default_rng(seed), f"ood{seed}", cobb_deg=0.0)
    clip = simulate_clip(subject, n_frames=300, camera=camera, seed=seed)
    kp = clip.keypoints.copy()
    if upside_down:  # the camera mounted upside down: image y flipped (x too: a 180-degree rotation)
        kp[..., 0] = 2000.0 - kp[..., 0]
        kp[..., 1] = 2000.0 - kp[..., 1]
    return kp, clip.timestamps_ms


def _screen(bundle, kp, ts):
    from scoligait_edge.screener import Screener

    with Screener(bundle, backend="onnxruntime", pose=False) as s:
        results = [r for k, t in zip(kp, ts, strict=True) for r in s.process_keypoints(k, t).results] + s.finish()
        return results, s.summary()


@pytest.mark.parametrize("camera", ["side", "frontal"])
def test_screener_flags_an_upside_down_camera_and_not_a_normal_walk(ood_bundle, camera):
    normal, summary = _screen(ood_bundle, *_walk(3, camera))
    scored = [r for r in normal if r.input_unusual is not None]  # skipped windows are scored too
    assert len(scored) >= 5 and not any(r.input_unusual for r in scored)
    assert summary.windows_input_unusual == 0
    assert not any("input unlike the training data" in n for n in summary.notes)
    flipped, summary = _screen(ood_bundle, *_walk(3, camera, upside_down=True))
    scored = [r for r in flipped if r.input_unusual is not None]
    assert len(scored) >= 5 and all(r.input_unusual for r in scored)
    assert all(r.input_unusual_fraction > 0.06 for r in scored)
    screened = [r for r in flipped if r.status == "screened"]
    assert summary.windows_input_unusual == len(screened)
    # the summary's note is about screened windows (a side walk here is skipped by the quality check)
    assert any("input unlike the training data" in n for n in summary.notes) == bool(screened)
    again = type(scored[0]).model_validate_json(scored[0].model_dump_json())
    assert again.input_unusual is True
    if camera == "frontal":
        assert screened


def test_a_bundle_without_a_reference_gives_no_flag(screening_bundle):
    results, summary = _screen(screening_bundle, *_walk(3, "frontal", upside_down=True))
    assert results and all(r.input_unusual is None and r.input_unusual_fraction is None for r in results)
    assert summary.windows_input_unusual is None
