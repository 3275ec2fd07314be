"""PACS sources against a real Orthanc (Debian orthanc + orthanc-dicomweb) started by the test inside a private
network namespace (loopback only), loaded by C-STORE and mined through DICOMweb and DIMSE: the annotations
equal those of the folder source, and only the referenced CT series are fetched."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from curation.demo import generate_archive
from curation.extract.stage import extract
from curation.io.tables import read_records
from schemas import AnnotationRecord, ReportRecord

HERE = Path(__file__).resolve().parent


def _can_run() -> str:
    if not shutil.which("Orthanc") or not Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so").exists():
        return "Orthanc with the DICOMweb plugin is not installed (make test installs it as root)"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return "" if probe.returncode == 0 else "cannot create a network namespace here (unshare -n)"


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    why = _can_run()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    root = tmp_path_factory.mktemp("pacs")
    generate_archive(root / "demo", seed=0, n_studies=3)
    decoy = _add_unreferenced_ct_series(root / "demo" / "dicom")
    work = root / "work"
    cmd = f"ip link set lo up && {sys.executable} {HERE / 'pacs_roundtrip.py'} {root / 'demo' / 'dicom'} {work}"
    res = subprocess.run(["unshare", "-n", "sh", "-c", cmd], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return root, work, json.loads((work / "result.json").read_text()), decoy


def _add_unreferenced_ct_series(archive: Path) -> str:
    """A second CT series in the first study that no GSPS/SR refers to: a PACS source must not fetch it."""
    first = sorted(p for p in archive.iterdir() if p.is_dir())[0]
    ct = [p for p in sorted(first.rglob("*.dcm")) if pydicom.dcmread(p, stop_before_pixels=True).Modality == "CT"]
    series = generate_uid()
    (first / "decoy").mkdir()
    for i, p in enumerate(ct):
        ds = pydicom.dcmread(p)
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SeriesNumber = series, generate_uid(), 99
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(first / "decoy" / f"{i:04d}.dcm", enforce_file_format=True)
    return series


def _annotations(folder: Path, out: Path):
    extract(folder, out, workers=1)
    rows = [{k: v for k, v in r.to_row().items() if k != "source_path"} for r in read_records(out, AnnotationRecord)]
    reports = sorted(r.text for r in read_records(out, ReportRecord))
    return sorted(rows, key=lambda r: r["annotation_id"]), reports


@pytest.mark.slow
def test_dicomweb_and_dimse_give_the_folder_sources_annotations(mined):
    root, work, result, _ = mined
    expected, expected_reports = _annotations(root / "demo" / "dicom", root / "out-folder")
    assert expected
    for name in ("dicomweb", "dimse"):
        got, reports = _annotations(work / f"cache-{name}" / "dicom", root / f"out-{name}")
        assert got == expected, name
        assert reports == [r for r in expected_reports if r]  # the SR report text comes with the SR
        assert result[name]["errors"] == []


@pytest.mark.slow
def test_only_referenced_series_are_fetched_and_reruns_use_the_cache(mined):
    root, work, result, decoy = mined
    archive_bytes = sum(p.stat().st_size for p in (root / "demo" / "dicom").rglob("*.dcm"))
    for name in ("dicomweb", "dimse"):
        stats = result[name]
        assert decoy not in stats["series_uids"]
        assert list((work / f"cache-{name}" / "dicom").glob(f"*/{decoy}")) == []
        assert stats["bytes"] < archive_bytes  # the decoy series stayed in the PACS
        assert result[f"{name}_rerun"]["series_fetched"] == 0 and result[f"{name}_rerun"]["instances"] == 0
    # DICOMweb: one QIDO per annotation modality, then one WADO-RS per series fetched
    assert result["dicomweb"]["requests"] == 2 + result["dicomweb"]["series_fetched"]
    assert result["dicomweb_rerun"]["requests"] == 2
    assert result["run"]["fetch"][0]["series_fetched"] == result["dicomweb"]["series_fetched"]
    assert result["run"]["extract"][0]["annotations"] > 0


def test_source_specs_parse_into_the_right_source(tmp_path):
    from curation.extract.sources import open_source
    from curation.extract.sources.base import FolderSource
    from curation.extract.sources.dicomweb import DICOMwebSource
    from curation.extract.sources.dimse import DIMSESource

    assert isinstance(open_source(str(tmp_path)), FolderSource)
    web = open_source("dicomweb+https://pacs.example.org:8443/dicom-web?from=20240101&to=20241231&modalities=pr")
    assert isinstance(web, DICOMwebSource) and web.url == "https://pacs.example.org:8443/dicom-web"
    assert web.dates == ("20240101", "20241231") and web.modalities == ("PR",)
    dimse = open_source("dimse://PACS@10.0.0.5:11112?calling=MINER&store_port=4000")
    assert isinstance(dimse, DIMSESource) and (dimse.host, dimse.port, dimse.called, dimse.calling, dimse.store_port) == (
        "10.0.0.5", 11112, "PACS", "MINER", 4000)
    assert dimse.modalities == ("PR", "SR")
    with pytest.raises(ValueError, match="unknown source"):
        open_source("ftp://x")
