"""A SIMULATED cohort (:func:`~scoligait_edge.research.sim.cohort.make_cohort`) as a data source, with silhouettes."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoligait_edge.core.constants import MAP_FPS
from scoligait_edge.research.data.cache import ClipCache, stable_hash
from scoligait_edge.research.data.engines import ClipJob
from scoligait_edge.research.data.windows import (
    ClipRecord,
    ProcessedClip,
    preprocess_clip,
)
from scoligait_edge.research.sim.cohort import Cohort
from scoligait_edge.video.silhouette import crop_silhouette

if TYPE_CHECKING:
    pass
from scoligait_edge.research.data.source import WindowSource, source_root

# -- simulated --------------------------------------------------------------------------


def _simulate_clip(cohort: Cohort, spec: Any, lead_in: int, silhouettes: bool, scale: float) -> ProcessedClip:
    sim = cohort.simulate(
        spec.model_copy(update={"n_frames": spec.n_frames + lead_in}),
        with_silhouettes=silhouettes,
        silhouette_scale=scale,
    )
    sil = crop_silhouette(sim.silhouettes) if silhouettes and sim.silhouettes is not None else None
    subj = cohort.subjects[spec.subject_id]
    record = ClipRecord(
        clip_id=spec.clip_id,
        subject_id=spec.subject_id,
        split=spec.split,
        provenance="simulated",
        source=f"simulated cohort seed {cohort.seed}, clip seed {spec.seed}",
        cobb_deg=spec.cobb_deg,
        label=spec.label,
        sex=subj.sex,
        age=None,
        fps_in=spec.fps,
        n_frames=0,
        first_frame=int(round(lead_in * MAP_FPS / spec.fps)),
        extra={
            "camera": spec.camera,
            "direction": spec.direction,
            "curve_side": subj.curve_side,
            "confounders": list(subj.confounders),
            "clip_index": spec.clip_index,
        },
    )
    return preprocess_clip(record, sim.keypoints, sim.timestamps_ms, silhouettes=sil)


class SimulatedWindows(WindowSource):
    """Windows from a SIMULATED cohort (provenance 'simulated'; not clinical data).

    Each clip is simulated with ``lead_in_frames`` extra frames before it, so
    the knowledge map's trailing windows (32 frames) are warm when the clip
    proper starts: a cohort of 96-frame clips then gives one full-quality
    96-frame window per clip at frame ``lead_in_frames``. Silhouettes are
    rendered at ``silhouette_scale`` of the camera's image (0.4 of 1280x720:
    the body is ~100 px tall, above the 64 rows kept) and cropped like
    Scoliosis1K. The cache folder is keyed by the whole cohort (seed, sizes,
    settings, subjects, clips) and these options:
    ``<cache_root>/simulated/<hash>``, so a second run is only loading.
    """

    provenance = "simulated"

    def __init__(
        self,
        cohort: Cohort,
        *,
        cache_root: str | Path | None = None,
        lead_in_frames: int = 32,
        silhouettes: bool = True,
        silhouette_scale: float = 0.4,
        progress: bool = True,
        workers: int = 1,
    ) -> None:
        if lead_in_frames < 0:
            raise ValueError(f"lead_in_frames must be >= 0, got {lead_in_frames}")
        if not 0.05 <= silhouette_scale <= 2.0:
            raise ValueError(f"silhouette_scale must be in [0.05, 2], got {silhouette_scale}")
        self.cohort = cohort
        self.lead_in_frames = int(lead_in_frames)
        self.with_silhouettes = bool(silhouettes)
        self.silhouette_scale = float(silhouette_scale)
        config = {
            "kind": "simulated",
            "cohort_hash": stable_hash(cohort),
            "seed": cohort.seed,
            "n_subjects": len(cohort.subjects),
            "n_clips": len(cohort.clips),
            "lead_in_frames": self.lead_in_frames,
            "silhouettes": self.with_silhouettes,
            "silhouette_scale": self.silhouette_scale,
        }
        folder = source_root(cache_root) / "simulated" / stable_hash(config)[:16]
        super().__init__(ClipCache(folder, config), progress=progress, workers=workers)

    def _jobs(self) -> list[ClipJob]:
        def job(spec: Any) -> ClipJob:
            return ClipJob(
                clip_id=spec.clip_id,
                source_key=stable_hash(spec)[:16],
                compute=partial(
                    _simulate_clip, self.cohort, spec, self.lead_in_frames, self.with_silhouettes, self.silhouette_scale
                ),
            )

        return [job(s) for s in self.cohort.clips]
