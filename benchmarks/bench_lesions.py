"""Lesions, not marks: grouping on the demo truth and the patient-space overlap rule on real LIDC nodules.

    python benchmarks/bench_lesions.py [--studies 6] [--seed 0] [--lidc ../shared/real-data/lidc-dev] [--cases 566]

Demo: the whole pipeline (deid off); grouping precision/recall against the truth, truth lesions vs lesions vs
grounded rows, and what the naive way (one grounded row per A/B link, as before) would have published.
Real data: LIDC nodule masks (real spacing and patient-space origins). Each nodule against (a) itself on a second
reconstruction at twice the slice thickness (pairs of slices, a voxel is in when half of its pair is) and (b) itself
eroded by one voxel in-plane (a tighter second reader): both must group; every other nodule of the same patient must
not. Timing: the voxel-centre mapping of curation.lesions.overlap against the naive way, resampling one mask onto
the other's full grid (scipy.ndimage.affine_transform, nearest neighbour).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def demo(n_studies: int, seed: int = 0) -> dict:
    import duckdb

    from curation.demo import generate_archive
    from curation.demo.truth import DemoTruth
    from curation.lesions.evaluate import evaluate_lesions
    from curation.pipeline.run import run_pipeline

    tmp = Path(tempfile.mkdtemp())
    generate_archive(tmp / "demo", seed=seed, n_studies=n_studies, bad_input=True)
    t = time.perf_counter()
    reps = run_pipeline(tmp / "demo" / "dicom", tmp / "out", reports=[tmp / "demo" / "reports.jsonl"], shards=2,
                        deid=False)
    seconds = {r.name: round(r.seconds, 2) for r in reps}
    out = tmp / "out"
    r = evaluate_lesions(out, DemoTruth(tmp / "demo"))
    truth = [json.loads(x) for x in (tmp / "demo" / "truth" / "lesions.jsonl").read_text().splitlines()]
    g = f"read_parquet('{out}/hf/data/grounded/*.parquet')"
    rows, findings, lesions = duckdb.sql(f"select count(*), count(distinct finding_id), count(distinct lesion_id) from {g}").fetchall()[0]
    naive = duckdb.sql(f"select count(*) from read_parquet('{out}/links/*.parquet') l join read_parquet('{out}/masks/*.parquet') m "
                       "using (mask_id) where m.error is null and l.tier in ('A', 'B')").fetchall()[0][0]
    cases = defaultdict(int)
    for line in (tmp / "demo" / "truth" / "annotations.jsonl").read_text().splitlines():
        cases[json.loads(line)["case"]] += 1
    rules = duckdb.sql(f"select unnest(evidence) as rule, count(*) from read_parquet('{out}/lesion_members/*.parquet') "
                       "group by 1 order by 1").fetchall()
    flagged = duckdb.sql(f"select count(*) filter (where disagrees), count(dice_to_primary) "
                         f"from read_parquet('{out}/lesion_members/*.parquet')").fetchall()[0]
    overlapping = _overlapping_grounded(out, g)
    shutil.rmtree(tmp)
    return {"grounded_pairs_overlapping_in_patient_space": overlapping, "seed": seed, "studies": n_studies, "truth_marks_by_case": dict(cases), **r,
            "truth_marked_lesions": sum(1 for t in truth if t["marked"]), "grounded_rows": rows,
            "grounded_distinct_findings": findings, "grounded_distinct_lesions": lesions,
            "naive_grounded_rows (one per A/B link)": naive, "member_rules": dict(rules),
            "members_flagged / compared": list(flagged), "pipeline_seconds": seconds,
            "lesions_stage_seconds": seconds.get("lesions"), "pipeline_total_s": round(time.perf_counter() - t, 1)}


def _overlapping_grounded(out: Path, grounded: str) -> int:
    import duckdb

    from curation.lesions.overlap import PatientMask, overlap
    from schemas import MaskRecord

    rows = duckdb.sql(f"select g.study_uid, m.* from {grounded} g join read_parquet('{out}/masks/*.parquet') m "
                      "using (mask_id)").to_arrow_table().to_pylist()
    shapes = [(r["study_uid"], PatientMask.of(MaskRecord.from_row(r))) for r in rows]
    return sum(1 for (sa, a), (sb, b) in combinations(shapes, 2) if sa == sb and overlap(a, b).iou > 0)


def _lps(affine_ras: np.ndarray) -> np.ndarray:
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine_ras


def _patient_mask(crop: np.ndarray, affine_lps: np.ndarray):
    from curation.lesions.overlap import PatientMask

    idx = np.argwhere(crop)
    centres = idx @ affine_lps[:3, :3].T + affine_lps[:3, 3]
    return PatientMask(crop, np.zeros(3), affine_lps, centres, abs(float(np.linalg.det(affine_lps[:3, :3]))) / 1000)


def _thicker(crop: np.ndarray, affine: np.ndarray):
    n = crop.shape[2] // 2
    thick = crop[:, :, :2 * n].reshape(crop.shape[0], crop.shape[1], n, 2).mean(axis=3) >= 0.5
    a = affine.copy()
    a[:3, 2] *= 2
    a[:3, 3] = affine[:3, 3] + affine[:3, 2] * 0.5
    return thick, a


def _naive_iou(a, b) -> float:
    """Resample b onto a's full grid (nearest neighbour), then count voxels."""
    from scipy import ndimage

    m = np.linalg.inv(b.affine) @ a.affine
    on_a = ndimage.affine_transform(b.crop.astype(np.uint8), m[:3, :3], offset=m[:3, 3], output_shape=a.crop.shape,
                                    order=0) > 0
    inter = np.logical_and(on_a, a.crop).sum()
    return float(inter / max(1, np.logical_or(on_a, a.crop).sum()))


