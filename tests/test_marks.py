"""Interpretation of GSPS primitives into marks, the way different viewers draw them."""
import numpy as np

from curation.extract.marks import Primitive, TextItem, build_marks
from curation.extract.measure_text import parse_measurement, to_mm


def prim(gtype, pts, i, **kw):
    return Primitive(gtype, np.asarray(pts, float), i, **kw)


def test_ruler_with_midpoint_tick_is_one_line():
    marks = build_marks([prim("POLYLINE", [[0, 0], [100, 0]], 0, compound_id=1),
                         prim("POLYLINE", [[50, -2], [50, 2]], 1, compound_id=1)], {1: "RULER"}, [])
    assert [m.kind for m in marks] == ["line"]


def test_two_crossing_lines_are_bidimensional_even_ungrouped():
    marks = build_marks([prim("POLYLINE", [[0, 0], [100, 0]], 0), prim("POLYLINE", [[40, -30], [40, 30]], 1)], {}, [])
    assert [m.kind for m in marks] == ["bidimensional"]
    assert np.allclose(marks[0].points[:2], [[0, 0], [100, 0]])  # long axis first


def test_weasis_flattened_arrow():
    tail, tip = np.array([100.0, 100.0]), np.array([60.0, 60.0])
    arm1, arm2 = tip + [8, 2], tip + [2, 8]
    marks = build_marks([prim("POLYLINE", [tail, tip], 0), prim("POLYLINE", [tip, arm1], 1),
                         prim("POLYLINE", [tip, arm2], 2)], {}, [TextItem("lesion", None, np.array([[110, 110], [150, 120]]), 0)])
    assert [m.kind for m in marks] == ["arrow"]
    assert np.allclose(marks[0].tip, tip) and marks[0].pairing == "proximity"


def test_compound_only_arrow_tip_from_text_anchor():
    arrow = prim("ARROW", [[10, 10], [50, 50]], 10_000, compound_id=3, is_compound=True)
    marks = build_marks([arrow], {3: "ARROW"}, [TextItem("here", np.array([49.0, 51.0]), None, 0, compound_id=3)])
    assert marks[0].kind == "arrow" and np.allclose(marks[0].tip, [50, 50])
    assert "arrow_tip_from_text_anchor" in marks[0].flags and "compound_only" in marks[0].flags


def test_lines_sharing_an_end_are_not_an_arrow_when_long():
    marks = build_marks([prim("POLYLINE", [[0, 0], [100, 0]], 0), prim("POLYLINE", [[0, 0], [0, 90]], 1),
                         prim("POLYLINE", [[0, 0], [70, 70]], 2)], {}, [])
    assert sorted(m.kind for m in marks) == ["line", "line", "line"]


def test_text_pairs_by_group_before_proximity():
    a = prim("POLYLINE", [[0, 0], [10, 0]], 0, group_id=1)
    b = prim("POLYLINE", [[200, 200], [210, 200]], 1, group_id=2)
    marks = build_marks([a, b], {}, [TextItem("12.0 mm", np.array([205.0, 205.0]), None, 0, group_id=1)])
    first = next(m for m in marks if m.group_id == 1)
    assert first.texts and first.pairing == "group_id"


def test_measurement_text_values():
    assert parse_measurement("Distance measurement 1\nLength: 11.1mm[proj]") == (11.1, "mm")
    assert parse_measurement("2,3 cm") == (2.3, "cm") and to_mm(2.3, "cm") == 23.0
    assert parse_measurement("Area: 119.58 cm\u00b2 (W: 12.68 cm H:12.01 cm)") == (12.68, "cm")
    assert parse_measurement("Area: 4.5 cm2") == (4.5, "cm2")
    assert parse_measurement("lesion") == (None, None)


