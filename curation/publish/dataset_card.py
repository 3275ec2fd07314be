"""The dataset card (README.md) of a published folder: YAML configs for `load_dataset`, then what a reader of
the Hub page needs: how it was made, with which backends, what QC says, what it is for and what it is not."""
from __future__ import annotations

from pathlib import Path, PurePath
from typing import Optional

import yaml

from curation import __version__
from curation.io.query import failure_counts
from schemas import ALL_TABLES, GroundedRecord

CONFIG_ORDER = ("grounded", "studies", "series", "annotations", "reports", "findings", "masks", "links", "qc",
                "lesions", "lesion_members", "reviews", "quarantine")

# marks per prompt kind, the lesions whose primary is of that kind, and the member marks folded into a lesion
_DUPLICATES_SQL = """
select kind, count(*) as marks, count(*) filter (where role = 'primary') as lesions,
       count(*) filter (where role <> 'primary') as duplicates
from lesion_members group by 1 order by 1
"""


def _yaml_header(rows: dict) -> str:
    configs = []
    for config in CONFIG_ORDER:
        splits = rows.get(config) or {}
        if not splits:
            continue  # a config without files would not load; the card says it is empty
        entry = {"config_name": config,
                 "data_files": [{"split": s, "path": f"data/{config}/{s}-*.parquet"} for s in splits]}
        if config == "grounded":
            entry["default"] = True
        configs.append(entry)
    header = {"pretty_name": "opseg grounded CT lesions", "license": "other", "language": ["en"],
              "task_categories": ["image-segmentation", "image-to-text"],
              "tags": ["medical", "ct", "radiology", "3d", "segmentation", "report-generation", "nifti", "opseg"],
              "configs": configs}
    return "---\n" + yaml.safe_dump(header, sort_keys=False, width=120) + "---\n"


def _versions(con) -> list[tuple[str, str]]:
    q = [("annotation extraction", "select distinct extractor from annotations"),
         ("segmentation", "select distinct backend || coalesce(' / ' || checkpoint, '') from masks where error is null"),
         ("report parsing", "select distinct backend from findings"),
         ("linking", "select distinct backend from links")]
    return [(what, ", ".join(sorted(str(v[0]) for v in con.sql(sql).fetchall() if v[0])) or "-") for what, sql in q]


def _settings_lines(settings: Optional[dict]) -> list[str]:
    """Every stage's settings as the run recorded them (paths reduced to file names: a card leaves the site)."""
    if not settings:
        return []
    lines = ["## Settings of the run", "", "| stage | setting | value |", "|---|---|---|"]
    for stage, cfg in settings.items():
        for name, value in (cfg or {}).items():
            lines.append(f"| {stage} | `{name}` | {_public(value)} |")
    return lines + [""]


def _public(value) -> str:
    if isinstance(value, list):
        return ", ".join(_public(v) for v in value) or "-"
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return f"`{PurePath(value).name}`"
    return "-" if value is None else f"`{value}`"


def deidentification_section(status: dict) -> list[str]:
    """Each PHI class: what was done, to which columns, how many values changed; then the free-text replacements."""
    changed = status.get("values_changed", {})
    lines = ["## De-identification", "", "| PHI class | what was done | columns | values changed |", "|---|---|---|---|"]
    for phi, entry in status.get("policy", {}).items():
        cols = (f"every number, boolean and geometry column ({len(entry['columns'])})" if phi == "numeric"
                else ", ".join(f"`{c}`" for c in entry["columns"]))
        lines.append(f"| `{phi}` | {entry['transform']} | {cols} | {changed.get(phi, 0)} |")
    reps = status.get("replacements", {})
    lines += ["", "Replacements in free text: " + (", ".join(f"{k.lower()} {v}" for k, v in reps.items()) or "none") + ".",
              ""]
    return lines



