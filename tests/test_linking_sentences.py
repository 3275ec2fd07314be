"""Table-driven parse of report sentences written the ways radiologists write them."""
import pytest

from fresh_process import fresh_python
from linking.measure import image_refs, sizes
from linking.rules import analyse
from linking.structure import sentences

# sentence, expected current sizes (mm), expected prior sizes (mm), expected image refs (series, image)
CASES = [
    ("A nodule in the right lower lobe measures 0.9 x 0.7 cm (series/image 3/12), previously 0.7 x 0.7 cm.", [(9, 7)], [(7, 7)], [(3, 12)]),
    ("A nodule measures 2.3 cm (image 7 of series 3), previously 16 mm.", [(23,)], [(16,)], [(3, 7)]),
    ("Hepatic lesion measures 14 mm (series 2, image 45).", [(14,)], [], [(2, 45)]),
    ("Hepatic lesion measures 14mm (series 2 image 45).", [(14,)], [], [(2, 45)]),
    ("Lesion measuring 1.4cm on series 4 image 77.", [(14,)], [], [(4, 77)]),
    ("Right renal cyst, 2.1 x 1.9 cm (4:55).", [(21, 19)], [], [(4, 55)]),
    ("Left adrenal nodule 12 x 10 mm (3/40).", [(12, 10)], [], [(3, 40)]),
    ("Mass measures 3.1 x 2.2 x 4.0 cm.", [(31, 22, 40)], [], []),
    ("Mass measuring 31 × 22 mm.", [(31, 22)], [], []),
    ("Mass measuring 31*22 mm.", [(31, 22)], [], []),
    ("Lymph node measures 15 by 10 mm.", [(15, 10)], [], []),
    ("Cyst measures 2 cm x 1.5 cm.", [(20, 15)], [], []),
    ("Nodule measures 8 millimeters.", [(8,)], [], []),
    ("Nodule measures 1.2 centimeters.", [(12,)], [], []),
    ("Lesion increased from 12 to 15 mm.", [(15,)], [(12,)], []),
    ("Lesion grew from 1.2 cm to 15 mm.", [(15,)], [(12,)], []),
    ("Lesion now measures 18 mm, previously 14 mm.", [(18,)], [(14,)], []),
    ("Lesion measures 18 mm, compared to 14 mm.", [(18,)], [(14,)], []),
    ("Lesion measures 18 mm, compared with 14 mm on the prior.", [(18,)], [(14,)], []),
    ("Lesion measured 14 mm on the prior, now 18 mm.", [(18,)], [(14,)], []),
    ("Lesion was 14 mm in 2023 and is now 18 mm.", [(18,)], [(14,)], []),
    ("Previously 1.1 x 0.8 cm, the lesion now measures 1.3 x 1.0 cm.", [(13, 10)], [(11, 8)], []),
    ("Stable 9 mm nodule (series 5, image 88).", [(9,)], [], [(5, 88)]),
    ("Multiple hepatic lesions measuring up to 12 mm.", [(12,)], [], []),
    ("Several subcentimeter nodules measuring 3-5 mm.", [], [], []),
    ("Nodules range from 3 to 5 mm.", [(5,)], [(3,)], []),
    ("Axial images were obtained at 5 mm slice thickness.", [], [], []),
    ("Reconstructions at 1.25 mm intervals.", [], [], []),
    ("Images acquired with 0.625 mm collimation.", [], [], []),
    ("Scan parameters 120 kVp and 200 mAs.", [], [], []),
    ("Short axis of the node is 11 mm (series 2, image 45).", [(11,)], [], [(2, 45)]),
    ("Node with short axis 11 mm.", [(11,)], [], []),
    ("Long axis 24 mm, short axis 15 mm.", [(24,), (15,)], [], []),
    ("Nodule (image 34) measures 6 mm.", [(6,)], [], [(None, 34)]),
    ("See image 112.", [], [], [(None, 112)]),
    ("Lesion in segment 7 measures 2.5 cm (se 3 im 40).", [(25,)], [], [(3, 40)]),
    ("Lesion measures 2.5 cm (Se 3, Im 40).", [(25,)], [], [(3, 40)]),
    ("Lesion measures 2.5 cm (series 3, image #40).", [(25,)], [], [(3, 40)]),
    ("Dominant lesion now 22.5 mm, increased.", [(22.5,)], [], []),
    ("Lesion measures 4 mm.", [(4,)], [], []),
    ("Lesion measures 0.4 cm.", [(4,)], [], []),
    ("No suspicious pulmonary nodules.", [], [], []),
    ("No lymphadenopathy.", [], [], []),
    ("Previously described 8 mm nodule has resolved.", [], [(8,)], []),
    ("Hypodensity too small to characterize.", [], [], []),
    ("Possible 6 mm nodule in the left upper lobe (series 3, image 50).", [(6,)], [], [(3, 50)]),
    ("Lesion measures 2.0 x 1.5 cm on image 40 of series 3.", [(20, 15)], [], [(3, 40)]),
    ("Nodule at 3:45 measures 7 mm.", [(7,)], [], []),
    ("Nodule (3:45) measures 7 mm.", [(7,)], [], [(3, 45)]),
    ("A 1.5 cm lesion (series 6, image 12) in the spleen.", [(15,)], [], [(6, 12)]),
    ("Mass 5.0 x 4.0 x 3.0 cm in the pelvis (series 2, image 99), previously 4.0 x 3.5 x 3.0 cm.", [(50, 40, 30)], [(40, 35, 30)], [(2, 99)]),
    ("Lesion measures 11 x 9 mm, previously 10 x 8 mm on 3/4.", [(11, 9)], [(10, 8)], []),
    ("Interval growth of the nodule, now 14 mm from 10 mm.", [(14,)], [(10,)], []),
    ("The 2 cm cyst is unchanged.", [(20,)], [], []),
    ("Tiny 2-3 mm nodules are unchanged.", [], [], []),
    ("Node measures 1.0 x 0.8 cm (previously 1.2 x 0.9 cm).", [(10, 8)], [(12, 9)], []),
    ("Lesion 16mm x 12mm.", [(16, 12)], [], []),
    ("Lesion of 16 x 12mm, image 30.", [(16, 12)], [], [(None, 30)]),
    ("Low density lesion 7mm in the right kidney.", [(7,)], [], []),
    ("Pleural effusion measuring 3 cm in depth.", [(30,)], [], []),
    ("Slice thickness 3 mm, lesion measures 12 mm.", [(12,)], [], []),
    ("Nodule measures 8 mm, previously 6 mm, and 4 mm before that.", [(8,)], [(6,), (4,)], []),
]


