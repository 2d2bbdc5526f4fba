"""`make demo`'s job, end to end on the real video, and its error path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scoligait_edge.research import kmap_demo


@pytest.mark.slow
def test_demo_writes_map_heatmap_and_events(tmp_path, real_video, capsys):
    assert kmap_demo.main(["--video", str(real_video), "--pose-model", "lite", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert 6 <= summary["steps"] <= 9
    data = np.load(tmp_path / "knowledge_map.npz", allow_pickle=False)
    assert data["values"].shape == (summary["map_rows_30hz"], 238) and data["valid"].sum() > 100
    png = (tmp_path / "knowledge_map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    events = json.loads((tmp_path / "gait_events.json").read_text())
    assert events["heel_strikes"]["left"] and events["heel_strikes"]["right"]
    assert "no screening model" in capsys.readouterr().out


def test_demo_reports_a_missing_video_without_a_traceback(tmp_path, capsys):
    assert kmap_demo.main(["--video", str(tmp_path / "missing.mp4"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "missing.mp4" in err and "Traceback" not in err
