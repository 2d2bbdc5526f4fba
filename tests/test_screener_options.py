"""Issue 12: ScreenerOptions (nested pose, tracker and backend options, MediaPipe Tasks style)."""

from __future__ import annotations

import pytest

from scoligait_edge.pose.estimator import PoseEstimatorOptions
from scoligait_edge.pose.tracker import TrackerOptions
from scoligait_edge.screener import BackendOptions, Screener, ScreenerOptions


class Stop(Exception):
    pass


@pytest.fixture()
def seen(monkeypatch):
    from scoligait_edge import runtimes

    calls = []

    def fake_load_backend(bundle, backend="auto", precision="fp32", device=None, **options):
        calls.append(dict(backend=backend, precision=precision, device=device, **options))
        raise Stop

    monkeypatch.setattr(runtimes, "load_backend", fake_load_backend)
    return calls


def test_options_validate_and_forbid_unknown_fields():
    o = ScreenerOptions()
    assert o.pose.model == "full" and o.tracker.roi is None and o.backend == BackendOptions() and o.hop == 16
    for bad in (
        dict(hop=0),
        dict(hop=True),
        dict(colour="red"),
        dict(backend=dict(threads=True)),
        dict(backend=dict(threads=0)),
        dict(backend=dict(backend="cuda")),
        dict(pose=dict(num_poses=1)),
    ):
        with pytest.raises(ValueError):
            ScreenerOptions(**bad)
    assert ScreenerOptions.model_validate_json(o.model_dump_json()) == o


def test_backend_options_filtered_per_backend_through_screener_options(seen):
    for name in ("tensorrt", "onnxruntime", "torch", "auto"):
        with pytest.raises(Stop):
            Screener.create_from_options(ScreenerOptions(backend=BackendOptions(backend=name, threads=3)))
    assert [c.get("threads") for c in seen] == [None, 3, 3, 3]
    assert "threads" not in seen[0]  # TensorRT takes no thread count
    with pytest.raises(Stop):
        Screener(
            options=ScreenerOptions(
                backend=BackendOptions(backend="onnxruntime", precision="fp16", device="cpu", threads=None)
            )
        )
    assert seen[-1] == dict(backend="onnxruntime", precision="fp16", device="cpu")


def test_old_keywords_map_onto_options(seen):
    o = Screener.options_from_keywords(
        "b",
        backend="tensorrt",
        pose_model="lite",
        precision="fp16",
        roi=(1, 2, 3, 4),
        hop=8,
        threads=0,
        pose=False,
        keep_history=False,
    )
    assert o == ScreenerOptions(
        bundle="b",
        pose=PoseEstimatorOptions(model="lite"),
        tracker=TrackerOptions(roi=(1, 2, 3, 4)),
        backend=BackendOptions(backend="tensorrt", precision="fp16", threads=None),
        hop=8,
        run_pose=False,
        keep_history=False,
    )
    with pytest.raises(Stop):
        Screener(None, backend="tensorrt", threads=2, precision="fp16")
    assert seen[-1] == dict(backend="tensorrt", precision="fp16", device=None)
    with pytest.raises(ValueError, match="hop"):
        Screener(None, hop=0)
    with pytest.raises(TypeError, match="not both"):
        Screener(options=ScreenerOptions(), hop=8)


def test_a_screener_from_options_runs_and_keeps_them():
    opts = ScreenerOptions(backend=BackendOptions(backend="onnxruntime"), hop=8, run_pose=False, keep_history=False)
    with Screener.create_from_options(opts) as s:
        assert s.options is opts and s.hop == 8 and not s.keep_history and s._estimator is None
        assert s.backend.name.startswith("onnxruntime")


def test_backend_loads_beside_pose_set_up_and_failures_release_the_other(monkeypatch):
    """The backend loads on a worker thread while the pose model is set up: if either fails, the error reaches
    the caller and what the other made is closed (no landmarker or session left behind)."""
    import scoligait_edge.pose.estimator as estimator_module
    import scoligait_edge.runtimes as runtimes
    from scoligait_edge.errors import BackendError, PoseModelError

    closed = []

    class FakeBackend:
        name, device = "fake", "cpu"

        def close(self):
            closed.append("backend")

    monkeypatch.setattr(runtimes, "load_backend", lambda *a, **k: FakeBackend())
    real_init = estimator_module.PoseEstimator.__init__

    def broken_pose(self, *a, **k):
        raise PoseModelError("no pose model here")

    monkeypatch.setattr(estimator_module.PoseEstimator, "__init__", broken_pose)
    with pytest.raises(PoseModelError):
        Screener(options=ScreenerOptions(pose=PoseEstimatorOptions(model="lite")))
    assert closed == ["backend"]

    monkeypatch.setattr(estimator_module.PoseEstimator, "__init__", real_init)
    real_close = estimator_module.PoseEstimator.close
    monkeypatch.setattr(estimator_module.PoseEstimator, "close", lambda self: (closed.append("pose"), real_close(self)))

    def broken_backend(*a, **k):
        raise BackendError("no backend here")

    monkeypatch.setattr(runtimes, "load_backend", broken_backend)
    with pytest.raises(BackendError, match="no backend here"):
        Screener(options=ScreenerOptions(pose=PoseEstimatorOptions(model="lite")))
    assert closed == ["backend", "pose"]
