"""Linking on real-style reports (tests/data/reports): layouts, lists, references, units, matching, bad input.

The corpus was written for the project in the layouts real CT reports use (template, free prose, RECIST
addenda, organ headers, no headers, pasted tables, German and Dutch headers); each report has a truth table
per finding (linking/corpus.py). heldout/ was written after the parser was frozen and measured once before
any change (docs/benchmarks.md).
"""
import dataclasses
import json
from pathlib import Path

import pytest

from curation.io.tables import read_records, write_records
from linking.corpus import load_corpus, pr, score_parse
from linking.corpus_marks import score_links, write_corpus_out
from linking.findings import report_findings
from linking.grounding import usable_findings
from linking.match import Mark, match_study
from linking.measure import image_refs, sizes
from linking.rules import analyse, backend_name
from linking.stage import run_link
from linking.structure import sentences
from schemas import FindingRecord, LinkRecord, QuarantineRecord, ReportRecord

CORPUS = Path(__file__).parent / "data" / "reports"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


def _findings(text: str, rid: str = "r") -> list[FindingRecord]:
    return report_findings(ReportRecord(report_id=rid, study_uid="s", text=text, n_chars=len(text)), analyse, "rules")[0]


def test_corpus_is_large_and_varied(corpus):
    assert len(corpus) >= 40 and len(load_corpus(CORPUS / "heldout")) >= 10
    forms = {f for rep in corpus for row in rep.rows for f in row.forms}
    assert {"ima", "paren_dash", "paren_colon", "se_im", "series_image", "image_of_series", "slash", "range",
            "hyphen_unit", "diameter", "per_side", "target_list", "organ_headers", "no_headers", "table"} <= forms
    assert sum(len(rep.rows) for rep in corpus) >= 200


@pytest.mark.parametrize("folder", ["", "heldout"])
def test_parse_precision_recall_per_field(folder):
    r = score_parse(load_corpus(CORPUS / folder), analyse, backend_name())["fields"]
    for field, floor in (("current", 0.95), ("prior", 0.9), ("refs", 0.95), ("side", 0.9), ("negated", 0.9),
                         ("uncertain", 0.9)):
        p, rec = pr(r[field])
        assert p >= floor and rec >= floor, (field, p, rec)


@pytest.mark.parametrize("folder", ["", "heldout"])
def test_marks_link_to_the_sentence_that_describes_them(folder, tmp_path):
    corpus = load_corpus(CORPUS / folder)
    truth = write_corpus_out(corpus, tmp_path)
    run_link(tmp_path)
    s = score_links(tmp_path, truth)
    assert s["recall_ab"] >= 0.95 and s["precision_ab"] >= 0.98, s["problems"]
    assert s["extra_marks"] and s["extra_linked"] == 0, s["problems"]
    assert all(link.evidence for link in read_records(tmp_path, LinkRecord))


def test_sections_from_the_vocabulary_and_generic_labels():
    text = ("CT thorax\n\nClinical question:\nStaging.\n\nReport:\nChest:\nNodule 9 mm (IMA 5-151).\nLiver: cyst 1 cm. "
            "Stable.\nAbdomen otherwise normal.\n\nConclusion:\nNodule.\n\nTarget lesions:\nLeft hilar: 41 mm (IMA 5-62)\n"
            "SPD: 41 mm\nBefund:\nHerd 7 mm.")
    got = [(s.section, s.subsection, s.text) for s in sentences(text)]
    assert ("PREAMBLE", None, "CT thorax") in got and ("INDICATION", None, "Staging.") in got
    assert ("FINDINGS", "CHEST", "Nodule 9 mm (IMA 5-151).") in got
    assert ("FINDINGS", "LIVER", "Stable.") in got and ("FINDINGS", "CHEST", "Abdomen otherwise normal.") in got
    assert ("ADDENDUM", "LEFT HILAR", "Left hilar: 41 mm (IMA 5-62)") in got
    assert ("FINDINGS", None, "Herd 7 mm.") in got  # the German table's "Befund"


