"""The end-to-end run: typed stages, a local executor that shards by study and resumes from markers.

Each stage declares the tables it reads and writes and the resources it wants; the pipeline is checked
before anything runs (every input must come from the source or an earlier stage). A sharded stage writes
one part file per shard and then a completion marker (``OUT/_markers/<stage>/<part>.json``); a rerun skips
shards with markers, so an interrupted run resumes where it stopped and ends with the same tables. A
marker is only trusted while the stage's inputs are unchanged (their fingerprint is stored with it).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from curation.io.shards import ALL, Shard

SOURCE = "source"


@dataclass(frozen=True)
class Resources:
    cpus: int = 1
    gpus: int = 0


@dataclass
class Stage:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    run: Callable[[Path, Shard, dict], dict]
    sharded: bool = True
    resources: Resources = Resources()
    setup: Optional[Callable[[dict], None]] = None      # once per run, before the first shard (e.g. load a model)
    teardown: Optional[Callable[[dict], None]] = None
    quarantine_prefix: Optional[str] = None             # the quarantine parts this stage owns
    source_fingerprint: Optional[Callable[[], str]] = None  # for stages that read outside OUT (the archive)
    always_run: bool = False  # e.g. fetching from a PACS: new studies may have arrived since the last run


@dataclass
class StageReport:
    name: str
    shards_run: int = 0
    shards_skipped: int = 0
    seconds: float = 0.0
    stats: list = field(default_factory=list)


def check_pipeline(stages: list[Stage]) -> None:
    available = {SOURCE}
    for s in stages:
        missing = [t for t in s.inputs if t not in available]
        if missing:
            raise ValueError(f"stage {s.name!r} reads {missing}, which no earlier stage writes")
        available |= set(s.outputs)


def fingerprint(out: Path, tables: tuple[str, ...]) -> str:
    """Content hash of the part files of some tables (what a stage's result depends on)."""
    h = hashlib.sha1()
    for t in sorted(tables):
        if t == SOURCE:
            continue
        files = [p for p in (out / t).rglob("*") if p.suffix in (".parquet", ".json")] if (out / t).is_dir() else []
        for p in sorted(files):
            h.update(str(p.relative_to(out)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


class LocalExecutor:
    def __init__(self, out: Path, shards: int = 4, progress=None):
        self.out, self.n_shards, self.progress = Path(out), max(1, shards), progress

    def _markers(self, stage: Stage) -> Path:
        return markers_dir(self.out, stage)

    def _reset(self, stage: Stage) -> None:
        """Forget a stage's results: markers and the part files it owns."""
        folder = self._markers(stage)
        for m in folder.glob("*.json") if folder.is_dir() else []:
            m.unlink()
        for table in stage.outputs:
            if table == "quarantine":
                continue
            for p in (self.out / table).glob("*.parquet") if (self.out / table).is_dir() else []:
                p.unlink()
        if stage.quarantine_prefix:
            for p in (self.out / "quarantine").glob(f"{stage.quarantine_prefix}*.parquet"):
                p.unlink()

    def run(self, stages: list[Stage], ctx: Optional[dict] = None) -> list[StageReport]:
        check_pipeline(stages)
        ctx = ctx if ctx is not None else {}
        reports = []
        for stage in stages:
            t0 = time.perf_counter()
            rep = StageReport(stage.name)
            shards, todo = self._plan(stage)
            rep.shards_skipped = len(shards) - len(todo)
            tick = self.progress(f"{stage.name} ({len(todo)}/{len(shards)} shards)", len(todo)) if self.progress and todo else None
            if todo:
                rep.stats = self._run_shards(stage, todo, ctx, tick)
                rep.shards_run = len(rep.stats)
            rep.seconds = time.perf_counter() - t0
            reports.append(rep)
        return reports

    def _plan(self, stage: Stage) -> tuple[list[Shard], list[Shard]]:
        """All shards of a stage and those still to run; resets the stage when its inputs changed."""
        shards = [Shard(i, self.n_shards) for i in range(self.n_shards)] if stage.sharded and self.n_shards > 1 else [ALL]
        inputs_fp = fingerprint(self.out, stage.inputs) + (stage.source_fingerprint() if stage.source_fingerprint else "")
        plan = {"shards": len(shards), "inputs": inputs_fp}
        folder = self._markers(stage)
        plan_file = folder / "plan.json"
        if not plan_file.exists() or json.loads(plan_file.read_text()) != plan:
            self._reset(stage)  # new inputs or another shard count: earlier parts cannot be trusted
            folder.mkdir(parents=True, exist_ok=True)
            plan_file.write_text(json.dumps(plan))
        return shards, [s for s in shards if stage.always_run or not (folder / f"{s.part}.json").exists()]

    def _run_shards(self, stage: Stage, todo: list[Shard], ctx: dict, tick) -> list:
        if stage.setup:
            stage.setup(ctx)
        done = []
        try:
            for shard in todo:
                done.append(run_shard(stage, self.out, shard, ctx))
                if tick:
                    tick(1)
        finally:
            if stage.teardown:
                stage.teardown(ctx)
        return done


def markers_dir(out: Path, stage: Stage) -> Path:
    return Path(out) / "_markers" / stage.name


def run_shard(stage: Stage, out: Path, shard: Shard, ctx: dict) -> dict:
    """Run one shard and write its completion marker, only after the stage has written its part files."""
    stats = stage.run(out, shard, ctx)
    folder = markers_dir(out, stage)
    tmp = folder / f".{shard.part}.json.tmp"
    tmp.write_text(json.dumps({"shard": shard.part, "stats": stats, "finished": time.time()}, default=str))
    os.replace(tmp, folder / f"{shard.part}.json")
    return stats
