"""Reading the demo archive's truth: which truth mark an extracted annotation is."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np


def load_truth(demo_dir: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (Path(demo_dir) / "truth" / name).read_text().splitlines() if line.strip()]


def truth_mark(annotation, truth: list[dict]) -> Optional[dict]:
    """The truth mark drawn by the same GSPS/SR object on the same slice with the same kind, nearest in geometry."""
    best = None
    for t in truth:
        if t["source_sop_uid"] != annotation.source_sop_uid or t["kind"] != annotation.kind \
                or t["slice_index"] != annotation.slice_index:
            continue
        ref = np.asarray(t["tip_px"] if annotation.kind == "arrow" else t["points_px"], float).reshape(-1, 2)
        mine = np.asarray(annotation.tip_px if annotation.kind == "arrow" else annotation.points_px, float).reshape(-1, 2)
        d = float(np.abs(ref.mean(axis=0) - mine.mean(axis=0)).max())
        if best is None or d < best[0]:
            best = (d, t)
    return best[1] if best and best[0] < 1.0 else None


class DemoTruth:
    """The demo archive's truth folder behind curation.io.truth.Truth."""

    def __init__(self, demo_dir: Path):
        self.folder = Path(demo_dir)
        self._marks = load_truth(self.folder, "annotations.jsonl")
        self._labels: dict[str, np.ndarray] = {}

    def mark_for(self, annotation) -> Optional[dict]:
        return truth_mark(annotation, self._marks)

    def lesion_labels(self, series_uid: str) -> np.ndarray:
        if series_uid not in self._labels:
            import nibabel as nib

            img = nib.load(self.folder / "truth" / "masks" / f"{series_uid}.nii.gz")
            self._labels[series_uid] = np.asarray(img.dataobj).transpose(2, 1, 0)
        return self._labels[series_uid]

    def reports(self) -> list[dict]:
        return load_truth(self.folder, "reports.jsonl")

    @property
    def fingerprint(self) -> str:
        import hashlib

        h = hashlib.sha1()
        for name in ("annotations.jsonl", "reports.jsonl", "lesions.jsonl"):
            f = self.folder / "truth" / name
            h.update(f.read_bytes() if f.exists() else b"-")
        return h.hexdigest()
