"""Real CT pixels as DICOM for the tests: LIDC nodule crops written as a CT series (any transfer syntax) with a
GSPS of radiologist-like marks drawn from the truth mask, and re-encoding of real slices."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian

from curation.demo.ct_writer import StudyInfo, uid, write_ct_series
from curation.demo.gsps_styles import DemoMark, write_gsps
from curation.demo.sr_writer import write_tid1500
from segmentation.protocol import load_case
from segmentation.real_eval import eval_prompts

DATA = Path(__file__).parent / "data"
LIDC = DATA / "lidc_nodules"
TOTALSEG_J2K = DATA / "totalseg_ct_j2k"


def reencode(src: Path, dst: Path, syntax: str) -> Path:
    """Write a copy of a CT file in another transfer syntax (decoded first). JPEG lossless (Process 14) has no
    pydicom encoder, so GDCM writes that one; the others are pydicom's own encoders (RLE: numpy/pylibjpeg,
    JPEG-LS: pyjpegls, JPEG 2000: pylibjpeg-openjpeg); deflate compresses the whole dataset."""
    ds = pydicom.dcmread(src)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress(generate_instance_uid=False)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if syntax == pydicom.uid.DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = syntax
        ds.save_as(dst, enforce_file_format=True)
    elif syntax in (pydicom.uid.JPEGLosslessSV1, pydicom.uid.JPEGLossless):
        import gdcm

        plain = dst.with_suffix(".plain")
        ds.save_as(plain, enforce_file_format=True)
        reader = gdcm.ImageReader()
        reader.SetFileName(str(plain))
        assert reader.Read(), f"gdcm cannot read {plain}"
        change = gdcm.ImageChangeTransferSyntax()
        change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGLosslessProcess14_1
                                                     if syntax == pydicom.uid.JPEGLosslessSV1 else gdcm.TransferSyntax.JPEGLosslessProcess14))
        change.SetInput(reader.GetImage())
        assert change.Change(), f"gdcm could not encode {syntax.name}"
        writer = gdcm.ImageWriter()
        writer.SetFileName(str(dst))
        writer.SetFile(reader.GetFile())
        writer.SetImage(change.GetOutput())
        assert writer.Write(), f"gdcm could not write {dst}"
        plain.unlink()
    elif syntax == ExplicitVRLittleEndian:
        ds.save_as(dst, enforce_file_format=True)
    else:
        ds.compress(syntax, generate_instance_uid=False)
        ds.save_as(dst, enforce_file_format=True)
    return dst


def lidc_case(name: str, folder: Path = LIDC):
    """(hu, truth, spacing) of a copied LIDC crop in the (slice, row, column) order opseg volumes use."""
    hu, lab, spacing = load_case(folder / "image" / f"{name}.nii.gz", folder / "nodule_mask" / f"{name}.nii.gz")
    return hu, lab > 0, spacing


def evaluation_prompt(name: str, kind: str, folder: Path, seed: int = 0):
    """(hu, truth, spacing, prompt): a copied LIDC crop and the prompt of ``kind`` that ``opseg eval`` draws for
    it with this seed (every kind in turn from the crop's own generator, as the evaluation does)."""
    hu, truth, spacing = lidc_case(name, folder)
    return hu, truth, spacing, eval_prompts(f"{name}.nii.gz", truth, spacing, seed)[kind]


def write_lidc_study(name: str, folder: Path, prompt, spacing, hu: np.ndarray, syntax: str = ExplicitVRLittleEndian,
                     style: str = "standard") -> None:
    """The crop as a CT series (axial, identity orientation, ascending positions: slice i of the array is slice
    i of the volume opseg builds) plus a GSPS holding ``prompt`` as the reader's mark (``pr.dcm``), written the way
    the viewer ``style`` writes it (curation.demo.gsps_styles; ``sr``: a TID 1500 SR); a list of prompts gives one each
    (``pr_<kind>.dcm``), so no two marks can be paired into another kind."""
    study = StudyInfo(patient_id=name[:14], patient_name="LIDC^CROP", birth_date="", sex="O", study_uid=uid(name, "study"),
                      accession=name[-8:].replace("_", ""), study_date="20000101", description="LIDC-IDRI crop")
    series_uid = uid(name, "ct")
    ph = SimpleNamespace(hu=hu, origin=np.zeros(3), slice_spacing=spacing[0], pixel_spacing=spacing[1])
    names = [f"ct_{k:03d}.dcm" for k in range(hu.shape[0])]
    cts = write_ct_series(ph, study, folder / "ct", series_uid, 1, True, spacing[0], names)
    if syntax != ExplicitVRLittleEndian:
        for n in names:
            reencode(folder / "ct" / n, folder / "ct" / n, syntax)
    several = isinstance(prompt, (list, tuple))
    if several and len({p.kind for p in prompt}) < len(prompt):
        raise ValueError("one prompt per kind: each is written as pr_<kind>.dcm")
    for n, p in enumerate(prompt if several else [prompt]):
        tag = (p.kind,) if several else ()
        marks, series, sop = [_mark(name, p, spacing, cts)], uid(name, "pr", *tag), uid(name, "pr", *tag, 1)
        gsps = write_tid1500(marks, series, sop, 99 + n) if style == "sr" else write_gsps(style, marks, study, series, sop, 99 + n, cts)
        gsps.save_as(folder / (f"pr_{p.kind}.dcm" if several else "pr.dcm"), enforce_file_format=True)


def _mark(name: str, prompt, spacing, cts) -> DemoMark:
    k = prompt.slice_index
    points = prompt.points[:, ::-1] if prompt.kind != "arrow" else np.array([prompt.points[0], prompt.tip])[:, ::-1]
    length = prompt.length_px * spacing[1] if prompt.length_px else None
    short = prompt.short_px * spacing[1] if prompt.short_px else None
    return DemoMark(f"{name}-{prompt.kind}", 1, prompt.kind, points, cts[k], k, length, short)
