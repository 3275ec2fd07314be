"""GSPS reader: Graphic Annotation Sequence -> AnnotationRecords (highdicom writes GSPS but cannot read it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from curation.extract.annotation_builder import build_record
from curation.dicom.dicom_fast import value as fv
from curation.extract.display_area import DisplayedArea, zero_based_whole_image
from curation.extract.limits import MAX_POINTS_PER_GRAPHIC
from curation.dicom.lookup import ImageLookup
from curation.extract.marks import Mark, Primitive, TextItem, build_marks
from schemas import AnnotationRecord, QuarantineRecord


class MalformedGraphic(ValueError):
    pass


@dataclass
class ImageRef:
    series_uid: Optional[str]
    sop_uid: str
    frames: list[int]


def _frames(item) -> list[int]:
    v = fv(item, "ReferencedFrameNumber")
    if v is None or v == "":
        return []
    vals = v if isinstance(v, (list, tuple)) else [v]
    return [int(f) for f in vals]


def presentation_refs(ds) -> list[ImageRef]:
    refs = []
    for s in fv(ds, "ReferencedSeriesSequence", []):
        for im in fv(s, "ReferencedImageSequence", []):
            refs.append(ImageRef(fv(s, "SeriesInstanceUID"), str(fv(im, "ReferencedSOPInstanceUID")), _frames(im)))
    return refs


def _points(obj, data_tag: str = "GraphicData") -> np.ndarray:
    data = fv(obj, data_tag)
    if data is None:
        return np.zeros((0, 2))
    vals = list(data) if hasattr(data, "__iter__") and not isinstance(data, (str, bytes)) else [data]
    if len(vals) > 2 * MAX_POINTS_PER_GRAPHIC:
        raise MalformedGraphic(f"{len(vals) // 2} graphic points, over the limit of {MAX_POINTS_PER_GRAPHIC}")
    if len(vals) % 2:
        raise MalformedGraphic(f"odd number of Graphic Data values ({len(vals)})")
    arr = np.asarray(vals, dtype=float).reshape(-1, 2)
    if not np.all(np.isfinite(arr)):
        raise MalformedGraphic("Graphic Data holds NaN or infinite values")
    n = fv(obj, "NumberOfGraphicPoints")
    if n is not None and int(n) != len(arr) and len(arr):
        raise MalformedGraphic(f"Number of Graphic Points is {int(n)} but Graphic Data holds {len(arr)} points")
    return arr


def _opt_int(item, name) -> Optional[int]:
    v = fv(item, name)
    return int(v) if v not in (None, "") else None


class _Areas:
    """Displayed area per referenced image (DISPLAY units are relative to it), read per image so that a 0-based
    whole-image area can be told from a legal 1-based one by the image's size."""

    def __init__(self, ds, lookup: ImageLookup):
        self.rotation = int(fv(ds, "ImageRotation", 0) or 0)
        self.flip = str(fv(ds, "ImageHorizontalFlip", "N")).upper() == "Y"
        self.by_sop: dict[str, tuple] = {}
        self.default: Optional[tuple] = None
        self.lookup = lookup
        for item in fv(ds, "DisplayedAreaSelectionSequence", []):
            tl, br = fv(item, "DisplayedAreaTopLeftHandCorner"), fv(item, "DisplayedAreaBottomRightHandCorner")
            if tl is None or br is None:
                continue
            spacing = fv(item, "PresentationPixelSpacing")
            corners = (tl, br, tuple(float(v) for v in spacing) if spacing else None)
            refs = fv(item, "ReferencedImageSequence")
            if refs:
                for r in refs:
                    self.by_sop[str(fv(r, "ReferencedSOPInstanceUID"))] = corners
            else:
                self.default = corners

    def for_image(self, sop: Optional[str]) -> tuple[Optional[DisplayedArea], set[str]]:
        """The image's displayed area and the flags it earns (displayed_area_zero_based)."""
        corners = (self.by_sop.get(sop) if sop else None) or self.default
        image = self.lookup.get(sop)
        size = (image.columns, image.rows) if image is not None and image.rows and image.columns else None
        if corners is None:
            return (DisplayedArea(0, 0, size[0], size[1], self.rotation, self.flip) if size else None), set()
        tl, br, spacing = corners
        area = DisplayedArea.from_corners(tl, br, self.rotation, self.flip, spacing, size)
        zero_based = size is not None and zero_based_whole_image(tl, br, size)
        return area, {"displayed_area_zero_based"} if zero_based else set()


