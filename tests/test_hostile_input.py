"""Hostile and broken GSPS/SR objects: every case ends as annotations, flags or quarantine rows with a reason,
never an exception or a hang (property-based with hypothesis, plus the mutation fuzzer over real samples)."""
import math
import time
import warnings

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from curation.extract import limits
from curation.extract.stage import parse_object
from curation.dicom.lookup import ImageLookup
from fuzz_parsers import run_mutations
from sr_builders import measurement_group as _measurement_group, sr_container as _sr_container
from schemas import InstanceRecord

GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.22"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _file(ds: Dataset, sop_class: str, path, syntax=ExplicitVRLittleEndian) -> InstanceRecord:
    ds.SOPClassUID, ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = sop_class, "1.2.3.4", "1.2.3", "1.2.3.5"
    ds.Modality = "PR" if sop_class == GSPS_CLASS else "SR"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = sop_class, "1.2.3.4"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=True)
    return InstanceRecord(path=str(path), size=path.stat().st_size, mtime_ns=0, sop_uid="1.2.3.4", sop_class_uid=sop_class,
                          study_uid="1.2.3", series_uid="1.2.3.5", category="gsps" if sop_class == GSPS_CLASS else "sr")


def _check(inst):
    t0 = time.perf_counter()
    recs, bad, _ = parse_object(inst, ImageLookup([]))
    for q in bad:
        assert q.reason and q.path == inst.path
    for r in recs:
        assert all(math.isfinite(v) for p in r.points_px or [] for v in p)
        assert r.text is None or len(r.text) <= limits.MAX_TEXT_CHARS
    return recs, bad, time.perf_counter() - t0


coordinate = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([math.nan, math.inf, -math.inf, 0.0]))
texts = st.one_of(st.text(max_size=1100), st.binary(max_size=300).map(lambda b: b.decode("latin-1")))


@st.composite
def graphic_objects(draw):
    o = Dataset()
    o.GraphicAnnotationUnits = draw(st.sampled_from(["PIXEL", "DISPLAY", "MATRIX", "BOGUS", ""]))
    o.GraphicDimensions = 2
    data = draw(st.lists(coordinate, max_size=40))
    if draw(st.booleans()):
        o.GraphicData = data
    else:  # wrong VR: a string where floats belong
        o.add(DataElement(0x00700022, "LO", draw(st.text(max_size=40))))
    o.NumberOfGraphicPoints = draw(st.integers(0, 65535))  # US: what a file can claim
    o.GraphicType = draw(st.sampled_from(["POLYLINE", "INTERPOLATED", "CIRCLE", "ELLIPSE", "POINT", "MULTIPOINT", "X"]))
    return o


@st.composite
def text_objects(draw):
    t = Dataset()
    t.UnformattedTextValue = draw(texts)
    if draw(st.booleans()):
        t.AnchorPointAnnotationUnits = "PIXEL"
        t.AnchorPoint = [draw(coordinate), draw(coordinate)]
    else:
        t.BoundingBoxAnnotationUnits = "PIXEL"
        t.BoundingBoxTopLeftHandCorner = [draw(coordinate), draw(coordinate)]
        t.BoundingBoxBottomRightHandCorner = [draw(coordinate), draw(coordinate)]
    return t


@FAST
@given(st.lists(graphic_objects(), max_size=6), st.lists(text_objects(), max_size=4), st.booleans())
def test_random_gsps_objects_never_crash(tmp_path_factory, graphics, texts_, with_refs):
    ds = Dataset()
    item = Dataset()
    item.GraphicLayer = "L"
    item.GraphicObjectSequence = Sequence(graphics)
    item.TextObjectSequence = Sequence(texts_)
    if with_refs:
        im = Dataset()
        im.ReferencedSOPClassUID, im.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", "1.9.9"
        item.ReferencedImageSequence = Sequence([im])
    ds.GraphicAnnotationSequence = Sequence([item])
    _check(_file(ds, GSPS_CLASS, tmp_path_factory.mktemp("g") / "gsps.dcm"))


def test_huge_point_counts_are_quarantined_not_loaded(tmp_path):
    o = Dataset()
    o.GraphicAnnotationUnits, o.GraphicDimensions, o.GraphicType = "PIXEL", 2, "POLYLINE"
    o.GraphicData = [1.0] * (2 * limits.MAX_POINTS_PER_GRAPHIC + 2)
    o.NumberOfGraphicPoints = 65535  # the most a US can say; the data holds more
    item = Dataset()
    item.GraphicObjectSequence = Sequence([o])
    ds = Dataset()
    ds.GraphicAnnotationSequence = Sequence([item])
    # implicit VR: explicit-VR FL lengths are 16-bit and could not even hold this many values
    recs, bad, _ = _check(_file(ds, GSPS_CLASS, tmp_path / "huge.dcm", ImplicitVRLittleEndian))
    assert not recs and any("over the limit" in (q.detail or "") for q in bad)


