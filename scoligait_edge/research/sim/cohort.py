"""SIMULATED walker, part 3: subject-disjoint cohorts (like ScoliGait's protocol).

Several clips per training subject, exactly one per validation/test subject,
and no subject in two splits (checked; a leak raises :class:`SplitLeakError`).
A cohort only *lists* clips (:class:`ClipSpec`); frames are simulated when a
clip is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scoligait_edge.core.constants import WINDOW_FRAMES
from scoligait_edge.errors import SplitLeakError
from scoligait_edge.research.sim.body import SubjectParams, sample_cobb, sample_subject
from scoligait_edge.research.sim.camera import FRONTAL_DIRECTIONS, SIDE_DIRECTIONS, Direction, View
from scoligait_edge.research.sim.settings import SimulationSettings

if TYPE_CHECKING:
    from scoligait_edge.research.sim.simulate import SimulatedClip

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
DEFAULT_CAMERA_MIX: dict[View, float] = {"frontal": 0.8, "side": 0.2}
"""Share of clips per camera: mostly frontal (toward / away), as in ScoliGait and Scoliosis1K."""


def check_subject_disjoint(splits: Mapping[str, Iterable[str]]) -> None:
    """Raise :class:`SplitLeakError` if any subject id is in more than one split.

    ``splits`` maps split name -> subject ids (repeats inside one split are fine).
    """
    seen: dict[str, str] = {}
    leaks: dict[str, set[str]] = {}
    for name, ids in splits.items():
        for sid in set(ids):
            if sid in seen and seen[sid] != name:
                leaks.setdefault(sid, {seen[sid]}).add(name)
            else:
                seen[sid] = name
    if leaks:
        shown = ", ".join(f"{k} in {sorted(v)}" for k, v in sorted(leaks.items())[:5])
        raise SplitLeakError(
            f"{len(leaks)} subject(s) appear in more than one split ({shown}"
            f"{', ...' if len(leaks) > 5 else ''}); assign every subject to exactly one split."
        )


class ClipSpec(BaseModel):
    """Everything needed to simulate one clip of a cohort (no frames)."""

    model_config = ConfigDict(frozen=True)

    provenance: Literal["simulated"] = "simulated"
    subject_id: str
    clip_id: str
    split: Split
    clip_index: int
    seed: int
    camera: View
    direction: Direction
    n_frames: int
    fps: float
    cobb_deg: float
    label: int


class Cohort(BaseModel):
    """A SIMULATED, subject-disjoint cohort: subjects and lazily-simulated clips.

    Construction checks disjointness and raises :class:`SplitLeakError` (a
    ``ValueError``) on a leak; ``Cohort.model_validate(...)`` /
    ``model_validate_json`` run the same check but pydantic reports it as a
    ``ValidationError`` (also a ``ValueError``) quoting the leak.
    """

    model_config = ConfigDict(frozen=True)

    provenance: Literal["simulated"] = "simulated"
    seed: int
    settings: SimulationSettings = Field(default_factory=SimulationSettings)
    subjects: dict[str, SubjectParams]
    clips: tuple[ClipSpec, ...]

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self.check()  # outside pydantic validation so the error type is kept

    def check(self) -> None:
        """Subject-disjoint splits, every clip's subject known, labels consistent."""
        by_split: dict[str, list[str]] = {s: [] for s in SPLITS}
        for c in self.clips:
            by_split[c.split].append(c.subject_id)
        check_subject_disjoint(by_split)
        missing = {c.subject_id for c in self.clips} - set(self.subjects)
        if missing:
            raise ValueError(f"clips refer to unknown subjects: {sorted(missing)[:5]}")
        for c in self.clips:
            if c.label != self.subjects[c.subject_id].label:
                raise ValueError(f"clip {c.clip_id}: label {c.label} != its subject's label")

    def specs(self, split: Split | None = None) -> list[ClipSpec]:
        return [c for c in self.clips if split is None or c.split == split]

    def subject_ids(self, split: Split) -> list[str]:
        return sorted({c.subject_id for c in self.clips if c.split == split})

    def labels(self, split: Split) -> np.ndarray:
        return np.array([c.label for c in self.specs(split)], dtype=np.int64)

    def simulate(self, spec: ClipSpec, **kwargs: Any) -> SimulatedClip:
        """Simulate the frames of one clip; ``kwargs`` go to ``simulate_clip``
        (e.g. ``with_silhouettes=True``)."""
        from scoligait_edge.research.sim.simulate import simulate_clip

        return simulate_clip(
            self.subjects[spec.subject_id],
            n_frames=spec.n_frames,
            fps=spec.fps,
            camera=spec.camera,
            direction=spec.direction,
            seed=spec.seed,
            settings=self.settings,
            clip_id=spec.clip_id,
            **kwargs,
        )

    def iter_clips(self, split: Split | None = None, **kwargs: Any) -> Iterator[SimulatedClip]:
        for spec in self.specs(split):
            yield self.simulate(spec, **kwargs)

    def summary(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for sp in SPLITS:
            specs = self.specs(sp)
            subj = self.subject_ids(sp)
            out[sp] = {
                "subjects": len(subj),
                "clips": len(specs),
                "positive_subjects": sum(self.subjects[s].label for s in subj),
                "positive_clips": sum(c.label for c in specs),
            }
        return out


def _check_cohort_arguments(
    n_subjects: int, prevalence: float, val_fraction: float, test_fraction: float, clips_per_train_subject: int
) -> None:
    if n_subjects < 1:
        raise ValueError(f"n_subjects must be >= 1, got {n_subjects}")
    if not (0.0 <= prevalence <= 1.0):
        raise ValueError(f"prevalence must be in [0, 1], got {prevalence}")
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1.0:
        raise ValueError("val_fraction and test_fraction must be >= 0 and sum to < 1")
    if clips_per_train_subject < 1:
        raise ValueError("clips_per_train_subject must be >= 1")


def _camera_weights(camera_mix: Mapping[View, float] | None) -> tuple[list[View], np.ndarray]:
    """The views in a fixed (sorted) order and their probabilities, checked and normalised."""
    mix = dict(camera_mix or DEFAULT_CAMERA_MIX)
    if not mix or any(k not in ("side", "frontal") or v < 0 for k, v in mix.items()) or sum(mix.values()) <= 0:
        raise ValueError(f"camera_mix must map 'side'/'frontal' to non-negative weights, got {mix}")
    cams = sorted(mix)
    probs = np.array([mix[c] for c in cams], dtype=np.float64)
    probs /= probs.sum()
    return cams, probs


def _draw_subjects(labels: np.ndarray, seed: int, s: SimulationSettings) -> dict[str, SubjectParams]:
    """One subject per label, each from its own seed, so a subject does not depend on the cohort's size."""
    subjects: dict[str, SubjectParams] = {}
    for i in range(len(labels)):
        r = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0x5B1EC7, i]))
        sid = f"sim{seed}-{i:05d}"
        cobb = sample_cobb(r, bool(labels[i]), s)
        subjects[sid] = sample_subject(r, sid, cobb_deg=cobb, settings=s)
    return subjects


