"""The SAM2CT paper's evaluation protocol on a NIfTI dataset folder (MSD layout: imagesTr/ + labelsTr/).

For every lesion (3D connected component of the chosen label) and every prompt kind (arrow, line, point,
box, mask) one synthetic prompt is drawn on one of the three largest-area axial slices (lines from the
longest 10% of boundary pairs), the backend segments the volume from it, and Dice and the RECIST
long-axis error are recorded; means come with 95% bootstrap intervals. Output: JSON + a Markdown table
shaped like the paper's Table 2 (one row per dataset, one column per prompt kind).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable, Optional

import nibabel as nib
import numpy as np

from segmentation.evaluate import dice, summarise
from segmentation.recist import recist_axes
from segmentation.synthetic_prompts import PROMPT_KINDS, lesions, make_prompt


def as_dicom_order(img):
    """The image reoriented to LPS (i -> patient left, j -> posterior, k -> superior): its array transposed to
    (k, j, i) is then the (slice, row, column) of a standard axial DICOM series, the order ``load_volume``
    gives and every segmenter takes (see ``segmentation.sam2ct.view``)."""
    current = nib.io_orientation(img.affine)
    return img.as_reoriented(nib.orientations.ornt_transform(current, nib.orientations.axcodes2ornt("LPS")))


def load_case(image: Path, label: Optional[Path] = None):
    """(hu (slice,row,col) float32, labels or None, spacing (slice,row,col) mm) in DICOM order, whatever
    orientation the NIfTI was stored in."""
    img = as_dicom_order(nib.load(image))
    hu = np.asarray(img.dataobj, dtype=np.float32).transpose(2, 1, 0)
    zooms = img.header.get_zooms()[:3]
    lab = None
    if label is not None:
        lab = np.asarray(as_dicom_order(nib.load(label)).dataobj).astype(np.int16).transpose(2, 1, 0)
        if lab.shape != hu.shape:
            raise ValueError(f"{label}: label shape {lab.shape} differs from image {hu.shape}")
    return hu, lab, (float(zooms[2]), float(zooms[1]), float(zooms[0]))


def dataset_cases(data: Path) -> list[tuple[Path, Path]]:
    images = sorted((Path(data) / "imagesTr").glob("*.nii*"))
    pairs = []
    for im in images:
        lab = Path(data) / "labelsTr" / im.name.replace("_0000", "")
        if lab.exists():
            pairs.append((im, lab))
    if not pairs:
        raise FileNotFoundError(f"{data}: no imagesTr/*.nii.gz with a matching labelsTr/ file")
    return pairs


def evaluate_dataset(data: Path, segmenter, lesion_label: int, kinds=PROMPT_KINDS, seed: int = 0,
                     max_cases: Optional[int] = None, tick: Optional[Callable[[int], None]] = None,
                     arrow_tail_px: Optional[float] = None) -> dict:
    rng = np.random.default_rng(seed)
    scores: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    cases = dataset_cases(data)[:max_cases]
    for image, label in cases:
        hu, lab, spacing = load_case(image, label)
        found = lesions(lab, lesion_label)
        for kind in kinds:
            prompts = [make_prompt(kind, m, rng, training=False, arrow_tail_px=arrow_tail_px) for m in found]
            results = segmenter.segment_many(hu, spacing, prompts) if prompts else []
            for m, res in zip(found, results):
                pred = np.zeros_like(m) if isinstance(res, Exception) else res.mask
                scores[kind]["dice"].append(dice(pred, m))
                true_long = recist_axes(m, spacing[1:])[0]
                if kind == "line" and true_long > 0:
                    scores[kind]["recist_error_pct"].append(abs(recist_axes(pred, spacing[1:])[0] - true_long) / true_long * 100)
        if tick:
            tick(1)
    summary = summarise({k: scores[k] for k in kinds if k in scores})
    return {"dataset": Path(data).name, "cases": len(cases), "lesion_label": lesion_label, "backend": segmenter.name,
            "checkpoint": segmenter.checkpoint, "summary": summary}


def table2_markdown(results: list[dict]) -> str:
    kinds = [k for k in PROMPT_KINDS if any(k in r["summary"] for r in results)]
    head = "| dataset | lesions | " + " | ".join(f"{k} Dice" for k in kinds) + " | RECIST error % (line) |"
    lines = [head, "|" + "---|" * (len(kinds) + 3)]
    for r in results:
        s = r["summary"]
        n = max((v["n"] for v in s.values()), default=0)
        cells = [f"{s[k]['dice_mean']:.3f} [{s[k]['dice_ci95'][0]:.3f}, {s[k]['dice_ci95'][1]:.3f}]" if k in s else "—" for k in kinds]
        rec = s.get("line", {})
        recist = (f"{rec['recist_error_pct_mean']:.1f} [{rec['recist_error_pct_ci95'][0]:.1f}, {rec['recist_error_pct_ci95'][1]:.1f}]"
                  if "recist_error_pct_mean" in rec else "—")
        lines.append(f"| {r['dataset']} | {n} | " + " | ".join(cells) + f" | {recist} |")
    return "\n".join(lines) + "\n"
