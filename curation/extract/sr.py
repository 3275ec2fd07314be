"""TID 1500 SR reader: walks the content tree with pydicom (highdicom's srread misses the OHIF layout).

Handles the standard layout (SCOORD "Image Region" in the measurement group) and the OHIF/Cornerstone
layout (SCOORD nested under each NUM by INFERRED FROM, arrows as a NUM "Center" without a value).
Also collects free-text content (TEXT items outside measurement groups) as report text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from curation.extract.annotation_builder import build_record
from curation.dicom.lookup import ImageLookup
from curation.extract.measure_text import to_mm
from schemas import AnnotationRecord, QuarantineRecord

MEASUREMENT_GROUP = "125007"
TRACKING_ID, TRACKING_UID, FINDING = "112039", "112040", "121071"
LONG_AXIS, SHORT_AXIS, LENGTH, AREA = "103339001", "103340004", "410668003", "42798000"
AREA_UNITS = ("mm2", "cm2")  # UCUM: an area NUM never becomes a length
MAX_DEPTH = 64
SECTION_WORDS = ("findings", "impression", "impressions", "indication", "technique", "comparison",
                 "history", "conclusion", "conclusions", "clinical information", "recommendation")


def _code(item, seq="ConceptNameCodeSequence") -> tuple[str, str]:
    s = item.get(seq)
    if not s:
        return "", ""
    return str(s[0].get("CodeValue", "") or s[0].get("LongCodeValue", "")), str(s[0].get("CodeMeaning", ""))


@dataclass
class Scoord:
    gtype: str
    points: np.ndarray
    sop_uid: Optional[str]
    frame: Optional[int]
    flags: list[str] = field(default_factory=list)


@dataclass
class Num:
    code: str
    meaning: str
    value: Optional[float]
    unit: Optional[str]
    scoords: list[Scoord]
    invalid: bool = False               # a Numeric Value that is not a finite number (kept out as None)


def _scoord(item) -> Scoord:
    data = list(item.get("GraphicData", []) or [])
    if len(data) % 2:
        raise ValueError(f"SCOORD with an odd number of Graphic Data values ({len(data)})")
    pts = np.asarray(data, float).reshape(-1, 2)
    if not np.all(np.isfinite(pts)):
        raise ValueError("SCOORD Graphic Data holds NaN or infinite values")
    sop, frames = None, []
    for child in item.get("ContentSequence", []):  # SELECTED FROM -> IMAGE
        for ref in child.get("ReferencedSOPSequence", []):
            sop = str(ref.ReferencedSOPInstanceUID)
            f = ref.get("ReferencedFrameNumber")
            frames = [int(v) for v in (f if hasattr(f, "__len__") and not isinstance(f, str) else [f])] if f not in (None, "") else []
    for ref in item.get("ReferencedSOPSequence", []):  # some writers put it on the SCOORD itself
        sop = sop or str(ref.ReferencedSOPInstanceUID)
    # several frames: the slice is not known (as for GSPS), never the first one guessed
    return Scoord(str(item.get("GraphicType", "")).upper(), pts, sop, frames[0] if len(frames) == 1 else None,
                  ["multiple_frames"] if len(frames) > 1 else [])


def _num(item, errors: list[str]) -> Num:
    code, meaning = _code(item)
    value, unit, invalid = None, None, False
    mv = item.get("MeasuredValueSequence")
    if mv:
        try:
            value = float(mv[0].NumericValue)
        except (TypeError, ValueError, AttributeError):
            value = None
        if value is not None and not np.isfinite(value):
            value, invalid = None, True
        unit = _code(mv[0], "MeasurementUnitsCodeSequence")[0] or None
    scoords = []
    for child in item.get("ContentSequence", []):
        if child.get("ValueType") == "SCOORD":
            try:
                scoords.append(_scoord(child))
            except ValueError as exc:
                errors.append(str(exc))
    return Num(code, meaning, value, unit, scoords, invalid)


def _walk(items, depth: int, groups: list, texts: list, section: Optional[str], seen: set[int]) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("SR content tree deeper than 64 levels (cycle?)")
    for item in items:
        if id(item) in seen:
            raise ValueError("SR content tree refers back to itself")
        seen.add(id(item))
        vt = item.get("ValueType")
        code, meaning = _code(item)
        if vt == "CONTAINER" and code == MEASUREMENT_GROUP:
            groups.append(item)
            continue
        if vt == "CONTAINER":
            sub = meaning if meaning.lower() in SECTION_WORDS else section
            _walk(item.get("ContentSequence", []), depth + 1, groups, texts, sub, seen)
        elif vt == "TEXT" and code not in (TRACKING_ID,):
            name = meaning if meaning.lower() in SECTION_WORDS else section
            texts.append((name, str(item.get("TextValue", ""))))
        elif "ContentSequence" in item:
            _walk(item.ContentSequence, depth + 1, groups, texts, section, seen)


def _report_text(texts: list[tuple[Optional[str], str]]) -> Optional[str]:
    blocks, last = [], None
    for section, text in texts:
        if not text.strip():
            continue
        if section and section != last:
            blocks.append(f"{section.upper()}:\n{text.strip()}")
        else:
            blocks.append(text.strip())
        last = section
    return "\n\n".join(blocks) or None


def extract_sr(ds, path: str, lookup: ImageLookup) -> tuple[list[AnnotationRecord], list[QuarantineRecord], Optional[str]]:
    """Marks of every measurement group, quarantine rows with their specific reasons, and the free text.

    The content tree is walked once: a tree that cannot be walked is quarantined as such (not re-walked for
    its text and lost to a generic error), and one broken measurement group does not cost the others."""
    sop = str(ds.SOPInstanceUID)
    groups, texts = [], []
    try:
        _walk(ds.get("ContentSequence", []), 0, groups, texts, None, set())
    except ValueError as exc:
        return [], [QuarantineRecord(stage="sr", path=path, entity_id=sop, reason="bad_content_tree", detail=f"{path}: {exc}")], None
    records: list[AnnotationRecord] = []
    quarantine: list[QuarantineRecord] = []
    reader = _observer_name(ds)
    for gi, group in enumerate(groups):
        try:
            records += _group_records(ds, path, gi, group, lookup, quarantine, reader)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            quarantine.append(QuarantineRecord(stage="sr", path=path, entity_id=f"{sop}#group{gi}",
                                               reason="malformed_measurement_group",
                                               detail=f"{path}: measurement group {gi}: {type(exc).__name__}: {exc}"))
    return records, quarantine, _report_text(texts)


def _group_records(ds, path: str, gi: int, group, lookup: ImageLookup, quarantine: list[QuarantineRecord],
                   reader: Optional[str] = None) -> list[AnnotationRecord]:
    """The marks of one measurement group (its malformed SCOORDs go to quarantine, the rest are kept)."""
    sop, study = str(ds.SOPInstanceUID), ds.get("StudyInstanceUID")
    records = []
    errors: list[str] = []
    tracking, tracking_uid, finding = None, None, None
    nums: list[Num] = []
    region: list[Scoord] = []
    for child in group.get("ContentSequence", []):
        vt, (code, _) = child.get("ValueType"), _code(child)
        if code == TRACKING_ID:
            tracking = str(child.get("TextValue", ""))
        elif code == TRACKING_UID:
            tracking_uid = str(child.get("UID", ""))
        elif vt == "CODE" and code == FINDING:
            finding = _code(child, "ConceptCodeSequence")[1]
        elif vt == "NUM":
            nums.append(_num(child, errors))
        elif vt == "SCOORD":
            try:
                region.append(_scoord(child))
            except ValueError as exc:
                errors.append(str(exc))
        elif vt == "SCOORD3D":
            errors.append("SCOORD3D geometry is not projected onto images (kept out)")
    for e in errors:
        quarantine.append(QuarantineRecord(stage="sr", path=path, entity_id=f"{sop}#group{gi}", reason="malformed_scoord", detail=f"{path}: {e}"))
    for mi, mark in enumerate(_group_marks(tracking, nums, region)):
        kind, pts, tip, value_num, short_num, scoord, flags = mark
        text = " | ".join(t for t in (finding, tracking) if t) or None
        image = lookup.get(scoord.sop_uid)
        rec = build_record(
            source_kind="sr", source_sop_uid=sop, source_path=path, study_uid=study, position=f"{gi}/{mi}",
            kind=kind, points=pts, tip=tip, ref_sop=scoord.sop_uid, ref_series=None, ref_frame=scoord.frame,
            image=image, presentation_spacing=None, text=text, flags=flags, text_pairing="sr_group",
            source_units="SCOORD", graphic_layer=None, group_id=None, compound_id=None, tracking_uid=tracking_uid,
            reader=reader)
        _apply_sr_values(rec, value_num, short_num)
        records.append(rec)
    return records


def _observer_name(ds) -> Optional[str]:
    """The Person Observer Name (DCM 121008) of the report's observation context (top level of the content tree)."""
    for item in ds.get("ContentSequence", []):
        if item.get("ValueType") == "PNAME" and _code(item)[0] == "121008":
            return str(item.get("PersonName", "") or "") or None
    return None


