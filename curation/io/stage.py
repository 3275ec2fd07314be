"""What a stage is, for every executor: a name, the tables it reads and writes, its resources, a frozen config,
setup/teardown, and process(partition). Stages live in their own packages and never import the pipeline; the
executors (curation.pipeline) own partitioning, part names, markers and parallelism.

Modelled on datatrove's PipelineStep and NeMo-Curator's ProcessingStage, depending on neither.
"""
from __future__ import annotations

import abc
import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Optional, Union

from curation.io.partition import Partition
from schemas import Record

SOURCE = "source"          # what the first stage reads: the archive (or a PACS), outside OUT
Table = Union[str, type[Record]]


@dataclass(frozen=True)
class Resources:
    cpus: int = 1
    gpus: int = 0


@dataclass(frozen=True)
class NoConfig:
    """For stages without settings."""


def table_name(t: Table) -> str:
    return t if isinstance(t, str) else t.TABLE


def config_dict(config) -> dict:
    """A config as plain JSON values (paths as strings, tuples as lists): what markers, the run plan and the dataset
    card record."""
    def plain(v):
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return v
    if hasattr(config, "recorded"):   # a config that resolves defaults of its own (QC's per-kind table)
        return {k: plain(v) for k, v in config.recorded().items()}
    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def parse_setting(config, name: str, raw: str):
    """A copy of a frozen config with one field set from text (``--set segment.image_size=512``), typed by the
    field's default (bool, int, float, path, tuple of strings, text)."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    if name not in fields:
        raise ValueError(f"unknown setting {name!r} for {type(config).__name__}; known: {', '.join(fields)}")
    current = getattr(config, name)
    text = raw.strip()
    if text.lower() in ("none", "null", ""):
        value: Any = None
    elif isinstance(current, bool):
        if text.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ValueError(f"{name} takes true or false, not {raw!r}")
        value = text.lower() in ("true", "1", "yes", "on")
    elif isinstance(current, int):
        value = int(text)
    elif isinstance(current, float):
        value = float(text)
    elif isinstance(current, tuple):
        kind = type(current[0]) if current else str  # (0.8, 0.1, 0.1) -> floats, (Path,...) -> paths
        value = tuple(kind(x.strip()) for x in text.split(",") if x.strip())
    elif isinstance(current, Path) or "path" in str(fields[name].type).lower():
        value = Path(text)
    else:
        value = text
    return dataclasses.replace(config, **{name: value})


class Stage(abc.ABC):
    """One step of the pipeline. Subclasses set the class attributes and implement ``process``; the config is a
    frozen dataclass (its hash is part of every completion marker, so changing a setting re-runs the stage)."""

    name: ClassVar[str] = ""
    reads: ClassVar[tuple[Table, ...]] = ()
    optional_reads: ClassVar[tuple[Table, ...]] = ()   # read when present (e.g. reviews): fingerprinted, not required
    writes: ClassVar[tuple[Table, ...]] = ()
    partitioned: ClassVar[bool] = True          # one call per partition of studies; False: one call on everything
    work_table: ClassVar[Optional[type[Record]]] = None   # its rows per partition measure the work (largest run first)
    always_run: ClassVar[bool] = False          # e.g. a PACS fetch: new studies may have arrived since the last run
    Config: ClassVar[type] = NoConfig
    kept_on_reset: ClassVar[tuple[str, ...]] = ()   # output tables the stage itself rewrites in full (a cache)
    source_label: ClassVar[str] = "source"   # what source_fingerprint covers, for the reason a stage re-runs
    share_setup: bool = True   # a forked worker may inherit the parent's setup (False for GPU / torch models)
    setup_holds_model: ClassVar[bool] = True   # False: setup only loads libraries, which a Ray task loads itself

    def __init__(self, config=None):
        self.config = config if config is not None else self.Config()

    @property
    def resources(self) -> Resources:
        return Resources()

    @property
    def input_tables(self) -> tuple[str, ...]:
        return tuple(table_name(t) for t in self.reads)

    @property
    def output_tables(self) -> tuple[str, ...]:
        return tuple(table_name(t) for t in self.writes)

    def setup(self) -> None:
        """Once per worker before its first partition (load a model here)."""

    def teardown(self) -> None:
        """Once per worker after its last partition."""

    @abc.abstractmethod
    def process(self, part: Partition) -> dict:
        """Do the work of one partition, write its rows through ``part.write``; return JSON-able run stats."""

    def model_files(self) -> list[Path]:
        """Weights the output depends on: their checksums key the completion markers."""
        return []

    def source_fingerprint(self) -> str:
        """For what a stage reads outside OUT (the archive, a truth folder, a secret): changes re-run it."""
        return ""

    def output_folders(self, out: Path) -> list[Path]:
        """Where the stage's results live; a finished partition counts only while those that existed when it
        finished still do (a user may have deleted one). Quarantine parts sit in a table every stage shares."""
        return [Path(out) / t for t in self.output_tables if t not in (SOURCE, "quarantine")]

    def clear_outputs(self, out: Path) -> None:
        """Forget the stage's results before a fresh run: every part of the tables it writes (and its own
        quarantine parts). Outputs that are folders outside the tables are replaced by the stage itself."""
        out = Path(out)
        for table in self.output_tables:
            if table in self.kept_on_reset:
                continue
            folder = out / table
            if table == "quarantine":
                for p in folder.glob(f"{self.name}*.parquet") if folder.is_dir() else []:
                    p.unlink()
            elif table != SOURCE and folder.is_dir() and any(folder.glob("*.parquet")):
                for p in folder.glob("*.parquet"):
                    p.unlink()

    def describe(self) -> dict:
        return {"stage": self.name, "reads": list(self.input_tables), "writes": list(self.output_tables),
                "resources": dataclasses.asdict(self.resources), "config": config_dict(self.config)}


def has_setup(stage: Stage) -> bool:
    """Whether the stage loads something before its partitions (it overrides ``setup``)."""
    return type(stage).setup is not Stage.setup


def markers_dir(out: Path, stage_name: str) -> Path:
    return Path(out) / "_markers" / stage_name


def run_alone(stage: Stage, out: Path, work: Optional[Callable[[Partition], Any]] = None, progress=None):
    """A stage on all of OUT in this process, as a library call (tests, notebooks): its earlier output, markers
    included, is replaced, so it never sits beside parts of an earlier sharded run. ``work`` (default
    ``stage.process``) lets a caller get the stage's own summary object rather than its JSON stats."""
    out = Path(out)
    stage.clear_outputs(out)
    shutil.rmtree(markers_dir(out, stage.name), ignore_errors=True)
    stage.setup()
    try:
        return (work or stage.process)(Partition(out, stage=stage.name, progress=progress))
    finally:
        stage.teardown()


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def optional_path(p) -> Optional[Path]:
    return None if p is None else Path(p)
