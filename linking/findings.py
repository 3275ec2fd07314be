"""Report -> FindingRecords: one per sentence that names an observation or carries a size or an image reference."""
from __future__ import annotations

import json

from curation.io.ids import stable_id
from linking.measure import image_refs, sizes
from linking.structure import sentences
from schemas import FindingRecord, QuarantineRecord, ReportRecord


def report_findings(report: ReportRecord, analyse, backend: str) -> tuple[list[FindingRecord], list[QuarantineRecord]]:
    """``analyse(sentence) -> dict`` is the finding backend (rules or RadGraph); both give the same fields."""
    notes = []
    if not report.text.strip():
        return [], [QuarantineRecord(stage="link", entity_id=report.report_id, path=report.source_ref, reason="empty_report",
                                     detail=f"report {report.report_id} ({report.source_ref}) has no text")]
    sents = sentences(report.text)
    if not any(s.section == "FINDINGS" for s in sents) or all(s.section in ("FINDINGS", "NONE") for s in sents):
        if "FINDINGS:" not in report.text.upper():
            notes.append(QuarantineRecord(stage="link", entity_id=report.report_id, path=report.source_ref,
                                          reason="no_findings_header",
                                          detail=f"report {report.report_id}: no FINDINGS header; all text read as findings"))
    out = []
    for s in sents:
        found = sizes(s.text, s.section)
        refs = image_refs(s.text)
        a = analyse(s.text)
        if a["observation"] is None and not found and not refs:
            continue
        current = [list(z.dims_mm) for z in found if z.temporal == "current"]
        prior = [list(z.dims_mm) for z in found if z.temporal == "prior"]
        temporal = "both" if current and prior else "current" if current else "prior" if prior else None
        meta = {"sizes": [{"dims_mm": list(z.dims_mm), "precision_mm": z.precision_mm, "temporal": z.temporal,
                           "axis": z.axis, "flags": z.flags, "span": [z.start, z.end]} for z in found],
                "radgraph": a["radgraph"], "history": a["history"]}
        out.append(FindingRecord(
            finding_id=stable_id(report.report_id, s.start, s.end), report_id=report.report_id, study_uid=report.study_uid,
            section=s.section if s.subsection is None else f"{s.section}/{s.subsection}", sentence_index=s.index,
            char_start=s.start, char_end=s.end, text=s.text, observation=a["observation"], anatomy=a["anatomy"],
            laterality=a["laterality"], sizes_mm=current or None, prior_sizes_mm=prior or None, temporal=temporal,
            negated=a["negated"], uncertain=a["uncertain"],
            image_refs=[{"series": r.series, "image": r.image, "text": r.text} for r in refs] or None,
            entities_json=json.dumps(meta), backend=backend))
    return out, notes
