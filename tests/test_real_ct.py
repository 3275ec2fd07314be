"""Real anatomy through the whole path: real CT pixels in the compressed transfer syntaxes hospitals send, and
real LIDC-IDRI nodules as DICOM CT + GSPS through ``extract`` and ``segment``, scored against the readers' mask."""
import numpy as np
import pydicom
import pytest
from pydicom import uid

from curation.dicom.volume import load_volume
from curation.extract.stage import extract
from curation.io.tables import read_records
from schemas import MaskRecord
from schemas.mask_nifti import paste
from segmentation.evaluate import dice
from segmentation.real_prompts import real_prompt
from segmentation.stage import run_segment
from real_ct import TOTALSEG_J2K, lidc_case, reencode, write_lidc_study

SYNTAXES = [uid.JPEGLSLossless, uid.JPEGLosslessSV1, uid.JPEGLossless, uid.RLELossless,
            uid.DeflatedExplicitVRLittleEndian, uid.JPEG2000Lossless, uid.ExplicitVRLittleEndian]


@pytest.fixture(scope="module")
def j2k_volume():
    paths = sorted(str(p) for p in TOTALSEG_J2K.glob("*.dcm"))
    assert pydicom.dcmread(paths[0]).file_meta.TransferSyntaxUID == uid.JPEG2000Lossless
    return paths, load_volume(paths)


def test_real_jpeg2000_series_decodes_to_plausible_hu(j2k_volume):
    _, vol = j2k_volume
    assert vol.hu.shape == (3, 512, 512)
    assert vol.hu.min() <= -1000 and 20 < float(np.median(vol.hu[vol.hu > -200])) < 120  # air outside, soft tissue
    assert abs(vol.geometry.slice_spacing - 2.0) < 0.01


@pytest.mark.parametrize("syntax", SYNTAXES, ids=lambda s: s.name.split(" (")[0].replace(" ", "_"))
def test_each_transfer_syntax_gives_the_same_hu(j2k_volume, syntax, tmp_path):
    paths, vol = j2k_volume
    out = [str(reencode(p, tmp_path / f"{i}.dcm", syntax)) for i, p in enumerate(paths)]
    assert pydicom.dcmread(out[0]).file_meta.TransferSyntaxUID == syntax
    assert np.array_equal(load_volume(out).hu, vol.hu)


@pytest.mark.parametrize("name,kind,syntax", [("LIDC-IDRI-0014_R_1", "line", uid.JPEGLSLossless),
                                               ("LIDC-IDRI-0024_R_2", "bidimensional", uid.RLELossless),
                                               ("LIDC-IDRI-0036_R_2", "arrow", uid.ExplicitVRLittleEndian)])
def test_lidc_nodule_as_dicom_gsps_through_extract_and_segment(name, kind, syntax, tmp_path):
    hu, truth, spacing = lidc_case(name)
    prompt = real_prompt(kind, truth, spacing, np.random.default_rng(0))
    if kind == "arrow":  # a 15 mm shaft inside the crop: extraction reads very short line+head arrows as a line and a polyline
        u = (prompt.points[0] - prompt.tip) / np.linalg.norm(prompt.points[0] - prompt.tip)
        prompt.points[0] = np.clip(prompt.tip + u * 15.0 / spacing[1], 0.5, np.array(truth.shape[1:]) - 0.5)
    write_lidc_study(name, tmp_path / "archive", prompt, spacing, hu, syntax)
    out = tmp_path / "out"
    extract(tmp_path / "archive", out, workers=1)
    run_segment(out)
    masks = read_records(out, MaskRecord)
    assert len(masks) == 1 and masks[0].error is None, masks
    m = masks[0]
    assert m.backend == "classical-cpu 0.3.0"
    pred = paste(m.mask, m.bbox, truth.shape)
    assert dice(pred, truth) >= 0.7, (name, kind, dice(pred, truth))


def test_opseg_eval_reads_a_real_crop_folder(tmp_path):
    import json

    from typer.testing import CliRunner

    from curation.cli import app
    from real_ct import LIDC

    res = CliRunner().invoke(app, ["eval", str(LIDC), "--report", str(tmp_path / "ev.json")])
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "ev.json").read_text())
    s = result["summary"]
    assert result["backend"] == "classical-cpu 0.3.0" and result["cases"] == 3
    assert set(s["overall"]) == {"line", "bidimensional", "arrow", "point", "box", "mask"}
    assert s["overall"]["line"]["dice_mean"] >= 0.7 and "recist_error_pct_mean" in s["overall"]["line"]
    assert set(s["size"]) <= {"<10 mm", "10-20 mm", ">20 mm"} and set(s["location"]) <= {"isolated", "juxtapleural"}
    assert {r["half"] for r in result["rows"]} == {"holdout"}
    assert "| size:" in (tmp_path / "ev.md").read_text()


def test_qc_search_finds_the_threshold_that_separates_good_from_bad():
    from curation.qc.stage import QCThresholds
    from curation.pipeline.qc_calibration import score, search

    def row(certainty, d):
        return {"segmented": True, "kind": "line", "dice": d, "metrics": {"components": 1.0, "classical_certainty": certainty}}

    rows = [row(0.9, 0.85)] * 8 + [row(0.55, 0.3)] * 4 + [row(0.8, 0.75)] * 4
    assert score(rows, QCThresholds())["precision"] == 12 / 16
    th, s = search(rows, aim=0.9)
    assert 0.55 < th.min_classical_certainty <= 0.8 and s["precision"] == 1.0 and s["recall"] == 1.0