def _to_pixel(pts: np.ndarray, units: str, area: Optional[DisplayedArea]) -> np.ndarray:
    units = (units or "PIXEL").upper()
    if units == "PIXEL" or len(pts) == 0:
        return pts
    if units == "DISPLAY":
        if area is None:
            raise MalformedGraphic("DISPLAY units but no displayed area and the image is not in the archive")
        return area.display_to_pixel(pts)
    raise MalformedGraphic(f"unsupported annotation units {units!r}")


def extract_gsps(ds, path: str, lookup: ImageLookup) -> tuple[list[AnnotationRecord], list[QuarantineRecord]]:
    """All marks of one presentation state, one row per mark and target image."""
    sop = str(ds.SOPInstanceUID)
    study = fv(ds, "StudyInstanceUID")
    refs = presentation_refs(ds)
    areas = _Areas(ds, lookup)
    records: list[AnnotationRecord] = []
    quarantine: list[QuarantineRecord] = []
    for ai, item in enumerate(fv(ds, "GraphicAnnotationSequence", [])):
        item_refs = [ImageRef(None, str(fv(r, "ReferencedSOPInstanceUID")), _frames(r)) for r in fv(item, "ReferencedImageSequence", [])]
        flags = set()
        if item_refs:
            targets = item_refs
        elif len(refs) == 1:
            targets, flags = refs, flags | {"image_from_presentation_state"}
        else:
            targets = [None]
            flags.add("applies_to_all_images")
        for ti, target in enumerate(targets):
            area, area_flags = areas.for_image(target.sop_uid if target else (refs[0].sop_uid if refs else None))
            target_flags = flags | area_flags
            prims, compound_types, errors = _primitives(item, area)
            if ti == 0:  # the same item drawn on several images is malformed once, not once per image
                quarantine += [QuarantineRecord(stage="gsps", path=path, entity_id=f"{sop}#annotation{ai}/{where}",
                                                reason="malformed_graphic_data", detail=f"{path}: {err}")
                               for where, err in errors]
            texts = []
            for xi, t in enumerate(fv(item, "TextObjectSequence", [])):
                text, text_errors = _text_item(t, xi, area)
                texts.append(text)
                if ti == 0:
                    quarantine += [QuarantineRecord(stage="gsps", path=path, entity_id=f"{sop}#annotation{ai}/text{xi}",
                                                    reason="malformed_text_object", detail=f"{path}: {err}")
                                   for err in text_errors]
            units = sorted({str(fv(o, "GraphicAnnotationUnits", "PIXEL")).upper() for o in fv(item, "GraphicObjectSequence", [])}
                           | {str(fv(o, "CompoundGraphicUnits", "PIXEL")).upper() for o in fv(item, "CompoundGraphicSequence", [])})
            meta = {"source_units": "/".join(units) or None, "graphic_layer": fv(item, "GraphicLayer")}
            marks = build_marks(prims, compound_types, texts)
            paired = {id(t) for m in marks for t in m.texts}
            for m in marks:
                records.append(_record(ds, path, study, m, target, refs, ai, ti, target_flags, lookup, area, f"m{m.order}", meta))
            for t in texts:
                if id(t) not in paired and t.text.strip():
                    text_mark = Mark("text", None, 20_000 + t.index, compound_id=t.compound_id, group_id=t.group_id,
                                     texts=[t])
                    records.append(_record(ds, path, study, text_mark, target, refs, ai, ti, target_flags, lookup, area, f"t{t.index}", meta))
    return records, quarantine


