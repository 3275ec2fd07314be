"""Small TID 1500 SR content trees for tests: containers and measurement groups with one NUM and its SCOORD."""
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence


def sr_container(children):
    c = Dataset()
    c.ValueType, c.RelationshipType = "CONTAINER", "CONTAINS"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "121070", "DCM", "Findings"
    c.ConceptNameCodeSequence = Sequence([code])
    c.ContentSequence = Sequence(children)
    return c


def code_item(value, scheme, meaning):
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, scheme, meaning
    return c


def measurement_group(sop_uid, value=12, unit="mm", concept=("410668003", "SCT", "Length"), frames=None):
    """A TID 1500 group: one NUM (Length 12 mm by default, UCUM unit) with a 2-point SCOORD on image sop_uid
    (None: the image item lacks its UID), on the given frames of a multi-frame image."""
    image = Dataset()
    image.ValueType, image.RelationshipType = "IMAGE", "SELECTED FROM"
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    if sop_uid:
        ref.ReferencedSOPInstanceUID = sop_uid
    if frames is not None:
        ref.ReferencedFrameNumber = frames
    image.ReferencedSOPSequence = Sequence([ref])
    scoord = Dataset()
    scoord.ValueType, scoord.RelationshipType, scoord.GraphicType = "SCOORD", "INFERRED FROM", "POLYLINE"
    scoord.GraphicData = [10.0, 10.0, 34.0, 10.0]
    scoord.ContentSequence = Sequence([image])
    measured = Dataset()
    measured.NumericValue = value
    measured.MeasurementUnitsCodeSequence = Sequence([code_item(unit, "UCUM", unit)])
    num = Dataset()
    num.ValueType, num.RelationshipType = "NUM", "CONTAINS"
    num.ConceptNameCodeSequence = Sequence([code_item(*concept)])
    num.MeasuredValueSequence = Sequence([measured])
    num.ContentSequence = Sequence([scoord])
    group = sr_container([num])
    group.ConceptNameCodeSequence = Sequence([code_item("125007", "DCM", "Measurement Group")])
    return group
