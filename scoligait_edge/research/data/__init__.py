"""Data sources for the research wing, one module each, and what they share.

- :mod:`~scoligait_edge.research.data.simulated`: a SIMULATED cohort, with silhouettes;
- :mod:`~scoligait_edge.research.data.videos`: a folder of labelled videos, or unlabelled video lists;
- :mod:`~scoligait_edge.research.data.scoliosis1k`: Scoliosis1K in the OpenGait layout;
- :mod:`~scoligait_edge.research.data.source`: the per-clip cache in front of every source;
- :mod:`~scoligait_edge.research.data.splits`: splits by subject (a leak raises);
- :mod:`~scoligait_edge.research.data.torch_dataset`: what a torch ``DataLoader`` consumes.
"""

from __future__ import annotations

from scoligait_edge.core.lazy import lazy_face

_LAZY: dict[str, str] = {
    "scoliosis1k": "S1K_BINARY S1K_CLASSES S1K_SUBJECT_NOTE Scoliosis1K Scoliosis1KSequence SequenceAlignmentError align_pose_to_silhouettes load_scoliosis1k_pose load_scoliosis1k_pose_frames load_scoliosis1k_silhouettes load_scoliosis1k_split",
    "simulated": "SimulatedWindows",
    "source": "WindowSource",
    "splits": "assert_subject_disjoint make_splits ratio_split",
    "torch_dataset": "WindowDataset collate_windows",
    "videos": "LABEL_COLUMNS LabelRow OPTIONAL_COLUMNS ScoliGaitFolder read_labels_csv",
}
"""Submodule -> the public names it defines (imported on first use)."""

__getattr__, __dir__, __all__ = lazy_face(__name__, _LAZY)
