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
        self.scrubber = None

    def source_fingerprint(self) -> str:
        return self.secret.fingerprint

    def setup(self) -> None:
        """The free-text recognisers (presidio, spaCy's word lists; no input read): made once, and by the local
        executor ahead of the stage when a core is idle, so the forked worker starts with them."""
        from curation.deid.tables import deidentify  # noqa: F401  (dicognito, pyarrow: what process() imports)
        from curation.deid.text import TextScrubber

        self.scrubber = TextScrubber()

    def teardown(self) -> None:
        self.scrubber = None

    def process(self, part: Partition) -> dict:
        from curation.deid.tables import deidentify  # dicognito and presidio load only when the stage runs

        m = deidentify(part.out, part.out / self.config.target, self.secret, progress=part.progress,
                       scrubber=self.scrubber)
        return {"rows": m["rows"], "replacements": m["replacements"]}
