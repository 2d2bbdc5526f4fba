"""Release plumbing: one version, a changelog, the docs hook's link rewriting and the dist checker."""

from __future__ import annotations

import importlib.util
import re
import tarfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_version_lives_in_one_place():
    import scoligait_edge

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    dynamic = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "scoligait_edge.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([a-z]+\d+)?", scoligait_edge.__version__)


def test_changelog_keeps_a_changelog_shape():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog")
    assert "## [Unreleased]" in text
    assert "keepachangelog.com" in text and "semver.org" in text


def test_docs_hook_rewrites_links_of_included_files(tmp_path):
    import pytest

    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    hook = _load(ROOT / "docs" / "hooks" / "include.py", "docs_include_hook")
    root, docs = tmp_path, tmp_path / "docs"
    (docs / "api").mkdir(parents=True)
    (docs / "GUIDE.md").write_text("x")
    (root / "CHANGELOG.md").write_text("y")
    hook._INCLUDED[(root / "CHANGELOG.md").resolve()] = (docs / "changelog.md").resolve()
    try:
        text = (
            "[guide](docs/GUIDE.md#part) [cfg](configs/a.yaml) [`configs/a.yaml`](configs/a.yaml) "
            "[web](https://example.org) [here](#top) [log](CHANGELOG.md) ![img](docs/x.png)"
        )
        out = hook._rewrite_links(
            text, (root / "README.md").resolve(), (docs / "api").resolve(), docs.resolve(), root.resolve()
        )
    finally:
        hook._INCLUDED.clear()
    assert "[guide](../GUIDE.md#part)" in out
    assert "cfg (`configs/a.yaml`)" in out and "[`configs/a.yaml`](" not in out
    assert "[web](https://example.org)" in out and "[here](#top)" in out
    assert "[log](../changelog.md)" in out
    assert "![img](docs/x.png)" in out  # images are left alone


def _fake_dist(dist: Path, version: str, drop: str | None = None) -> None:
    check = _load(ROOT / ".ci" / "check_dist.py", "check_dist")
    dist.mkdir()
    with zipfile.ZipFile(dist / f"scoligait_edge-{version}-py3-none-any.whl", "w") as z:
        for name in check.WHEEL_FILES:
            if name != drop:
                z.writestr(name, "")
        z.writestr(
            f"scoligait_edge-{version}.dist-info/METADATA",
            'Requires-Dist: numpy>=2.0\nRequires-Dist: torch==2.13.0; extra == "train"\n',
        )
    src = dist / "src"
    for name in check.SDIST_FILES:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text("")
    with tarfile.open(dist / f"scoligait_edge-{version}.tar.gz", "w:gz") as t:
        t.add(src, arcname=f"scoligait_edge-{version}")
    for p in sorted(src.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    src.rmdir()


def test_dist_checker_accepts_complete_artifacts_and_names_what_is_missing(tmp_path, capsys):
    check = _load(ROOT / ".ci" / "check_dist.py", "check_dist")
    _fake_dist(tmp_path / "good", check.VERSION)
    assert check.main(tmp_path / "good") == 0
    _fake_dist(tmp_path / "bad", check.VERSION, drop="scoligait_edge/py.typed")
    assert check.main(tmp_path / "bad") == 1
    assert "missing scoligait_edge/py.typed" in capsys.readouterr().out
    _fake_dist(tmp_path / "old", "0.0.1")
    assert check.main(tmp_path / "old") == 1
