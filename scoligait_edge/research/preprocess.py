"""``python -m scoligait_edge.research.preprocess``: fill the per-clip cache for a cohort, here or on Ray.

    python -m scoligait_edge.research.preprocess FOLDER [--labels labels.csv]        # a ScoliGait-style folder
    python -m scoligait_edge.research.preprocess --videos a.mp4 b.mp4 ...             # unlabelled videos
    ... --engine ray [--address auto] --workers 2                           # Ray (local or a cluster)

Pose estimation dominates (tens of ms a frame), so clips are spread over
workers, one task per clip. The cache is the one training reads
(``data.kind: scoligait`` with the same ``cache_dir`` and pose model), so a
cohort preprocessed on a cluster is only loaded by ``scoligait_edge.research.train``.
Reruns skip cached clips; a failing clip is recorded with its reason and the
run goes on (``--retry-failed`` tries those again). Exit status: 0; 1 when
every clip failed; 2 for a usage error. See docs/SCALE_OUT.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.errors import ScoliGaitError
from scoligait_edge.research.data.cache import BuildSummary
from scoligait_edge.research.data.engines import ClipEngine

log = logging.getLogger(__name__)


class PreprocessOptions(BaseModel):
    """What one preprocessing run does (the CLI's arguments, validated)."""

    model_config = ConfigDict(extra="forbid")

    folder: Path | None = None
    labels: str = "labels.csv"
    videos: list[Path] = Field(default_factory=list)
    cache_root: Path | None = None
    pose_model: Literal["lite", "full", "heavy"] = "full"
    engine: Literal["local", "ray"] = "local"
    workers: int | None = Field(default=None, ge=1)
    address: str | None = None
    cpus_per_task: float = Field(default=1.0, gt=0)
    gpus_per_task: float = Field(default=0.0, ge=0)
    max_retries: int = Field(default=3, ge=0)
    retry_failed: bool = False
    progress: bool = True


class PreprocessResult(BaseModel):
    """What a run did, and where the cache is."""

    cache_dir: str
    engine: str
    workers: int | None
    summary: BuildSummary
    clips_per_second: float


def make_engine(opts: PreprocessOptions) -> ClipEngine | None:
    """None: the cache's own serial path (``--engine local --workers 1``)."""
    if opts.engine == "ray":
        from scoligait_edge.research.data.ray_engine import RayEngine

        return RayEngine(
            address=opts.address,
            workers=opts.workers,
            cpus_per_task=opts.cpus_per_task,
            gpus_per_task=opts.gpus_per_task,
            max_retries=opts.max_retries,
        )
    if opts.address is not None:
        raise ValueError("--address joins a Ray cluster: use it with --engine ray")
    workers = opts.workers or 1
    if workers == 1:
        return None
    from scoligait_edge.research.data.engines import LocalEngine

    return LocalEngine(workers)


def preprocess(opts: PreprocessOptions) -> PreprocessResult:
    """Preprocess every clip of a folder or video list that is not cached yet."""
    from scoligait_edge.research.data.source import WindowSource
    from scoligait_edge.research.data.videos import ScoliGaitFolder, VideoList

    if (opts.folder is None) == (not opts.videos):
        raise ValueError("give either a dataset folder or --videos / --video-list, not both and not neither")
    source: WindowSource
    if opts.folder is not None:
        source = ScoliGaitFolder(
            opts.folder,
            labels=opts.labels,
            cache_root=opts.cache_root,
            pose_model=opts.pose_model,
            progress=opts.progress,
        )
    else:
        source = VideoList(opts.videos, cache_root=opts.cache_root, pose_model=opts.pose_model, progress=opts.progress)
    engine = make_engine(opts)
    summary = source.build_cache(retry_failed=opts.retry_failed, engine=engine)
    rate = summary.computed / summary.seconds if summary.seconds else 0.0
    return PreprocessResult(
        cache_dir=str(source.cache.root),
        engine=opts.engine,
        workers=opts.workers,
        summary=summary,
        clips_per_second=round(rate, 4),
    )


def _read_list(path: Path) -> list[Path]:
    base = path.parent
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [(base / ln) if not Path(ln).is_absolute() else Path(ln) for ln in lines if ln and not ln.startswith("#")]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scoligait_edge.research.preprocess",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:6]),
    )
    p.add_argument("folder", nargs="?", type=Path, help="ScoliGait-style folder: videos + labels CSV")
    p.add_argument("--labels", default="labels.csv", help="labels CSV inside the folder (default labels.csv)")
    p.add_argument("--videos", nargs="+", type=Path, default=[], help="unlabelled videos (clip id = file stem)")
    p.add_argument("--video-list", type=Path, help="a text file with one video path per line")
    p.add_argument("--cache-root", type=Path, default=None, help="default: $SCOLIGAIT_CACHE or ~/.cache/scoligait_edge")
    p.add_argument("--pose-model", choices=("lite", "full", "heavy"), default="full")
    p.add_argument("--engine", choices=("local", "ray"), default="local")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local: processes (default 1); ray: CPUs of the local Ray, or tasks in flight on a cluster",
    )
    p.add_argument("--address", default=None, help="Ray cluster to join ('auto' = the one this node belongs to)")
    p.add_argument("--cpus-per-task", type=float, default=1.0)
    p.add_argument("--gpus-per-task", type=float, default=0.0)
    p.add_argument("--max-retries", type=int, default=3, help="Ray: retries of a clip whose worker or node died")
    p.add_argument("--retry-failed", action="store_true", help="try clips that failed in an earlier run again")
    p.add_argument("--summary-json", type=Path, default=None, help="also write the result here")
    p.add_argument("--no-progress", action="store_true")
    return p


def _options(args: argparse.Namespace) -> PreprocessOptions:
    """The run's options from the parsed arguments (the --video-list file read into the video list)."""
    videos = list(args.videos) + (_read_list(args.video_list) if args.video_list else [])
    return PreprocessOptions(
        folder=args.folder,
        labels=args.labels,
        videos=videos,
        cache_root=args.cache_root,
        pose_model=args.pose_model,
        engine=args.engine,
        workers=args.workers,
        address=args.address,
        cpus_per_task=args.cpus_per_task,
        gpus_per_task=args.gpus_per_task,
        max_retries=args.max_retries,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = preprocess(_options(args))
    except (ScoliGaitError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.summary_json is not None:
        args.summary_json.parent.mkdir(parents=True, exist_ok=True)
        args.summary_json.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    s = result.summary
    print(f"{result.cache_dir}: {s.describe()} in {s.seconds:.1f} s ({result.clips_per_second:.3f} clips/s computed)")
    for cid, why in sorted(s.failures.items()):
        print(f"  failed {cid}: {why}")
    return 0 if s.failed + s.failed_before < s.total or s.total == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