@FAST
@given(st.integers(1, 200), texts, st.lists(st.integers(0, 5), max_size=5))
def test_deep_long_and_self_referencing_sr_trees(tmp_path_factory, depth, text, ref_path):
    leaf = Dataset()
    leaf.ValueType, leaf.RelationshipType, leaf.TextValue = "TEXT", "CONTAINS", text
    node = _sr_container([leaf])
    for _ in range(depth):
        node = _sr_container([node])
    by_ref = Dataset()  # a by-reference relationship pointing back up the tree (a cycle in SR references)
    by_ref.RelationshipType = "INFERRED FROM"
    by_ref.ReferencedContentItemIdentifier = [1] + ref_path
    ds = _sr_container([node, by_ref])
    ds.ContentSequence.append(by_ref)
    _check(_file(ds, SR_CLASS, tmp_path_factory.mktemp("s") / "sr.dcm"))


def test_sr_that_contains_itself_is_quarantined(tmp_path):
    from curation.dicom.lookup import ImageLookup
    from curation.extract.sr import extract_sr

    root = _sr_container([])
    root.SOPInstanceUID = "1.2.826.0.1.3680043.10.999.1"
    root.ContentSequence.append(root)  # only possible in memory; the walker must notice rather than recurse forever
    recs, bad, text = extract_sr(root, "in-memory.dcm", ImageLookup([]))
    assert not recs and text is None and [q.reason for q in bad] == ["bad_content_tree"]
    assert "refers back" in bad[0].detail or "deeper" in bad[0].detail


def test_too_deep_sr_keeps_its_specific_quarantine_reason(tmp_path):
    leaf = Dataset()
    leaf.ValueType, leaf.RelationshipType, leaf.TextValue = "TEXT", "CONTAINS", "FINDINGS: 12 mm nodule."
    node = _sr_container([leaf])
    for _ in range(80):  # over the walker's 64 levels
        node = _sr_container([node])
    recs, bad, _ = _check(_file(node, SR_CLASS, tmp_path / "deep.dcm"))
    assert not recs and [q.reason for q in bad] == ["bad_content_tree"]
    assert "deeper than 64" in bad[0].detail and str(tmp_path / "deep.dcm") in bad[0].detail


def test_one_broken_measurement_group_is_quarantined_with_its_reason_and_the_others_kept(tmp_path):
    ds = _sr_container([_measurement_group("1.9.1"), _measurement_group(None)])
    recs, bad, _ = _check(_file(ds, SR_CLASS, tmp_path / "sr.dcm"))
    assert [r.kind for r in recs] == ["line"] and recs[0].referenced_sop_uid == "1.9.1"
    reasons = {q.reason for q in bad}
    assert "malformed_measurement_group" in reasons and "unparseable" not in reasons
    assert any("group 1" in q.detail and "ReferencedSOPInstanceUID" in q.detail for q in bad)


@pytest.mark.parametrize("anchor", [[5.0], 5.0, [1.0, 2.0, 3.0]])
def test_a_malformed_text_anchor_costs_its_anchor_not_the_presentation_state(tmp_path, anchor):
    text = Dataset()
    text.UnformattedTextValue, text.AnchorPointAnnotationUnits, text.AnchorPoint = "12 mm", "PIXEL", anchor
    line = Dataset()
    line.GraphicAnnotationUnits, line.GraphicDimensions, line.NumberOfGraphicPoints = "PIXEL", 2, 2
    line.GraphicData, line.GraphicType = [1.0, 1.0, 5.0, 5.0], "POLYLINE"
    item = Dataset()
    item.GraphicObjectSequence, item.TextObjectSequence = Sequence([line]), Sequence([text])
    ds = Dataset()
    ds.GraphicAnnotationSequence = Sequence([item])
    recs, bad, _ = _check(_file(ds, GSPS_CLASS, tmp_path / "g.dcm"))
    assert "line" in [r.kind for r in recs] and any(r.text == "12 mm" for r in recs)
    assert [q.reason for q in bad] == ["malformed_text_object"] and "AnchorPoint" in bad[0].detail


def test_object_size_and_time_are_bounded(tmp_path, monkeypatch):
    ds = Dataset()
    ds.GraphicAnnotationSequence = Sequence([])
    inst = _file(ds, GSPS_CLASS, tmp_path / "g.dcm")
    monkeypatch.setattr(limits, "MAX_OBJECT_BYTES", 16)
    recs, bad, _ = _check(inst)
    assert [q.reason for q in bad] == ["object_too_large"]
    with pytest.raises(limits.ObjectTimeout):
        with limits.time_limit(0.2):
            while True:
                pass


def test_mutated_real_samples_never_crash():
    outcomes = run_mutations(300, seed=1)
    assert outcomes["quarantined"] > 0 and outcomes["annotations"] > 0  # both paths are exercised