def _stratified_splits(
    subjects: Mapping[str, SubjectParams],
    labels: np.ndarray,
    r_split: np.random.Generator,
    val_fraction: float,
    test_fraction: float,
) -> dict[str, Split]:
    """Each subject's split, shuffled and cut per label so every split keeps the prevalence."""
    split_of: dict[str, Split] = {}
    ids = np.array(list(subjects))
    for lab in (0, 1):
        group = ids[labels == lab]
        group = group[r_split.permutation(group.size)]
        n_test = int(round(test_fraction * group.size))
        n_val = int(round(val_fraction * group.size))
        for j, sid in enumerate(group):
            split_of[str(sid)] = "test" if j < n_test else ("val" if j < n_test + n_val else "train")
    return split_of


def _subject_clips(
    i: int,
    subject: SubjectParams,
    split: Split,
    n_clips: int,
    seed: int,
    cams: Sequence[View],
    probs: np.ndarray,
    n_frames: int,
    fps: float,
) -> list[ClipSpec]:
    """The clip specs of the ``i``-th subject: view, direction and seed per clip, from the subject's own stream."""
    sid = subject.subject_id
    r = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0xC11B, i]))
    clips: list[ClipSpec] = []
    for c in range(n_clips):
        cam: View = cams[int(r.choice(len(cams), p=probs))]
        options = SIDE_DIRECTIONS if cam == "side" else FRONTAL_DIRECTIONS
        direction: Direction = options[int(r.integers(len(options)))]
        clips.append(
            ClipSpec(
                subject_id=sid,
                clip_id=f"{sid}-c{c}",
                split=split,
                clip_index=c,
                seed=int(r.integers(0, 2**31 - 1)),
                camera=cam,
                direction=direction,
                n_frames=n_frames,
                fps=fps,
                cobb_deg=subject.cobb_deg,
                label=subject.label,
            )
        )
    return clips


def make_cohort(
    n_subjects: int,
    *,
    prevalence: float = 0.5,
    clips_per_train_subject: int = 3,
    seed: int = 0,
    settings: SimulationSettings | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    camera_mix: Mapping[View, float] | None = None,
    n_frames: int = WINDOW_FRAMES,
    fps: float = 30.0,
) -> Cohort:
    """Draw a SIMULATED cohort of ``n_subjects`` with subject-disjoint splits.

    Exactly ``round(prevalence * n_subjects)`` subjects are positive (Cobb >= 10);
    splits are stratified by label. Training subjects get
    ``clips_per_train_subject`` clips, val/test subjects one each. Each clip's
    camera is drawn from ``camera_mix`` (default 80 % frontal, 20 % side, as most
    ScoliGait / Scoliosis1K clips are frontal) with a random direction. ``n_frames`` defaults to 96 (ScoliGait's 96 frames at 30 Hz).
    """
    s = settings or SimulationSettings()
    _check_cohort_arguments(n_subjects, prevalence, val_fraction, test_fraction, clips_per_train_subject)
    cams, probs = _camera_weights(camera_mix)
    root = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0xC0407])
    r_split = np.random.default_rng(root.spawn(1)[0])
    n_pos = int(round(prevalence * n_subjects))
    labels = np.array([1] * n_pos + [0] * (n_subjects - n_pos))
    r_split.shuffle(labels)
    subjects = _draw_subjects(labels, seed, s)
    split_of = _stratified_splits(subjects, labels, r_split, val_fraction, test_fraction)
    clips: list[ClipSpec] = []
    for i, (sid, subject) in enumerate(subjects.items()):
        n_clips = clips_per_train_subject if split_of[sid] == "train" else 1
        clips += _subject_clips(i, subject, split_of[sid], n_clips, seed, cams, probs, n_frames, fps)
    return Cohort(seed=int(seed), settings=s, subjects=subjects, clips=tuple(clips))
