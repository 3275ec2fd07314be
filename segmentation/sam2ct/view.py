"""The slice orientation a model is run on.

opseg volumes are DICOM-ordered (slice, row, column), the way ``load_volume`` reads a series and ``load_case``
presents a NIfTI (reoriented to LPS). The SAM2CT reference runs its weights on ``nibabel_array[:, :, z]`` of an
ITK-style NIfTI, whose first axis is the DICOM column: its slices are the DICOM slices transposed (image
height = DICOM column, width = DICOM row). ``transposed`` is that view (the default for SAM2CT-layout
checkpoints and for opseg's training); ``dicom`` keeps the display orientation (default for SAM2 / SAM2.1 /
MedSAM2 checkpoints). Prompts are mapped into the view and masks back; the transposition is its own inverse.
"""
from __future__ import annotations

import numpy as np

VIEWS = ("transposed", "dicom")


def view_for(layout: str | None, view: str = "auto") -> str:
    if view != "auto":
        if view not in VIEWS:
            raise ValueError(f"view must be auto or one of {VIEWS}, not {view!r}")
        return view
    return "dicom" if layout == "sam2" else "transposed"


def to_view(volume: np.ndarray, view: str) -> np.ndarray:
    """(slice, row, col) -> the model view (and back: the same call)."""
    return volume.transpose(0, 2, 1) if view == "transposed" else volume
