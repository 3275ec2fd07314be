"""Which image numbers of a report's "(series S, image N)" belong to a series: real series are often a slab of a
longer acquisition whose Instance Numbers do not start at 1 (the TotalSegmentator example runs 251-270)."""
import json
import shutil

import pydicom

from curation.extract.stage import extract
from curation.io.tables import read_records
from gsps_builders import write_line_gsps
from linking.stage import run_link
from opseg_testdata import DATA
from schemas import AnnotationRecord, LinkRecord


def test_an_instance_number_past_the_image_count_is_still_an_image_of_the_series(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    by_z = {}
    for n, path in enumerate(sorted((DATA / "dcmqi_ct_3slice").glob("*.dcm"))):  # real GE slices, numbered 101-103
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = 101 + n
        ds.save_as(src / path.name)
        by_z[float(ds.ImagePositionPatient[2])] = ds
    middle = by_z[sorted(by_z)[1]]
    write_line_gsps(src / "pr.dcm", middle.StudyInstanceUID, middle.SeriesInstanceUID, middle.SOPInstanceUID, None,
                    [200.0, 250.0, 230.0, 250.0], sop_class=middle.SOPClassUID)  # 30 px x 0.810547 mm = 24.3 mm
    report = tmp_path / "reports.jsonl"
    report.write_text(json.dumps({"study_uid": middle.StudyInstanceUID, "text": "FINDINGS: Liver lesion measures "
                                  f"24 mm (series {middle.SeriesNumber}, image {middle.InstanceNumber})."}) + "\n")
    out = tmp_path / "out"
    extract(src, out, reports=[report])
    (ann,) = read_records(out, AnnotationRecord)
    assert ann.slice_index == 1
    run_link(out)
    (link,) = read_records(out, LinkRecord)
    assert link.tier == "A" and "image_ref:instance" in link.evidence
