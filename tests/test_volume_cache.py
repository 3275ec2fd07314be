"""Each CT series is decoded once per run: segment fills OUT/_volumes, qc, deid, publish, report and SEG export read
it back; the de-identified copy reaches the volumes through the cache, never through archive paths."""
import shutil

import numpy as np
import pyarrow.parquet as pq

import curation.dicom.cache as cache
from curation.dicom.cache import PRIVATE_CT_VOLUMES, series_volumes
from curation.io.tables import read_records
from schemas import InstanceRecord, MaskRecord


def test_each_ct_is_decoded_once_per_run(demo_dir, demo_out, tmp_path, monkeypatch):
    from curation.pipeline.run import run_pipeline

    out = tmp_path / "out"
    shutil.copytree(demo_out, out)
    decoded = []
    real = cache.load_volume
    monkeypatch.setattr(cache, "load_volume", lambda paths, uid="", **kw: decoded.append(uid) or real(paths, uid, **kw))
    monkeypatch.setenv("OPSEG_DEID_SECRET", "volume-cache-test-secret-0123456789")
    run_pipeline(demo_dir / "dicom", out, reports=[demo_dir / "reports.jsonl"], shards=2, seg_dir=tmp_path / "seg")
    masked = {m.series_uid for m in read_records(out, MaskRecord) if m.error is None}
    assert masked and sorted(decoded) == sorted(set(decoded)) and masked <= set(decoded)
    # the cached HU is the decoded HU, voxel for voxel
    volumes = series_volumes(out)
    uid = sorted(masked)[0]
    paths = [i.path for i in read_records(out, InstanceRecord) if i.series_uid == uid]
    cached, fresh = volumes.load(uid), real(sorted(paths), uid)
    assert cached.hu.dtype == np.float32 and np.array_equal(cached.hu, fresh.hu)
    assert np.allclose(cached.affine, fresh.affine)
    # the de-identified copy lists cache entries (relative to itself), no archive path, no real UID
    table = pq.read_table(out / "deid" / PRIVATE_CT_VOLUMES).to_pydict()
    assert len(table["entry"]) == len(masked)
    text = " ".join(table["entry"] + table["series_uid"])
    assert str(demo_dir) not in text and not any(u in text for u in masked)
    assert all((out / "deid" / e).resolve().parent == (out / "_volumes") for e in table["entry"])
    assert not (out / "deid" / "_private" / "ct_paths.parquet").exists()
    meta = " ".join(p.read_text() for p in (out / "_volumes").glob("*.json"))
    assert str(demo_dir) not in meta and not any(u in meta for u in masked)


def test_a_broken_series_is_cached_as_its_error(tmp_path):
    from curation.dicom.volume import VolumeError

    volumes = cache.SeriesVolumes({"1.2.3": tmp_path / "entry"}, {"1.2.3": [str(tmp_path / "missing.dcm")]})
    for _ in range(2):
        try:
            volumes.load("1.2.3")
        except VolumeError as exc:
            assert exc.reason == "unreadable_slice"
    assert volumes.decoded == 1  # the second request read the cached error

