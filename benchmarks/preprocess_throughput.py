"""Preprocessing throughput of ``python -m scoligait_edge.research.preprocess`` engines, measured in one run.

    OMP_NUM_THREADS=1 python benchmarks/preprocess_throughput.py --clips 8 --out out/scale

Cuts ``--clips`` clips of ``--frames`` frames from the bundled sample walk
(full resolution, the default ``full`` pose model), then fills a fresh cache
with each engine: local 1 worker, local 2 workers, Ray 2 workers (a private
local Ray; its start-up is included, as a user would pay it). clips/s counts
processed clips (computed or failed) over the whole build. Prints a Markdown table and writes it,
with the raw results, to ``--out``. docs/SCALE_OUT.md quotes one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import cv2


def cut_clips(src: Path, dst: Path, n_clips: int, frames: int) -> list[Path]:
    """``n_clips`` clips of ``frames`` frames, starting at evenly spaced offsets of ``src``."""
    cap = cv2.VideoCapture(str(src))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    cap.release()
    lo, hi = int(0.15 * total), max(int(0.15 * total), total - frames - int(0.1 * total))  # she is in view
    starts = [lo + round(i * (hi - lo) / max(n_clips - 1, 1)) for i in range(n_clips)]
    out = []
    dst.mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(starts):
        path = dst / f"clip{i:03d}.mp4"
        cap = cv2.VideoCapture(str(src))
        cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        writer = None
        for _ in range(frames):
            ok, frame = cap.read()
            if not ok:
                break
            if writer is None:
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, frame.shape[1::-1])
            writer.write(frame)
        cap.release()
        if writer is not None:
            writer.release()
        out.append(path)
    return out


def driver_write_ms(cache_dir: Path, repeats: int = 5) -> float:
    """What the driver pays per clip (compress + atomic write), the part that does not spread over workers."""
    from scoligait_edge.research.data.cache import ClipCache

    cache = ClipCache(cache_dir, json.loads((cache_dir / "manifest.json").read_text())["config"])
    clip = cache.read(next(c for c, e in cache.manifest.entries.items() if e.status == "ok"))
    t0 = time.perf_counter()
    for _ in range(repeats):
        cache.put(clip)
    return (time.perf_counter() - t0) / repeats * 1000


def main() -> None:
    from scoligait_edge.assets import sample_video_path
    from scoligait_edge.research.preprocess import PreprocessOptions, preprocess

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--pose-model", default="full")
    ap.add_argument("--out", type=Path, default=Path("out/scale"))
    args = ap.parse_args()
    videos = cut_clips(sample_video_path(), args.out / "videos", args.clips, args.frames)
    rows = []
    for engine, workers in (("local", 1), ("local", 2), ("ray", 2)):
        t0 = time.perf_counter()
        res = preprocess(
            PreprocessOptions(
                videos=videos,
                cache_root=args.out / f"cache-{engine}{workers}",
                pose_model=args.pose_model,
                engine=engine,
                workers=workers,
                progress=False,
            )
        )
        wall = time.perf_counter() - t0
        s = res.summary
        done = s.computed + s.failed  # a failing clip costs its pose estimation too
        assert done == len(videos), s.describe()
        rows.append(
            {
                "engine": engine,
                "workers": workers,
                "clips": done,
                "failed": s.failed,
                "seconds": round(wall, 2),
                "clips_per_s": round(done / wall, 3),
            }
        )
        print(rows[-1], flush=True)
    write_ms = driver_write_ms(Path(res.cache_dir))
    base = rows[0]["clips_per_s"]
    lines = [
        f"{args.clips} clips x {args.frames} frames of the sample walk, pose model {args.pose_model}; "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "| engine | workers | wall s | clips/s | vs local 1 |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['engine']} | {r['workers']} | {r['seconds']:.1f} | {r['clips_per_s']:.3f} | "
        f"{r['clips_per_s'] / base:.2f}x |"
        for r in rows
    ]
    lines += [
        "",
        f"driver side: {write_ms:.1f} ms per clip to compress and write one cache file "
        f"(a ceiling of ~{1000 / write_ms:.0f} clips/s for one driver)",
    ]
    table = "\n".join(lines)
    print(table)
    (args.out / "throughput.md").write_text(table + "\n", encoding="utf-8")
    (args.out / "throughput.json").write_text(
        json.dumps({"rows": rows, "driver_write_ms": write_ms}, indent=1) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
