"""The published Hugging Face folder: load_dataset decodes masks on the right grid, splits keep patients apart,
every table has a config, pushing identifiable output is refused."""
import shutil

import nibabel as nib
import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.publish.dataset import PublishError, publish, push_to_hub, split_of
from curation.io.query import connect
from schemas.mask_nifti import paste


@pytest.fixture(scope="module")
def published(processed_out, tmp_path_factory, monkeypatch_module):
    hf = tmp_path_factory.mktemp("hf") / "dataset"
    return processed_out, hf, publish(processed_out, hf)


@pytest.fixture(scope="module")
def monkeypatch_module(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.mktemp("hf_cache")))
    mp.setenv("HF_HUB_OFFLINE", "1")
    yield mp
    mp.undo()


def test_grounded_mask_decodes_with_its_shape_and_affine(published):
    import datasets

    out, hf, summary = published
    ds = datasets.load_dataset(str(hf), "grounded")
    assert set(ds) == set(summary.rows["grounded"])
    con = connect(out)
    masks = {r[0]: r for r in con.sql("select mask_id, mask, bbox, affine from masks where error is null").fetchall()}
    n = 0
    for split in ds.values():
        for row in split:
            assert row["split"] == split.split
            _, data, bbox, _ = masks[row["mask_id"]]
            c0, r0, s0, c1, r1, s1 = row["mask_bbox"]
            img = row["mask"]
            assert img.shape == (c1 - c0, r1 - r0, s1 - s0)
            ct = nib.load(hf / row["ct_file"])
            assert list(ct.shape) == row["ct_shape"]
            # the crop's affine is the CT's, moved to the bbox corner: the mask lands on the same voxels
            assert np.allclose(img.affine[:3, :3], ct.affine[:3, :3])
            assert np.allclose(img.affine[:, 3], ct.affine @ np.array([c0, r0, s0, 1.0]))
            full = np.zeros(ct.shape, bool)
            full[c0:c1, r0:r1, s0:s1] = np.asarray(img.dataobj) > 0
            assert np.array_equal(full.transpose(2, 1, 0), paste(data, bbox, ct.shape[::-1]))
            assert row["report_text"][row["char_start"]:row["char_end"]] == row["finding_text"]
            assert row["link_tier"] in ("A", "B")
            n += 1
    # one row per lesion, not per link: every member mark of a lesion carries the lesion's link
    assert n == con.sql("select count(distinct lm.lesion_id) from links l join masks m using (mask_id) "
                        "join lesion_members lm on lm.annotation_id = l.annotation_id "
                        "where m.error is null and l.tier in ('A', 'B')").fetchall()[0][0] > 0
    # the CT really is the archive's HU volume: the mask mean HU equals the qc table's
    row = ds[next(iter(ds))][0]
    ct = np.asarray(nib.load(hf / row["ct_file"]).dataobj)
    c0, r0, s0, c1, r1, s1 = row["mask_bbox"]
    hu = ct[c0:c1, r0:r1, s0:s1][np.asarray(row["mask"].dataobj) > 0].mean()
    qc_hu = con.sql(f"select value from qc where entity_id = '{row['mask_id']}' and metric = 'hu_mean'").fetchall()[0][0]
    assert abs(hu - qc_hu) < 1.0


def test_every_table_is_a_config_and_splits_keep_patients_apart(published):
    import datasets

    out, hf, summary = published
    con = connect(out)
    for config in ("studies", "series", "annotations", "reports", "findings", "masks", "links", "qc", "quarantine"):
        ds = datasets.load_dataset(str(hf), config)
        total = sum(len(s) for s in ds.values())
        assert total == con.sql(f"select count(*) from {config}").fetchall()[0][0], config
    assert set(summary.rows["quarantine"]) == {"audit"}
    # one split per patient across every table
    patient_split = {}
    for split, rows in ((s, datasets.load_dataset(str(hf), "studies")[s]) for s in summary.rows["studies"]):
        for r in rows:
            assert patient_split.setdefault(r["patient_id"], split) == split
    study_split = {r["study_uid"]: s for s in summary.rows["studies"]
                   for r in datasets.load_dataset(str(hf), "studies")[s]}
    for config in ("annotations", "findings", "links", "grounded"):
        ds = datasets.load_dataset(str(hf), config)
        for split, rows in ds.items():
            assert {study_split.get(r["study_uid"], split) for r in rows} <= {split}, config


def test_split_is_stable_and_roughly_proportional():
    keys = [f"patient-{i}" for i in range(4000)]
    splits = [split_of(k) for k in keys]
    assert splits == [split_of(k) for k in keys]
    share = {s: splits.count(s) / len(keys) for s in ("train", "validation", "test")}
    assert abs(share["train"] - 0.8) < 0.03 and abs(share["validation"] - 0.1) < 0.02


def test_card_documents_configs_backends_and_the_identifiable_status(published):
    import yaml

    out, hf, _ = published
    text = (hf / "README.md").read_text()
    header = yaml.safe_load(text.split("---")[1])
    assert {c["config_name"] for c in header["configs"]} >= {"grounded", "masks", "qc", "quarantine"}
    assert "NOT DE-IDENTIFIED" in text
    backend = connect(out).sql("select distinct backend from masks where error is null").fetchall()[0][0]
    assert backend in text and "## Intended use and limits" in text


def test_republish_gives_identical_files_and_reuses_volumes(published, tmp_path):
    out, hf, _ = published
    again = tmp_path / "again"
    shutil.copytree(hf, again)
    summary = publish(out, again)
    assert summary.volumes_written == 0 and summary.volumes_reused > 0
    for f in sorted(hf.rglob("*.parquet")):
        assert pq.read_table(f).equals(pq.read_table(again / f.relative_to(hf))), f
        assert f.read_bytes() == (again / f.relative_to(hf)).read_bytes()
    assert (hf / "README.md").read_text() == (again / "README.md").read_text()


