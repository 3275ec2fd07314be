"""Lesions marked more than once, as real archives hold them, added to the demo studies (never changing what a study
already holds, so every other figure of the demo stays): a cumulative re-save of the reading's GSPS and a second
reader (standard-style studies), a second reconstruction of the study with marks on it (agfa-style studies), and a
TID 1500 SR repeating the GSPS measurements (larvitar-style studies). Each case is its own DICOM object; the truth
rows say which lesion every mark shows. A separate random generator keeps the study's own draws untouched."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import nibabel as nib
import numpy as np

from curation.demo.ct_writer import StudyInfo, uid, write_ct_series
from curation.demo.gsps_styles import DemoMark, write_gsps
from curation.demo.phantom import Phantom
from curation.demo.sr_writer import write_tid1500
from curation.demo.truth_marks import arrow_for, ellipse_points, largest_slice, long_short_axes
from curation.extract.annotation_builder import mm_distance

SECOND_READER = "Second^Reader"


@dataclasses.dataclass
class Planted:
    objects: list            # (style, units, dataset, marks, case)
    n_files: int = 0


def plant_repeats(style: str, out: Path, folder: Path, study: StudyInfo, phantom: Phantom, ct: list, marks: list[DemoMark],
                  seed: int, s: int, thickness: float, ascending: bool) -> Planted:
    rng = np.random.default_rng([seed, s, 16])
    planted = Planted([])
    if not marks:
        return planted
    if style == "standard":
        resave = write_gsps("standard", marks, study, uid(seed, s, "pr3"), uid(seed, s, "pr3", 1), 13, ct)
        planted.objects.append(("standard", "PIXEL", resave, marks, "cumulative_resave"))
        redrawn = [_redraw(m, phantom, ct, rng) for m in marks]
        second = write_gsps("standard", redrawn, study, uid(seed, s, "pr4"), uid(seed, s, "pr4", 1), 14, ct)
        second.ContentCreatorName = SECOND_READER
        planted.objects.append(("standard", "PIXEL", second, redrawn, "second_reader"))
    elif style == "agfa":
        recon, recon_ct, n = _second_reconstruction(out, folder, study, phantom, seed, s, thickness, ascending, rng)
        planted.n_files += n
        again = [_mark_on(m, recon, recon_ct) for m in marks]
        gsps = write_gsps("standard", again, study, uid(seed, s, "pr5"), uid(seed, s, "pr5", 1), 15, recon_ct)
        planted.objects.append(("standard", "PIXEL", gsps, again, "second_reconstruction"))
    elif style == "larvitar":
        half = marks[:(len(marks) + 1) // 2]  # the marks the study's GSPS holds: the SR repeats those measurements
        sr = write_tid1500(half, uid(seed, s, "sr2"), uid(seed, s, "sr2", 1), 16)
        planted.objects.append(("tid1500", "SCOORD", sr, half, "gsps_and_sr"))
    return planted


def _geometry(kind: str, lmask2d: np.ndarray, ps: list, rng) -> tuple[np.ndarray, object, object]:
    long_ax, short_ax = long_short_axes(lmask2d)
    length, short = mm_distance(*long_ax, ps), mm_distance(*short_ax, ps)
    if kind == "line":
        return long_ax, length, None
    if kind == "bidimensional":
        return np.vstack([long_ax, short_ax]), length, short
    if kind == "ellipse":
        return ellipse_points(long_ax, float(np.linalg.norm(short_ax[1] - short_ax[0]))), length, short
    return np.array(arrow_for(lmask2d, rng)), None, None


def _redraw(m: DemoMark, phantom: Phantom, ct: list, rng) -> DemoMark:
    """A second reader's own mark of the lesion: on the same or the next slice, endpoints placed by hand (jitter)."""
    lmask = phantom.lesions_mask == m.lesion_id
    areas = lmask.reshape(lmask.shape[0], -1).sum(axis=1)
    k = m.slice_index
    for step in (1, -1):
        if 0 <= k + step < len(areas) and areas[k + step] >= 0.8 * areas[k]:
            k += step
            break
    ps = [phantom.pixel_spacing] * 2
    pts, length, short = _geometry(m.kind, lmask[k], ps, rng)
    pts = pts + rng.normal(0.0, 0.6, pts.shape)
    if m.kind == "line":
        length = mm_distance(*pts[:2], ps)
    elif m.kind in ("bidimensional", "ellipse"):
        a, b = mm_distance(*pts[:2], ps), mm_distance(*pts[2:4], ps)
        length, short = max(a, b), min(a, b)
    return DemoMark(m.mark_id, m.lesion_id, m.kind, pts, ct[k], k, length, short)


def _second_reconstruction(out, folder, study, phantom: Phantom, seed, s, thickness, ascending, rng):
    """The same scan reconstructed at twice the slice thickness (pairs of slices averaged), same frame of reference."""
    n = phantom.hu.shape[0] // 2
    hu = phantom.hu[:2 * n].reshape(n, 2, *phantom.hu.shape[1:]).mean(axis=1)
    labels = phantom.lesions_mask[:2 * n].reshape(n, 2, *phantom.hu.shape[1:]).max(axis=1)
    origin = phantom.origin + np.array([0.0, 0.0, phantom.slice_spacing / 2])
    recon = Phantom(hu, phantom.organs[:2 * n:2], labels, phantom.lesions, phantom.pixel_spacing,
                    2 * phantom.slice_spacing, origin)
    series_uid = uid(seed, s, "ct2")
    names = [f"{rng.integers(1 << 40):010x}.dcm" for _ in range(n)]
    recon_ct = write_ct_series(recon, study, folder, series_uid, 4, ascending, 2 * thickness, names)
    affine = np.eye(4)
    affine[:3, :3] = np.diag([recon.pixel_spacing, recon.pixel_spacing, recon.slice_spacing])
    affine[:3, 3] = origin
    nib.save(nib.Nifti1Image(labels.transpose(2, 1, 0).astype(np.uint8), np.diag([-1, -1, 1, 1]) @ affine),
             out / "truth" / "masks" / f"{series_uid}.nii.gz")
    return recon, recon_ct, n


def _mark_on(m: DemoMark, recon: Phantom, recon_ct: list) -> DemoMark:
    """The same kind of mark on the lesion's largest slice of the other reconstruction."""
    lmask = recon.lesions_mask == m.lesion_id
    k = largest_slice(lmask)
    pts, length, short = _geometry(m.kind, lmask[k], [recon.pixel_spacing] * 2, np.random.default_rng(k))
    return DemoMark(m.mark_id, m.lesion_id, m.kind, pts, recon_ct[k], k, length, short)
