"""Report -> FindingRecords: one per lesion of each sentence that names an observation or carries a size or an
image reference. A sentence outside the grounding sections keeps its row with the reason it cannot ground a
mark (``entities_json.not_grounded``), so no measured sentence disappears silently."""
from __future__ import annotations

import json
import re
from bisect import bisect_right

from curation.io.ids import stable_id
from linking.headers import GROUNDED_SECTIONS
from linking.lesions import segments
from linking.measure import image_refs, sizes
from linking.radgraph_schema import side_words
from linking.report_text import check_text
from linking.structure import sentences
from linking.text_tables import prior_spans
from schemas import FindingRecord, QuarantineRecord, ReportRecord


def _note(report: ReportRecord, reason: str, detail: str) -> QuarantineRecord:
    return QuarantineRecord(stage="link", entity_id=report.report_id, path=report.source_ref, reason=reason,
                            detail=f"report {report.report_id} ({report.source_ref}): {detail}")


def report_findings(report: ReportRecord, analyse, backend: str) -> tuple[list[FindingRecord], list[QuarantineRecord]]:
    """``analyse(sentence) -> dict`` is the finding backend (rules or RadGraph); both give the same fields.
    A report the parser fails on is recorded and yields no findings; the stage goes on."""
    try:
        return _report_findings(report, analyse, backend)
    except Exception as exc:  # noqa: BLE001 - one unreadable report must not stop the stage
        return [], [_note(report, "report_parse_error", f"{type(exc).__name__}: {exc}")]


def _report_findings(report: ReportRecord, analyse, backend: str) -> tuple[list[FindingRecord], list[QuarantineRecord]]:
    text, problems = check_text(report.text)
    problems += [("non_utf8_text", f"the report was not UTF-8 ({f}); its offsets refer to that decoding")
                 for f in (report.flags or []) if f.startswith("decoded_as_")]
    notes = [_note(report, reason, detail) for reason, detail in problems]
    if not text.strip():
        return [], notes + [_note(report, "empty_report", "no text")]
    sents = sentences(text)
    if not any(s.section == "FINDINGS" for s in sents) or all(s.section in ("FINDINGS", "NONE") for s in sents):
        if "FINDINGS:" not in text.upper():
            notes.append(_note(report, "no_findings_header", "no FINDINGS header; unheaded text read as findings"))
    out = []
    prior_cells = prior_spans(text) if "|" in text or "\t" in text else []
    for s in sents:
        flat = re.sub(r"\s", " ", s.text)  # a wrapped line reads as one; same length, so offsets hold
        found = sizes(flat, s.section)
        for z in found:  # a value in a pasted table's "Prior" column
            k = bisect_right(prior_cells, (s.start + z.start, float("inf"))) - 1
            if k >= 0 and prior_cells[k][0] <= s.start + z.start < prior_cells[k][1]:
                z.temporal = "prior"
        refs = image_refs(flat)
        a = analyse(flat)
        if a["observation"] is None and not found and not refs:
            continue
        for seg in segments(flat, found, refs):
            out.append(_record(report, s, seg, a, backend))
    return out, notes


def _record(report: ReportRecord, s, seg, a: dict, backend: str) -> FindingRecord:
    lesion = [z for z in seg.sizes if not {"sum", "change"} & set(z.flags)]
    current = [list(z.dims_mm) for z in lesion if z.temporal == "current"]
    prior = [list(z.dims_mm) for z in lesion if z.temporal == "prior"]
    temporal = "both" if current and prior else "current" if current else "prior" if prior else None
    meta = {"sizes": [{"dims_mm": list(z.dims_mm), "precision_mm": z.precision_mm, "temporal": z.temporal,
                       "axis": z.axis, "flags": z.flags, "span": [z.start - seg.start, z.end - seg.start]}
                      for z in seg.sizes],
            "sentence_span": [s.start, s.end], "radgraph": a["radgraph"], "history": a["history"]}
    if s.section not in GROUNDED_SECTIONS and (current or seg.refs):
        meta["not_grounded"] = f"section:{s.section}"
    elif any("sum" in z.flags for z in seg.sizes) and not current:
        meta["not_grounded"] = "sum_of_diameters"
    start, end = s.start + seg.start, s.start + seg.end
    side = seg.side(s.text) if seg.start or seg.end < len(s.text) else seg.side_after_size(s.text)
    laterality = None if side == "none" else side or a["laterality"]
    if laterality is None and side != "none" and s.subsection:  # "Right kidney:" heads the sentences under it
        words = side_words(s.subsection)
        laterality = words.pop() if len(words) == 1 else None
    return FindingRecord(
        finding_id=stable_id(report.report_id, start, end), report_id=report.report_id, study_uid=report.study_uid,
        section=s.section if s.subsection is None else f"{s.section}/{s.subsection}", sentence_index=s.index,
        char_start=start, char_end=end, text=s.text[seg.start:seg.end], observation=a["observation"],
        anatomy=a["anatomy"], laterality=laterality, sizes_mm=current or None, prior_sizes_mm=prior or None,
        temporal=temporal, negated=a["negated"], uncertain=a["uncertain"],
        image_refs=[{"series": r.series, "image": r.image, "image_last": r.image_last, "text": r.text}
                    for r in seg.refs] or None,
        entities_json=json.dumps(meta), backend=backend)
