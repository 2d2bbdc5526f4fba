"""Issue 12: training and the Screener prepare a window's model inputs the same way (one preprocessing path).

The same windows go through the training path (``stack_windows`` -> ``WindowTensors.batch``, text by
``text_inputs``) and the inference path (``Screener._batch``); the arrays must be identical, and the demo
bundle's model must give the same outputs on both (torch backend on the training inputs, ONNX Runtime on
the Screener's: fp32 noise only).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from scoligait_edge.bundle.inputs import check_window_length, model_inputs, scale_silhouettes
from scoligait_edge.core.constants import WINDOW_FRAMES
from scoligait_edge.stream.window_buffer import WindowArrays
from tests.screener_helpers import simulated_window_set


def _samples(n: int = 3):
    from scoligait_edge.research.data.windows import WindowSample

    km, valid, labels = simulated_window_set(n_clips=2)
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        j = i * 5
        sil = (rng.random((WINDOW_FRAMES, 64, 44)) > 0.6).astype(np.uint8) * 255
        sil[:, 10:20, 5:9] = rng.integers(0, 256, (WINDOW_FRAMES, 10, 4), dtype=np.uint8)
        out.append(
            WindowSample(
                km=km[j].astype(np.float32),
                km_valid=valid[j],
                silhouettes=sil,
                label=int(labels[j]),
                cobb_deg=0.0,
                subject_id=f"s{i}",
                clip_id=f"c{i}",
                start=j,
                sex=None,
                age=None,
                provenance="test",
                quality=None,
            )
        )
    return out


@pytest.fixture(scope="module")
def screener():
    from scoligait_edge.screener import Screener

    return Screener(backend="onnxruntime", pose=False)


def test_training_and_screener_prepare_identical_inputs_and_outputs(screener):

    from runtimes import load_backend
    from scoligait_edge.research.training.pipeline import text_inputs
    from scoligait_edge.research.training.tensors import stack_windows

    torch_backend = load_backend(screener.bundle, backend="torch")
    reference = screener._text[0]
    worst = 0.0
    for s in _samples():
        w = WindowArrays(
            km=s.km,
            valid=s.km_valid,
            keypoints=np.zeros((WINDOW_FRAMES, 1, 3)),
            silhouettes=s.silhouettes,
            timestamps_ms=np.arange(WINDOW_FRAMES) * 1000 / 30,
            first_index=0,
        )
        infer, _ = screener._batch(w)
        text, mask = text_inputs([s], reference, max_sentences=infer["text"].shape[1])
        train = stack_windows([s], text=text, text_mask=mask, window_frames=screener.model_config.window_frames)
        batch = {k: v.numpy() for k, v in train.batch([0], uses_video=True, uses_text=True).items()}
        assert batch.keys() == infer.keys()
        for name in infer:
            assert batch[name].dtype == infer[name].dtype, name
            np.testing.assert_array_equal(batch[name], infer[name], err_msg=name)
        assert infer["video"].max() == 255 and infer["video"].dtype == np.uint8  # scaled inside the graph
        ort, pt = screener.backend.infer(infer), torch_backend.infer(batch)
        for name in ("logit", "prob", "cobb", "km_attention"):
            worst = max(worst, float(np.max(np.abs(np.asarray(ort[name]) - np.asarray(pt[name])))))
    logging.getLogger(__name__).info("max |onnxruntime - torch| over outputs: %.3g", worst)
    assert worst < 1e-4, worst


def test_one_scaling_and_window_length_checks():
    sil = np.array([[0, 128, 255]], np.uint8)
    np.testing.assert_array_equal(scale_silhouettes(sil), sil.astype(np.float32) / 255.0)
    sils = np.random.default_rng(0).integers(0, 256, (WINDOW_FRAMES, 64, 44), dtype=np.uint8)
    km, ok = np.zeros((WINDOW_FRAMES, 238), np.float32), np.ones(WINDOW_FRAMES, bool)
    as_uint8 = model_inputs(km, ok, sils, uses_text=False)["video"]
    as_float = model_inputs(km, ok, sils, uses_text=False, video_dtype="float32")["video"]  # graphs before uint8
    assert as_uint8.dtype == np.uint8 and as_float.dtype == np.float32
    np.testing.assert_array_equal(scale_silhouettes(as_uint8), as_float)
    with pytest.raises(ValueError, match="uint8"):
        model_inputs(km, ok, sils.astype(np.float32), uses_text=False)
    check_window_length(WINDOW_FRAMES, WINDOW_FRAMES)
    with pytest.raises(ValueError, match="expects window_frames=96"):
        model_inputs(np.zeros((64, 238), np.float32), np.ones(64, bool), uses_text=False, window_frames=WINDOW_FRAMES)


def test_training_refuses_windows_of_another_length():
    from scoligait_edge.research.training.tensors import stack_windows

    s = _samples(1)[0]
    with pytest.raises(ValueError, match="training window c0@0 has 96 frames but the model expects window_frames=64"):
        stack_windows([s], window_frames=64)


def test_screener_refuses_a_bundle_whose_window_disagrees_with_its_model(screener):
    manifest = screener.bundle.manifest.model_copy(
        update={"window": screener.bundle.manifest.window.model_copy(update={"frames": 64})}
    )
    screener.window_length = 64
    try:
        with pytest.raises(ValueError, match="window.frames=64 disagrees with its model"):
            screener._check_window_length(manifest)
    finally:
        screener.window_length = WINDOW_FRAMES


def test_train_config_refuses_windows_the_model_is_not_built_for():
    from scoligait_edge.core.constants import WINDOW_FRAMES as DATA_WINDOW_FRAMES
    from scoligait_edge.research.training.config import TrainConfig

    assert DATA_WINDOW_FRAMES is WINDOW_FRAMES and TrainConfig().windows.length == TrainConfig().model.window_frames
    with pytest.raises(ValueError, match="windows.length=64 differs from model.window_frames=96"):
        TrainConfig(windows={"length": 64})
    assert (
        TrainConfig(
            windows={"length": 32}, model={"window_frames": 32, "km_patch_frames": 16, "video_tubelet_frames": 16}
        ).windows.length
        == 32
    )
