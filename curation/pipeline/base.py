"""The executor: plans, partitions, part names, completion markers and parallelism for stage objects.

The pipeline is checked before anything runs (every input comes from the source, an earlier stage or a table
already in OUT). A stage's result is keyed by its config hash, the opseg version, the checksums of its model
files and the fingerprints of its inputs; the key and the config are stored in ``OUT/_markers/<stage>/plan.json``
and each finished partition writes ``OUT/_markers/<stage>/<part>.json`` after its part files. A rerun skips
partitions whose marker carries the current key, so an interrupted run resumes and a changed setting re-runs
exactly the stages it affects (their outputs change, so the stages reading them re-run too). The whole run's
plan, every stage's settings included, is ``OUT/_markers/run.json``.

With one worker the stages run one after another in this process. With more (``workers``), stages overlap
(curation.pipeline.overlap): a stage starts once the stages whose tables it reads have finished, and the
partitions of every started stage share the ``workers`` processes; a stage's setup (its model) is made once per
worker process.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from curation import __version__
from curation.io.partition import Partition
from curation.io.stage import SOURCE, Stage, config_dict, dumps, markers_dir, table_name
from curation.pipeline.checksums import model_checksum
from curation.pipeline.errors import set_up
from curation.pipeline.workers import cpu_seconds

RUN_PLAN = "_markers/run.json"


@dataclass
class StageReport:
    name: str
    shards_run: int = 0
    shards_skipped: int = 0
    seconds: float = 0.0
    stats: list = field(default_factory=list)
    reason: str = ""
    cpu_seconds: float = 0.0     # of the processes that ran its partitions (children included)
    started: float = 0.0         # time.perf_counter() when it was planned
    finished: float = 0.0

    def finish(self) -> None:
        self.finished = time.perf_counter()
        self.seconds = self.finished - self.started


@dataclass
class StagePlan:
    stage: Stage
    partitions: list[Partition]
    todo: list[Partition]
    key: dict
    reasons: list[str]       # why it (re-)runs from scratch; empty when resuming or up to date
    fresh: bool              # earlier results cannot be trusted: clear them first

    @property
    def summary(self) -> str:
        n, k = len(self.partitions), len(self.todo)
        if self.reasons:
            return f"runs {k}/{n} partitions: " + "; ".join(self.reasons)
        if self.stage.always_run:
            return "runs every time (" + self.stage.name + " looks for new input)"
        if not k:
            return "up to date"
        return f"resumes: {k}/{n} partitions left"


def check_pipeline(stages: list[Stage], existing: tuple[str, ...] = ()) -> None:
    available = {SOURCE, *existing}
    for s in stages:
        missing = [t for t in s.input_tables if t not in available]
        if missing:
            raise ValueError(f"stage {s.name!r} reads {missing}, which no earlier stage writes")
        available |= set(s.output_tables)


def table_fingerprint(out: Path, table: str) -> str:
    """Content hash of a table's (or an output folder's) part files: what a stage's result depends on."""
    h = hashlib.sha1()
    folder = Path(out) / table
    files = [p for p in folder.rglob("*") if p.suffix in (".parquet", ".json")] if folder.is_dir() else []
    for p in sorted(files):
        h.update(str(p.relative_to(out)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:20]


def _config_changes(old: dict, new: dict) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


class LocalExecutor:
    def __init__(self, out: Path, shards: int = 4, workers: int = 1, progress=None, log: Optional[Callable[[str], None]] = None):
        self.out, self.n_shards, self.workers = Path(out), max(1, shards), max(1, workers)
        self.progress, self.log = progress, log

    # -- planning ---------------------------------------------------------------------------------------------
    def partitions(self, stage: Stage) -> list[Partition]:
        n = self.n_shards if stage.partitioned else 1
        return [Partition(self.out, i, n, stage.name) for i in range(n)]

    def key(self, stage: Stage, inputs: Optional[dict] = None) -> dict:
        cfg = config_dict(stage.config)
        return {"config": hashlib.sha256(dumps(cfg).encode()).hexdigest()[:16], "version": __version__,
                "model": model_checksum(self.out, stage.model_files()),
                "inputs": inputs if inputs is not None else {
                    t: table_fingerprint(self.out, t)
                    for t in sorted({*stage.input_tables, *(table_name(x) for x in stage.optional_reads)}) if t != SOURCE},
                "source": stage.source_fingerprint()}

    def plan(self, stage: Stage, inputs: Optional[dict] = None) -> StagePlan:
        parts = self.partitions(stage)
        key = self.key(stage, inputs)
        folder = markers_dir(self.out, stage.name)
        old = json.loads((folder / "plan.json").read_text()) if (folder / "plan.json").exists() else None
        reasons = []
        if old is None:
            reasons.append("never run here")
        else:
            ok = old.get("key", {})
            if old.get("partitions") != len(parts):
                reasons.append(f"{len(parts)} partitions (was {old.get('partitions')})")
            if ok.get("config") != key["config"]:
                reasons.append("settings changed: " + ", ".join(_config_changes(old.get("config", {}), config_dict(stage.config))))
            if ok.get("version") != key["version"]:
                reasons.append(f"opseg {ok.get('version')} -> {key['version']}")
            if ok.get("model") != key["model"]:
                reasons.append("model files changed")
            changed = sorted(t for t in set(ok.get("inputs", {})) | set(key["inputs"])
                             if ok.get("inputs", {}).get(t) != key["inputs"].get(t))
            if changed:
                reasons.append("inputs changed: " + ", ".join(changed))
            if ok.get("source") != key["source"]:
                reasons.append(f"{stage.source_label} changed")
        fresh = bool(reasons)
        done = set() if fresh or stage.always_run else {p.part for p in parts if self._finished(stage, p, key)}
        return StagePlan(stage, parts, [p for p in parts if p.part not in done], key, reasons, fresh)

    def _finished(self, stage: Stage, part: Partition, key: dict) -> bool:
        marker = markers_dir(self.out, stage.name) / f"{part.part}.json"
        if not marker.exists():
            return False
        try:
            done = json.loads(marker.read_text())
        except ValueError:
            return False
        return done.get("key") == key_hash(key) and all((self.out / p).exists() for p in done.get("outputs", []))

    def preview(self, stages: list[Stage]) -> list[tuple[str, str]]:
        """What will run and why, before anything runs. A stage downstream of one that runs is decided when its
        turn comes (its inputs may or may not change)."""
        pending: dict[str, str] = {}
        lines = []
        for stage in stages:
            upstream = sorted({pending[t] for t in stage.input_tables if t in pending})
            plan = self.plan(stage)
            own = [r for r in plan.reasons if not r.startswith("inputs changed")]
            if upstream and not own:
                text = "runs if the output of " + ", ".join(upstream) + " changes" + (
                    f" ({plan.summary})" if plan.todo and not plan.reasons else "")
            else:
                text = plan.summary
            if text != "up to date":
                pending.update({t: stage.name for t in stage.output_tables})
            lines.append((stage.name, text))
        return lines

    # -- running ------------------------------------------------------------------------------------------------
    def run(self, stages: list[Stage], settings: Optional[dict] = None) -> list[StageReport]:
        existing = tuple(p.name for p in self.out.iterdir()) if self.out.is_dir() else ()
        check_pipeline(stages, existing)
        self.write_run_plan(stages, settings)
        if self.workers > 1:
            from curation.pipeline.overlap import run_overlapped

            return run_overlapped(self, stages)
        reports = []
        for stage in stages:
            plan, rep = self.start_stage(stage)
            if plan.todo:
                tick = self.stage_progress(plan)
                t0 = cpu_seconds()
                rep.stats = self._run_partitions(stage, plan.todo, plan.key, tick)
                rep.cpu_seconds = cpu_seconds() - t0
                rep.shards_run = len(rep.stats)
            rep.finish()
            reports.append(rep)
        return reports

    def start_stage(self, stage: Stage) -> tuple[StagePlan, StageReport]:
        """Plan a stage once every stage it waits for has finished (so its inputs are final), forget its results
        when they cannot be trusted, and record the plan."""
        started = time.perf_counter()
        plan = self.plan(stage)
        rep = StageReport(stage.name, reason=plan.summary, started=started)
        if self.log:
            self.log(f"{stage.name}: {plan.summary}")
        folder = markers_dir(self.out, stage.name)
        if plan.fresh:
            stage.clear_outputs(self.out)
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / "plan.json", {"partitions": len(plan.partitions), "key": plan.key,
                                           "config": config_dict(stage.config)})
        rep.shards_skipped = len(plan.partitions) - len(plan.todo)
        return plan, rep

    def stage_progress(self, plan: StagePlan):
        if not self.progress:
            return None
        return self.progress(f"{plan.stage.name} ({len(plan.todo)}/{len(plan.partitions)} partitions)", len(plan.todo))

    def write_run_plan(self, stages: list[Stage], settings: Optional[dict]) -> None:
        """The run's stages and settings; a run of some stages alone (a standalone command) replaces theirs and keeps
        the other stages' entries, so the card and a later publish still see every stage's settings."""
        path = self.out / RUN_PLAN
        old = json.loads(path.read_text()) if path.exists() else {}
        ran = {s.name for s in stages}
        kept = [s for s in old.get("stages", []) if s.get("stage") not in ran]
        merged = {**{k: v for k, v in (old.get("settings") or {}).items() if k not in ran}, **(settings or {})}
        _write_json(path, {"opseg": __version__, "executor": type(self).__name__,
                           "partitions": self.n_shards, "workers": self.workers,
                           "settings": merged, "stages": kept + [s.describe() for s in stages]})

    def _run_partitions(self, stage: Stage, todo: list[Partition], key: dict, tick) -> list:
        """One stage's partitions in this process, one after another (one worker)."""
        set_up(stage)
        done = []
        try:
            for part in todo:
                done.append(run_partition(stage, _with_progress(part, self.progress if len(todo) == 1 else None), key))
                if tick:
                    tick(1)
        finally:
            stage.teardown()
        return done


def _with_progress(part: Partition, progress) -> Partition:
    from dataclasses import replace

    return replace(part, progress=progress) if progress else part


def key_hash(key: dict) -> str:
    return hashlib.sha256(dumps(key).encode()).hexdigest()[:20]


def run_partition(stage: Stage, part: Partition, key: dict) -> dict:
    """One partition, then its completion marker (only after the stage has written its part files). The marker
    lists the output folders that exist now: one deleted later makes the partition run again."""
    stats = stage.process(part)
    outputs = [_marker_path(part.out, p) for p in stage.output_folders(part.out) if p.exists()]
    _write_json(markers_dir(part.out, stage.name) / f"{part.part}.json",
                {"partition": part.part, "key": key_hash(key), "stats": stats, "finished": time.time(),
                 "outputs": sorted(outputs)})
    return stats


def _marker_path(out: Path, p: Path) -> str:
    """A folder inside OUT by its relative name (OUT may be moved), one outside it by its absolute path."""
    p, out = Path(p).absolute(), Path(out).absolute()
    return str(p.relative_to(out)) if p.is_relative_to(out) else str(p)


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)