def test_unheaded_text_is_findings_and_history_blocks_end():
    assert {s.section for s in sentences("Nodule 8 mm (se 2 im 14). No effusion.")} == {"FINDINGS"}
    got = sentences("Indication: staging.\nNodule in the right lower lobe 8 mm.\nImpression: nodule.")
    assert [s.section for s in got] == ["INDICATION", "FINDINGS", "IMPRESSION"]
    wrapped = sentences("FINDINGS:\nThere is a nodule in the right\nlower lobe measuring 8 mm.\nNo effusion.")
    assert [s.text for s in wrapped] == ["There is a nodule in the right\nlower lobe measuring 8 mm.", "No effusion."]


def test_measurements_outside_grounding_sections_keep_their_reason():
    text = "History: known 2 cm lung nodule.\n\nFindings:\nNodule now 24 mm (series 3, image 40).\n\nImpression: 24 mm nodule."
    found = _findings(text)
    reasons = {f.text: json.loads(f.entities_json).get("not_grounded") for f in usable_findings(found) + found}
    assert reasons["known 2 cm lung nodule."] == "section:INDICATION"
    assert reasons["24 mm nodule."].startswith("repeat_of:")
    assert [f.text for f in usable_findings(found)] == ["Nodule now 24 mm (series 3, image 40)."]


def test_one_finding_per_lesion_with_its_own_size_reference_and_span():
    text = "Findings: Nodules of 4 mm (6-88), 6 mm (9-140) and 8 mm (9-201) in the left lung."
    found = _findings(text)
    assert [(f.sizes_mm, [(r["series"], r["image"]) for r in f.image_refs]) for f in found] == \
        [([[4.0]], [(6, 88)]), ([[6.0]], [(9, 140)]), ([[8.0]], [(9, 201)])]
    assert all(text[f.char_start:f.char_end] == f.text for f in found) and len({f.finding_id for f in found}) == 3
    sides = _findings("Hilar nodes with short-axis diameters of 12 mm left and 15 mm right (previously 16 and 21 mm).")
    assert [(f.laterality, f.sizes_mm) for f in sides] == [("left", [[12.0]]), ("right", [[15.0]])]


@pytest.mark.parametrize("text,refs", [
    ("(IMA 5-62)", [(5, 62, None)]), ("IMA 8-34 to 8-40", [(8, 34, 40)]), ("(6-214)", [(6, 214, None)]),
    ("(s:i) 4:55 written (4:55)", [(4, 55, None)]), ("se 3 im 45", [(3, 45, None)]), ("Se3/Im45", [(3, 45, None)]),
    ("series 4 image 233", [(4, 233, None)]), ("image 62 of series 3", [(3, 62, None)]), ("(Image 45, Series 3)", [(3, 45, None)]),
    ("(series 602, images 30 and 121)", [(602, 30, None), (602, 121, None)]), ("(3:40 and 3:22)", [(3, 40, None), (3, 22, None)]),
    ("nodule 7 mm, 3/45", [(3, 45, None)]), ("images 34-40", [(None, 34, 40)]), ("(S2:I33)", [(2, 33, None)]),
    ("compared with 6/3 and (6/3)", []), ("last CT 03-06 (03-06)", []), ("about 1/3 of the lobe, 5 mm", []),
    ("previously (11/2024)", []), ("at 3:45", []), ("on June 3", []),
])
def test_image_reference_forms(text, refs):
    assert [(r.series, r.image, r.image_last) for r in image_refs(text)] == refs


@pytest.mark.parametrize("text,current,prior", [
    ("A 9-millimeter node.", [(9,)], []), ("A 1.4-cm lesion.", [(14,)], []), ("measuring 22 mm in diameter", [(22,)], []),
    ("nodule (18 mm, density 40-60 HU)", [(18,)], []), ("Tumor 4,2 x 3,1 cm", [(42, 31)], []),
    ("nodules of 4, 6 and 8 mm", [(4,), (6,), (8,)], []), ("between 3 and 5 mm", [], []),
    ("seen on June 3 and 6/3", [], []), ("wall thickness of 11 mm (previously 18 mm)", [(11,)], [(18,)]),
    ("at the prior study these measured 38 x 29 mm and 17 mm", [], [(38, 29), (17,)]),
    ("now 41 x 27 mm (IMA 5-62), baseline 52 mm", [(41, 27)], [(52,)]), ("arising from the adnexa, 62 mm", [(62,)], []),
])
def test_size_forms(text, current, prior):
    found = sizes(text)
    assert [z.dims_mm for z in found if z.temporal == "current"] == [tuple(float(v) for v in c) for c in current]
    assert [z.dims_mm for z in found if z.temporal == "prior"] == [tuple(float(v) for v in p) for p in prior]


