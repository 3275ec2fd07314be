"""Publish an output folder as a Hugging Face dataset folder: ``datasets.load_dataset(DIR, config)`` works on it.

Layout: ``README.md`` (the card, YAML configs), ``data/<config>/<split>-00000-of-00001.parquet`` for every
table plus the denormalised ``grounded`` config, ``volumes/<series>.nii.gz`` for the CT volumes the grounded
rows reference (files, not embedded arrays, as CT-RATE and AbdomenAtlas do). Splits are drawn by patient with a
stable hash, so adding patients later never moves an existing one to another split.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pyarrow as pa

from curation.dicom.cache import SeriesVolumes, series_volumes
from curation.io.errors import ReasonedError
from curation.io.query import connect
from curation.io.tables import write_parquet
from curation.dicom.volume import VolumeError
from schemas import ALL_TABLES, GroundedRecord
from schemas.base import METADATA_KEY, SCHEMA_VERSION
from schemas.mask_nifti import nifti_bytes

SPLITS = ("train", "validation", "test")
TABLE_CONFIGS = ("studies", "series", "annotations", "reports", "findings", "masks", "links", "qc", "lesions",
                 "lesion_members", "reviews", "quarantine")
REVIEW_BARS = ("accept", "minor")
TIERS = ("A", "B", "C")
DEID_MANIFEST = "_deid/manifest.json"  # written by the de-identification step; its absence means identifiable data


class PublishError(ReasonedError):
    pass


@dataclass
class PublishSummary:
    folder: Path
    rows: dict = field(default_factory=dict)            # config -> split -> rows
    volumes_written: int = 0
    volumes_reused: int = 0
    volume_errors: dict = field(default_factory=dict)   # series -> reason
    deidentified: bool = False
    review_kept: Optional[int] = None                   # masks meeting --min-review (None: no bar given)


def split_of(patient_key: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """A patient's split from a hash of its key: stable across runs and archive growth."""
    u = int(hashlib.sha256(patient_key.encode()).hexdigest()[:12], 16) / float(1 << 48)
    return SPLITS[0] if u < fractions[0] else SPLITS[1] if u < fractions[0] + fractions[1] else SPLITS[2]


def deidentification_status(out: Path) -> Optional[dict]:
    path = Path(out) / DEID_MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def check_deidentified_schemas(status: dict, out: Path) -> None:
    """Refuse a de-identified copy made for other columns than the code now declares: a column added (or
    reclassified) since would be published as whatever the old run left, or not at all."""
    tables = status.get("tables") or {}
    for config in TABLE_CONFIGS:
        want, got = ALL_TABLES[config].schema_hash(), (tables.get(config) or {}).get("schema_hash")
        if got != want:
            raise PublishError("schema_changed",
                               f"{out}: table {config!r} was de-identified for schema {got}, but schemas/ now declares "
                               f"{want} (columns or their PHI classes changed): run `opseg deid` again")


# Each table's rows with the study they belong to (qc rows reach it through their mask's annotation), in a
# fixed order: joins run in parallel, and a republish must write the same bytes.
_STUDY_OF = {
    "studies": "select t.*, t.study_uid as _study from studies t order by study_uid",
    "series": "select t.*, t.study_uid as _study from series t order by study_uid, series_uid",
    "annotations": "select t.*, t.study_uid as _study from annotations t order by annotation_id",
    "reports": "select t.*, t.study_uid as _study from reports t order by report_id",
    "findings": "select t.*, t.study_uid as _study from findings t order by finding_id",
    "masks": ("select t.*, a.study_uid as _study from masks t left join annotations a using (annotation_id) "
              "order by t.mask_id"),
    "links": "select t.*, t.study_uid as _study from links t order by link_id",
    "lesions": "select t.*, t.study_uid as _study from lesions t order by lesion_id",
    "lesion_members": ("select t.*, t.study_uid as _study from lesion_members t "
                       "order by lesion_id, role <> 'primary', annotation_id"),
    "qc": ("select t.*, a.study_uid as _study from qc t left join masks m on t.entity_id = m.mask_id "
           "left join annotations a on m.annotation_id = a.annotation_id order by t.entity_kind, t.entity_id, t.metric"),
    "reviews": ("select t.*, a.study_uid as _study from reviews t left join masks m using (mask_id) "
                "left join annotations a on m.annotation_id = a.annotation_id "
                "order by t.reviewed_at, t.mask_id, t.reviewer"),
}

