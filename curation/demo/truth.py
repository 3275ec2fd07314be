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
