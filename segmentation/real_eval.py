"""Real lesions as the yardstick: Dice per prompt kind, size bucket and location class on a folder of
``image/<case>.nii.gz`` + ``<mask dir>/<case>.nii.gz`` crops (the LIDC-IDRI layout of ../shared/real-data/lidc-dev).

One lesion per case (the whole mask: LIDC readers' masks may have a few detached voxels). Prompts come from
``real_prompts`` (radiologist-like, jittered). Strata:
- size: RECIST long axis of the truth, < 10 mm, 10-20 mm, > 20 mm;
- density: ``subsolid`` (part-solid or ground-glass) when >= 30% of the lesion's interior lies in
  ground-glass HU (-750..-300), else ``solid``;
- location: ``juxtapleural`` when the lesion touches (<= 1.5 mm) soft tissue (> -400 HU) that is large and
  reaches the crop's border (chest wall, mediastinum, diaphragm), else ``isolated``.
Cases are split into two halves by a hash of the patient id (``tune`` / ``holdout``) so that figures can be
reported on a half nothing was tuned on.
"""
from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
from scipy import ndimage

from segmentation.evaluate import bootstrap_ci, dice
from segmentation.protocol import load_case
from segmentation.real_prompts import REAL_PROMPT_KINDS, real_prompt
from segmentation.recist import recist_axes

MASK_DIRS = ("nodule_mask", "mask", "label", "labels")
SIZE_BUCKETS = ((0.0, 10.0, "<10 mm"), (10.0, 20.0, "10-20 mm"), (20.0, np.inf, ">20 mm"))
GGO_HU = (-750.0, -300.0)
SUBSOLID_FRACTION = 0.3
WALL_HU = -400.0
WALL_MIN_FRACTION = 0.15
JUXTA_MM = 1.5


def is_crop_folder(data: Path) -> bool:
    return (Path(data) / "image").is_dir() and any((Path(data) / d).is_dir() for d in MASK_DIRS)


def crop_cases(data: Path) -> list[tuple[Path, Path]]:
    data = Path(data)
    mask_dir = next((data / d for d in MASK_DIRS if (data / d).is_dir()), None)
    if not (data / "image").is_dir() or mask_dir is None:
        raise FileNotFoundError(f"{data}: expected image/ and one of {', '.join(MASK_DIRS)}/")
    pairs = [(im, mask_dir / im.name) for im in sorted((data / "image").glob("*.nii*")) if (mask_dir / im.name).exists()]
    if not pairs:
        raise FileNotFoundError(f"{data}: no image/*.nii.gz with a same-named file in {mask_dir.name}/")
    return pairs


def patient_of(case: Path) -> str:
    name = case.name.split(".nii")[0]
    return name.rsplit("_", 2)[0] if name.count("_") >= 2 else name


def half_of(case: Path) -> str:
    """'tune' or 'holdout', stable per patient (all nodules of a patient fall on the same side)."""
    return "tune" if hashlib.sha1(patient_of(case).encode()).digest()[0] % 2 == 0 else "holdout"


def case_rng(name: str, seed: int) -> np.random.Generator:
    """The generator a crop's prompts are drawn with: seeded by the run's seed and the crop's file name, so a half
    or a --max-cases subset draws the same prompts for a crop as the whole run."""
    return np.random.default_rng([seed, int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)])


def size_bucket(long_mm: float) -> str:
    return next(name for lo, hi, name in SIZE_BUCKETS if lo <= long_mm < hi)


def density_class(hu: np.ndarray, truth: np.ndarray) -> str:
    """Measured on the lesion's interior (one pixel in from its outline: the rim is partial volume with air)."""
    core = ndimage.binary_erosion(truth, structure=np.ones((1, 3, 3), bool))
    vals = hu[core] if core.sum() >= 10 else hu[truth]
    ggo = float(((vals >= GGO_HU[0]) & (vals < GGO_HU[1])).mean()) if vals.size else 0.0
    return "subsolid" if ggo >= SUBSOLID_FRACTION else "solid"


