"""The demo archive: a synthetic CT archive with radiologists' marks, reports and a truth folder.

Layout of ``DIR``::

    dicom/          <patient>/<study>/<hex>.dcm   CT slices, GSPS (4 vendor styles), TID 1500 SR, text SR, and lesions
                    marked more than once (curation.demo.repeats: re-save, second reader, second reconstruction, SR)
    reports.jsonl   sidecar reports keyed by accession number (one study has its report as an SR instead)
    truth/          lesions.jsonl, annotations.jsonl (study_uid + lesion_id: which marks are one lesion),
                    reports.jsonl, masks/<series_uid>.nii.gz (lesion ids)
    dicom/bad/      only with bad_input: a truncated slice, a non-DICOM file, broken GSPS

Deterministic for a seed: UIDs, names and pixels derive from it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Optional

import nibabel as nib
import numpy as np

from curation.extract.annotation_builder import mm_distance
from curation.demo.bad_input import write_bad_input
from curation.demo.ct_writer import StudyInfo, uid, write_ct_series
from curation.demo.gsps_styles import DemoMark, write_gsps
from curation.demo.phantom import make_phantom
from curation.demo.repeats import plant_repeats
from curation.demo.report_writer import write_report
from curation.demo.sr_writer import write_text_report_sr, write_tid1500
from curation.demo.truth_marks import arrow_for, ellipse_points, largest_slice, long_short_axes

KINDS = ("line", "bidimensional", "arrow", "ellipse")
FIRST = ("Ada", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gia", "Hal")
LAST = ("Lovelace", "Okafor", "Nakamura", "Silva", "Novak", "Haddad", "Jensen", "Moreau")


def generate_archive(out_dir: Path, seed: int = 0, n_studies: int = 3, bad_input: bool = False, size: int = 384,
                     progress: Optional[Callable[[str, int], Callable[[int], None]]] = None) -> dict:
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    (out / "truth" / "masks").mkdir(parents=True)
    truth_lesions, truth_annotations, truth_reports, sidecar = [], [], [], []
    tick = progress("demo studies", n_studies) if progress else None
    n_files = 0
    for s in range(n_studies):
        rng = np.random.default_rng([seed, s])
        result = _study(out, rng, seed, s, size)
        truth_lesions += result["lesions"]
        truth_annotations += result["annotations"]
        truth_reports.append(result["report"])
        if result["sidecar"]:
            sidecar.append(result["sidecar"])
        n_files += result["n_files"]
        if tick:
            tick(1)
    if bad_input:
        n_files += write_bad_input(out, sidecar)
    _jsonl(out / "reports.jsonl", sidecar)
    _jsonl(out / "truth" / "lesions.jsonl", truth_lesions)
    _jsonl(out / "truth" / "annotations.jsonl", truth_annotations)
    _jsonl(out / "truth" / "reports.jsonl", truth_reports)
    return {"n_studies": n_studies, "n_files": n_files, "n_annotations": len(truth_annotations),
            "n_lesions": len(truth_lesions)}


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def _names(rng, n) -> list[str]:
    return [f"{rng.integers(1 << 40):010x}.dcm" for _ in range(n)]


def _study(out: Path, rng: np.random.Generator, seed: int, s: int, size: int) -> dict:
    pid = f"DEMO{seed:02d}{s:03d}"
    study = StudyInfo(patient_id=pid, patient_name=f"{LAST[s % len(LAST)]}^{FIRST[(s + seed) % len(FIRST)]}",
                      birth_date=f"19{50 + int(rng.integers(40))}0{1 + int(rng.integers(9))}15", sex="FM"[s % 2],
                      study_uid=uid(seed, s, "study"), accession=f"ACC{seed:02d}{s:05d}",
                      study_date=f"2025{1 + s % 12:02d}{10 + int(rng.integers(18)):02d}", description="CT CHEST ABDOMEN PELVIS")
    spacing = round(float(rng.uniform(0.6, 0.9)), 4)
    thickness = float(rng.choice([2.0, 2.5, 3.0, 5.0]))
    n_slices = int(np.clip(150 / thickness, 30, 60))
    phantom = make_phantom(rng, size, spacing, n_slices, thickness, int(rng.integers(4, 7)))
    folder = out / "dicom" / pid / study.accession
    series_uid, series_number = uid(seed, s, "ct"), 3
    ascending = bool(rng.random() < 0.5)
    ct = write_ct_series(phantom, study, folder, series_uid, series_number, ascending, thickness, _names(rng, n_slices))
    affine = np.eye(4)
    affine[:3, :3] = np.diag([spacing, spacing, thickness])
    affine[:3, 3] = phantom.origin
    nib.save(nib.Nifti1Image(phantom.lesions_mask.transpose(2, 1, 0).astype(np.uint8), np.diag([-1, -1, 1, 1]) @ affine),
             out / "truth" / "masks" / f"{series_uid}.nii.gz")
    # one mark per lesion but the last (left unmarked: an unmeasured finding in the report)
    marked, unmarked = phantom.lesions[:-1], phantom.lesions[-1:]
    marks: list[DemoMark] = []
    ps = [spacing, spacing]
    for n, les in enumerate(marked):
        kind = KINDS[(n + s) % len(KINDS)]
        lmask = phantom.lesions_mask == les.lesion_id
        k = largest_slice(lmask)
        long_ax, short_ax = long_short_axes(lmask[k])
        length, short = mm_distance(*long_ax, ps), mm_distance(*short_ax, ps)
        if kind == "line":
            pts, short = long_ax, None
        elif kind == "bidimensional":
            pts = np.vstack([long_ax, short_ax])
        elif kind == "ellipse":
            pts = ellipse_points(long_ax, float(np.linalg.norm(short_ax[1] - short_ax[0])))
        else:
            pts = np.array(arrow_for(lmask[k], rng))
            length, short = None, None
        marks.append(DemoMark(f"{pid}-L{les.lesion_id}", les.lesion_id, kind, pts, ct[k], k, length, short))
    style = ("standard", "agfa", "larvitar")[s % 3]
    objects = []  # (style, units, dataset, marks)
    if style == "larvitar":  # half of the marks as compound-only GSPS, the rest as a TID 1500 SR
        half = (len(marks) + 1) // 2
        if marks[:half]:
            objects.append(("larvitar", "PIXEL", write_gsps("larvitar", marks[:half], study, uid(seed, s, "pr"),
                                                            uid(seed, s, "pr", 1), 10, ct), marks[:half]))
        if marks[half:]:
            objects.append(("tid1500", "SCOORD", write_tid1500(marks[half:], uid(seed, s, "sr"), uid(seed, s, "sr", 1), 11),
                            marks[half:]))
    elif marks:
        objects.append((style, "PIXEL", write_gsps(style, marks, study, uid(seed, s, "pr"), uid(seed, s, "pr", 1), 10, ct), marks))
    if style == "agfa" and marks:  # the same marks again, as Weasis would save them: DISPLAY units, rotated and flipped
        objects.append(("weasis", "DISPLAY", write_gsps("weasis", marks, study, uid(seed, s, "pr2"), uid(seed, s, "pr2", 1), 12, ct),
                        marks))
    annotations = []
    for st, units, ds, ms in objects:
        ds.save_as(folder / f"{st}_{rng.integers(1 << 30):08x}.dcm", enforce_file_format=True)
        annotations += [_truth_mark(study, ds, st, units, m, "first_reading") for m in ms]
    lesions = {les.lesion_id: les for les in phantom.lesions}
    repeats = plant_repeats(style, out, folder, study, phantom, ct, marks, seed, s, thickness, ascending)
    for n, (st, units, ds, ms, case) in enumerate(repeats.objects):
        ds.save_as(folder / f"{st}_repeat{n}.dcm", enforce_file_format=True)
        annotations += [_truth_mark(study, ds, st, units, m, case) for m in ms]
    report = write_report(rng, marks, lesions, series_number, thickness,
                          {m.mark_id: int(m.image.InstanceNumber) for m in marks}, unmarked)
    sidecar = None
    n_files = n_slices + len(objects) + len(repeats.objects) + repeats.n_files
    if style == "larvitar":
        write_text_report_sr(report.sections(), ct, uid(seed, s, "rep"), uid(seed, s, "rep", 1), 20).save_as(
            folder / f"report_{s}.dcm", enforce_file_format=True)
        n_files += 1
    else:
        sidecar = {"accession_number": study.accession, "report_text": report.text, "report_date": study.study_date}
    truth_report = {"study_uid": study.study_uid, "accession_number": study.accession, "text": report.text,
                    "source": "sr" if sidecar is None else "sidecar",
                    "sentences": [{"section": x.section, "text": x.text, "lesion_id": x.lesion_id, "mark_id": x.mark_id,
                                   "role": x.role, "start": x.start, "end": x.end} for x in report.sentences]}
    lesion_rows = [{"study_uid": study.study_uid, "series_uid": series_uid, "lesion_id": les.lesion_id, "organ": les.organ,
                    "center_mm": les.center_mm.round(3).tolist(), "radii_mm": les.radii_mm.round(3).tolist(),
                    "hu": round(les.hu, 1), "n_voxels": int((phantom.lesions_mask == les.lesion_id).sum()),
                    "marked": les.lesion_id in {m.lesion_id for m in marks},
                    "mask_path": f"truth/masks/{series_uid}.nii.gz"} for les in phantom.lesions]
    return {"lesions": lesion_rows, "annotations": annotations, "report": truth_report, "sidecar": sidecar,
            "n_files": n_files}


def _truth_mark(study, ds, style: str, units: str, m: DemoMark, case: str) -> dict:
    """One truth mark; study_uid + lesion_id say which lesion it shows, case how it came to be there."""
    return {"study_uid": study.study_uid, "series_uid": str(m.image.SeriesInstanceUID), "source_sop_uid": str(ds.SOPInstanceUID),
            "style": style, "units": units, "mark_id": m.mark_id, "lesion_id": m.lesion_id, "kind": m.kind,
            "referenced_sop_uid": str(m.image.SOPInstanceUID), "slice_index": m.slice_index,
            "instance_number": int(m.image.InstanceNumber), "points_px": m.points.tolist(),
            "tip_px": m.points[1].tolist() if m.kind == "arrow" else None,
            "length_mm": m.length_mm, "short_mm": m.short_mm, "case": case}