def test_crossing_lines_that_are_not_perpendicular_stay_two_lines():
    """RECIST/WHO bidimensional axes are perpendicular; two rulers crossing at 45 degrees are two lengths."""
    oblique = build_marks([prim("POLYLINE", [[0, 0], [100, 0]], 0), prim("POLYLINE", [[20, -30], [80, 30]], 1)], {}, [])
    assert [m.kind for m in oblique] == ["line", "line"]
    # a hand-drawn short axis a few degrees off perpendicular (80 degrees here) is still bidimensional
    tilt = np.tan(np.radians(10.0)) * 30
    near = build_marks([prim("POLYLINE", [[0, 0], [100, 0]], 0), prim("POLYLINE", [[40 - tilt, -30], [40 + tilt, 30]], 1)], {}, [])
    assert [m.kind for m in near] == ["bidimensional"]


def test_a_hand_placed_bidimensional_is_one_mark_within_what_pixel_placement_allows():
    """A tiny short axis placed by hand tilts more than 15 degrees (4 px long, a pixel off at the ends): still one
    bidimensional mark, grouped or not. Two lines a writer put in one graphic group (or compound) are one measurement
    by its account and get more room: a concave nodule's longest perpendicular chord may end short of the long axis.
    Independent rulers must cross (a T is a base and its height) and beyond pixel precision stay two lines."""
    long_axis = [[0, 0], [12, 0]]
    tilted = [[5, -2], [6.3, 2]]             # 72 degrees to the long axis, 4.2 px long
    short_of_it = [[6, 0.6], [6, 6.5]]       # perpendicular, its end 0.6 px short of the long axis
    for ids in ({"group_id": 1}, {}):
        marks = build_marks([prim("POLYLINE", long_axis, 0, **ids), prim("POLYLINE", tilted, 1, **ids)], {}, [])
        assert [m.kind for m in marks] == ["bidimensional"], ids
        assert np.allclose(marks[0].points[:2], long_axis)
    grouped = build_marks([prim("POLYLINE", long_axis, 0, group_id=1), prim("POLYLINE", short_of_it, 1, group_id=1)], {}, [])
    assert [m.kind for m in grouped] == ["bidimensional"]
    for stem in (short_of_it, [[6, 0], [6, 6.5]]):   # a T, its stem short of or ending on the bar
        loose = build_marks([prim("POLYLINE", long_axis, 0), prim("POLYLINE", stem, 1)], {}, [])
        assert [m.kind for m in loose] == ["line", "line"], stem
    long_axis = [[0, 0], [40, 0]]
    tilted = [[15.75, -10], [24.25, 10]]     # 67 degrees, 21.7 px: beyond pixel precision
    short_of_it = [[20, 3], [20, 15]]        # 3 px short of the long axis, a quarter of its 12 px
    for short in (tilted, short_of_it):
        grouped = build_marks([prim("POLYLINE", long_axis, 0, group_id=1), prim("POLYLINE", short, 1, group_id=1)], {}, [])
        loose = build_marks([prim("POLYLINE", long_axis, 0), prim("POLYLINE", short, 1)], {}, [])
        assert [m.kind for m in grouped] == ["bidimensional"] and [m.kind for m in loose] == ["line", "line"], short
    oblique = build_marks([prim("POLYLINE", [[0, 0], [12, 0]], 0, group_id=1), prim("POLYLINE", [[3, -4], [9, 4]], 1, group_id=1)], {}, [])
    assert [m.kind for m in oblique] == ["line", "line"]   # 53 degrees: two lengths even in one group
    apart = build_marks([prim("POLYLINE", [[0, 0], [12, 0]], 0, group_id=1), prim("POLYLINE", [[6, 3], [6, 9]], 1, group_id=1)], {}, [])
    assert [m.kind for m in apart] == ["line", "line"]     # 3 px off a 6 px short axis: not one measurement


