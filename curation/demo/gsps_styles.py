"""GSPS objects in the styles real viewers write (see shared/design/gsps.md), for the demo archive.

- ``standard``: highdicom, PIXEL units, each mark's objects and text tied by a Graphic Group.
- ``agfa``: raw pydicom, Compound Graphic Instance IDs, arrow = shaft + separate head + text at the tip,
  ruler with a midpoint tick, bidimensional as two ungrouped lines.
- ``weasis``: raw pydicom, DISPLAY units under 90° rotation + horizontal flip, arrows flattened into
  loose segments, texts with a bounding box only (no anchor, no ids).
- ``larvitar``: raw pydicom, compound-only ARROW / RULER / ELLIPSE items.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from curation.demo.ct_writer import StudyInfo, base_dataset
from curation.demo.truth_marks import arrow_head
from curation.extract.display_area import DisplayedArea

GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
STYLES = ("standard", "agfa", "weasis", "larvitar")


@dataclass
class DemoMark:
    mark_id: str
    lesion_id: int
    kind: str                      # line | bidimensional | arrow | ellipse
    points: np.ndarray             # PIXEL; arrow: [tail, tip]
    image: Dataset                 # the CT slice it is drawn on
    slice_index: int
    length_mm: Optional[float]
    short_mm: Optional[float]

    @property
    def label(self) -> str:
        if self.kind == "bidimensional":
            return f"{self.length_mm:.1f} x {self.short_mm:.1f} mm"
        if self.kind == "ellipse":
            area = np.pi * self.length_mm * self.short_mm / 4 / 100
            return f"Area: {area:.2f} cm\u00b2 (W: {self.length_mm / 10:.2f} cm H: {self.short_mm / 10:.2f} cm)"
        if self.kind == "arrow":
            return "lesion"
        return f"{self.length_mm:.1f} mm"


def write_gsps(style: str, marks: list[DemoMark], study: StudyInfo, series_uid: str, sop_uid: str,
               series_number: int, ct_series: list[Dataset]) -> Dataset:
    if style == "standard":
        return _standard(marks, study, series_uid, sop_uid, series_number)
    ds = _skeleton(marks, study, series_uid, sop_uid, series_number, style)
    items = []
    for m in marks:
        item = Dataset()
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = m.image.SOPClassUID, m.image.SOPInstanceUID
        item.ReferencedImageSequence = Sequence([ref])
        item.GraphicLayer = "MEASUREMENTS"
        {"agfa": _agfa, "weasis": _weasis, "larvitar": _larvitar}[style](item, m, len(items))
        items.append(item)
    ds.GraphicAnnotationSequence = Sequence(items)
    return ds


def _skeleton(marks, study, series_uid, sop_uid, series_number, style) -> Dataset:
    ds = base_dataset(study, GSPS_CLASS, sop_uid, series_uid, "PR", series_number, 1)
    ds.ContentLabel, ds.ContentDescription = style.upper(), f"{style} style annotations"
    ds.PresentationCreationDate, ds.PresentationCreationTime = study.study_date, "111500"
    ds.ContentCreatorName = "Reader^Radiology"
    ds.Manufacturer = {"agfa": "AGFA", "weasis": "Weasis", "larvitar": "Larvitar"}[style]
    by_series: dict[str, list] = {}
    for m in marks:
        by_series.setdefault(m.image.SeriesInstanceUID, []).append(m.image)
    seqs = []
    for s_uid, images in by_series.items():
        item = Dataset()
        item.SeriesInstanceUID = s_uid
        refs = []
        for im in {i.SOPInstanceUID: i for i in images}.values():
            r = Dataset()
            r.ReferencedSOPClassUID, r.ReferencedSOPInstanceUID = im.SOPClassUID, im.SOPInstanceUID
            refs.append(r)
        item.ReferencedImageSequence = Sequence(refs)
        seqs.append(item)
    ds.ReferencedSeriesSequence = Sequence(seqs)
    layer = Dataset()
    layer.GraphicLayer, layer.GraphicLayerOrder, layer.GraphicLayerDescription = "MEASUREMENTS", 1, "Measurements"
    ds.GraphicLayerSequence = Sequence([layer])
    area = Dataset()
    area.DisplayedAreaTopLeftHandCorner = [1, 1]
    area.DisplayedAreaBottomRightHandCorner = [int(marks[0].image.Columns), int(marks[0].image.Rows)]
    area.PresentationSizeMode = "SCALE TO FIT"
    area.PresentationPixelAspectRatio = [1, 1]
    ds.DisplayedAreaSelectionSequence = Sequence([area])
    ds.ImageRotation = 90 if style == "weasis" else 0
    ds.ImageHorizontalFlip = "Y" if style == "weasis" else "N"
    ds.PresentationLUTShape = "IDENTITY"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _obj(gtype: str, pts, units="PIXEL", **ids) -> Dataset:
    o = Dataset()
    o.GraphicAnnotationUnits = units
    o.GraphicDimensions = 2
    o.NumberOfGraphicPoints = len(pts)
    o.GraphicData = [float(v) for v in np.asarray(pts, float).ravel()]
    o.GraphicType = gtype
    o.GraphicFilled = "N"
    for k, v in ids.items():
        setattr(o, k, v)
    return o


def _text(value: str, anchor=None, bbox=None, units="PIXEL", **ids) -> Dataset:
    t = Dataset()
    t.UnformattedTextValue = value
    if bbox is not None:
        t.BoundingBoxAnnotationUnits = units
        t.BoundingBoxTopLeftHandCorner = [float(bbox[0][0]), float(bbox[0][1])]
        t.BoundingBoxBottomRightHandCorner = [float(bbox[1][0]), float(bbox[1][1])]
        t.BoundingBoxTextHorizontalJustification = "LEFT"
    if anchor is not None:
        t.AnchorPointAnnotationUnits = units
        t.AnchorPoint = [float(anchor[0]), float(anchor[1])]
        t.AnchorPointVisibility = "N"
    for k, v in ids.items():
        setattr(t, k, v)
    return t


def _agfa(item: Dataset, m: DemoMark, n: int) -> None:
    cid = 2 * n + 1
    objs, texts = [], []
    if m.kind == "line":
        a, b = m.points
        u = (b - a) / np.linalg.norm(b - a)
        perp = np.array([-u[1], u[0]])
        mid = (a + b) / 2
        objs += [_obj("POLYLINE", m.points, CompoundGraphicInstanceID=cid),
                 _obj("POLYLINE", [mid - 2 * perp, mid + 2 * perp], CompoundGraphicInstanceID=cid)]  # midpoint tick
        texts.append(_text(f"Distance measurement {n + 1}\nLength: {m.length_mm:.1f}mm", anchor=b, CompoundGraphicInstanceID=cid))
    elif m.kind == "arrow":
        tail, tip = m.points
        h1, h2 = arrow_head(tail, tip)
        objs += [_obj("POLYLINE", [tail, tip], CompoundGraphicInstanceID=cid),
                 _obj("POLYLINE", [h1, tip, h2], CompoundGraphicInstanceID=cid)]
        texts.append(_text("Arrow", anchor=tip, CompoundGraphicInstanceID=cid))
    elif m.kind == "bidimensional":  # two independent rulers, no group: paired by crossing
        for i, seg in enumerate((m.points[:2], m.points[2:])):
            objs.append(_obj("POLYLINE", seg, CompoundGraphicInstanceID=cid + i * 1000))
            length = m.length_mm if i == 0 else m.short_mm
            texts.append(_text(f"Length: {length:.1f}mm", anchor=seg[1], CompoundGraphicInstanceID=cid + i * 1000))
    elif m.kind == "ellipse":
        objs.append(_obj("ELLIPSE", m.points, CompoundGraphicInstanceID=cid))
        texts.append(_text(m.label, anchor=m.points[1], CompoundGraphicInstanceID=cid))
    comp = Dataset()
    comp.CompoundGraphicInstanceID, comp.CompoundGraphicUnits, comp.CompoundGraphicType = cid, "PIXEL", "PRIVATE_AGILITY"
    comp.GraphicDimensions, comp.NumberOfGraphicPoints = 2, 0
    item.GraphicObjectSequence = Sequence(objs)
    item.TextObjectSequence = Sequence(texts)
    item.CompoundGraphicSequence = Sequence([comp])


def _weasis(item: Dataset, m: DemoMark, n: int) -> None:
    area = DisplayedArea(0, 0, float(m.image.Columns), float(m.image.Rows), rotation=90, flip=True)

    def disp(pts):
        return area.pixel_to_display(np.asarray(pts, float).reshape(-1, 2))

    objs = []
    if m.kind == "arrow":
        tail, tip = m.points
        h1, h2 = arrow_head(tail, tip)
        objs += [_obj("POLYLINE", disp([tail, tip]), "DISPLAY"), _obj("POLYLINE", disp([tip, h1]), "DISPLAY"),
                 _obj("POLYLINE", disp([tip, h2]), "DISPLAY")]
    elif m.kind == "bidimensional":
        objs += [_obj("POLYLINE", disp(m.points[:2]), "DISPLAY"), _obj("POLYLINE", disp(m.points[2:]), "DISPLAY")]
    elif m.kind == "ellipse":
        objs.append(_obj("ELLIPSE", disp(m.points), "DISPLAY"))
    else:
        objs.append(_obj("POLYLINE", disp(m.points), "DISPLAY"))
    corner = m.points.max(axis=0) + 4.0
    box = disp([corner, corner + np.array([60.0, 12.0])])
    item.GraphicObjectSequence = Sequence(objs)
    item.TextObjectSequence = Sequence([_text(m.label, bbox=(box.min(axis=0), box.max(axis=0)), units="DISPLAY")])


def _larvitar(item: Dataset, m: DemoMark, n: int) -> None:
    comps = []

    def compound(ctype, pts, cid):
        c = Dataset()
        c.CompoundGraphicInstanceID, c.CompoundGraphicUnits, c.CompoundGraphicType = cid, "PIXEL", ctype
        c.GraphicDimensions, c.NumberOfGraphicPoints = 2, len(pts)
        c.GraphicData = [float(v) for v in np.asarray(pts, float).ravel()]
        c.GraphicGroupID = n + 1
        return c

    if m.kind == "arrow":  # Larvitar/Cornerstone convention: the first point is the tip
        comps.append(compound("ARROW", [m.points[1], m.points[0]], 1))
    elif m.kind == "bidimensional":
        comps += [compound("RULER", m.points[:2], 1), compound("RULER", m.points[2:], 2)]
    elif m.kind == "ellipse":
        comps.append(compound("ELLIPSE", m.points, 1))
    else:
        comps.append(compound("RULER", m.points, 1))
    item.CompoundGraphicSequence = Sequence(comps)
    item.TextObjectSequence = Sequence([_text(m.label, anchor=m.points[-1], GraphicGroupID=n + 1)])


def _standard(marks, study, series_uid, sop_uid, series_number) -> Dataset:
    layer = hd.pr.GraphicLayer(layer_name="MEASUREMENTS", order=1, description="Measurements")
    groups, annotations = [], []
    for n, m in enumerate(marks):
        group = hd.pr.GraphicGroup(graphic_group_id=n + 1, label=f"M{n + 1}", description=m.kind)
        groups.append(group)
        objs = []
        if m.kind == "arrow":
            tail, tip = m.points
            h1, h2 = arrow_head(tail, tip)
            objs += [hd.pr.GraphicObject("POLYLINE", np.array([tail, tip]), "PIXEL", graphic_group=group),
                     hd.pr.GraphicObject("POLYLINE", np.array([h1, tip, h2]), "PIXEL", graphic_group=group)]
            anchor = tail
        elif m.kind == "bidimensional":
            objs += [hd.pr.GraphicObject("POLYLINE", m.points[:2], "PIXEL", graphic_group=group),
                     hd.pr.GraphicObject("POLYLINE", m.points[2:], "PIXEL", graphic_group=group)]
            anchor = m.points[1]
        elif m.kind == "ellipse":
            objs.append(hd.pr.GraphicObject("ELLIPSE", m.points, "PIXEL", graphic_group=group))
            anchor = m.points[1]
        else:
            objs.append(hd.pr.GraphicObject("POLYLINE", m.points, "PIXEL", graphic_group=group))
            anchor = m.points[1]
        text = hd.pr.TextObject(m.label, "PIXEL", anchor_point=(float(anchor[0]), float(anchor[1])), graphic_group=group)
        annotations.append(hd.pr.GraphicAnnotation(referenced_images=[m.image], graphic_layer=layer,
                                                   graphic_objects=objs, text_objects=[text]))
    images = list({m.image.SOPInstanceUID: m.image for m in marks}.values())
    return hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=images, series_instance_uid=series_uid, series_number=series_number,
        sop_instance_uid=sop_uid, instance_number=1, manufacturer="opseg demo", manufacturer_model_name="standard",
        software_versions="1", device_serial_number="0", content_label="STANDARD", content_creator_name="Reader^Radiology",
        graphic_annotations=annotations,
        graphic_layers=[layer], graphic_groups=groups)
