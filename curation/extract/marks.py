"""Turn a GSPS annotation item's graphic primitives into radiologist marks.

Writers encode the same mark differently (see shared/design/gsps.md): Agfa draws an arrow as a line
plus a separate head polyline, Weasis as several loose polylines, Larvitar as a compound ARROW only;
a bidimensional measurement is two crossing, near-perpendicular lines, grouped or not (grouped: a looser
hand-placed geometry); an Agfa ruler may carry a short midpoint tick. This module is pure geometry on PIXEL-unit
points, so it is shared by every reader.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

# An arrow-head arm is shorter than HEAD_MAX_FRACTION of the shaft, or than HEAD_MAX_PX: viewers draw heads at a
# fixed size on screen, so in image pixels a small nodule's short arrow (8 mm: 11 px at 0.7 mm) has a head (7-10 px)
# nearly as long as its shaft. Never longer than the shaft, and pointing back along it within HEAD_MAX_ANGLE_DEG
# (heads are drawn at 20-45 degrees): a T, a ruler's end ticks or a fan of long rulers from one point are no head.
HEAD_MAX_FRACTION = 0.6
HEAD_MAX_PX = 10.0
HEAD_MAX_ANGLE_DEG = 60.0
TICK_MAX_FRACTION = 0.2   # a ruler's midpoint tick is shorter than this fraction of the ruler
# ... or, in the ruler's own compound graphic and written after it, at most TICK_OWN_COMPOUND_MAX_PX: drawn at a fixed
# size on screen (Agfa: 4 px), it can be most of a small nodule's ruler, or longer than a 3 px one, and is still
# decoration when it crosses the ruler's midpoint and is bisected by it. A one-compound cross with a longer second
# axis stays a bidimensional.
TICK_OWN_COMPOUND_MAX_PX = 6.0
# RECIST/WHO bidimensional axes are perpendicular by definition; viewers that draw them (OHIF, Agfa, Weasis)
# keep the short axis within a few degrees of it, hand-placed ones within ~10. 90 +- 15 degrees admits those and
# refuses two independent rulers that merely cross (any angle is possible there; 45 is typical). A hand places each
# calliper end within about a pixel (PLACEMENT_PX), which tilts a short axis of s px by up to atan(2 / s): more
# than 15 degrees below 7.5 px (a small nodule's), so the limit widens to that. Independent rulers must cross: a T
# (a base and its height) is two measurements.
BIDIMENSIONAL_MAX_TILT_DEG = 15.0
PLACEMENT_PX = 1.0
# Two lines that the writer put in one graphic group or compound are one measurement by its own account; only their
# geometry by hand is looser: up to 30 degrees off square, and a concave nodule's longest perpendicular chord may stop
# short of the long axis by a quarter of its length (RECIST does not require the axes to cross).
GROUPED_MAX_TILT_DEG = 30.0
GROUPED_MAX_GAP_FRACTION = 0.25   # of the short axis: how far past its end the long axis may lie
LINE_LIKE_COMPOUNDS = {"RULER", "MULTILINE", "INFINITELINE", "CUTLINE", "RANGELINE", "AXIS"}


@dataclass
class Primitive:
    gtype: str                      # POLYLINE, INTERPOLATED, POINT, CIRCLE, ELLIPSE or a compound type
    points: np.ndarray              # (n, 2) PIXEL (column, row)
    index: int
    compound_id: Optional[int] = None
    group_id: Optional[int] = None
    tracking_uid: Optional[str] = None
    is_compound: bool = False

    @property
    def closed(self) -> bool:
        return len(self.points) >= 4 and bool(np.allclose(self.points[0], self.points[-1], atol=1e-3))

    @property
    def is_segment(self) -> bool:
        return self.gtype == "POLYLINE" and len(self.points) == 2

    @property
    def length_px(self) -> float:
        return float(np.linalg.norm(self.points[-1] - self.points[0]))


@dataclass
class TextItem:
    text: str
    anchor: Optional[np.ndarray]    # (2,) PIXEL
    bbox: Optional[np.ndarray]      # (2, 2) PIXEL corners
    index: int
    compound_id: Optional[int] = None
    group_id: Optional[int] = None

    def distance_to(self, pts: np.ndarray) -> float:
        if self.anchor is not None:
            return float(np.min(np.linalg.norm(pts - self.anchor, axis=1)))
        if self.bbox is not None:
            lo, hi = self.bbox.min(axis=0), self.bbox.max(axis=0)
            nearest = np.clip(pts, lo, hi)
            return float(np.min(np.linalg.norm(pts - nearest, axis=1)))
        return float("inf")


@dataclass
class Mark:
    kind: str
    points: np.ndarray
    order: int
    tip: Optional[np.ndarray] = None
    compound_id: Optional[int] = None
    group_id: Optional[int] = None
    tracking_uid: Optional[str] = None
    texts: list[TextItem] = field(default_factory=list)
    pairing: Optional[str] = None
    flags: list[str] = field(default_factory=list)


def _segments_cross(a: np.ndarray, b: np.ndarray) -> bool:
    """Proper intersection of two segments (touching at an end does not count)."""
    def orient(p, q, r):
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    d1, d2 = orient(b[0], b[1], a[0]), orient(b[0], b[1], a[1])
    d3, d4 = orient(a[0], a[1], b[0]), orient(a[0], a[1], b[1])
    return d1 * d2 < 0 and d3 * d4 < 0


def _crossing_params(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Where the segments cross, as fractions along a and along b."""
    da, db = a[1] - a[0], b[1] - b[0]
    den = da[0] * db[1] - da[1] * db[0]
    w = b[0] - a[0]
    return float((w[0] * db[1] - w[1] * db[0]) / den), float((w[0] * da[1] - w[1] * da[0]) / den)


