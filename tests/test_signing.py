"""Signed bundles (issue 12, item 3): every attack the issue measured, before -> now refused or handled.

* a tampered model with its sha256 rewritten in manifest.json, and an edited threshold/notice: bad signature;
* a bundle signed by an unknown key, and an unsigned one: refused unless trusted / opted out (then marked);
* a file swapped on disk after load_bundle: the backends run the bytes that were verified;
* a zip member inflating to 300 MB: refused before anything is written;
* a 200 MB manifest, a 100,000-deep manifest, out-of-range numbers: typed errors, no RecursionError;
* a TensorRT engine cache whose plan does not match its recorded sha256: rebuilt (tested without TensorRT).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import tempfile
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from scoligait_edge.errors import BundleError, BundleLimitError, BundleSignatureError  # noqa: E402
from scoligait_edge.export import (  # noqa: E402
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BundleLimits,
    generate_keypair,
    load_bundle,
    sign_bundle,
    update_bundle,
)
from scoligait_edge.export.signing import TRUSTED_KEYS_ENV, load_private_key, sign_manifest  # noqa: E402
from scoligait_edge.runtimes import load_backend  # noqa: E402
from scoligait_edge.runtimes.onnxruntime_backend import OnnxRuntimeBackend  # noqa: E402
from scoligait_edge.screener import demo_bundle_path  # noqa: E402
from tests.signing_helpers import fixture_signing_key, resign  # noqa: E402


def copy_bundle(src: Path, tmp_path: Path, name: str = "bundle") -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("engines"))
    return dst


def edit_manifest(bundle: Path, change) -> None:
    man = json.loads((bundle / MANIFEST_NAME).read_text())
    change(man)
    (bundle / MANIFEST_NAME).write_text(json.dumps(man, indent=2))


def rehash(bundle: Path, name: str) -> None:
    data = (bundle / name).read_bytes()
    edit_manifest(
        bundle, lambda m: m["files"].__setitem__(name, {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    )


def few(windows, n=4):
    return {k: v[:n] for k, v in windows.items()}


# ----------------------------------------------------------------- authenticity
def test_demo_bundle_is_signed_by_the_package_key():
    with load_bundle(demo_bundle_path()) as b:
        assert b.signature.verified and "demo_ed25519.pub" in b.signature.key_name
        assert "UNVERIFIED" not in b.manifest.provenance["notice"]


def test_tampered_model_with_rehashed_manifest_is_refused(tmp_path):
    """model.onnx changed with its sha256 rewritten in the manifest breaks the signature: refused (it could flip p 0.76 to 0.00)."""
    b = copy_bundle(demo_bundle_path(), tmp_path)
    data = bytearray((b / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (b / "model.onnx").write_bytes(bytes(data))
    rehash(b, "model.onnx")
    with pytest.raises(BundleSignatureError, match="does not match manifest.json.*modified after signing"):
        load_bundle(b)
    with pytest.raises(BundleSignatureError):  # every entry point that takes a path
        load_backend(b, "onnxruntime", device="cpu")


def test_edited_threshold_and_notice_are_refused_and_marked_when_opted_out(tmp_path, caplog):
    """A threshold of 1.0 or a notice claiming clinical validation is refused, signed or not."""
    b = copy_bundle(demo_bundle_path(), tmp_path)

    def forge(m):
        m["threshold"]["value"] = 1.0
        m["provenance"]["notice"] = "clinically validated"

    edit_manifest(b, forge)
    with pytest.raises(BundleSignatureError, match="modified after signing.*allow_unsigned=True"):
        load_bundle(b)
    with caplog.at_level(logging.WARNING, logger="scoligait_edge.bundle"):
        forged = load_bundle(b, allow_unsigned=True)
    assert forged.signature.status == "invalid" and "NOT authenticated" in caplog.text
    notice = forged.manifest.provenance["notice"]
    assert notice.startswith("UNVERIFIED bundle (invalid") and notice.endswith("clinically validated")
    assert "modified after signing" in forged.manifest.provenance["authenticity"]


def test_unknown_key_is_refused_until_trusted(tiny_bundle, tmp_path, monkeypatch):
    b = copy_bundle(tiny_bundle.path, tmp_path)
    priv, pub = generate_keypair(tmp_path / "keys" / "other.pem")
    assert (priv.stat().st_mode & 0o777) == 0o600
    sign_bundle(b, priv, trusted_keys=[fixture_signing_key().with_suffix(".pub")])
    with pytest.raises(BundleSignatureError, match="not a trusted key"):
        load_bundle(b)
    assert load_bundle(b, trusted_keys=[pub]).signature.verified  # a key file
    assert load_bundle(b, trusted_keys=pub.read_bytes()).signature.verified  # PEM bytes
    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(pub.parent))  # a folder of *.pub in the environment
    assert load_bundle(b).signature.verified


def test_unsigned_bundle_is_refused_unless_opted_out(screening_bundle, tmp_path, caplog):
    b = copy_bundle(screening_bundle, tmp_path)
    (b / SIGNATURE_NAME).unlink()
    with pytest.raises(BundleSignatureError, match="unsigned.*--allow-unsigned-bundle"):
        load_bundle(b)
    from scoligait_edge.screener import Screener

    with pytest.raises(BundleSignatureError, match="unsigned"):
        Screener(b, backend="onnxruntime", pose=False)
    with caplog.at_level(logging.WARNING):
        bundle = load_bundle(b, allow_unsigned=True)
    assert bundle.signature.status == "unsigned" and "allow_unsigned=True" in caplog.text
    assert bundle.manifest.provenance["notice"].startswith("UNVERIFIED bundle (unsigned")
    with Screener(bundle, backend="onnxruntime", pose=False) as s:  # a loaded Bundle is taken as is
        assert s.provenance.startswith("UNVERIFIED")
    from scoligait_edge.run import build_parser

    assert build_parser().parse_args(["--allow-unsigned-bundle"]).allow_unsigned_bundle


def test_rewriting_without_a_key_leaves_the_bundle_unsigned_and_sign_fixes_it(tiny_bundle, tmp_path):
    b = copy_bundle(tiny_bundle.path, tmp_path)
    update_bundle(b, {"notes/readme.txt": b"hello"})
    assert not (b / SIGNATURE_NAME).exists()  # a stale signature is removed, never left behind
    with pytest.raises(BundleSignatureError, match="unsigned"):
        load_bundle(b)
    from scoligait_edge.export.__main__ import main

    assert main(["--bundle", str(b), "--sign", "--signing-key", str(fixture_signing_key())]) == 0
    assert load_bundle(b).signature.verified


def test_a_bundle_with_a_broken_signature_is_not_re_signed(tiny_bundle, tmp_path):
    b = copy_bundle(tiny_bundle.path, tmp_path)
    edit_manifest(b, lambda m: m["threshold"].__setitem__("value", 0.01))
    with pytest.raises(BundleSignatureError, match="refusing to re-sign"):
        sign_bundle(b, fixture_signing_key())


def test_signed_zip_round_trip_and_tampered_zip_manifest(tiny_bundle, tmp_path):
    for tamper in (False, True):
        z = tmp_path / f"b{int(tamper)}.zip"
        with zipfile.ZipFile(z, "w") as zf:
            for p in sorted(tiny_bundle.path.rglob("*")):
                rel = p.relative_to(tiny_bundle.path).as_posix()
                if p.is_file() and not rel.startswith("engines/"):
                    data = p.read_bytes()
                    if tamper and rel == MANIFEST_NAME:
                        data = data.replace(b'"value": 0.5', b'"value": 0.9')
                    zf.writestr(rel, data)
        if tamper:
            with pytest.raises(BundleSignatureError, match="modified after signing"):
                load_bundle(z)
        else:
            with load_bundle(z) as bundle:
                assert bundle.signature.verified and bundle.is_zip


# ----------------------------------------------------------------- verified bytes, not paths
def _shifted_onnx(path: Path, shift: float) -> bytes:
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    for init in m.graph.initializer:
        if init.name.endswith("screen_head.bias"):
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) + np.float32(shift), init.name))
    return m.SerializeToString()


def test_file_swapped_after_load_is_not_what_runs(tiny_bundle, tmp_path):
    """The backend runs the bytes load_bundle verified: a file swapped on disk afterwards is never run."""
    b = copy_bundle(tiny_bundle.path, tmp_path)
    windows = few(tiny_bundle.windows)
    bundle = load_bundle(b)
    with load_backend(bundle, "onnxruntime", device="cpu") as ref:
        want = ref.infer(windows)["logit"]
    evil = _shifted_onnx(b / "model.onnx", 10.0)
    (b / "model.onnx").write_bytes(evil)  # swapped after load_bundle
    with OnnxRuntimeBackend(b / "model.onnx", device="cpu") as direct:  # the swap would matter ...
        assert np.abs(direct.infer(windows)["logit"] - want).min() > 5.0
    with load_backend(bundle, "onnxruntime", device="cpu") as be:  # ... but the backend runs the verified bytes
        np.testing.assert_allclose(be.infer(windows)["logit"], want, atol=1e-5)

    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with load_backend(bundle, "torch") as ref_t:
        want_t = ref_t.infer(windows)["logit"]
    with safe_open(str(b / "model.safetensors"), "pt") as f:
        meta = f.metadata()
    state = load_file(str(b / "model.safetensors"))
    state["screen_head.bias"] = state["screen_head.bias"] + torch.tensor(10.0)
    save_file(state, str(b / "model.safetensors"), metadata=meta)
    with load_backend(bundle, "torch") as be_t:
        np.testing.assert_allclose(be_t.infer(windows)["logit"], want_t, atol=1e-5)
    with pytest.raises(BundleError, match="model.onnx"):  # a fresh load sees the swap
        load_bundle(b)


def test_bytes_not_kept_are_rehashed_on_use(tiny_bundle, tmp_path):
    b = copy_bundle(tiny_bundle.path, tmp_path)
    bundle = load_bundle(b, limits=BundleLimits(keep_bytes=0))
    (b / "model.onnx").write_bytes(_shifted_onnx(b / "model.onnx", 10.0))
    with pytest.raises(BundleError, match="changed after the bundle was loaded"):
        load_backend(bundle, "onnxruntime", device="cpu")


# ----------------------------------------------------------------- limits
def _zip_of(src: Path, dst: Path, skip: set[str] = frozenset()) -> Path:
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.rglob("*")):
            rel = p.relative_to(src).as_posix()
            if p.is_file() and rel not in skip and not rel.startswith("engines/"):
                zf.write(p, rel)
    return dst


@pytest.mark.parametrize("signed", [True, False])
def test_zip_bomb_member_is_refused_before_anything_is_written(tiny_bundle, tmp_path, monkeypatch, signed):
    """A zip member that inflates past its listed size is refused while streaming, before it is written out."""
    b = copy_bundle(tiny_bundle.path, tmp_path)
    big = 300 * 1024 * 1024
    edit_manifest(b, lambda m: m["files"].__setitem__("model.ort", {"sha256": "0" * 64, "size": big}))
    if signed:
        resign(b)  # even a manifest signed by a trusted key cannot make us inflate 300 MB
    z = _zip_of(b, tmp_path / "bomb.zip", skip={"model.ort"})
    with zipfile.ZipFile(z, "a", compression=zipfile.ZIP_DEFLATED) as zf, zf.open("model.ort", "w") as f:
        zeros = bytes(1 << 20)
        for _ in range(big >> 20):
            f.write(zeros)
    assert z.stat().st_size < 5 * 1024 * 1024
    made = []
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: made.append(a) or pytest.fail("extraction started"))
    with pytest.raises(BundleLimitError, match="model.ort .*over the .*per-file limit"):
        load_bundle(z, allow_unsigned=not signed)
    assert made == []


def test_zip_member_count_and_total_size_limits(tiny_bundle, tmp_path):
    z = _zip_of(tiny_bundle.path, tmp_path / "many.zip")
    with zipfile.ZipFile(z, "a") as zf:
        for i in range(1001):
            zf.writestr(f"junk/{i}.txt", b"x")
    with pytest.raises(BundleLimitError, match="1,0[0-9][0-9] entries, over the limit of 1,000"):
        load_bundle(z)
    z2 = _zip_of(tiny_bundle.path, tmp_path / "ok.zip")
    with pytest.raises(BundleLimitError, match="add up to .* over the"):
        load_bundle(z2, limits=BundleLimits(total_bytes=1000))


def test_oversized_manifest_is_refused_without_reading_it(tiny_bundle, tmp_path):
    """An oversized manifest is refused before it is parsed."""
    b = copy_bundle(tiny_bundle.path, tmp_path)
    with open(b / MANIFEST_NAME, "r+b") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper
    for kw in ({}, {"allow_unsigned": True}):
        with pytest.raises(BundleLimitError, match="manifest.json is 209,715,200 bytes, over the 1,048,576-byte"):
            load_bundle(b, **kw)
    z = tmp_path / "big.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST_NAME, b" " * (2 * 1024 * 1024))
    with pytest.raises(BundleLimitError, match="declares 2,097,152 bytes, over the 1,048,576-byte limit"):
        load_bundle(z, allow_unsigned=True)


def test_deep_manifest_gives_a_clear_error_not_a_recursion_error(tiny_bundle, tmp_path):
    """A deeply nested manifest gets a BundleError, not a RecursionError traceback."""
    b = copy_bundle(tiny_bundle.path, tmp_path)
    deep = b'{"format": "scoligait-bundle", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    (b / MANIFEST_NAME).write_bytes(deep)
    with pytest.raises(BundleSignatureError):  # by default it is not even parsed: the signature fails first
        load_bundle(b)
    with pytest.raises(BundleLimitError, match="nests 100001 levels deep, over the limit of 32"):
        load_bundle(b, allow_unsigned=True)
    resign(b)  # signed by a trusted key and still refused cleanly
    with pytest.raises(BundleLimitError, match="nests 100001 levels deep"):
        load_bundle(b)
    (b / MANIFEST_NAME).write_bytes(b'{"a": "' + b"[" * 1000 + b'"}')  # brackets inside strings do not count
    resign(b)
    with pytest.raises(BundleError, match="not a scoligait-bundle manifest"):
        load_bundle(b)


@pytest.mark.parametrize(
    "field, raw, pattern",
    [
        ("window.frames", "1e18", "window.frames"),
        ("window.frames", "1000000000000000000", "window.frames"),
        ("window.fps", "Infinity", "Infinity is not a number"),
        ("window.fps", "1e999", "overflows to infinity"),
        ("window.fps", "0", "window.fps"),
        ("threshold.value", "1.5", "threshold.value"),
        ("threshold.value", "NaN", "NaN is not a number"),
        ("model.dim", "1e300", "model.dim = 1e\\+300 is out of range"),
        ("files.model.ort.size", "-1", "model.ort`.size"),
    ],
)
def test_out_of_range_manifest_numbers_are_refused(tiny_bundle, tmp_path, field, raw, pattern):
    """Window frames 1e18 and fps inf are refused by the range check (signed by a trusted key, so only that check acts)."""
    b = copy_bundle(tiny_bundle.path, tmp_path)
    man = json.loads((b / MANIFEST_NAME).read_text())
    *path, leaf = field.split(".") if not field.startswith("files.") else ["files", "model.ort", "size"]
    node = man
    for key in path:
        node = node[key]
    node[leaf] = "__RAW__"
    if field == "window.frames":
        man["model"]["window_frames"] = "__RAW__"
    (b / MANIFEST_NAME).write_text(json.dumps(man).replace('"__RAW__"', raw))
    resign(b)
    with pytest.raises(BundleError, match=pattern) as err:
        load_bundle(b)
    assert not isinstance(err.value, BundleSignatureError)


def test_manifest_and_signature_names_are_reserved(tiny_bundle, tmp_path):
    from scoligait_edge.export import write_bundle

    m = load_bundle(tiny_bundle.path).manifest
    with pytest.raises(BundleError, match="written by write_bundle"):
        write_bundle(tmp_path / "x", {SIGNATURE_NAME: b"{}"}, m)


# ----------------------------------------------------------------- TensorRT engine cache (no TensorRT needed)
@pytest.fixture
def fake_tensorrt(monkeypatch):
    """TensorRT 10 and a GPU faked at the module boundary; the build writes a fake plan through the real cache code."""
    import scoligait_edge.export.tensorrt as trt_mod
    import scoligait_edge.runtimes.tensorrt_engine as engine_mod

    builds: list[bytes] = []

    def fake_build(onnx_path, engine_path, *, onnx_bytes, device, batch, text_tokens, precision, **kw):
        builds.append(onnx_bytes)
        plan = b"PLAN %d " % len(builds) + bytes(64)
        meta = engine_mod.EngineMetadata(
            tensorrt_version="10.9.0",
            device_name=device.name,
            compute_capability=device.compute_capability,
            precision=precision,
            typing="fp32",
            onnx_file=Path(onnx_path).name,
            onnx_sha256=hashlib.sha256(onnx_bytes).hexdigest(),
            batch=dataclasses.asdict(batch),
            text_tokens=dataclasses.asdict(text_tokens),
        )
        return engine_mod.write_engine_cache(engine_path, plan, meta), plan

    fake_trt = types.SimpleNamespace(__version__="10.9.0")
    monkeypatch.setattr(trt_mod, "require_tensorrt", lambda: fake_trt)
    monkeypatch.setattr(engine_mod, "cuda_device_info", lambda index=0: engine_mod.DeviceInfo("Fake GPU", "8.7", index))
    monkeypatch.setattr(trt_mod, "_build_engine", fake_build)
    return trt_mod, builds, fake_trt


def test_tensorrt_engine_cache_is_hash_checked(tiny_bundle, tmp_path, fake_tensorrt, caplog):
    """A cached engine is deserialised only when its bytes match the sha256 in its sidecar; the runtime never builds one."""
    from scoligait_edge.runtimes.tensorrt_engine import EngineOptions, load_cached_engine, missing_engine_error

    trt_mod, builds, fake_trt = fake_tensorrt
    bundle = load_bundle(tiny_bundle.path)
    cache = tmp_path / "engines"
    options = EngineOptions(cache_dir=cache)
    assert load_cached_engine(bundle, "fp32", options, fake_trt) is None  # the runtime never builds
    assert "--formats engine --engine-precision fp32" in str(missing_engine_error(bundle, "fp32"))
    path, meta, plan = trt_mod.load_engine(bundle, "fp32", options)
    assert len(builds) == 1 and builds[0] == bundle.format_bytes("onnx")  # built from the verified ONNX bytes
    assert meta.engine_sha256 == hashlib.sha256(plan).hexdigest() and path.read_bytes() == plan
    side = json.loads(path.with_name(path.name + ".json").read_text())
    assert side["engine_sha256"] == meta.engine_sha256 and side["engine_size"] == len(plan)

    again = trt_mod.load_engine(bundle, "fp32", options)
    assert len(builds) == 1 and again[2] == plan  # cached and verified
    assert load_cached_engine(bundle, "fp32", options, fake_trt) == again  # what the backend deserialises

    path.write_bytes(b"EVIL" + plan[4:])  # same size, other bytes
    with caplog.at_level(logging.WARNING, logger="scoligait_edge.runtimes.tensorrt_engine"):
        _, _, rebuilt = trt_mod.load_engine(bundle, "fp32", options)
    assert len(builds) == 2 and rebuilt.startswith(b"PLAN 2") and "does not match the sha256" in caplog.text
    assert path.read_bytes() == rebuilt

    side = json.loads(path.with_name(path.name + ".json").read_text())
    side["engine_sha256"] = ""  # an older sidecar without the record
    path.with_name(path.name + ".json").write_text(json.dumps(side))
    _, _, plan3 = trt_mod.load_engine(bundle, "fp32", options)
    assert len(builds) == 3 and plan3.startswith(b"PLAN 3")
    assert trt_mod.ensure_engine(bundle, "fp32", options)[0] == path and len(builds) == 3


def test_private_key_loading_and_signature_domain(tmp_path):
    priv, _ = generate_keypair(tmp_path / "k.pem")
    with pytest.raises(BundleSignatureError, match="refusing to overwrite"):
        generate_keypair(priv)
    key = load_private_key(priv)
    sig = json.loads(sign_manifest(b"{}", key))
    assert sig["algorithm"] == "ed25519" and len(sig["key_id"]) == 64
    import base64

    from cryptography.exceptions import InvalidSignature

    with pytest.raises(InvalidSignature):  # the signature covers a domain prefix, not the bare bytes
        key.public_key().verify(base64.b64decode(sig["signature"]), b"{}")
