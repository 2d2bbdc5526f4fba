"""Knowledge-map demo: a real walking video -> tracked skeleton -> 238-feature map + gait events.

``python -m scoligait_edge.research.kmap_demo [--video PATH] [--pose-model lite|full|PATH] [--out DIR]``
(``make demo`` runs it on the bundled sample video). No screening model is
involved yet: this shows the interpretable representation the model reads.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

import numpy as np

from scoligait_edge.assets import sample_video_path
from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.core.schema import FEATURE_NAMES
from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.kinematics.builder import build_knowledge_map
from scoligait_edge.kinematics.events import detect_gait_events
from scoligait_edge.kinematics.resample import resample_keypoints

log = logging.getLogger("scoligait_edge.research.kmap_demo")


def run(video: Path, out_dir: Path, pose_model: str = "full", roi: tuple[int, int, int, int] | None = None) -> dict:
    """Run the whole chain and write the outputs; returns the summary it prints."""
    from scoligait_edge.pose.loaders import save_pose_sequence
    from scoligait_edge.research.extract import extract_pose_sequence
    from scoligait_edge.viz.heatmap import plot_knowledge_map

    out_dir.mkdir(parents=True, exist_ok=True)
    seq = extract_pose_sequence(video, model=pose_model, roi=roi, progress=True)
    save_pose_sequence(out_dir / "pose_sequence.npz", seq)
    # resample once: the map and the events share the same 30 Hz rows
    kp30, grid_ms = resample_keypoints(seq.keypoints, seq.timestamps_ms)
    kmap = build_knowledge_map(kp30, MAP_FPS)
    kmap = dataclasses.replace(kmap, timestamps_ms=grid_ms)
    events = detect_gait_events(kp30, fps=kmap.fps)
    np.savez_compressed(
        out_dir / "knowledge_map.npz",
        values=kmap.values,
        valid=kmap.valid,
        timestamps_ms=kmap.timestamps_ms,
        feature_names=np.array(FEATURE_NAMES),
        schema_version=kmap.schema_version,
        schema_hash=kmap.schema_hash,
    )
    (out_dir / "gait_events.json").write_text(events.model_dump_json(indent=2), encoding="utf-8")
    plot_knowledge_map(
        kmap, out_dir / "knowledge_map.png", events=events, title=f"{video.name}: knowledge map and heel strikes"
    )
    tracked = np.isfinite(seq.keypoints[:, 11, 0])
    cadence = events.cadence()
    summary = {
        "video": str(video),
        "frames": int(len(seq.timestamps_ms)),
        "subject_tracked_frames": int(tracked.sum()),
        "map_rows_30hz": len(kmap),
        "valid_rows": int(kmap.valid.sum()),
        "view": events.view,
        "heel_strikes": {s: events.heel_strikes[s] for s in ("left", "right")},
        "steps": events.n_steps,
        "cadence_steps_per_min": None if cadence is None else round(cadence, 1),
        "complete_cycles": events.complete_cycles(),
        "outputs": sorted({p.name for p in out_dir.iterdir()} | {"summary.json"}),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scoligait_edge.research.kmap_demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--video", type=Path, default=None, help="walking video (default: the bundled sample)")
    parser.add_argument("--pose-model", default="full", help="lite, full, or the path of a .task bundle")
    parser.add_argument("--roi", default=None, help="x,y,w,h in pixels: only people whose hips are inside")
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    video = args.video or sample_video_path()
    roi = None
    if args.roi:
        try:
            x, y, w, h = (int(v) for v in args.roi.split(","))
        except ValueError:
            parser.error("--roi must be four integers x,y,w,h")
        roi = (x, y, w, h)
    try:
        summary = run(video, args.out, args.pose_model, roi)
    except ScoliGaitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Knowledge map of {summary['video']}")
    print(
        f"  frames {summary['frames']}, subject tracked in {summary['subject_tracked_frames']}, "
        f"map rows (30 Hz) {summary['map_rows_30hz']}, valid {summary['valid_rows']}"
    )
    print(
        f"  view {summary['view']}, steps {summary['steps']} (left {summary['heel_strikes']['left']}, "
        f"right {summary['heel_strikes']['right']}), cadence {summary['cadence_steps_per_min']} steps/min, "
        f"complete cycles {summary['complete_cycles']}"
    )
    print(f"  wrote {args.out}/: {', '.join(summary['outputs'])}")
    print("  (representation only: no screening model is involved in this demo)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