def _lesion_lines(con) -> list[str]:
    """Marks, unique lesions and duplicates removed per prompt kind, and the members whose mask disagrees."""
    rows = con.sql(_DUPLICATES_SQL).fetchall()
    if not rows:
        return ["", "Lesions: no lesions table (marks were not grouped)."]
    lines = ["", "## Lesions, not marks", "",
             "A lesion marked several times (re-saved presentation states, two readers, two reconstructions, a GSPS and",
             "an SR of one measurement) is one lesion: one `grounded` row, its other marks listed in `lesion_members`.",
             "", "| prompt kind | marks | unique lesions | duplicates removed |", "|---|---|---|---|"]
    lines += [f"| {k} | {m} | {u} | {d} |" for k, m, u, d in rows]
    total = [sum(r[i] for r in rows) for i in (1, 2, 3)]
    lines.append(f"| all | {total[0]} | {total[1]} | {total[2]} |")
    flagged = con.sql("select count(*) filter (where disagrees), count(dice_to_primary) from lesion_members").fetchall()[0]
    lines += ["", f"Member masks that disagree with their lesion's primary mask (patient-space Dice below the lesions "
                  f"stage's `min_member_dice`): {flagged[0]} of {flagged[1]} compared."]
    return lines



def write_card(hf_dir: Path, out: Path, con, summary, min_tier: str, fractions, qc, settings: Optional[dict] = None,
               reviews=(), min_review=None) -> Path:
    import datasets

    from curation.publish.review_stats import review_section

    rows = summary.rows
    lines = [_yaml_header(rows), "# opseg grounded CT lesions", ""]
    if summary.deidentified:
        from curation.publish.dataset import deidentification_status

        status = deidentification_status(out) or {}
        methods = status.get("methods", {})
        lines += ["De-identified by opseg before publishing: " + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in
                                                                       sorted(methods.items())) + ".",
                  "Pseudonyms are stable within the project (one secret); dates are shifted per patient, so intervals "
                  "hold but calendar dates are not real. Automated scrubbing can miss identifiers: keep the licence "
                  "terms and do not attempt re-identification. What was done, by the PHI class each column declares, "
                  "is under [De-identification](#de-identification).", ""]
    else:
        lines += ["> **NOT DE-IDENTIFIED.** These tables carry DICOM UIDs, patient IDs, accession numbers and report text",
                  "> exactly as found in the source archive. Keep this folder inside the environment that holds the",
                  "> archive; `opseg publish --push-to-hub` refuses to upload it.", ""]
    n_grounded = sum(rows.get("grounded", {}).values())
    lines += [
        "Lesion masks made from the arrows and measurement lines radiologists drew while reading CT exams (DICOM GSPS",
        "and TID 1500 SR), each linked to the report sentence that describes it: a 3D vision-language corpus made",
        "with no extra physician time (opportunistic promptable segmentation).",
        "",
        "## Load it",
        "",
        "```python",
        "from pathlib import Path",
        "import datasets, nibabel as nib",
        "",
        "folder = Path('path/to/this/folder')",
        "ds = datasets.load_dataset(str(folder), 'grounded')        # one row per linked lesion",
        "row = ds['train'][0]",
        "mask = row['mask']                  # nibabel image: the mask cropped to its bbox, RAS affine",
        "ct = nib.load(folder / row['ct_file'])   # the whole CT volume (int16 HU); mask_bbox places the crop in it",
        "print(row['finding_text'], mask.shape, row['mask_bbox'])",
        "```",
        "",
        "Analysts can query the tables in place with DuckDB: `select * from 'data/findings/*.parquet'`.",
        "",
        "## Configs and splits",
        "",
        f"Splits are drawn by patient (hash of the patient key; fractions {fractions[0]:.2f}/{fractions[1]:.2f}/"
        f"{fractions[2]:.2f}), so no patient is in two splits; every table uses the same assignment. `quarantine` is the",
        "audit trail of inputs that could not be used (one split, `audit`).",
        "",
        "| config | " + " | ".join(("train", "validation", "test", "audit")) + " |",
        "|---|---|---|---|---|",
    ]
    for config in CONFIG_ORDER:
        r = rows.get(config, {})
        lines.append(f"| `{config}` | " + " | ".join(str(r.get(s, 0)) for s in ("train", "validation", "test", "audit"))
                     + ("" if r else " (empty: no config)") + " |")
    lines += [
        "",
        f"`grounded` holds {n_grounded} lesions: links of tier {min_tier} or better"
        " (A: the sentence cites the image and its size matches; B: assignment by size and location with a margin",
        "over the next best; C: candidates only). Masks of every tier stay in `masks` and `links`.",
        f"CT volumes: {summary.volumes_written + summary.volumes_reused} NIfTI files under `volumes/`"
        + (f"; {len(summary.volume_errors)} series could not be exported (their rows have `ct_file` null)."
           if summary.volume_errors else "."),
        "",
        "## How it was made",
        "",
        "1. **extract**: GSPS graphic annotations and SR measurements read from the archive with pydicom, mapped to",
        "   voxel and patient (LPS) coordinates on their CT series, lengths recomputed from the points and pixel spacing.",
        "2. **segment**: each mark becomes a prompt (line, arrow, axes, box, point): SAM2CT propagates it slice by",
        "   slice from the annotated slice; the weight-free `classical-cpu` default segments in 3D at once (a random",
        "   walker seeded and bounded by the prompt's geometry).",
        "3. **qc**: RECIST long axis of the mask vs the drawn line, prompt inside the mask, components, edge contact,",
        "   slice extent, HU statistics; a per-mask verdict with the failing checks.",
        "4. **lesions**: the marks and masks of one lesion grouped (same geometry on one image, one measurement in GSPS",
        "   and SR, masks overlapping in patient space across series of one frame of reference); one primary mask per",
        "   lesion (QC pass, then prompt kind, then the thinnest series).",
        "5. **link**: each lesion matched once to the sentence that measures it; its member marks share the link.",
        "   Reports are split into sections and sentences, findings in the RadGraph schema, matched by image",
        "   reference, size and laterality, with a confidence tier.",
        "",
        "| step | backend and version |",
        "|---|---|",
    ]
    lines += [f"| {what} | {v} |" for what, v in _versions(con)]
    lines += [f"| publishing | opseg {__version__}, datasets {datasets.__version__} |", ""]
    lines += _settings_lines(settings)
    lines += ["## QC summary", "", "| prompt kind | lesions | QC passed |", "|---|---|---|"]
    for kind in sorted({k for k, _ in qc}):
        total = sum(n for (k, _), n in qc.items() if k == kind)
        lines.append(f"| {kind} | {total} | {qc.get((kind, True), 0)} |")
    failures = failure_counts(con)
    lines += ["", "Failed checks over all masks: " + (", ".join(f"{w} ({n})" for w, n in failures) or "none") + "."]
    lines += _lesion_lines(con)
    quarantine = con.sql("select stage, reason, count(*) from quarantine group by 1, 2 order by 3 desc, 1, 2").fetchall()
    lines += ["", "Quarantined inputs: " + (", ".join(f"{s}/{r} ({n})" for s, r, n in quarantine) or "none") + ".", ""]
    verdicts = dict(con.sql("select entity_id, passed from qc where metric = 'qc_pass'").fetchall())
    lines += review_section(list(reviews), verdicts, min_review, summary.review_kept)
    if summary.deidentified:
        lines += deidentification_section(status)
    lines += [
        "## Intended use and limits",
        "",
        "- For research on grounded report generation, lesion segmentation and report-image alignment. Not for",
        "  clinical use: masks are machine-made from sparse prompts"
        + (" and were not reviewed by a radiologist." if not reviews else
           "; radiologists' scores (above) cover only the masks they reviewed."),
        "- Masks are as good as the backend named above; the CPU `classical-cpu` default is a weight-free 3D random",
        "  walker, not SAM2CT (on real LIDC-IDRI nodules it reaches Dice 0.78 for line prompts, 0.60 for arrows; see",
        "  the project's docs/benchmarks.md). Filter on `qc_passed` and `link_tier` for training data.",
        "- Only lesions a radiologist chose to mark are present: small, unmarked or non-measurable findings are",
        "  missing, so the corpus is biased toward measured (often oncologic) lesions.",
        "- Sentences are matched, not written for the masks; tier C links are candidates only.",
        "- Do not attempt re-identification; keep the licence terms of the source archive.",
        "",
        "## Fields of `grounded`",
        "",
        "| field | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {doc} |" for name, _, doc in GroundedRecord.describe()]
    lines += ["", "The other configs are the opseg tables; their fields are documented in the project's docs/schema.md:",
              ", ".join(f"`{t}`" for t in ALL_TABLES if t != "instances") + ".", ""]
    path = Path(hf_dir) / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path
