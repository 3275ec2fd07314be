"""Parsers against real GSPS/SR/CT files from public repositories (tests/data, and ../shared for the GPL one)."""
import shutil

import duckdb
import numpy as np
import pytest

from curation.extract.stage import extract
from curation.dicom.volume import load_volume
from opseg_testdata import DATA, SHARED


@pytest.fixture(scope="module")
def samples_out(tmp_path_factory):
    src = tmp_path_factory.mktemp("samples")
    shutil.copytree(DATA, src / "data")
    softneta = SHARED / "orthanc_softneta_gsps"
    if softneta.is_dir():  # GPL sample: read from shared/, never copied into the project
        shutil.copytree(softneta, src / "softneta")
    out = tmp_path_factory.mktemp("samples_out")
    extract(src, out)
    return out


def q(out, sql):
    return duckdb.sql(sql.replace("T(", f"read_parquet('{out}/").replace(")T", "/*.parquet')")).fetchall()


def test_agfa_ruler_is_one_line_of_11_15_mm(samples_out):
    rows = q(samples_out, "select kind, length_mm, spacing_source, text_value, text_unit, text_pairing from T(annotations)T "
                          "where source_path like '%GSPS_PS.dcm'")
    assert len(rows) == 1
    kind, length, source, value, unit, pairing = rows[0]
    assert kind == "line" and abs(length - 11.15) <= 0.05
    assert source == "presentation_pixel_spacing"  # the CR image itself is not in the archive
    assert (value, unit, pairing) == (11.1, "mm", "compound_id")


def test_gsps_without_annotations_gives_nothing_and_no_error(samples_out):
    assert q(samples_out, "select count(*) from T(annotations)T where source_path like '%/GSPS.dcm'")[0][0] == 0
    assert q(samples_out, "select count(*) from T(quarantine)T where path like '%/GSPS.dcm'")[0][0] == 0


def test_text_only_gsps_gives_no_geometric_prompt_and_resolves_its_image(samples_out):
    rows = q(samples_out, "select kind, referenced_sop_uid, series_uid from T(annotations)T where source_path like '%larvitar%ps.dcm'")
    assert rows and all(kind == "text" for kind, _, _ in rows)
    image_uid = q(samples_out, "select sop_uid from T(instances)T where path like '%larvitar%image.dcm'")[0][0]
    assert {r[1] for r in rows} == {image_uid}
    assert q(samples_out, "select count(*) from T(quarantine)T where path like '%larvitar%'")[0][0] == 0


@pytest.mark.skipif(not (SHARED / "orthanc_softneta_gsps").is_dir(), reason="GPL sample lives only in ../shared")
def test_softneta_ellipse_axes(samples_out):
    rows = q(samples_out, "select kind, length_mm, short_mm, spacing_source, flags from T(annotations)T "
                          "where source_path like '%PR000000.dcm'")
    assert len(rows) == 1
    kind, major, minor, source, flags = rows[0]
    assert kind == "ellipse" and abs(major - 126.8) <= 0.2 and abs(minor - 120.1) <= 0.2
    assert source == "imager_pixel_spacing" and "displayed_area_zero_based" in flags


def test_cornerstone_srs(samples_out):
    rows = q(samples_out, "select kind, points_px, tip_px, length_mm, short_mm, text_value, text_unit, flags from T(annotations)T "
                          "where source_path like '%structured_report.dcm' order by kind, length_mm")
    by_kind = {}
    for r in rows:
        by_kind.setdefault(r[0], []).append(r)
    (arrow,) = by_kind["arrow"]
    assert arrow[2] == [169.5, 360.0] and arrow[5] is None  # NUM "Center" without a value
    lines = by_kind["line"]
    assert [round(r[3], 2) for r in lines] == [39.37, 133.99]
    (bidi,) = by_kind["bidimensional"]
    assert (bidi[3], bidi[4]) == (93.9, 47.0) and len(bidi[1]) == 4
    assert sorted(round(r[5], 2) for r in by_kind["ellipse"]) == [3905.36, 4806.42]
    assert all(r[6] == "mm2" for r in by_kind["ellipse"])
    other = q(samples_out, "select kind, text_value, text_unit, flags from T(annotations)T where source_path like '%sample-sr.dcm'")
    assert len(other) == 1 and other[0][0] == "bidimensional" and round(other[0][1], 2) == 64.45
    assert "sr_unit_unknown" in other[0][3]  # Cornerstone3D wrote unit "1": no silent mm


def test_real_ct_slices_load_as_a_volume():
    vol = load_volume(sorted(str(p) for p in (DATA / "dcmqi_ct_3slice").glob("*.dcm")))
    assert vol.hu.shape == (3, 512, 512)
    assert np.allclose(np.abs(np.diag(vol.affine)[:2]), 0.810547, atol=1e-6)
    assert abs(vol.geometry.slice_spacing - 1.0) < 1e-3
    hu = vol.hu
    assert hu.min() == -3024  # GE's padding outside the reconstruction circle, after rescale
    assert ((hu > -1050) & (hu < -950)).any() and ((hu > 0) & (hu < 100)).any()  # air and soft tissue in HU


def test_catalog_classifies_samples(samples_out):
    cats = dict(q(samples_out, "select category, count(*) from T(instances)T group by 1"))
    # two real CT series: dcmqi's 3 uncompressed slices and 3 JPEG 2000 slices of the TotalSegmentator example
    assert cats["ct_image"] == 6 and cats["sr"] == 2 and cats["gsps"] >= 3
    series = q(samples_out, "select geometry_status, n_slices from T(series)T where category = 'ct_image'")
    assert sorted(series) == [("ok", 3), ("ok", 3)]
