"""The opseg pipeline: [fetch ->] extract -> segment -> qc -> lesions -> link [-> evaluate] [-> export-seg] -> deid ->
publish -> report, as stage objects on the local (process pool) or the Ray executor.

Every stage setting lives in its config dataclass (``STAGE_CONFIGS``); ``settings`` maps a stage name to the
fields to change (``opseg run --set segment.image_size=512``; the common ones have their own options). The
settings are recorded in the run plan (``OUT/_markers/run.json``), in each stage's markers and in the card.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Optional

from curation.deid.stage import DeidConfig, DeidStage
from curation.extract.stage import ExtractConfig, ExtractStage
from curation.io.partition import Partition
from curation.lesions.grouping import LesionConfig
from curation.lesions.stage import LesionsStage
from curation.io.stage import SOURCE, Stage, config_dict, parse_setting
from curation.pipeline.base import LocalExecutor, StageReport
from curation.publish.stage import ExportSegConfig, ExportSegStage, PublishConfig, PublishStage
from curation.qc.stage import QCStage, QCThresholds
from curation.report.stage import ReportConfig, ReportStage
from linking.stage import LinkConfig, LinkStage
from segmentation.stage import SegmentConfig, SegmentStage

STAGE_CONFIGS: dict[str, type] = {"extract": ExtractConfig, "segment": SegmentConfig, "qc": QCThresholds,
                                  "lesions": LesionConfig, "link": LinkConfig, "deid": DeidConfig,
                                  "publish": PublishConfig, "report": ReportConfig, "export-seg": ExportSegConfig}
# qc comes before link: its verdict picks each lesion's primary mask, and linking grounds a finding once per lesion;
# export-seg comes before deid: it adds quarantine rows (series no SEG can be made from), which deid reads and
# publishes, so they must be there when deid fingerprints the quarantine table (after it, every rerun re-ran deid)
STAGE_ORDER = ("fetch", "extract", "segment", "qc", "lesions", "link", "evaluate", "export-seg", "deid", "publish",
               "report")


class FetchStage(Stage):
    """A PACS: query it and fetch what is new into the local cache the extract stage reads."""

    name = "fetch"
    reads = (SOURCE,)
    writes = ("_cache", SOURCE)   # fills the folder extract reads as its source: extract waits for it
    partitioned = False
    always_run = True

    def __init__(self, fetch: Callable[[], Any]):
        super().__init__()
        self.fetch = fetch

    def process(self, part: Partition) -> dict:
        return self.fetch().to_dict()


def parse_settings(pairs: list[str]) -> dict[str, dict]:
    """``STAGE.NAME=VALUE`` texts -> {stage: {name: typed value}} (typed by the config field's default)."""
    out: dict[str, dict] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        stage, dot, name = key.strip().partition(".")
        if not sep or not dot or stage not in STAGE_CONFIGS:
            raise ValueError(f"bad setting {pair!r}: use STAGE.NAME=VALUE with STAGE one of {', '.join(STAGE_CONFIGS)}")
        cfg = dataclasses.replace(STAGE_CONFIGS[stage](), **out.get(stage, {}))
        out.setdefault(stage, {})[name] = getattr(parse_setting(cfg, name, raw), name)
    return out


def stage_configs(settings: Optional[dict[str, dict]] = None) -> dict[str, Any]:
    settings = settings or {}
    unknown = set(settings) - set(STAGE_CONFIGS)
    if unknown:
        raise ValueError(f"settings for unknown stages {sorted(unknown)}; known: {', '.join(STAGE_CONFIGS)}")
    return {name: dataclasses.replace(cls(), **settings.get(name, {})) for name, cls in STAGE_CONFIGS.items()}


def build_stages(source: Path, settings: Optional[dict[str, dict]] = None, truth=None, seg_dir: Optional[Path] = None,
                 deid: bool = True, secret=None, fetcher=None, threads: int = 1,
                 volume_threads: Optional[int] = None) -> list[Stage]:
    """secret: a curation.deid.secret.ProjectSecret (required when deid is on); fetcher: a callable that fills the
    folder ``source`` from a PACS before extract (and returns its FetchStats); truth: a curation.io.truth.Truth;
    threads: the worker slots of each whole-archive stage that encodes volumes and pictures (publish, report);
    volume_threads: the threads publish gzips CT volumes on (default ``threads``), see PublishStage."""
    settings = dict(settings or {})
    settings["extract"] = {**settings.get("extract", {}), "source": Path(source)}
    if seg_dir is not None:
        settings["export-seg"] = {**settings.get("export-seg", {}), "target": Path(seg_dir).resolve()}
    shared = str(settings.get("deid", {}).get("target", "deid")) if deid else ""   # the copy the deid stage writes
    for name in ("publish", "report"):
        settings[name] = {"source": shared, **settings.get(name, {})}
    cfg = stage_configs(settings)
    stages: list[Stage] = [FetchStage(fetcher)] if fetcher is not None else []
    stages += [ExtractStage(cfg["extract"], workers=os.cpu_count()), SegmentStage(cfg["segment"]), QCStage(cfg["qc"]),
               LesionsStage(cfg["lesions"]), LinkStage(cfg["link"])]
    if truth is not None:
        from curation.pipeline.evaluate import EvaluateStage

        stages.append(EvaluateStage(truth))
    if seg_dir is not None:  # reads OUT's own tables (the SEG files go back to the PACS), never the deid copy
        stages.append(ExportSegStage(cfg["export-seg"]))
    if deid:
        stages.append(DeidStage(cfg["deid"], secret=secret, evaluated=truth is not None))
    recorded = {name: config_dict(c) for name, c in cfg.items()}
    stages.append(PublishStage(cfg["publish"], settings=recorded, threads=threads, volume_threads=volume_threads))
    stages.append(ReportStage(cfg["report"], evaluated=truth is not None, threads=threads))
    return sorted(stages, key=lambda s: STAGE_ORDER.index(s.name))


def legacy_settings(backend=None, checkpoint=None, image_size=None, mcm=None, memory_policy=None, device=None,
                    arrow_tail_px=None, link_backend=None, link_model_dir=None, thresholds=None, min_tier=None, hf_dir=None) -> dict:
    """The named options of ``opseg run`` as stage settings (None: the config's default)."""
    named = {"segment": {"backend": backend, "checkpoint": checkpoint, "image_size": image_size, "mcm": mcm,
                         "memory_policy": memory_policy, "device": device, "arrow_tail_px": arrow_tail_px},
             "link": {"backend": link_backend, "model_dir": link_model_dir},
             "qc": dict(thresholds or {}), "publish": {"min_tier": min_tier, "hf_dir": hf_dir}}
    return {stage: {k: v for k, v in values.items() if v is not None} for stage, values in named.items()
            if any(v is not None for v in values.values())}


def merge_settings(*layers: Optional[dict]) -> dict:
    out: dict[str, dict] = {}
    for layer in layers:
        for stage, values in (layer or {}).items():
            out.setdefault(stage, {}).update(values)
    return out


def make_executor(out: Path, shards: int, workers: int, progress, executor: str, ray_config, log):
    if executor == "local":
        return LocalExecutor(out, shards=shards, workers=workers, progress=progress, log=log)
    if executor != "ray":
        raise ValueError(f"unknown executor {executor!r}: local or ray")
    from curation.pipeline.ray_executor import RayExecutor

    return RayExecutor(out, shards=shards, progress=progress, config=ray_config, log=log)


def run_stages(out: Path, stages: list[Stage], shards: Optional[int] = None, workers: int = 1, progress=None,
               executor: str = "local", ray_config=None, log=None, preview: Optional[Callable] = None,
               settings: Optional[dict] = None) -> list[StageReport]:
    """Run stage objects on OUT. ``shards`` None: the partition count of the last run here (1 on a fresh folder),
    so a standalone stage replaces that stage's parts instead of writing beside them."""
    if shards is None:
        shards = recorded_partitions(out)
    ex = make_executor(out, shards, workers, progress, executor, ray_config, log)
    try:
        if preview is not None:
            preview(ex.preview(stages))
        return ex.run(stages, settings=settings)
    finally:
        if hasattr(ex, "shutdown"):
            ex.shutdown()


def recorded_partitions(out: Path) -> int:
    import json

    plan = Path(out) / "_markers" / "run.json"
    return int(json.loads(plan.read_text()).get("partitions", 1)) if plan.exists() else 1


def run_pipeline(source, out: Path, reports: Optional[list[Path]] = None, shards: int = 4, workers: int = 1,
                 progress=None, deid: bool = True, secret_file: Optional[Path] = None, executor: str = "local",
                 ray_config=None, settings: Optional[dict] = None, only: Optional[list[str]] = None, truth=None,
                 seg_dir: Optional[Path] = None, log=None, preview: Optional[Callable] = None, **named) -> list[StageReport]:
    """The whole pipeline on a folder or a PACS (see curation.extract.sources.open_source). With deid (the default)
    publish and report read the de-identified copy OUT/deid; the secret comes from secret_file, else
    $OPSEG_DEID_SECRET, else one created once at OUT/_secret/deid.key. ``named``: the options of legacy_settings
    (backend=..., min_tier=...); ``settings``: {stage: {field: value}}; ``only``: run just these stages (on the
    tables already in OUT); ``truth``: a demo archive folder or a curation.io.truth.Truth."""
    out = Path(out)
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

        cache = SeriesCache(out / "_cache" / src.name)
        folder, fetcher = cache.dicom, (lambda: src.fetch(cache.root))
        folder.mkdir(parents=True, exist_ok=True)
    if truth is not None and isinstance(truth, (str, Path)):
        from curation.demo.truth import DemoTruth  # the pipeline wires the demo's truth in; stages never see the demo

        truth = DemoTruth(Path(truth))
    extract = {"extract": {"reports": tuple(Path(r) for r in reports or ())}}
    merged = merge_settings(extract, legacy_settings(**named), settings)
    # publish and report both wait only for deid and then run side by side, each on its share of the workers (a
    # worker takes as many slots as its stage's threads); alone, one gets them all
    both = not only or {"publish", "report"} <= set(only)
    stages = build_stages(folder, merged, truth=truth, seg_dir=seg_dir, deid=deid, secret=secret, fetcher=fetcher,
                          threads=max(1, workers // 2 if both else workers), volume_threads=workers)
    if only:
        unknown = set(only) - {s.name for s in stages}
        if unknown:
            raise ValueError(f"--only {sorted(unknown)}: not stages of this run ({', '.join(s.name for s in stages)})")
        stages = [s for s in stages if s.name in only]
    recorded = {s.name: config_dict(s.config) for s in stages}
    return run_stages(out, stages, shards=shards, workers=workers, progress=progress, executor=executor,
                      ray_config=ray_config, log=log, preview=preview, settings=recorded)