def test_volumes_gzipped_on_two_threads_are_the_same_files(published, tmp_path):
    """The pipeline gives publish's CT gzip every core's thread (curation.publish.stage): the files must not depend
    on how many threads wrote them."""
    out, hf, _ = published
    two = tmp_path / "two"
    summary = publish(out, two, workers=2)
    assert summary.volumes_written > 1
    files = sorted(p.relative_to(hf) for p in hf.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    for f in files:
        assert (hf / f).read_bytes() == (two / f).read_bytes(), f


def test_push_is_refused_without_deidentification(published):
    out, hf, _ = published
    with pytest.raises(PublishError) as err:
        push_to_hub(out, hf, "someone/dataset")
    assert err.value.reason == "not_deidentified" and str(out) in err.value.detail


def test_cli_publish_refuses_push_with_a_clear_message(published, tmp_path):
    from typer.testing import CliRunner

    from curation.cli import app

    out, _, _ = published
    res = CliRunner().invoke(app, ["publish", str(out), "--hf", str(tmp_path / "hf"), "--no-volumes", "--no-deid",
                                   "--push-to-hub", "someone/dataset"])
    assert res.exit_code == 2 and "not_deidentified" in res.output
    assert (tmp_path / "hf" / "README.md").exists()  # the local folder is still written


def test_big_splits_are_written_as_bounded_files_that_load_as_one(published, tmp_path):
    import datasets

    from curation.publish.dataset import _write_split

    out, _, _ = published
    table = connect(out).sql("select * from masks order by mask_id").to_arrow_table()
    files = _write_split(table, tmp_path / "data" / "masks", "train", max_file_bytes=table.nbytes // 3 + 1)
    assert [f.name for f in files] == [f"train-{i:05d}-of-00003.parquet" for i in range(3)]
    (tmp_path / "README.md").write_text("---\nconfigs:\n- config_name: masks\n  data_files:\n  - split: train\n"
                                        "    path: data/masks/train-*.parquet\n---\n")
    ds = datasets.load_dataset(str(tmp_path), "masks")["train"]
    assert ds["mask_id"] == table.column("mask_id").to_pylist()


def test_grounded_has_one_row_per_truth_lesion_and_no_shared_finding_or_overlap(published, truth):
    from itertools import combinations

    from curation.lesions.overlap import PatientMask, overlap
    from schemas import MaskRecord

    out, hf, _ = published
    rows = [r for p in sorted((hf / "data" / "grounded").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    marked = {(t["study_uid"], t["lesion_id"]) for t in truth["lesions"] if t["marked"]}
    assert len(rows) == len(marked)
    assert len({r["finding_id"] for r in rows}) == len(rows)
    assert len({r["lesion_id"] for r in rows}) == len(rows)
    assert all(r["n_marks"] == len(r["member_prompts"]) >= 1 for r in rows) and any(r["n_marks"] > 1 for r in rows)
    masks = {m["mask_id"]: MaskRecord.from_row(m) for m in connect(out).sql("select * from masks").to_arrow_table().to_pylist()}
    for a, b in combinations(rows, 2):
        if a["study_uid"] == b["study_uid"]:
            assert overlap(PatientMask.of(masks[a["mask_id"]]), PatientMask.of(masks[b["mask_id"]])).iou == 0.0


def test_card_counts_marks_lesions_and_duplicates_per_kind(published):
    out, hf, summary = published
    card = (hf / "README.md").read_text()
    con = connect(out)
    marks, lesions = con.sql("select count(*), count(distinct lesion_id) from lesion_members").fetchall()[0]
    assert "| prompt kind | marks | unique lesions | duplicates removed |" in card
    assert f"| all | {marks} | {lesions} | {marks - lesions} |" in card and marks > lesions
    assert summary.rows["lesions"] and summary.rows["lesion_members"]


def test_published_ct_volume_is_the_cached_hu_as_int16(tmp_path):
    """Whole-number HU go from the int16 cache entry straight to the file; fractional HU (a slope < 1) are rounded
    as before; the file is plain gzip on the volume's affine."""
    import gzip

    from curation.dicom.cache import SeriesVolumes, store
    from curation.dicom.volume import SeriesGeometry, Volume
    from curation.publish.dataset import _export_volume
    from schemas.mask_nifti import LPS_TO_RAS

    affine = np.diag([0.7, 0.7, 2.5, 1.0])
    affine[:3, 3] = [-120.0, -100.0, 30.0]
    geo = SeriesGeometry([], affine, 2.5, 6, 5, (0.7, 0.7))
    whole = np.random.default_rng(0).integers(-1024, 3000, (4, 6, 5)).astype(np.float32)
    for name, hu, stored in (("whole", whole, np.int16), ("fractional", whole * 0.5 + 0.3, np.float32)):
        store(tmp_path / name, Volume(hu, geo))
        volumes = SeriesVolumes({name: tmp_path / name})
        assert volumes.load(name, stored=True).hu.dtype == stored and volumes.load(name).hu.dtype == np.float32
        target = tmp_path / f"{name}.nii.gz"
        assert _export_volume(name, volumes, target) == ([5, 6, 4], True)
        img = nib.Nifti1Image.from_bytes(gzip.decompress(target.read_bytes()))
        assert img.get_data_dtype() == np.int16 and np.allclose(img.affine, LPS_TO_RAS @ affine)
        assert np.array_equal(np.asarray(img.dataobj).transpose(2, 1, 0), np.round(hu).astype(np.int16))
