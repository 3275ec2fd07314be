"""The opseg pipeline: extract -> segment -> link -> qc [-> evaluate] -> publish -> report [-> DICOM SEG],
on the local executor. Evaluation runs only with a demo truth folder; SEG export only when asked for."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

from curation.pipeline.base import SOURCE, LocalExecutor, Resources, Stage


def build_stages(source: Path, reports: Optional[list[Path]] = None, backend: str = "classical",
                 checkpoint: Optional[Path] = None, image_size: int = 1024, mcm: bool = True,
                 hf_dir: Optional[Path] = None, truth: Optional[Path] = None, seg_dir: Optional[Path] = None,
                 deid: bool = True, secret=None, fetcher=None) -> list[Stage]:
    """secret: a curation.deid.secret.ProjectSecret (required when deid is on); fetcher: a callable that fills the
    folder `source` from a PACS before extract (and returns its FetchStats)."""
    from curation.extract.stage import extract
    from curation.extract.index import walk_files
    from curation.qc.stage import run_qc
    from linking.stage import run_link
    from segmentation.stage import make_segmenter, run_segment

    def do_extract(out, shard, ctx):
        s = extract(source, out, reports=reports)
        return {"files": s.n_files, "annotations": sum(s.annotations_by_kind.values()), "reports": s.n_reports}

    def load_model(ctx):
        ctx["segmenter"] = make_segmenter(backend, checkpoint, image_size, mcm)

    def do_segment(out, shard, ctx):
        s = run_segment(out, backend=backend, checkpoint=checkpoint, shard=shard, segmenter=ctx.get("segmenter"))
        t = s.mask_seconds
        return {"masks": s.n_masks, "errors": dict(s.errors), "seconds_per_mask": sum(t) / len(t) if t else None}

    def do_link(out, shard, ctx):
        s = run_link(out, shard=shard)
        return {"findings": s.n_findings, "links": dict(s.tiers)}

    def do_qc(out, shard, ctx):
        return run_qc(out, shard=shard)

    def archive_fingerprint() -> str:  # new, changed or removed files (or report tables) mean a new extract
        h = hashlib.sha1()
        for f in walk_files(source) + [Path(r) for r in reports or []]:
            st = f.stat()
            h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
        return h.hexdigest()

    def do_evaluate(out, shard, ctx):
        import json

        from linking.evaluate import evaluate_links
        from segmentation.evaluate import evaluate_demo

        (out / "eval").mkdir(exist_ok=True)
        seg, links = evaluate_demo(out, truth), evaluate_links(out, truth)
        (out / "eval" / "segmentation.json").write_text(json.dumps(seg, indent=1))
        (out / "eval" / "links.json").write_text(json.dumps(links, indent=1, default=str))
        return {"segmentation": seg["summary"], "links": {k: v for k, v in links.items() if not isinstance(v, (list, dict))}}

    def do_deid(out, shard, ctx):
        from curation.deid.tables import deidentify

        m = deidentify(out, out / "deid", secret)
        return {"rows": m["rows"], "replacements": m["replacements"]}

    shared = (lambda out: out / "deid") if deid else (lambda out: out)  # what publish and report read

    def do_publish(out, shard, ctx):
        from curation.publish.dataset import publish

        s = publish(shared(out), hf_dir or out / "hf")
        return {"rows": s.rows, "volumes": s.volumes_written + s.volumes_reused, "volume_errors": s.volume_errors}

    def do_report(out, shard, ctx):
        from curation.report.html import write_report

        src = shared(out)
        return {"index": str(write_report(src, out / "report", evaluation=src / "eval" / "segmentation.json"))}

    def do_export_seg(out, shard, ctx):
        from curation.publish.seg_export import export_seg

        return {"files": len(export_seg(out, seg_dir))}

    gpu = Resources(cpus=1, gpus=1 if backend == "sam2ct" else 0)
    stages = []
    if fetcher is not None:  # a PACS: query it and fetch what is new into the local cache the extract stage reads
        def do_fetch(out, shard, ctx):
            return fetcher().to_dict()
        stages.append(Stage("fetch", (SOURCE,), ("cache",), do_fetch, sharded=False, always_run=True,
                            resources=Resources(cpus=1)))
    stages += [
        Stage("extract", (SOURCE,), ("instances", "series", "studies", "annotations", "reports", "quarantine"),
              do_extract, sharded=False, resources=Resources(cpus=os.cpu_count() or 1),
              source_fingerprint=archive_fingerprint),
        Stage("segment", ("annotations", "instances"), ("masks", "quarantine"), do_segment, resources=gpu,
              setup=load_model, teardown=lambda ctx: ctx.pop("segmenter", None), quarantine_prefix="segment"),
        Stage("link", ("reports", "annotations", "masks", "series", "instances"), ("findings", "links", "quarantine"),
              do_link, quarantine_prefix="link"),
        Stage("qc", ("masks", "annotations", "links", "series", "instances"), ("qc",), do_qc),
    ]
    if truth is not None:
        stages.append(Stage("evaluate", ("masks", "annotations", "links", "findings"), ("eval",), do_evaluate,
                            sharded=False, source_fingerprint=lambda: str(truth)))
    tables = ("studies", "series", "annotations", "reports", "findings", "masks", "links", "qc", "quarantine")
    evaluated = ("eval",) if truth is not None else ()
    if deid:
        if secret is None:
            raise ValueError("de-identification needs the project secret")
        stages.append(Stage("deid", tables + ("instances",) + evaluated, ("deid",), do_deid, sharded=False,
                            source_fingerprint=lambda: secret.fingerprint))
    published = ("deid",) if deid else tables
    stages.append(Stage("publish", published, ("hf",), do_publish, sharded=False,
                        source_fingerprint=lambda: str(hf_dir or "")))
    stages.append(Stage("report", published + evaluated, ("report",), do_report, sharded=False))
    if seg_dir is not None:
        stages.append(Stage("export-seg", ("masks", "annotations", "instances"), ("seg",), do_export_seg, sharded=False,
                            source_fingerprint=lambda: str(seg_dir)))
    return stages


def run_pipeline(source, out: Path, reports: Optional[list[Path]] = None, shards: int = 4, progress=None,
                 deid: bool = True, secret_file: Optional[Path] = None, executor: str = "local", ray_config=None,
                 **options):
    """The whole pipeline on a folder or a PACS (see curation.sources.open_source). With deid (the default) publish and report read the de-identified copy OUT/deid; the
    secret comes from secret_file, else $OPSEG_DEID_SECRET, else one created once at OUT/_secret/deid.key."""
    secret = None
    if deid:
        from curation.deid.secret import ProjectSecret

        secret = ProjectSecret.for_output(out, secret_file)
    from curation.extract.sources import open_source
    from curation.extract.sources.base import FolderSource

    src = open_source(str(source))
    if isinstance(src, FolderSource):
        folder, fetcher = src.path, None
    else:
        from curation.extract.sources.base import SeriesCache

        cache = SeriesCache(Path(out) / "_cache" / src.name)
        folder, fetcher = cache.dicom, (lambda: src.fetch(cache.root))
        folder.mkdir(parents=True, exist_ok=True)
    stages = build_stages(folder, reports, deid=deid, secret=secret, fetcher=fetcher, **options)
    if executor == "local":
        return LocalExecutor(out, shards=shards, progress=progress).run(stages)
    if executor != "ray":
        raise ValueError(f"unknown executor {executor!r}: local or ray")
    from curation.pipeline.ray_executor import RayExecutor

    ray_executor = RayExecutor(out, shards=shards, progress=progress, config=ray_config)
    try:
        return ray_executor.run(stages)
    finally:
        ray_executor.shutdown()