def test_sums_changes_and_components_are_not_lesions():
    flags = {z.dims_mm[0]: z.flags for z in sizes("SPD: 71 mm (baseline 85 mm); growth of 5 mm; 15 mm with a solid "
                                                   "component of 6 mm")}
    assert "sum" in flags[71.0] and "sum" in flags[85.0] and "change" in flags[5.0] and "attribute" in flags[6.0]
    assert _findings("SPD: 71 mm (baseline 85 mm)")[0].sizes_mm is None


def _mark(i, long_mm, slice_k, **kw):
    return Mark([f"a{i}"], "line", "u", 3, slice_k, slice_k, long_mm, None, None, list(range(1, 101)), slice_k, **kw)


def _finding(size, image=None, negated=False):
    return {"finding_id": f"f{size}", "section": "FINDINGS", "negated": negated, "laterality": None, "observation": "nodule",
            "sizes": [{"dims_mm": [size], "precision_mm": 1.0, "temporal": "current", "axis": None, "flags": []}],
            "image_refs": [{"series": 3, "image": image, "image_last": None, "text": ""}] if image else None}


def test_tier_c_never_reuses_a_finding_nor_shares_one():
    marks = [_mark(0, 20.2, 40), _mark(1, 21.3, 70), _mark(2, 21.6, 10)]
    links = match_study(marks, [_finding(20, image=41)], {3: 100})
    assert [(i, j, tier) for i, j, tier, _, _ in links] == [(0, 0, "A")]  # no tier C on the finding tier A holds
    links = match_study(marks[1:], [_finding(20)], {3: 100})
    assert len(links) == 1 and links[0][2] == "C" and "candidate" in links[0][4]


def test_conclusion_contradicting_the_body_grounds_on_the_body():
    text = ("Findings: New hypodense lesion in segment 5 measuring 16 mm (series 4, image 233).\n\n"
            "Conclusion: New 16 mm liver lesion in segment 7.")
    usable = usable_findings(_findings(text))
    assert [f.section for f in usable] == ["FINDINGS"] and "segment 5" in usable[0].text


def test_bad_reports_are_recorded_and_the_stage_goes_on(corpus, tmp_path):
    out = tmp_path / "out"
    truth = write_corpus_out(corpus[:3], out)
    reports = read_records(out, ReportRecord)
    base = reports[0]
    table = "| Lesion | Size | Prior | Image |\n|---|---|---|---|\n" + "| liver | 12 mm | 10 mm | 3/45 |\n" * 5
    bad = {"empty": "", "replaced": b"Lesion 12 mm (series 2) \xff\xfe caf\xe9".decode("utf-8", "replace"),
           "long": "Nodule 12 mm (IMA 5-62), previously 10 mm. " * 2400, "table": table, "controls": "Nodule\x00 9 mm\x07."}
    extra = [dataclasses.replace(base, report_id=k, text=v, n_chars=len(v)) for k, v in bad.items()]
    cp1252 = b"Lesion 12 mm (series 2) caf\xe9 \x93quoted\x94".decode("cp1252")  # what the report reader falls back to
    extra.append(dataclasses.replace(base, report_id="cp1252", text=cp1252, n_chars=len(cp1252), flags=["decoded_as_cp1252"]))
    write_records(out, ReportRecord, reports + extra)
    run_link(out)
    q = {(x.reason, x.entity_id) for x in read_records(out, QuarantineRecord) if x.stage == "link"}
    assert {("empty_report", "empty"), ("non_utf8_text", "replaced"), ("non_utf8_text", "cp1252"), ("report_very_long", "long"),
            ("table_as_text", "table"), ("control_characters", "controls")} <= q
    findings = read_records(out, FindingRecord)
    rows = [f for f in findings if f.report_id == "table" and f.image_refs]
    assert len(rows) == 5 and all(f.sizes_mm == [[12.0]] and f.prior_sizes_mm == [[10.0]] for f in rows)
    assert any(f.report_id == "long" for f in findings) and any(f.report_id == "replaced" for f in findings)
    assert score_links(out, truth)["recall_ab"] >= 0.95  # the good reports of the same study still link
    from linking.report_text import check_text
    assert check_text("a\udcff b")[0] == "a\ufffd b"  # lone surrogates from a surrogateescape decode: same length
