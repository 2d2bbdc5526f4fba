"""Fuzzing the two doors a file or a caller controls: the bundle loader (manifest bytes, zip members) and
``Screener.process_keypoints`` (shapes, NaN, infinities, timestamps). Whatever comes in, the answer is a
result or one of our errors (``ScoliGaitError``), never anything else. CI runs a small budget; set
``FUZZ_EXAMPLES`` for a longer run by hand."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.screener import Screener, demo_bundle_path

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def screener():
    with Screener(demo_bundle_path(), backend="onnxruntime", pose=False) as s:
        yield s


_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64), st.sampled_from([0.0, -1.0, 1e308, 5e-324])
)


@FUZZ
@given(
    shape=st.sampled_from([(21, 3), (21, 3), (21, 3), (17, 3), (21, 2), (0,), (21, 3, 1), (3, 21)]),
    data=st.data(),
    dt=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6), st.none(), st.text(max_size=3)
    ),
)
def test_process_keypoints_gives_a_result_or_our_error(screener, shape, data, dt):
    values = data.draw(st.lists(_VALUES, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    kp = np.array(values, dtype=np.float64).reshape(shape)
    last = screener._last_ts or 0.0
    t = dt if not isinstance(dt, float | int) or isinstance(dt, bool) else last + dt
    try:
        update = screener.process_keypoints(kp, t)
    except ScoliGaitError:
        return
    assert update.index >= 0 and 0.0 <= update.window_progress <= 1.0


def _bundle_zip(manifest: bytes, extra: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("manifest.json", manifest)
        for name, blob in extra.items():
            zf.writestr(name, blob)
    return buf.getvalue()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(
    mutate=st.sampled_from(["bytes", "json", "field"]),
    raw=st.binary(max_size=300),
    value=_JSON,
    member=st.sampled_from(["model.onnx", "../evil", "a/b.json", "manifest.json.sig", "x" * 300]),
)
def test_load_bundle_gives_a_bundle_or_our_error(tmp_path_factory, mutate, raw, value, member):
    from scoligait_edge.bundle import load_bundle

    original = json.loads((demo_bundle_path() / "manifest.json").read_text())
    if mutate == "bytes":
        manifest = raw
    elif mutate == "json":
        manifest = json.dumps(value).encode()
    else:
        key = sorted(original)[len(raw) % len(original)]
        manifest = json.dumps({**original, key: value}).encode()
    path = tmp_path_factory.mktemp("fuzz") / "b.zip"
    path.write_bytes(_bundle_zip(manifest, {member: raw}))
    try:
        load_bundle(path, allow_unsigned=True).close()
    except ScoliGaitError:
        pass