def wall_tissue(hu: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The crop's chest wall, mediastinum or diaphragm: soft tissue (> WALL_HU) apart from the lesion (one voxel off
    it) in components that are large and reach the crop's border."""
    tissue = (hu > WALL_HU) & ~ndimage.binary_dilation(truth, iterations=1)
    comp, n = ndimage.label(tissue)
    if n == 0:
        return np.zeros(hu.shape, bool)
    border = np.zeros(hu.shape, bool)
    border[:, [0, -1], :] = True
    border[:, :, [0, -1]] = True
    sizes = ndimage.sum_labels(np.ones_like(comp), comp, np.arange(1, n + 1))
    wall_ids = [i + 1 for i in range(n) if sizes[i] >= WALL_MIN_FRACTION * hu.size and (border & (comp == i + 1)).any()]
    return np.isin(comp, wall_ids)


def location_class(hu: np.ndarray, truth: np.ndarray, spacing) -> str:
    wall = wall_tissue(hu, truth)
    if not wall.any():
        return "isolated"
    dist = ndimage.distance_transform_edt(~wall, sampling=spacing)
    return "juxtapleural" if float(dist[truth].min()) <= JUXTA_MM + max(spacing[1:]) else "isolated"


def selected_cases(data: Path, half: str = "all", max_cases: Optional[int] = None, seed: int = 0) -> list[tuple[Path, Path]]:
    """A crop folder's (image, mask) pairs of one half, or a seeded sample of ``max_cases`` of them."""
    if half not in ("all", "tune", "holdout"):
        raise ValueError(f"half must be all, tune or holdout, not {half!r}")
    cases = crop_cases(data)
    if half != "all":
        cases = [c for c in cases if half_of(c[0]) == half]
    if max_cases is not None and max_cases < len(cases):
        pick = np.random.default_rng(seed).choice(len(cases), max_cases, replace=False)
        cases = [cases[i] for i in sorted(pick)]
    return cases


def eval_prompts(name: str, truth: np.ndarray, spacing, seed: int = 0, kinds=REAL_PROMPT_KINDS) -> dict:
    """{kind: prompt} for a crop (``name``: its file name), drawn in turn from its own generator as ``opseg eval``
    draws them: the same prompts whatever subset or half of the folder is evaluated."""
    rng = case_rng(name, seed)
    return {kind: real_prompt(kind, truth, spacing, rng) for kind in kinds}


def drawn_cases(cases, seed: int = 0, kinds=REAL_PROMPT_KINDS) -> Iterator[tuple]:
    """(image path, hu, truth, spacing, {kind: prompt}) per crop with a lesion, its prompts as ``eval_prompts``."""
    for image, label in cases:
        hu, lab, spacing = load_case(image, label)
        truth = lab > 0
        if truth.any():
            yield image, hu, truth, spacing, eval_prompts(image.name, truth, spacing, seed, kinds)


def evaluate_crops(data: Path, segmenter, kinds=REAL_PROMPT_KINDS, seed: int = 0, max_cases: Optional[int] = None,
                   half: str = "all", tick: Optional[Callable[[int], None]] = None, extra: Optional[Callable] = None) -> dict:
    """Per-prompt rows and summaries (overall, per size bucket, density and location) for a crop folder.
    ``extra(kind, prompt, result, hu, truth, spacing) -> dict`` adds fields to each row (QC calibration)."""
    cases = selected_cases(data, half, max_cases, seed)
    rows = []
    for image, hu, truth, spacing, drawn in drawn_cases(cases, seed, kinds):
        true_long = recist_axes(truth, spacing[1:])[0]
        strata = {"size": size_bucket(true_long), "density": density_class(hu, truth),
                  "location": location_class(hu, truth, spacing)}
        prompts = [drawn[kind] for kind in kinds]
        t0 = time.perf_counter()
        results = segmenter.segment_many(hu, spacing, prompts)
        per = (time.perf_counter() - t0) / len(prompts)
        for kind, prompt, res in zip(kinds, prompts, results):
            pred = np.zeros_like(truth) if isinstance(res, Exception) else res.mask
            row = {"case": image.name.split(".nii")[0], "half": half_of(image), "kind": kind, "dice": dice(pred, truth),
                   "true_long_mm": true_long, "seconds": per, "error": getattr(res, "reason", None), **strata}
            if kind in ("line", "bidimensional") and true_long > 0:
                row["recist_error_pct"] = abs(recist_axes(pred, spacing[1:])[0] - true_long) / true_long * 100
            if extra is not None:
                row.update(extra(kind, prompt, res, hu, truth, spacing))
            rows.append(row)
        if tick:
            tick(1)
    return {"dataset": Path(data).name, "cases": len(cases), "half": half, "seed": seed, "backend": segmenter.name,
            "checkpoint": segmenter.checkpoint, "kinds": list(kinds), "summary": summarise_rows(rows), "rows": rows}


