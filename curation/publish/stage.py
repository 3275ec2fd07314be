"""The publish stages: the Hugging Face dataset folder (with the run's settings in its card) and DICOM SEG export."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from curation.io.partition import Partition
from curation.io.stage import Resources, Stage, dumps
from schemas import AnnotationRecord, InstanceRecord, MaskRecord, QuarantineRecord

TABLES = ("studies", "series", "annotations", "reports", "findings", "masks", "links", "qc", "lesions",
          "lesion_members", "quarantine")


@dataclass(frozen=True)
class PublishConfig:
    hf_dir: Optional[Path] = None                        # default OUT/hf
    min_tier: str = "B"                                  # lowest link tier in the grounded config (A, B or C)
    volumes: bool = True                                 # write the CT volumes as NIfTI files
    min_review: Optional[str] = None                     # accept | minor: only masks whose reviews meet the bar
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)   # train / validation / test, drawn by patient
    source: str = "deid"                                 # the folder under OUT it reads ("" = OUT's own tables)


class PublishStage(Stage):
    name = "publish"
    partitioned = False
    Config = PublishConfig
    source_label = "the run's settings (the card lists them)"
    optional_reads = ("reviews",)   # with --no-deid, new scores change what --min-review keeps

    def __init__(self, config: Optional[PublishConfig] = None, settings: Optional[dict] = None, threads: int = 1,
                 volume_threads: Optional[int] = None):
        """``threads``: the worker slots the stage takes; ``volume_threads``: the threads its CT volumes are gzipped
        on (default ``threads``). The pipeline gives publish one of two slots, beside the report, but every core's
        worth of gzip threads: ISA-L and numpy release the GIL, so once the report is done (it ends first) the
        volumes left go on every core instead of one, and while both run the OS shares the cores out."""
        super().__init__(config)
        self.settings, self.threads = settings or {}, threads
        self.volume_threads = max(1, volume_threads or threads)
        self.reads = (self.config.source,) if self.config.source else TABLES
        self.writes = ("hf",)

    @property
    def resources(self) -> Resources:
        return Resources(cpus=self.threads)

    def source_fingerprint(self) -> str:  # the card lists every stage's settings: any change rewrites it
        return hashlib.sha1(dumps(self.settings).encode()).hexdigest()

    def target(self, out: Path) -> Path:
        return Path(self.config.hf_dir or Path(out) / "hf")

    def output_folders(self, out: Path) -> list[Path]:
        return [self.target(out)]

    def setup(self) -> None:
        """The libraries publish imports (datasets, DuckDB, nibabel, ISA-L; no input read): by the local executor
        ahead of the stage when a core is idle, so the forked worker starts with them."""
        from curation.publish.dataset import load_libraries

        load_libraries()

    def process(self, part: Partition) -> dict:
        from curation.publish.dataset import publish

        c = self.config
        s = publish(part.out / c.source, self.target(part.out), min_tier=c.min_tier, fractions=tuple(c.fractions),
                    volumes=c.volumes, min_review=c.min_review, progress=part.progress, settings=self.settings,
                    workers=self.volume_threads)
        return {"rows": s.rows, "volumes": s.volumes_written + s.volumes_reused, "volume_errors": s.volume_errors}


@dataclass(frozen=True)
class ExportSegConfig:
    target: Path = Path("seg")   # folder for the DICOM SEG files (relative: under OUT)


class ExportSegStage(Stage):
    """One BINARY DICOM SEG per CT series, partitioned by study like segment (the SEG files are identifiable:
    they go back to the PACS, so this stage reads OUT's own tables, never the de-identified copy)."""

    name = "export-seg"
    reads = (MaskRecord, AnnotationRecord, InstanceRecord)
    work_table = MaskRecord
    writes = ("seg", QuarantineRecord)   # a series no SEG can be made from is quarantined, the others exported
    Config = ExportSegConfig
    setup_holds_model = False   # highdicom's tables: a Ray task loads them itself, partitions stay parallel tasks

    def target(self, out: Path) -> Path:
        return Path(out) / self.config.target

    def output_folders(self, out: Path) -> list[Path]:
        return [self.target(out)]

    def clear_outputs(self, out: Path) -> None:
        super().clear_outputs(out)   # its quarantine parts
        folder = self.target(out)
        for p in folder.glob("seg_*.dcm") if folder.is_dir() else []:
            p.unlink()

    def setup(self) -> None:
        """What process() imports (highdicom, nibabel) and highdicom's standard tables, no input read: ≈ 0.8 CPU s
        in each worker that loads them itself. The local executor sets the stage up once, in its own process,
        before the first worker forks (or ahead of the stage when a core is idle): every worker inherits them."""
        from curation.publish.seg_export import export_partition  # noqa: F401
        from curation.publish.seg_writer import load_standard_tables

        load_standard_tables()

    def teardown(self) -> None:
        """The tables (70 MB) go: the workers forked after the stage (deid, publish, report) do not carry them."""
        from curation.publish.seg_writer import release_standard_tables

        release_standard_tables()

    def process(self, part: Partition) -> dict:
        from curation.publish.seg_export import export_partition

        return {"files": len(export_partition(part, self.target(part.out)))}