def test_a_short_arrow_keeps_its_head_when_the_viewer_draws_heads_at_a_fixed_screen_size():
    """Viewers draw an arrow head at a fixed size on screen, so on a small nodule's short arrow (8 mm: 11 px) a 7 px
    head is most of the shaft's length; it is still an arrow. Arms must point back along the shaft (a V), so two
    lines leaving a ruler's end sideways stay lines."""
    tail, tip = np.array([20.0, 20.0]), np.array([20.0, 9.0])   # an 11 px shaft
    back = (tail - tip) / np.linalg.norm(tail - tip)
    rot = lambda deg: np.array([[np.cos(np.radians(deg)), -np.sin(np.radians(deg))], [np.sin(np.radians(deg)), np.cos(np.radians(deg))]])
    v = [tip + 7 * rot(30) @ back, tip, tip + 7 * rot(-30) @ back]
    marks = build_marks([prim("POLYLINE", [tail, tip], 0, group_id=1), prim("POLYLINE", v, 1, group_id=1)], {}, [])
    assert [m.kind for m in marks] == ["arrow"] and np.allclose(marks[0].tip, tip)
    steep = [tip + 7 * rot(50) @ back, tip, tip + 7 * rot(-50) @ back]   # a wide head is still one
    marks = build_marks([prim("POLYLINE", [tail, tip], 0, group_id=1), prim("POLYLINE", steep, 1, group_id=1)], {}, [])
    assert [m.kind for m in marks] == ["arrow"]
    wide = [tip + 7 * rot(80) @ back, tip, tip + 7 * rot(-80) @ back]   # a T, not a head
    marks = build_marks([prim("POLYLINE", [tail, tip], 0, group_id=1), prim("POLYLINE", wide, 1, group_id=1)], {}, [])
    assert sorted(m.kind for m in marks) == ["line", "polyline"]
    # a fan of long rulers from one point (100 px, two 85 px at 45 degrees) is three measurements, not an arrow
    start, end = np.array([0.0, 0.0]), np.array([100.0, 0.0])
    fan = [prim("POLYLINE", [start, end], 0)] + [prim("POLYLINE", [start, start + 85 * rot(d) @ np.array([1.0, 0.0])], i + 1)
                                                   for i, d in enumerate((45, -45))]
    assert sorted(m.kind for m in build_marks(fan, {}, [])) == ["line", "line", "line"]


def test_a_short_rulers_midpoint_tick_of_its_own_compound_is_decoration_not_a_short_axis():
    """Agfa draws a ruler's midpoint tick at a fixed size (4 px) in the ruler's own compound, after the ruler: on a
    small nodule's 12 px ruler it is a third of the ruler, on a 3 px one longer than it, and was read as a
    bidimensional's axis. A crossing line of another compound (Agfa's bidimensional: two rulers), of one graphic
    group, or of the same compound but longer than a tick (a one-compound cross) stays a short axis."""
    ruler, tick = [[0, 0], [12, 0]], [[6, -2], [6, 2]]
    marks = build_marks([prim("POLYLINE", ruler, 0, compound_id=1), prim("POLYLINE", tick, 1, compound_id=1)], {}, [])
    assert [m.kind for m in marks] == ["line"] and np.allclose(marks[0].points, ruler)
    tiny = [[0, 0], [3, 0]]
    marks = build_marks([prim("POLYLINE", tiny, 0, compound_id=1), prim("POLYLINE", [[1.5, -2], [1.5, 2]], 1, compound_id=1)], {}, [])
    assert [m.kind for m in marks] == ["line"] and np.allclose(marks[0].points, tiny)   # the ruler, not its tick
    two_rulers = build_marks([prim("POLYLINE", ruler, 0, compound_id=1), prim("POLYLINE", tick, 1, compound_id=1001)], {}, [])
    grouped = build_marks([prim("POLYLINE", ruler, 0, group_id=1), prim("POLYLINE", tick, 1, group_id=1)], {}, [])
    assert [m.kind for m in two_rulers] == ["bidimensional"] and [m.kind for m in grouped] == ["bidimensional"]
    cross = build_marks([prim("POLYLINE", [[0, 0], [30, 0]], 0, compound_id=1), prim("POLYLINE", [[15, -10], [15, 10]], 1, compound_id=1)], {}, [])
    assert [m.kind for m in cross] == ["bidimensional"]