def _stats(rs: list[dict]) -> dict:
    d = [r["dice"] for r in rs]
    out = {"n": len(d), "dice_mean": float(np.mean(d)), "dice_ci95": bootstrap_ci(d),
           "dice_ge_0.7": float(np.mean(np.asarray(d) >= 0.7))}
    rec = [r["recist_error_pct"] for r in rs if "recist_error_pct" in r]
    if rec:
        out["recist_error_pct_mean"] = float(np.mean(rec))
        out["recist_error_pct_median"] = float(np.median(rec))
        out["recist_error_pct_ci95"] = bootstrap_ci(rec)
    return out


def summarise_rows(rows: list[dict]) -> dict:
    """{"overall": {kind: stats}, "size": {bucket: {kind: stats}}, "density": ..., "location": ...}."""
    groups: dict = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups["overall"][r["kind"]].append(r)
    out = {"overall": {k: _stats(v) for k, v in groups["overall"].items()}}
    for stratum in ("size", "density", "location"):
        by = defaultdict(lambda: defaultdict(list))
        for r in rows:
            by[r[stratum]][r["kind"]].append(r)
        out[stratum] = {g: {k: _stats(v) for k, v in kinds.items()} for g, kinds in sorted(by.items())}
    return out


def _cell(s: Optional[dict]) -> str:
    return f"{s['dice_mean']:.3f} [{s['dice_ci95'][0]:.2f}, {s['dice_ci95'][1]:.2f}]" if s else "—"


def crops_markdown(result: dict) -> str:
    kinds = result["kinds"]
    s = result["summary"]
    head = "| group | n lesions | " + " | ".join(kinds) + " |"
    sep = "|" + "---|" * (len(kinds) + 2)
    lines = [f"Backend `{result['backend']}` on {result['dataset']} ({result['cases']} cases, half: {result['half']}, "
             f"seed {result['seed']}): Dice mean [95% bootstrap CI].", "", head, sep]
    n = max((v["n"] for v in s["overall"].values()), default=0)
    lines.append(f"| all | {n} | " + " | ".join(_cell(s["overall"].get(k)) for k in kinds) + " |")
    for stratum in ("size", "density", "location"):
        for g, per in s[stratum].items():
            n = max(v["n"] for v in per.values())
            lines.append(f"| {stratum}: {g} | {n} | " + " | ".join(_cell(per.get(k)) for k in kinds) + " |")
    lines += ["", "| prompt | RECIST long-axis error % mean [95% CI] | median |", "|---|---|---|"]
    for k in kinds:
        e = s["overall"].get(k, {})
        if "recist_error_pct_mean" in e:
            lo, hi = e["recist_error_pct_ci95"]
            lines.append(f"| {k} | {e['recist_error_pct_mean']:.1f} [{lo:.1f}, {hi:.1f}] | {e['recist_error_pct_median']:.1f} |")
    secs = [r["seconds"] for r in result["rows"]]
    if secs:
        lines += ["", f"Mean {np.mean(secs):.3f} s per prompt (all kinds)."]
    return "\n".join(lines) + "\n"
