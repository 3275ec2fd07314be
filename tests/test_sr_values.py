"""TID 1500 NUM values become sizes when the points cannot be measured: UCUM length units converted to mm,
any other unit flagged and never read as mm."""
import pytest

from curation.dicom.lookup import ImageLookup
from curation.extract.sr import extract_sr
from sr_builders import measurement_group, sr_container


def _one(value, unit):
    ds = sr_container([measurement_group("1.9.1", value, unit)])
    ds.SOPInstanceUID, ds.StudyInstanceUID = "1.2.3.4", "1.2.3"
    recs, bad, _ = extract_sr(ds, "mem.dcm", ImageLookup([]))  # image not in the archive: no pixel spacing
    assert not bad and len(recs) == 1
    return recs[0]


@pytest.mark.parametrize("value,unit,mm", [(12, "mm", 12.0), (1.2, "cm", 12.0), (12000, "um", 12.0)])
def test_ucum_length_units_become_mm(value, unit, mm):
    rec = _one(value, unit)
    assert rec.length_mm == pytest.approx(mm) and rec.spacing_source == "sr_value"
    assert "no_pixel_spacing" not in rec.flags and "sr_unit_unknown" not in rec.flags
    assert (rec.text_value, rec.text_unit) == (value, unit)  # as written, for the cross-check


@pytest.mark.parametrize("unit", ["[in_i]", "pixels", "MM2"])
def test_unknown_units_stay_flagged_and_are_never_taken_as_mm(unit):
    rec = _one(12, unit)
    assert rec.length_mm is None and rec.spacing_source is None
    assert {"sr_unit_unknown", "no_pixel_spacing"} <= set(rec.flags)


@pytest.mark.parametrize("value", ["1e400", "nan", "-5", "0"])
def test_a_length_that_is_not_a_positive_number_never_becomes_one(value):
    rec = _one(value, "mm")
    assert rec.length_mm is None and "sr_value_invalid" in rec.flags
    assert rec.text_value is None or rec.text_value == float(value)  # kept as written only when finite