def _round(dims):
    return tuple(round(d, 1) for d in dims)


@pytest.mark.parametrize("text,current,prior,refs", CASES, ids=[c[0][:40] for c in CASES])
def test_sentence(text, current, prior, refs):
    found = sizes(text)
    assert [_round(z.dims_mm) for z in found if z.temporal == "current"] == [_round(c) for c in current]
    assert [_round(z.dims_mm) for z in found if z.temporal == "prior"] == [_round(p) for p in prior]
    assert [(r.series, r.image) for r in image_refs(text)] == refs


def test_at_least_sixty_sentences():
    assert len(CASES) >= 60


def test_axis_words_bind_to_the_nearest_value():
    found = sizes("Long axis 24 mm, short axis 15 mm.")
    assert [z.axis for z in found] == ["long", "short"]


def test_precision_is_kept():
    assert sizes("now 22.5 mm")[0].precision_mm == pytest.approx(0.1)
    assert sizes("measures 2.3 cm")[0].precision_mm == pytest.approx(1.0)
    assert sizes("measures 2 cm")[0].precision_mm == pytest.approx(10.0)


@pytest.mark.parametrize("text,negated,uncertain,laterality", [
    ("No suspicious pulmonary nodules.", True, False, None),
    ("No evidence of metastatic disease.", True, False, None),
    ("Possible small hepatic hemangioma.", False, True, None),
    ("Right renal cyst measures 2 cm.", False, False, "right"),
    ("Bilateral pleural effusions.", False, False, "bilateral"),
    ("A nodule in the left lower lobe measures 9 mm.", False, False, "left"),
    ("Lesion suspicious for metastasis in the liver.", False, True, None),
])
def test_negation_uncertainty_laterality(text, negated, uncertain, laterality):
    a = analyse(text)
    assert (a["negated"], a["uncertain"], a["laterality"]) == (negated, uncertain, laterality)


def test_sections_and_sentences_keep_offsets():
    report = ("INDICATION: Cancer staging.\nTECHNIQUE:\nAxial images at 5 mm.\n\nFINDINGS:\nLIVER: Lesion measures 2.3 cm "
              "(series 3, image 45). Dr. Smith was notified.\nLUNGS: No nodules.\n\nIMPRESSION:\n1. Hepatic lesion 2.3 cm.\n"
              "2. No other findings.")
    sents = sentences(report)
    assert [s.section for s in sents] == ["INDICATION", "TECHNIQUE", "FINDINGS", "FINDINGS", "FINDINGS", "IMPRESSION", "IMPRESSION"]
    assert all(report[s.start:s.end] == s.text for s in sents)
    assert sents[2].text.endswith("(series 3, image 45).") and sents[2].subsection == "LIVER"
    assert sents[4].subsection == "LUNGS" and sents[5].text.startswith("1. Hepatic")
    assert sizes(sents[1].text, sents[1].section) == []  # nothing from TECHNIQUE


def test_the_rules_pipeline_imports_no_other_packages_components():
    """spaCy's Language() imports every installed `spacy_factories` entry point; presidio-analyzer's pulls in all of
    presidio and transformers' pipelines. The rules pipeline is built from spaCy's own components, and the switch is
    only held while it is built."""
    from importlib.metadata import entry_points

    if "presidio_hf_token_pipe" not in {ep.name for ep in entry_points(group="spacy_factories")}:
        pytest.skip("presidio-analyzer registers no spaCy factory here: nothing to keep out")
    out = fresh_python("import sys; from linking.rules import analyse; from spacy.util import registry; "
                       "a = analyse('A 12 mm nodule in the right lower lobe.'); "
                       "print(sorted(m for m in ('presidio_analyzer', 'transformers') if m in sys.modules), "
                       "registry._entry_point_factories.entry_points, a['laterality'])")
    assert out.split() == ["[]", "True", "right"]
