"""The opseg pipeline: extract -> segment -> link -> qc, on the local executor."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

from curation.pipeline import SOURCE, LocalExecutor, Resources, Stage


def build_stages(source: Path, reports: Optional[list[Path]] = None, backend: str = "classical",
                 checkpoint: Optional[Path] = None, image_size: int = 1024, mcm: bool = True) -> list[Stage]:
    from curation.extract import extract
    from curation.index import walk_files
    from curation.qc import run_qc
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

    gpu = Resources(cpus=1, gpus=1 if backend == "sam2ct" else 0)
    return [
        Stage("extract", (SOURCE,), ("instances", "series", "studies", "annotations", "reports", "quarantine"),
              do_extract, sharded=False, resources=Resources(cpus=os.cpu_count() or 1),
              source_fingerprint=archive_fingerprint),
        Stage("segment", ("annotations", "instances"), ("masks", "quarantine"), do_segment, resources=gpu,
              setup=load_model, teardown=lambda ctx: ctx.pop("segmenter", None), quarantine_prefix="segment"),
        Stage("link", ("reports", "annotations", "masks", "series", "instances"), ("findings", "links", "quarantine"),
              do_link, quarantine_prefix="link"),
        Stage("qc", ("masks", "annotations", "links", "series", "instances"), ("qc",), do_qc),
    ]


def run_pipeline(source: Path, out: Path, reports: Optional[list[Path]] = None, shards: int = 4, progress=None,
                 **segment_options):
    stages = build_stages(Path(source), reports, **segment_options)
    return LocalExecutor(out, shards=shards, progress=progress).run(stages)

