"""Quality control metrics and the quarantine of bad input."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pyarrow as pa

from schemas.base import Record, col

GOOD_DICE = 0.7  # a "good" mask, for what a QC pass promises (calibration on real lesions)
# What a pass with the default thresholds meant when they were last calibrated (benchmarks/calibrate_qc.py on
# real LIDC-IDRI nodules; docs/benchmarks.md "QC calibrated on real lesions"); shown in the QC report and the card.
QC_CALIBRATION = ("with the default thresholds, 93% of passing masks had Dice >= 0.7 against the readers' masks "
                  "(92.6% on the holdout half of the patients), and 56% of such good masks passed (line, bidimensional "
                  "and box marks; arrow and point masks never pass unchecked), on 1000 masks of 200 LIDC-IDRI nodules "
                  "(thresholds set on classical-cpu 0.2.0, rechecked on 0.4.0; benchmarks/calibrate_qc.py)")


@dataclass(kw_only=True)
class QCRecord(Record):
    TABLE = "qc"
    DOC = "Long-format QC metrics: one row per entity and metric."
    entity_kind: str = col(pa.string(), "mask | annotation | link | series", phi="code")
    entity_id: str = col(pa.string(), "Id of the entity", phi="key")
    metric: str = col(pa.string(), "Metric name (e.g. recist_error_pct)", phi="code")
    value: Optional[float] = col(pa.float64(), "Metric value", None, phi="numeric")
    threshold: Optional[float] = col(pa.float64(), "Threshold applied", None, phi="numeric")
    passed: Optional[bool] = col(pa.bool_(), "Whether the value passes the threshold", None, phi="numeric")
    detail: Optional[str] = col(pa.string(), "Human-readable detail", None, phi="free_text")


@dataclass(kw_only=True)
class QuarantineRecord(Record):
    TABLE = "quarantine"
    DOC = "Everything that could not be used, with the reason; the run goes on without it."
    stage: str = col(pa.string(), "index | volume | gsps | sr | reports | segment | link | publish", phi="code")
    path: Optional[str] = col(pa.string(), "File concerned", None, phi="path")
    entity_id: Optional[str] = col(pa.string(), "UID / id concerned", None, phi="key")
    reason: str = col(pa.string(), "Short machine-readable reason (e.g. not_dicom, truncated)", phi="code")
    detail: Optional[str] = col(pa.string(), "Full error message", None, phi="free_text")