def _primitives(item, area: Optional[DisplayedArea]) -> tuple[list[Primitive], dict[int, str], list[tuple[str, str]]]:
    """Simple graphic objects and compound graphics of one annotation item, in PIXEL units."""
    prims, compound_types, errors = [], {}, []
    sources = [("object", o, False) for o in fv(item, "GraphicObjectSequence", [])]
    sources += [("compound", c, True) for c in fv(item, "CompoundGraphicSequence", [])]
    counters = {"object": 0, "compound": 0}
    for where, obj, is_compound in sources:
        i = counters[where]
        counters[where] += 1
        cid = _opt_int(obj, "CompoundGraphicInstanceID")
        gtype = str(fv(obj, "CompoundGraphicType" if is_compound else "GraphicType", "")).upper()
        if is_compound and cid is not None:
            compound_types[cid] = gtype
        try:
            units = fv(obj, "CompoundGraphicUnits" if is_compound else "GraphicAnnotationUnits", "PIXEL")
            pts = _to_pixel(_points(obj), units, area)
        except (MalformedGraphic, ValueError, TypeError) as exc:
            errors.append((f"{where}{i}", str(exc)))
            continue
        if len(pts):
            prims.append(Primitive(gtype, pts, i + (10_000 if is_compound else 0), cid, _opt_int(obj, "GraphicGroupID"),
                                   fv(obj, "TrackingUID"), is_compound=is_compound))
    return prims, compound_types, errors


def _text_item(t, index: int, area: Optional[DisplayedArea]) -> tuple[TextItem, list[str]]:
    """The text and, where they can be read, its anchor and bounding box in PIXEL units; what cannot be read is
    dropped and reported (the text itself, and the rest of the presentation state, are kept)."""
    errors: list[str] = []

    def conv(name, values, units, n_points):
        if values is None:
            return None
        try:
            pts = np.asarray(values, dtype=float).reshape(-1)
            if len(pts) != 2 * n_points or not np.all(np.isfinite(pts)):
                raise ValueError(f"{len(pts)} values, {2 * n_points} finite ones expected")
            return _to_pixel(pts.reshape(-1, 2), units, area)
        except (MalformedGraphic, ValueError, TypeError) as exc:
            errors.append(f"text{index} {name}: {exc}")
            return None
    anchor = conv("AnchorPoint", fv(t, "AnchorPoint"), fv(t, "AnchorPointAnnotationUnits", "PIXEL"), 1)
    tl, br = fv(t, "BoundingBoxTopLeftHandCorner"), fv(t, "BoundingBoxBottomRightHandCorner")
    bbox = conv("BoundingBox", np.append(tl, br), fv(t, "BoundingBoxAnnotationUnits", "PIXEL"), 2) \
        if tl is not None and br is not None else None
    text = str(fv(t, "UnformattedTextValue", "") or "").replace("\r\n", "\n")
    return TextItem(text, None if anchor is None else anchor[0], bbox, index,
                    _opt_int(t, "CompoundGraphicInstanceID"), _opt_int(t, "GraphicGroupID")), errors


def _record(ds, path, study, m: Mark, target: Optional[ImageRef], refs, ai, ti, flags, lookup, area, key, meta) -> AnnotationRecord:
    ref_sop = target.sop_uid if target else None
    frame = None
    mark_flags = set(flags) | set(m.flags)
    if target is not None:
        if len(target.frames) == 1:
            frame = target.frames[0]
        elif len(target.frames) > 1:
            mark_flags.add("multiple_frames")
    image = lookup.get(ref_sop)
    ref_series = target.series_uid if target else None
    if target is not None and ref_series is None:
        ref_series = next((r.series_uid for r in refs if r.sop_uid == ref_sop), None)
    if target is None:
        series = {r.series_uid for r in refs}
        ref_series = series.pop() if len(series) == 1 else None
    text = "\n".join(t.text for t in m.texts).strip() or None
    rec = build_record(
        source_kind="gsps", source_sop_uid=str(ds.SOPInstanceUID), source_path=path, study_uid=study,
        position=f"{ai}/{ti}/{key}", kind=m.kind, points=m.points, tip=m.tip, ref_sop=ref_sop, ref_series=ref_series,
        ref_frame=frame, image=image, presentation_spacing=list(area.presentation_spacing) if area and area.presentation_spacing else None,
        text=text, flags=sorted(mark_flags), text_pairing=m.pairing, **meta, group_id=m.group_id, compound_id=m.compound_id,
        tracking_uid=m.tracking_uid, reader=str(ds.get("ContentCreatorName", "") or "") or None)
    if "multiple_frames" in mark_flags:
        rec.slice_index = None
    return rec