# One row per lesion: the link of the lesion's primary mark (every member mark carries the lesion's link); a mark no
# lesion holds (an output made without the lesions stage) is its own lesion.
_GROUNDED_SQL = """
select coalesce(lm.lesion_id, l.link_id) as lesion_id, coalesce(les.n_marks, 1) as n_marks, a.study_uid, m.series_uid, l.annotation_id, m.mask_id, l.finding_id,
       m.mask as mask_bytes, m.bbox as mask_bbox, m.affine as affine_lps,
       a.kind as prompt_kind, a.source_kind as prompt_source, a.slice_index as prompt_slice,
       a.points_px as prompt_points_px, a.points_patient as prompt_points_lps,
       a.length_mm as prompt_length_mm, a.short_mm as prompt_short_mm,
       f.text as finding_text, f.section, r.text as report_text, f.char_start, f.char_end,
       f.observation, f.anatomy, f.laterality, f.sizes_mm as reported_sizes_mm,
       m.recist_long_mm as mask_long_mm, m.recist_short_mm as mask_short_mm, m.volume_ml as mask_volume_ml,
       l.tier as link_tier, l.score as link_score, l.evidence as link_evidence,
       q.passed as qc_passed, q.detail as qc_detail,
       m.backend as segmentation_backend, m.checkpoint, f.backend as finding_backend, l.backend as linker
from links l
left join lesion_members lm on lm.annotation_id = l.annotation_id
left join lesions les on les.lesion_id = lm.lesion_id
join masks m on m.mask_id = l.mask_id and m.error is null
join annotations a on a.annotation_id = l.annotation_id
join findings f on f.finding_id = l.finding_id
join reports r on r.report_id = f.report_id
left join qc q on q.entity_id = m.mask_id and q.metric = 'qc_pass'
where l.tier in ({tiers}){review_filter}
qualify row_number() over (partition by coalesce(lm.lesion_id, l.link_id)
                           order by lm.role = 'primary' desc, l.score desc, l.annotation_id) = 1
order by lesion_id
"""

_MEMBER_PROMPTS_SQL = """
select lm.lesion_id, a.annotation_id, a.kind, a.source_kind as source, a.series_uid, a.slice_index as slice,
       a.points_px, a.points_patient as points_lps, a.length_mm, a.short_mm
from lesion_members lm join annotations a using (annotation_id)
order by lm.lesion_id, a.annotation_id
"""


def _member_prompts(con) -> dict[str, list[dict]]:
    rel = con.sql(_MEMBER_PROMPTS_SQL)
    out: dict[str, list[dict]] = {}
    for row in rel.fetchall():
        rec = dict(zip(rel.columns, row))
        out.setdefault(rec.pop("lesion_id"), []).append(rec)
    return out


MAX_FILE_BYTES = 256 << 20      # datasets/DuckDB read files of 100-500 MB best; masks and grounded carry bytes
MAX_ROW_GROUP_BYTES = 64 << 20
MAX_ROW_GROUP_ROWS = 100_000