def _near_perpendicular(a: Primitive, b: Primitive, max_tilt_deg: float = BIDIMENSIONAL_MAX_TILT_DEG) -> bool:
    """The angle between two segments is 90 degrees within ``max_tilt_deg``."""
    cos = abs(float(np.dot(a.points[1] - a.points[0], b.points[1] - b.points[0]))) / (a.length_px * b.length_px)
    return cos <= np.sin(np.radians(max_tilt_deg))


def _bidimensional_axes(a: Primitive, b: Primitive) -> bool:
    """Whether two lines are the axes of one bidimensional measurement: near-perpendicular, and the short axis's
    line meets the long axis inside it. Lines of one group or compound get the grouped tolerances (the meeting
    point on the short axis or a quarter of its length past an end); independent ones must cross, within the strict
    tilt widened to what pixel-precise placement allows on a short axis."""
    long_seg, short = (a, b) if a.length_px >= b.length_px else (b, a)
    if _same_ids(a, b):
        if not _near_perpendicular(a, b, GROUPED_MAX_TILT_DEG):
            return False
        t_long, t_short = _crossing_params(long_seg.points, short.points)
        return 0.0 < t_long < 1.0 and -GROUPED_MAX_GAP_FRACTION <= t_short <= 1.0 + GROUPED_MAX_GAP_FRACTION
    placement = np.degrees(np.arctan(2 * PLACEMENT_PX / short.length_px))
    max_tilt = min(GROUPED_MAX_TILT_DEG, max(BIDIMENSIONAL_MAX_TILT_DEG, placement))
    return _segments_cross(a.points, b.points) and _near_perpendicular(a, b, max_tilt)


def _same_ids(p: Primitive, q: Primitive) -> bool:
    return (p.compound_id is not None and p.compound_id == q.compound_id) or (
        p.group_id is not None and p.group_id == q.group_id)


def _ids_compatible(p: Primitive, q: Primitive) -> bool:
    """Two primitives may belong to one mark unless their ids say they belong to different ones."""
    if p.compound_id is not None and q.compound_id is not None and p.compound_id != q.compound_id:
        return False
    if p.group_id is not None and q.group_id is not None and p.group_id != q.group_id:
        return False
    return True