def lidc(folder: Path, n_cases: int) -> dict:
    import nibabel as nib
    from scipy import ndimage

    from curation.lesions.grouping import LesionConfig
    from curation.lesions.overlap import overlap

    cfg = LesionConfig()
    names = sorted(p.name[:-7] for p in (folder / "nodule_mask").glob("*.nii.gz"))[:n_cases]
    nodules = {}
    for name in names:
        img = nib.load(folder / "nodule_mask" / f"{name}.nii.gz")
        crop = np.asarray(img.dataobj) > 0
        if crop.any():
            nodules[name] = (crop, _lps(img.affine))
    grouped = lambda o: o.iou >= cfg.min_iou or o.centroid_distance_mm <= cfg.centroid_radius_mm  # noqa: E731
    same = {"thicker_reconstruction": [], "eroded_reader": []}
    t_fast = t_naive = 0.0
    for name, (crop, affine) in nodules.items():
        a = _patient_mask(crop, affine)
        thick, ta = _thicker(crop, affine)
        eroded = ndimage.binary_erosion(crop, structure=np.ones((3, 3, 1), bool)) if crop.sum() > 30 else crop
        for key, (c, af) in (("thicker_reconstruction", (thick, ta)), ("eroded_reader", (eroded, affine))):
            if not c.any():
                continue
            b = _patient_mask(c, af)
            t = time.perf_counter()
            o = overlap(a, b)
            t_fast += time.perf_counter() - t
            t = time.perf_counter()
            _naive_iou(a, b)
            t_naive += time.perf_counter() - t
            same[key].append((o.iou, o.centroid_distance_mm, grouped(o), o.iou >= cfg.min_iou))
    by_patient = defaultdict(list)
    for name in nodules:
        by_patient[re.sub(r"_R_\d+$", "", name)].append(name)
    different = []
    for names_ in by_patient.values():
        for x, y in combinations(names_, 2):
            o = overlap(_patient_mask(*nodules[x]), _patient_mask(*nodules[y]))
            different.append((o.iou, o.centroid_distance_mm, grouped(o), x, y))
    n_same = sum(len(v) for v in same.values())
    out = {"nodules": len(nodules), "patients": len(by_patient)}
    for key, v in same.items():
        ious = [x[0] for x in v]
        out[key] = {"pairs": len(v), "grouped": sum(x[2] for x in v), "grouped_by_iou_alone": sum(x[3] for x in v),
                    "iou_min": round(min(ious), 3),
                    "iou_p5": round(float(np.percentile(ious, 5)), 3), "iou_median": round(float(np.median(ious)), 3),
                    "centroid_mm_max": round(max(x[1] for x in v), 2)}
    out["different_nodules_same_patient"] = {
        "pairs": len(different), "grouped (false merges)": sum(x[2] for x in different),
        "iou_max": round(max((x[0] for x in different), default=0.0), 3),
        "centroid_mm_min": round(min((x[1] for x in different), default=float("nan")), 2),
        "merged": [f"{x[3]}~{x[4]} iou {x[0]:.2f} d {x[1]:.1f} mm" for x in different if x[2]]}
    out["overlap_ms_per_pair"] = round(1000 * t_fast / max(1, n_same), 3)
    out["naive_resample_ms_per_pair"] = round(1000 * t_naive / max(1, n_same), 3)
    out["speedup_vs_naive"] = round(t_naive / max(t_fast, 1e-9), 2)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--studies", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lidc", type=Path, default=ROOT.parent / "shared" / "real-data" / "lidc-dev")
    ap.add_argument("--cases", type=int, default=566)
    args = ap.parse_args()
    print(json.dumps({"demo": demo(args.studies, args.seed)}, indent=1))
    if args.lidc.is_dir():
        print(json.dumps({"lidc": lidc(args.lidc, args.cases)}, indent=1))
    else:
        print(f"no LIDC folder at {args.lidc}: real-data figures skipped")


if __name__ == "__main__":
    main()