def _apply_sr_values(rec: AnnotationRecord, value: Optional[Num], short: Optional[Num]) -> None:
    """The NUM values are the cross-check; they become the sizes only when points cannot be measured."""
    if value is not None and value.value is not None:
        rec.text_value, rec.text_unit = value.value, value.unit
    if rec.length_mm is None and rec.kind not in ("arrow", "point"):
        length = to_mm(value.value, value.unit) if value is not None and _role(value) != AREA else None
        if (value is not None and value.invalid) or (length is not None and length <= 0):
            rec.flags = sorted(set(rec.flags) | {"sr_value_invalid"})  # inf, NaN, zero or negative: not a size
            length = None
        if length is not None:
            rec.length_mm = length
            rec.spacing_source = "sr_value"
            if short is not None and short.value is not None:
                rec.short_mm = to_mm(short.value, short.unit)
                if rec.short_mm is None:
                    rec.flags = sorted(set(rec.flags) | {"sr_unit_unknown"})
                elif rec.short_mm <= 0:
                    rec.short_mm, rec.flags = None, sorted(set(rec.flags) | {"sr_value_invalid"})
        elif value is not None and value.value is not None and value.unit not in AREA_UNITS:
            rec.flags = sorted(set(rec.flags) | {"sr_unit_unknown"})
        rec.flags = sorted(set(rec.flags) - {"no_pixel_spacing"} | ({"no_pixel_spacing"} if rec.length_mm is None else set()))