def _write_split(table: pa.Table, folder: Path, split: str, max_file_bytes: int = MAX_FILE_BYTES) -> list[Path]:
    """One split of a config as ``<split>-0000i-of-0000n.parquet`` files of bounded size, zstd, atomic."""
    row_bytes = max(1, table.nbytes // max(1, table.num_rows))
    n_files = max(1, -(-table.nbytes // max_file_bytes))
    per_file = -(-table.num_rows // n_files)
    group = max(1, min(MAX_ROW_GROUP_ROWS, MAX_ROW_GROUP_BYTES // row_bytes))
    return [write_parquet(table.slice(i * per_file, per_file), folder / f"{split}-{i:05d}-of-{n_files:05d}.parquet",
                          row_group_size=group) for i in range(n_files)]


def _with_opseg_metadata(schema: pa.Schema, config: str) -> pa.Schema:
    meta = dict(schema.metadata or {})
    meta.update({METADATA_KEY: SCHEMA_VERSION.encode(), b"opseg.table": config.encode()})
    return schema.with_metadata(meta)


def _hf_schema(config: str) -> pa.Schema:
    """The Arrow schema with datasets' feature metadata, so `mask` decodes as a Nifti image."""
    import datasets

    cls = GroundedRecord if config == "grounded" else ALL_TABLES[config]
    features = datasets.Features.from_arrow_schema(pa.schema([pa.field(n, t) for n, t, _ in cls.describe()]))
    if config == "grounded":
        features["mask"] = datasets.Nifti()
    hf, phi = features.arrow_schema, {f.name: f.metadata for f in cls.arrow_schema()}
    hf = pa.schema([f.with_metadata(phi[f.name]) if phi.get(f.name) else f for f in hf], metadata=hf.metadata)
    return _with_opseg_metadata(hf, config)  # the PHI classes travel with the published columns too


def _patient_splits(con, fractions) -> dict[str, tuple[str, str]]:
    """study -> (patient key, split). A study without a Patient ID is its own patient."""
    rows = con.sql("select study_uid, patient_id from studies").fetchall()
    return {s: (p or s, split_of(p or s, fractions)) for s, p in rows}


# Deflate level of the CT volumes with ISA-L's igzip (plain gzip that every reader opens): 4x faster than zlib level 1
# on real CT for 2% more bytes; level 3 is as fast as 2 on real CT and 25% faster on the demo's, each a little smaller
# (docs/benchmarks.md, issue 13: publish; `python benchmarks/bench_outputs.py OUT` prints levels 1-3).
CT_GZIP_LEVEL = 3


def _export_volume(series_uid: str, volumes: SeriesVolumes, target: Path) -> tuple[Optional[list[int]], bool]:
    """Write the CT volume as int16 HU NIfTI once; reruns reuse the file. Returns (shape, written)."""
    import nibabel as nib
    from isal import igzip

    if target.exists():
        return list(nib.load(target).shape), False
    vol = volumes.load(series_uid, stored=True)   # the cache keeps whole-number HU as int16 already
    hu = vol.hu if vol.hu.dtype == np.int16 else vol.hu.round().clip(-32768, 32767).astype(np.int16)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(igzip.compress(nifti_bytes(hu, vol.affine), compresslevel=CT_GZIP_LEVEL, mtime=0))
    os.replace(tmp, target)
    return [hu.shape[2], hu.shape[1], hu.shape[0]], True


def volume_file(series_uid: str) -> str:
    return f"volumes/{hashlib.sha256(series_uid.encode()).hexdigest()[:24]}.nii.gz"


def _reviewed_tables(rel: pa.Table, deidentified: bool) -> pa.Table:
    """Reviews as published: never a name as typed. A de-identified copy already holds pseudonyms and scrubbed
    comments; otherwise reviewers become reviewer-1, -2, ... and comments (unscrubbed free text) are dropped."""
    if deidentified or not rel.num_rows:
        return rel
    from curation.publish.review_stats import pseudonymous_labels

    labels = pseudonymous_labels(rel.column("reviewer").to_pylist())
    rel = rel.set_column(rel.schema.get_field_index("reviewer"), "reviewer",
                         pa.array([labels[r].replace(" ", "-") for r in rel.column("reviewer").to_pylist()], pa.string()))
    return rel.set_column(rel.schema.get_field_index("comment"), "comment", pa.nulls(rel.num_rows, pa.string()))


def _keep_masks(table: pa.Table, keep: Optional[set]) -> pa.Table:
    if keep is None:
        return table
    return table.filter(pa.compute.is_in(table.column("mask_id"), value_set=pa.array(sorted(keep), pa.string())))


def load_libraries() -> None:
    """What publish imports on its way (datasets alone ≈ 0.35 CPU s), for a stage setup made ahead of the data."""
    import datasets  # noqa: F401
    import duckdb  # noqa: F401
    import nibabel  # noqa: F401
    from isal import igzip  # noqa: F401

    from curation.publish import dataset_card, review_stats  # noqa: F401


def publish(out: Path, hf_dir: Path, min_tier: str = "B", fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
            volumes: bool = True, min_review: Optional[str] = None,
            progress: Optional[Callable[[str, int], Callable[[int], None]]] = None,
            settings: Optional[dict] = None, workers: int = 1) -> PublishSummary:
    """``min_review``: 'accept' or 'minor' keeps, in `grounded` and `masks`, only masks whose every reviewer's latest
    score is that good (masks nobody scored are left out); ``settings``: the run's stage settings, recorded in the
    card; ``workers``: threads encoding CT volumes (ISA-L and numpy release the GIL)."""
    from curation.io.reviews import ReviewStore, passing_masks
    from curation.publish.dataset_card import write_card

    out, hf_dir = Path(out), Path(hf_dir)
    if min_tier not in TIERS:
        raise PublishError("bad_tier", f"min tier must be one of {TIERS}, not {min_tier!r}")
    if min_review is not None and min_review not in REVIEW_BARS:
        raise PublishError("bad_review_bar", f"--min-review must be one of {REVIEW_BARS}, not {min_review!r}")
    if not (out / "studies").is_dir():
        raise PublishError("not_an_output", f"{out} has no studies table: run `opseg run` (or extract) first")
    status = deidentification_status(out)
    if status is not None:
        check_deidentified_schemas(status, out)
    con = connect(out)
    study_split = _patient_splits(con, fractions)
    summary = PublishSummary(hf_dir, deidentified=status is not None)
    reviews = ReviewStore(out).records()
    keep = passing_masks(reviews, min_review) if min_review else None
    summary.review_kept = len(keep) if keep is not None else None
    data = hf_dir / "data"
    for config in TABLE_CONFIGS + ("grounded",):  # a republish replaces every data file (no stale split left behind)
        for old in (data / config).glob("*.parquet") if (data / config).is_dir() else []:
            old.unlink()
    tick = progress("publish tables", len(TABLE_CONFIGS) + 1) if progress else None
    for config in TABLE_CONFIGS:
        schema = _hf_schema(config)
        if config == "quarantine":  # an audit trail, not patient data to split
            parts = {"audit": con.sql("select * from quarantine order by stage, reason, path, entity_id").to_arrow_table()}
        else:
            rel = con.sql(_STUDY_OF[config]).to_arrow_table()
            studies = rel.column("_study").to_pylist()
            split = pa.array([study_split.get(s, (None, split_of(s or "")))[1] for s in studies], pa.string())
            rel = rel.drop(["_study"])
            if config == "masks" and keep is not None:
                both = _keep_masks(rel.append_column("_split", split), keep)
                rel, split = both.drop(["_split"]), both.column("_split")
            elif config == "reviews":
                rel = _reviewed_tables(rel, summary.deidentified)
            parts = {name: rel.filter(pa.compute.equal(split, name)) for name in SPLITS}
        summary.rows[config] = {}
        for name, part in parts.items():
            if part.num_rows:
                _write_split(part.select(schema.names).cast(schema), data / config, name)
                summary.rows[config][name] = part.num_rows
        if tick:
            tick(1)
    review_filter = ""
    if keep is not None:  # before one row per lesion is picked: a lesion whose accepted mask is a member keeps a row
        con.register("_review_kept", pa.table({"mask_id": pa.array(sorted(keep), pa.string())}))
        review_filter = " and m.mask_id in (select mask_id from _review_kept)"
    rel = con.sql(_GROUNDED_SQL.format(tiers=", ".join(f"'{t}'" for t in TIERS[:TIERS.index(min_tier) + 1]),
                                       review_filter=review_filter))
    records = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
    prompts = _member_prompts(con)
    ct_volumes = series_volumes(out) if volumes else None
    shapes: dict[str, Optional[list[int]]] = {}
    todo = sorted({r["series_uid"] for r in records}) if volumes else []
    vtick = progress("publish volumes", len(todo)) if progress and todo else None

    def export(series_uid):
        try:
            return series_uid, _export_volume(series_uid, ct_volumes, hf_dir / volume_file(series_uid)), None
        except VolumeError as exc:
            return series_uid, (None, False), f"{exc.reason}: {exc.detail}"
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for series_uid, (shape, written), error in pool.map(export, todo):
            shapes[series_uid] = shape
            if error:
                summary.volume_errors[series_uid] = error
            else:
                summary.volumes_written += written
                summary.volumes_reused += not written
            if vtick:
                vtick(1)
    grounded = []
    for r in records:
        patient, split = study_split.get(r["study_uid"], (r["study_uid"], split_of(r["study_uid"])))
        detail = r.pop("qc_detail")
        exported = shapes.get(r["series_uid"]) is not None
        grounded.append(GroundedRecord(
            split=split, patient_key=patient, mask={"bytes": r.pop("mask_bytes"), "path": f"{r['mask_id']}.nii.gz"},
            ct_file=volume_file(r["series_uid"]) if exported else None, ct_shape=shapes.get(r["series_uid"]),
            qc_failed=[] if r["qc_passed"] in (True, None) or not detail else [x.strip() for x in detail.split(",")],
            link_evidence=list(r.pop("link_evidence") or []),
            member_prompts=prompts.get(r["lesion_id"]) or [_own_prompt(r)], **r))
    schema = _hf_schema("grounded")
    table = pa.Table.from_pylist([g.to_row() for g in grounded], schema=schema)
    summary.rows["grounded"] = {}
    for name in SPLITS:
        part = table.filter(pa.compute.equal(table.column("split"), name))
        if part.num_rows:
            _write_split(part, data / "grounded", name)
            summary.rows["grounded"][name] = part.num_rows
    if tick:
        tick(1)
    write_card(hf_dir, out, con, summary, min_tier=min_tier, fractions=fractions,
               qc=Counter((g.prompt_kind, g.qc_passed) for g in grounded), settings=settings, reviews=reviews,
               min_review=min_review)
    return summary


def _own_prompt(r: dict) -> dict:
    return {"annotation_id": r["annotation_id"], "kind": r["prompt_kind"], "source": r["prompt_source"],
            "series_uid": r["series_uid"], "slice": r["prompt_slice"], "points_px": r["prompt_points_px"],
            "points_lps": r["prompt_points_lps"], "length_mm": r["prompt_length_mm"], "short_mm": r["prompt_short_mm"]}


def push_to_hub(out: Path, hf_dir: Path, repo_id: str, private: bool = True, token: Optional[str] = None) -> str:
    """Upload a published folder, only when its tables were de-identified."""
    status = deidentification_status(out)
    if status is None:
        raise PublishError("not_deidentified",
                           f"refusing to push {hf_dir} to {repo_id}: the tables in {out} were produced without "
                           f"de-identification (no {out / DEID_MANIFEST}), so they carry UIDs, patient IDs, accession "
                           f"numbers and report text as found in the archive. Publish de-identified output only.")
    check_deidentified_schemas(status, out)
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(hf_dir),
                             commit_message="opseg publish")
    return str(info)
