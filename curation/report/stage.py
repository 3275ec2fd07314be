"""The report stage: the static HTML QC report of the published tables (the de-identified copy by default)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from curation.io.partition import Partition
from curation.io.stage import Resources, Stage

TABLES = ("studies", "series", "annotations", "reports", "findings", "masks", "links", "qc", "lesions",
          "lesion_members", "quarantine")


@dataclass(frozen=True)
class ReportConfig:
    target: Optional[Path] = None    # default OUT/report
    page_size: int = 50              # masks per page
    source: str = "deid"             # the folder under OUT it reads ("" = OUT's own tables)
    evaluation: Optional[Path] = None  # segmentation.json with Dice per mask (default SOURCE/eval/segmentation.json)


class ReportStage(Stage):
    name = "report"
    partitioned = False
    Config = ReportConfig

    def __init__(self, config: Optional[ReportConfig] = None, evaluated: bool = False, threads: int = 1):
        super().__init__(config)
        self.threads = threads
        self.reads = ((self.config.source,) if self.config.source else TABLES) + (("eval",) if evaluated else ())
        self.writes = ("report",)

    @property
    def resources(self) -> Resources:
        return Resources(cpus=self.threads)

    def target(self, out: Path) -> Path:
        return Path(self.config.target or Path(out) / "report")

    def output_folders(self, out: Path) -> list[Path]:
        return [self.target(out)]

    def setup(self) -> None:
        """The libraries the report imports (matplotlib's pyplot ≈ 0.4 CPU s, DuckDB; no input read, no backend
        chosen): by the local executor ahead of the stage when a core is idle, so the forked worker starts with
        them."""
        from curation.report.html import load_libraries

        load_libraries()

    def process(self, part: Partition) -> dict:
        from curation.report.html import write_report

        src = part.out / self.config.source
        index = write_report(src, self.target(part.out), evaluation=self.config.evaluation or src / "eval" / "segmentation.json",
                             page_size=self.config.page_size, progress=part.progress, workers=self.threads)
        return {"index": str(index)}
