"""The PHI policy declared in schemas/: every column has a class, the class is in the Arrow metadata and the docs,
and each class's transform does what schemas.phi says on values with known answers."""
import dataclasses
import gzip
from typing import Optional

import nibabel as nib
import numpy as np
import pyarrow as pa
import pytest

from curation.deid.policy import ColumnPolicy, DeidPolicyError, check_policy
from curation.deid.secret import ProjectSecret
from curation.deid.text import TextScrubber
from schemas import ALL_TABLES, PUBLISHED_TABLES, AnnotationRecord, Record, col
from schemas.base import PHI_KEY
from schemas.docs import render
from schemas.phi import PHI_CLASSES


def test_every_string_or_list_column_declares_a_phi_class():
    problems = []
    for cls in {**ALL_TABLES, **PUBLISHED_TABLES}.values():
        try:
            check_policy(cls)
        except DeidPolicyError as exc:
            problems.append(str(exc))
    assert not problems, "columns without a usable PHI class (add phi=... to their col() in schemas/):\n" + \
        "\n".join(problems)


def test_a_new_text_column_without_a_class_is_refused_not_published():
    @dataclasses.dataclass(kw_only=True)
    class Reviews(Record):
        TABLE = "reviews"
        review_id: str = col(pa.string(), "id", phi="key")
        score: Optional[float] = col(pa.float64(), "a number needs no class", None)
        comment: Optional[str] = col(pa.string(), "reviewer's note", None)

    with pytest.raises(DeidPolicyError, match=r"reviews\.comment \(string\) has no PHI class"):
        check_policy(Reviews)


def test_classes_reach_arrow_metadata_and_docs():
    schema = AnnotationRecord.arrow_schema()
    assert schema.field("graphic_layer").metadata[PHI_KEY] == b"dicom_text"
    assert schema.field("source_path").metadata[PHI_KEY] == b"path"
    doc = render()
    assert "| `graphic_layer` | `string` | dicom_text (GraphicLayer (0070,0002): D) |" in doc
    assert all(f"| `{name}` |" in doc for name in PHI_CLASSES)
    assert AnnotationRecord.schema_hash() != ALL_TABLES["masks"].schema_hash()


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    """The transforms on an empty output folder: no patient context, so text gets every patient's (none) identifiers."""
    return ColumnPolicy(tmp_path_factory.mktemp("empty"), ProjectSecret(b"0123456789abcdef0123"), TextScrubber("regex"))


def test_paths_are_replaced_whole_with_their_tails_kept(policy):
    a = policy.path("/archive/Smith John 1962/CT 2025/series 3.dcm")
    assert a.startswith("file-") and a.endswith(".dcm") and "Smith" not in a
    assert a == policy.path("/archive/Smith John 1962/CT 2025/series 3.dcm")
    ckpt = policy.path("/home/Jane Doe/models/sam2ct ft.pt@3fa9c2d1")
    assert ckpt.endswith(".pt@3fa9c2d1") and "Jane" not in ckpt
    assert policy.path("reports.jsonl:12").endswith(".jsonl:12")
    assert policy.path("/data/Dr. Smith") == policy.path("/data/Dr. Smith") and " " not in policy.path("/data/Dr. Smith")


def test_dicom_text_follows_the_profile_action(policy):
    assert policy.dicom_text("MEASUREMENTS", None, "GraphicLayer") == "MEASUREMENTS"
    dummy = policy.dicom_text("RICHARD WEBBER", None, "GraphicLayer")
    assert dummy.startswith("LABEL-") and dummy == policy.dicom_text("RICHARD WEBBER", None, "GraphicLayer")
    assert policy.dicom_text("Seattle Grace", None, "InstitutionName") is None            # X
    assert policy.dicom_text("GREY^MEREDITH", None, "ReferringPhysicianName") == ""       # Z
    assert policy.dicom_text("AXIAL 2.5mm seen 6/3 by Dr. Grey", None, "SeriesDescription") == "AXIAL 2.5mm seen [DATE] by [NAME]"


def test_keys_tokens_and_uids_in_key_columns(policy):
    assert policy.key("abc") == policy.key("abc") != "abc" and len(policy.key("abc")) == 16
    uid = policy.key("1.2.840.10008.99.1#frame2")
    assert uid.startswith("2.") and uid.endswith("#frame2") and "10008" not in uid


def test_nifti_header_text_is_blanked(policy):
    img = nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4))
    img.header["descrip"] = b"Lovelace Ada"
    clean = policy.image(gzip.compress(img.to_bytes()), None)
    assert b"Lovelace" not in gzip.decompress(clean)
    assert np.asarray(nib.Nifti1Image.from_bytes(gzip.decompress(clean)).dataobj).sum() == 8


def test_nifti_header_without_text_keeps_its_bytes(policy):
    """Only the header is read to decide: a mask with nothing to blank is passed on as it was (no re-encoding)."""
    img = nib.Nifti1Image(np.ones((2, 2, 2), np.uint8), np.eye(4))
    value = gzip.compress(img.to_bytes(), mtime=0)
    assert policy.image(value, None) is value


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])  # explicit, implicit VR
def test_header_identifiers_reach_names_nested_in_sequences(tmp_path, syntax):
    """Names two sequences deep and profile keywords are found whether the VR is written or looked up, next to a
    mark's numbers that hold none."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    from curation.deid.headers import header_identifiers

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.11.1", generate_uid()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Lovelace^Ada", "PAT-0042", "19400101"
    ds.PatientTelephoneNumbers, ds.InstitutionName = "617-555-0101", "Elsewhere General"
    person, observer, graphic = Dataset(), Dataset(), Dataset()
    person.PersonName = "Wilson^James"
    observer.VerifyingObserverName, observer.ContentSequence = "House^Gregory", [person]
    graphic.GraphicData, graphic.NumberOfGraphicPoints = [10.5, 20.25, 30.0, 40.75], 2
    ds.VerifyingObserverSequence = [observer]
    ds.GraphicAnnotationSequence = [graphic]
    ds.save_as(tmp_path / "x.dcm", enforce_file_format=True)
    names, ids, dates, phones = header_identifiers([str(tmp_path / "x.dcm")])
    assert names == ["House^Gregory", "Lovelace^Ada", "Wilson^James"]
    assert {"PAT-0042", "Elsewhere General"} <= set(ids) and dates == ["19400101"] and phones == ["617-555-0101"]
