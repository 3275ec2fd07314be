"""What an evaluation needs from a truth source (the demo archive's truth folder, or a labelled real set): the
evaluators in segmentation/ and linking/ take this protocol, so production code never imports a generator."""
from __future__ import annotations

from typing import Optional, Protocol

import numpy as np


class Truth(Protocol):
    def mark_for(self, annotation) -> Optional[dict]:
        """The truth mark an extracted annotation is (keys: mark_id, lesion_id, series_uid, kind, style, length_mm,
        ...), or None for a mark outside the truth."""

    def lesion_labels(self, series_uid: str) -> np.ndarray:
        """Integer lesion ids on the series' (slice, row, column) grid."""

    def reports(self) -> list[dict]:
        """Truth reports: study_uid and sentences (section, text, mark_id, role, start, end)."""

    @property
    def fingerprint(self) -> str:
        """Changes when the truth does (an evaluation stage re-runs)."""