def _heads_at(shaft: Primitive, end: np.ndarray, other: np.ndarray, candidates: list[Primitive]) -> list[Primitive]:
    """Arrow-head primitives drawn at one end of a shaft: a 3-point V or short segments, pointing back."""
    tol = max(1.0, 0.03 * shaft.length_px)
    max_arm = min(shaft.length_px, max(HEAD_MAX_FRACTION * shaft.length_px, HEAD_MAX_PX))
    back = (other - end) / np.linalg.norm(other - end)
    min_cos = np.cos(np.radians(HEAD_MAX_ANGLE_DEG))

    def is_arm(a: np.ndarray) -> bool:
        n = float(np.linalg.norm(a))
        return 0 < n <= max_arm and float(np.dot(a, back)) >= min_cos * n

    found = []
    for c in candidates:
        if c is shaft or not _ids_compatible(shaft, c) or c.gtype != "POLYLINE":
            continue
        if len(c.points) == 3 and np.linalg.norm(c.points[1] - end) <= tol:
            arms = [c.points[0] - end, c.points[2] - end]
            if all(is_arm(a) for a in arms):
                return [c]
        if c.is_segment:
            for i in (0, 1):
                if np.linalg.norm(c.points[i] - end) <= tol:
                    arm = c.points[1 - i] - end
                    if is_arm(arm):
                        found.append(c)
    return found if len(found) >= 2 else []


def build_marks(prims: list[Primitive], compound_types: dict[int, str], texts: list[TextItem]) -> list[Mark]:
    """Interpret primitives (simple objects + compound-only items) as marks, then pair texts."""
    simple = [p for p in prims if not p.is_compound] + _compound_only(prims)
    used: set[int] = set()
    marks: list[Mark] = []

    def add(kind, points, members, tip=None, flags=()):
        first = min(members, key=lambda m: m.index)
        if any(m.is_compound for m in members):
            flags = [*flags, "compound_only"]
        marks.append(Mark(kind, np.asarray(points, float), first.index, None if tip is None else np.asarray(tip, float),
                          next((m.compound_id for m in members if m.compound_id is not None), None),
                          next((m.group_id for m in members if m.group_id is not None), None),
                          next((m.tracking_uid for m in members if m.tracking_uid), None), flags=list(flags)))
        used.update(id(m) for m in members)

    segments = sorted([p for p in simple if p.is_segment and p.length_px > 0], key=lambda p: -p.length_px)
    # 1. arrows: a shaft with head primitives at one end
    for shaft in segments:
        if id(shaft) in used:
            continue
        pool = [p for p in simple if id(p) not in used]
        for e, o in ((0, 1), (1, 0)):
            heads = _heads_at(shaft, shaft.points[e], shaft.points[o], pool)
            if heads:
                add("arrow", [shaft.points[o], shaft.points[e]], [shaft, *heads], tip=shaft.points[e])
                break
    # 2. ticks and bidimensional pairs among the remaining segments
    free = [s for s in segments if id(s) not in used]
    for long_seg in free:
        for short in free:
            if short is long_seg or id(short) in used or id(long_seg) in used:
                continue
            # a tick of the ruler's own compound is written after it (on a 3 px ruler the tick is the longer one)
            own = long_seg.compound_id is not None and short.compound_id == long_seg.compound_id
            small = short.length_px < TICK_MAX_FRACTION * long_seg.length_px or (
                own and short.index > long_seg.index and short.length_px <= TICK_OWN_COMPOUND_MAX_PX)
            if small and _segments_cross(long_seg.points, short.points):
                ta, tb = _crossing_params(long_seg.points, short.points)
                if abs(ta - 0.5) < 0.05 and abs(tb - 0.5) < 0.2 and _ids_compatible(long_seg, short):
                    used.add(id(short))  # ruler tick: decoration of the ruler, not a mark of its own
    free = [s for s in segments if id(s) not in used]
    pairs = []
    for i, a in enumerate(free):
        for b in free[i + 1:]:  # separate rulers (own compound ids) may still form one bidimensional mark
            groups_differ = a.group_id is not None and b.group_id is not None and a.group_id != b.group_id
            if not groups_differ and _bidimensional_axes(a, b):
                da = (a.points[1] - a.points[0]) / a.length_px
                db = (b.points[1] - b.points[0]) / b.length_px
                pairs.append((0 if _same_ids(a, b) else 1, abs(float(np.dot(da, db))), a, b))
    for _, _, a, b in sorted(pairs, key=lambda t: (t[0], t[1])):
        if id(a) in used or id(b) in used:
            continue
        long_seg, short = (a, b) if a.length_px >= b.length_px else (b, a)
        add("bidimensional", [*long_seg.points, *short.points], [long_seg, short])
    # 3. everything else on its own
    for p in simple:
        if id(p) in used:
            continue
        hint = compound_types.get(p.compound_id) if p.compound_id is not None else None
        if p.gtype == "ELLIPSE" and len(p.points) == 4:
            add("ellipse", p.points, [p])
        elif p.gtype == "CIRCLE" and len(p.points) == 2:
            add("circle", p.points, [p])
        elif p.gtype == "POINT":
            add("point", p.points[:1], [p])
        elif p.gtype in ("POLYLINE", "INTERPOLATED") and p.closed:
            add("polygon", p.points, [p])
        elif p.is_segment:
            if hint == "ARROW":
                add("arrow", p.points, [p], flags=["arrow_tip_inferred"])
            else:
                add("line", p.points, [p])
        elif p.gtype in ("POLYLINE", "INTERPOLATED") and len(p.points) > 2:
            add("polyline", p.points, [p])
        else:
            add("point" if len(p.points) == 1 else "polyline", p.points, [p], flags=["unrecognised_graphic"])
    marks.sort(key=lambda m: m.order)
    _pair_texts(marks, texts)
    for m in marks:
        if m.kind == "arrow" and "arrow_tip_inferred" in m.flags:
            _orient_arrow(m)
    return marks