ROLE_BY_CODE = {LONG_AXIS: LONG_AXIS, SHORT_AXIS: SHORT_AXIS, LENGTH: LENGTH, AREA: AREA,
                "G-A185": LONG_AXIS, "G-A186": SHORT_AXIS, "G-D7FE": LENGTH, "G-A166": AREA}  # SRT codes (old writers)
ROLE_BY_MEANING = {"long axis": LONG_AXIS, "short axis": SHORT_AXIS, "length": LENGTH, "area": AREA}


def _role(n: Num) -> str:
    """Normalise SNOMED CT, legacy SRT and meaning-only codings of the measurement to one key."""
    return ROLE_BY_CODE.get(n.code) or ROLE_BY_MEANING.get(n.meaning.strip().lower()) or n.code


def _group_marks(tracking: Optional[str], nums: list[Num], region: list[Scoord]):
    """(kind, points, tip, value NUM, short NUM, scoord, flags) for each mark of a measurement group."""
    by_code = {_role(n): n for n in nums}
    arrowish = bool(tracking and "arrow" in tracking.lower())
    long_n, short_n = by_code.get(LONG_AXIS), by_code.get(SHORT_AXIS)
    if long_n and short_n and long_n.scoords and short_n.scoords:  # OHIF bidirectional
        a, b = long_n.scoords[0], short_n.scoords[0]
        yield "bidimensional", np.vstack([a.points[:2], b.points[:2]]), None, long_n, short_n, a, a.flags + b.flags
        nums = [n for n in nums if n not in (long_n, short_n)]
    for n in nums:
        for s in n.scoords:
            yield _kind_for(s, n, arrowish) + (n, None, s, s.flags)
    scoped = long_n if (long_n and short_n and not long_n.scoords) else None
    for s in region:  # standard layout: one Image Region for the whole group
        main = scoped or by_code.get(LENGTH) or by_code.get(AREA) or (nums[0] if nums else None)
        if scoped and len(s.points) == 4 and s.gtype in ("POLYLINE", "MULTIPOINT"):
            yield "bidimensional", s.points, None, long_n, short_n, s, s.flags
        else:
            kind, pts, tip = _kind_for(s, main, arrowish)
            yield kind, pts, tip, main, short_n if scoped else None, s, s.flags


def _kind_for(s: Scoord, n: Optional[Num], arrowish: bool):
    pts = s.points
    if s.gtype == "POINT" or (s.gtype == "MULTIPOINT" and len(pts) == 1):
        if arrowish or (n is not None and n.value is None):
            return "arrow", pts[:1], pts[0]
        return "point", pts[:1], None
    if s.gtype == "ELLIPSE" and len(pts) == 4:
        return "ellipse", pts, None
    if s.gtype == "CIRCLE" and len(pts) == 2:
        return "circle", pts, None
    if s.gtype == "POLYLINE" and len(pts) == 2:
        return ("arrow", pts, pts[0]) if arrowish else ("line", pts, None)
    if s.gtype in ("POLYGON",) or (len(pts) >= 4 and np.allclose(pts[0], pts[-1])):
        return "polygon", pts, None
    return "polyline", pts, None
