"""Quality control metrics and the quarantine of bad input."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Optional

import pyarrow as pa

from schemas.annotations import ANNOTATION_KINDS
from schemas.base import Record, col

GOOD_DICE = 0.7  # a "good" mask, for what a QC pass promises (calibration on real lesions)
# What a pass with the default thresholds meant when they were last calibrated (benchmarks/calibrate_qc.py on
# real LIDC-IDRI nodules; docs/benchmarks.md "QC calibrated on real lesions"); shown in the QC report and the card.
QC_CALIBRATION = ("with the default thresholds, 94.9% of passing masks had Dice >= 0.7 against the readers' masks "
                  "(95.3% on the holdout half of the patients), and 69% (68.5%) of such good masks passed; every prompt kind "
                  "that can pass kept >= 92% on both halves (line, bidimensional and box marks checked against their "
                  "drawn size, arrows by their tip and shaft; point masks never pass unchecked), on 2830 masks of all "
                  "566 LIDC-IDRI nodules of lidc-dev (set on classical-cpu 0.4.0, rechecked on 0.5.0, 0.5.1, 0.6.0, 0.7.0, "
                  "0.8.0, 0.8.1 and 0.8.2; benchmarks/calibrate_qc.py)")
# Per prompt kind, the same calibration: kind -> (precision tune, recall tune, precision holdout, recall holdout);
# printed by benchmarks/calibrate_qc.py. CALIBRATED_AS: annotation kinds measured under another prompt name.
QC_BY_KIND = {"line": (0.937, 0.923, 0.939, 0.927), "bidimensional": (0.94, 0.933, 0.942, 0.923),
              "arrow": (0.941, 0.735, 0.94, 0.659), "point": (float("nan"), 0.0, float("nan"), 0.0),
              "box": (0.963, 0.849, 0.991, 0.84)}
CALIBRATED_AS = {"polygon": "box"}
# The per-kind values of that calibration (benchmarks/calibrate_qc.py prints them): lines need no certainty from the
# walk and less outline contrast (their drawn size is the stronger check); an arrow's mask must lie squarely in
# front of its tip and the walk be surer.
PER_KIND = (("arrow", "max_arrow_aim_deg", 30.0), ("arrow", "max_arrow_behind_fraction", 0.05),
            ("arrow", "min_classical_certainty", 0.6), ("bidimensional", "min_classical_certainty", 0.0),
            ("bidimensional", "min_outline_contrast", 0.5), ("line", "min_classical_certainty", 0.0),
            ("line", "min_outline_contrast", 0.5))


@dataclass(frozen=True)
class QCThresholds:
    """Defaults calibrated on real lesions (benchmarks/calibrate_qc.py, all 566 LIDC-IDRI nodules, searched on the
    'tune' half for precision >= 0.92 for every prompt kind that passes, so that the 'holdout' half keeps >= 0.9;
    see QC_CALIBRATION and QC_BY_KIND)."""
    max_recist_error_pct: float = 30.0      # mask RECIST long axis vs the radiologist's line
    min_line_inside: float = 0.6            # fraction of the drawn line inside the mask on its slice
    max_arrow_tip_mm: float = 5.0           # arrow tip to the mask on its slice
    max_arrow_tip_depth_mm: float = 0.5     # tip inside the mask by at most this: < 1 pixel = the mask must not cover it
    max_arrow_behind_fraction: float = 0.2  # share of the mask's slice behind the arrow's tip
    max_arrow_aim_deg: float = 20.0         # shaft vs tip-to-mask-centre direction
    max_components: float = 1.0
    max_extent_log2_ratio: float = 1.5      # slices spanned vs the size the prompt implies
    min_directions_stopped_on_empty: float = 1.0   # not calibrated (crops end at the lesion): kept
    min_outline_contrast: float = 0.7       # see outline_contrast
    min_classical_certainty: float = 0.5    # the classical backend's score (certainty of the random walk)
    min_size_checkable: float = 1.0         # 1: masks the mark cannot bound (points, bare tips) never pass; 0: they may
    # (annotation kind, field, value): where one kind's calibration differs from the values above, which hold for
    # every other kind (and for kinds never calibrated: ellipse, circle). None: PER_KIND, each value of which
    # yields to a shared value set away from its default (``--set qc.NAME=V`` then means every kind, as -t does).
    per_kind: Optional[tuple] = None

    def for_kind(self, kind: str) -> "QCThresholds":
        """The thresholds a mask of this annotation kind is judged by."""
        return replace(self, per_kind=(), **{f: v for k, f, v in self.per_kind_entries() if k == kind})

    def per_kind_entries(self) -> tuple:
        """The (kind, field, value) entries in force: ``per_kind``, or PER_KIND's that no shared value overrides."""
        if self.per_kind is not None:
            return tuple(self.per_kind)
        shared = {f.name: f.default for f in fields(self)}
        return tuple((k, f, v) for k, f, v in PER_KIND if getattr(self, f) == shared[f])

    def recorded(self) -> dict:
        """What markers, the run plan and the dataset card record: every field, with the per-kind entries in force
        (so a change of PER_KIND re-runs QC like any changed threshold)."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "per_kind": self.per_kind_entries()}

    @classmethod
    def from_pairs(cls, pairs: list[str]) -> "QCThresholds":
        """``FIELD=VALUE`` sets a threshold for every kind (dropping that field's per-kind values);
        ``KIND.FIELD=VALUE`` for one annotation kind."""
        values = asdict(cls())
        values.pop("per_kind")
        per_kind = {(k, f): v for k, f, v in PER_KIND}
        for p in pairs:
            key, _, val = p.partition("=")
            kind, _, field = key.rpartition(".")
            if field not in values:
                raise ValueError(f"unknown QC threshold {field!r}; known: {', '.join(values)} (or KIND.NAME)")
            if kind:
                if kind not in ANNOTATION_KINDS:
                    raise ValueError(f"unknown annotation kind {kind!r} in {p!r}; known: {', '.join(ANNOTATION_KINDS)}")
                per_kind[kind, field] = float(val)
            else:
                values[field] = float(val)
                per_kind = {kf: v for kf, v in per_kind.items() if kf[1] != field}
        return cls(**values, per_kind=tuple((k, f, v) for (k, f), v in sorted(per_kind.items())))


# metric -> (QCThresholds field, "max" or "min"): how a stored metric value is judged, so that a calibration can
# re-judge stored values under other thresholds (curation.pipeline.qc_calibration) exactly as ``mask_metrics`` does.
CHECKS = {"recist_error_pct": ("max_recist_error_pct", "max"), "line_inside_fraction": ("min_line_inside", "min"),
          "arrow_tip_distance_mm": ("max_arrow_tip_mm", "max"), "arrow_tip_depth_mm": ("max_arrow_tip_depth_mm", "max"),
          "arrow_behind_fraction": ("max_arrow_behind_fraction", "max"), "arrow_aim_deg": ("max_arrow_aim_deg", "max"),
          "classical_certainty": ("min_classical_certainty", "min"), "size_checkable": ("min_size_checkable", "min"),
          "components": ("max_components", "max"), "extent_log2_ratio": ("max_extent_log2_ratio", "max"),
          "directions_stopped_on_empty": ("min_directions_stopped_on_empty", "min"),
          "outline_contrast": ("min_outline_contrast", "min")}


def judge(metric: str, value: float, th: QCThresholds) -> bool:
    """Whether a metric value passes its threshold in ``th``."""
    field, side = CHECKS[metric]
    limit = getattr(th, field)
    return value <= limit if side == "max" else value >= limit


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