def _compound_only(prims: list[Primitive]) -> list[Primitive]:
    """Stand-in simple objects for compound items that were written without their simple twins
    (the standard requires the twins; Larvitar and others omit them), so one interpretation serves both."""
    twinned = {p.compound_id for p in prims if not p.is_compound and p.compound_id is not None}
    out = []
    for p in prims:
        if not p.is_compound or p.compound_id in twinned or len(p.points) == 0:
            continue
        ctype, pts = p.gtype, p.points
        if (ctype == "ARROW" or ctype in LINE_LIKE_COMPOUNDS) and len(pts) >= 2:
            gtype, pts = "POLYLINE", pts[:2]
        elif ctype == "ELLIPSE" and len(pts) == 4:
            gtype = "ELLIPSE"
        elif ctype == "RECTANGLE" and len(pts) >= 2:
            (x0, y0), (x1, y1) = pts[0], pts[1]
            gtype, pts = "POLYLINE", np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]])
        elif ctype == "CROSSHAIR":
            gtype, pts = "POINT", pts.mean(axis=0, keepdims=True)
        else:
            gtype = "POLYLINE"
        out.append(Primitive(gtype, np.asarray(pts, float), p.index, p.compound_id, p.group_id, p.tracking_uid, True))
    return out


def _pair_texts(marks: list[Mark], texts: list[TextItem]) -> None:
    """Compound id, then group id, then proximity to the mark's points."""
    for t in texts:
        target, how = None, None
        if t.compound_id is not None:
            target = next((m for m in marks if m.compound_id == t.compound_id), None)
            how = "compound_id"
        if target is None and t.group_id is not None:
            same = [m for m in marks if m.group_id == t.group_id]
            if same:
                target = min(same, key=lambda m: t.distance_to(m.points))
                how = "group_id"
        if target is None and marks and (t.anchor is not None or t.bbox is not None):
            near = min(marks, key=lambda m: t.distance_to(m.points))
            scale = max(10.0, float(np.ptp(near.points, axis=0).max()) if len(near.points) > 1 else 10.0)
            if t.distance_to(near.points) <= 2.0 * scale and t.group_id is None:
                target, how = near, "proximity"
        if target is not None:
            target.texts.append(t)
            target.pairing = target.pairing or how


def _orient_arrow(m: Mark) -> None:
    """Arrow whose tip is not drawn: the text anchor sits at the tip (Agfa); else the first point."""
    anchors = [t.anchor for t in m.texts if t.anchor is not None]
    a, b = m.points[0], m.points[1]
    if anchors:
        tip = a if np.linalg.norm(anchors[0] - a) <= np.linalg.norm(anchors[0] - b) else b
        m.flags = [f for f in m.flags if f != "arrow_tip_inferred"] + ["arrow_tip_from_text_anchor"]
    else:
        tip = a
    tail = b if tip is a else a
    m.points = np.array([tail, tip])
    m.tip = np.array(tip)
