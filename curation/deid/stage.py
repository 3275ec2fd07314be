"""The de-identification stage: OUT's tables -> OUT/deid, the copy publish and the report read."""
from __future__ import annotations

from dataclasses import dataclass

from curation.deid.secret import ProjectSecret
from curation.io.partition import Partition
from curation.io.stage import Stage

PUBLISHED_TABLES = ("studies", "series", "annotations", "reports", "findings", "masks", "links", "qc", "lesions",
                    "lesion_members", "quarantine")


@dataclass(frozen=True)
class DeidConfig:
    target: str = "deid"   # folder under OUT


class DeidStage(Stage):
    """Keyed by the project secret's fingerprint (never the secret itself): another secret re-runs it."""

    name = "deid"
    partitioned = False
    Config = DeidConfig
    source_label = "project secret"
    optional_reads = ("reviews",)   # scores appended by `opseg review` re-run it (pseudonymised reviewers)

    def __init__(self, config: DeidConfig | None = None, secret: ProjectSecret | None = None, evaluated: bool = False):
        super().__init__(config)
        if secret is None:
            raise ValueError("de-identification needs the project secret")
        self.secret = secret
        self.reads = PUBLISHED_TABLES + ("instances",) + (("eval",) if evaluated else ())
        self.writes = (self.config.target,)

    def source_fingerprint(self) -> str:
        return self.secret.fingerprint

    def process(self, part: Partition) -> dict:
        from curation.deid.tables import deidentify  # dicognito and presidio load only when the stage runs

        m = deidentify(part.out, part.out / self.config.target, self.secret, progress=part.progress)
        return {"rows": m["rows"], "replacements": m["replacements"]}
