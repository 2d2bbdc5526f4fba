"""Data sources for the research wing, one module each, and what they share.

- :mod:`~scoligait_edge.research.data.simulated`: a SIMULATED cohort, with silhouettes;
- :mod:`~scoligait_edge.research.data.videos`: a folder of labelled videos, or unlabelled video lists;
- :mod:`~scoligait_edge.research.data.scoliosis1k`: Scoliosis1K in the OpenGait layout;
- :mod:`~scoligait_edge.research.data.source`: the per-clip cache in front of every source;
- :mod:`~scoligait_edge.research.data.splits`: splits by subject (a leak raises);
- :mod:`~scoligait_edge.research.data.torch_dataset`: what a torch ``DataLoader`` consumes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scoligait_edge.core.lazy import lazy_face

if TYPE_CHECKING:
    from scoligait_edge.research.data.scoliosis1k import (
        S1K_BINARY,
        S1K_CLASSES,
        S1K_SUBJECT_NOTE,
        Scoliosis1K,
        Scoliosis1KSequence,
        SequenceAlignmentError,
        align_pose_to_silhouettes,
        load_scoliosis1k_pose,
        load_scoliosis1k_pose_frames,
        load_scoliosis1k_silhouettes,
        load_scoliosis1k_split,
    )
    from scoligait_edge.research.data.simulated import SimulatedWindows
    from scoligait_edge.research.data.source import WindowSource
    from scoligait_edge.research.data.splits import assert_subject_disjoint, make_splits, ratio_split
    from scoligait_edge.research.data.torch_dataset import WindowDataset, collate_windows
    from scoligait_edge.research.data.videos import (
        LABEL_COLUMNS,
        OPTIONAL_COLUMNS,
        LabelRow,
        ScoliGaitFolder,
        read_labels_csv,
    )

_NAMES: dict[str, str] = {
    "LABEL_COLUMNS": "videos",
    "LabelRow": "videos",
    "OPTIONAL_COLUMNS": "videos",
    "S1K_BINARY": "scoliosis1k",
    "S1K_CLASSES": "scoliosis1k",
    "S1K_SUBJECT_NOTE": "scoliosis1k",
    "ScoliGaitFolder": "videos",
    "Scoliosis1K": "scoliosis1k",
    "Scoliosis1KSequence": "scoliosis1k",
    "SequenceAlignmentError": "scoliosis1k",
    "SimulatedWindows": "simulated",
    "WindowDataset": "torch_dataset",
    "WindowSource": "source",
    "align_pose_to_silhouettes": "scoliosis1k",
    "assert_subject_disjoint": "splits",
    "collate_windows": "torch_dataset",
    "load_scoliosis1k_pose": "scoliosis1k",
    "load_scoliosis1k_pose_frames": "scoliosis1k",
    "load_scoliosis1k_silhouettes": "scoliosis1k",
    "load_scoliosis1k_split": "scoliosis1k",
    "make_splits": "splits",
    "ratio_split": "splits",
    "read_labels_csv": "videos",
}
"""Public name -> the module that defines it (imported on first use)."""

__getattr__, __dir__ = lazy_face(__name__, _NAMES)

__all__ = [
    "LABEL_COLUMNS",
    "LabelRow",
    "OPTIONAL_COLUMNS",
    "S1K_BINARY",
    "S1K_CLASSES",
    "S1K_SUBJECT_NOTE",
    "ScoliGaitFolder",
    "Scoliosis1K",
    "Scoliosis1KSequence",
    "SequenceAlignmentError",
    "SimulatedWindows",
    "WindowDataset",
    "WindowSource",
    "align_pose_to_silhouettes",
    "assert_subject_disjoint",
    "collate_windows",
    "load_scoliosis1k_pose",
    "load_scoliosis1k_pose_frames",
    "load_scoliosis1k_silhouettes",
    "load_scoliosis1k_split",
    "make_splits",
    "ratio_split",
    "read_labels_csv",
]
