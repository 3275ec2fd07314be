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
