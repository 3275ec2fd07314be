"""The free-text scrubber on written-out cases with known truth: what must go, what must stay, and dates moved
by the patient's offset in the form they were written (year inferred from the study date when missing)."""
import datetime as dt

import pytest

from curation.deid.dates import rewrite
from curation.deid.text import TextScrubber, identifier_variants
from fresh_process import fresh_python
from linking.measure import sizes

BACK_100 = lambda d: d - dt.timedelta(days=100)  # noqa: E731
STUDY = dt.date(2025, 3, 10)


@pytest.fixture(scope="module")
def scrubber():
    return TextScrubber(engine="regex")


def test_dates_without_a_year_move_when_the_study_date_gives_the_year():
    assert rewrite("June 3", BACK_100, STUDY) == "February 23"        # 2025-06-03 is nearest to the study
    assert rewrite("3rd of June", BACK_100, STUDY) == "23rd of February"
    assert rewrite("6/3", BACK_100, STUDY) == "2/23"
    assert rewrite("Dec. 30th", BACK_100, STUDY) == "Sep. 21st"
    assert rewrite("Feb 29", BACK_100, STUDY) == "Nov 21"               # only 2024 has it: 2024-02-29 - 100 days
    assert rewrite("JUNE 03, 2024", BACK_100, STUDY) == "FEBRUARY 24, 2024"
    assert rewrite("06/03/24", BACK_100, STUDY) == "02/24/24"
    assert rewrite("June 3", BACK_100, None) is None and rewrite("6/3", None, STUDY) is None


def test_report_dates_shift_or_redact(scrubber):
    text = "Compared with June 3, the 3rd of June and 6/3; prior 2024-05-06. Nodule (series/image 3/12) and (3:45)."
    moved = scrubber.scrub(text, (), BACK_100, STUDY).text
    assert moved == ("Compared with February 23, the 23rd of February and 2/23; prior 2024-01-27. "
                     "Nodule (series/image 3/12) and (3:45).")
    redacted = scrubber.scrub(text, (), BACK_100, None).text
    assert redacted.startswith("Compared with [DATE], the [DATE] and [DATE]; prior 2024-01-27.")
    assert "(series/image 3/12)" in redacted


def test_identifiers_go_measurements_stay(scrubber):
    known = tuple(identifier_variants(["Lovelace^Ada", "Li^Wu"], ["DEMO00001", "48213570"], ["19620315"],
                                      ["(617) 555-1200"]))
    text = ("LOVELACE, ADA is a 93-year-old (aged 95); ada lovelace. Li Wu and WU LI. MRN: 7654321, MR# 48213570, "
            "accession ACC0045123 and E1234567.\n"
            "Findings discussed with Dr. J. Gregory House and called Cristina Yang at +1 617 555 1300, ext. 4021.\n"
            "Mail ada.l@seattlegrace.org, see https://pacs.example.org/v?id=1 or www.example.com.\n"
            "Images at /archive/Smith John 1962/CT 2025/series 3.dcm and C:\\Users\\Jane Doe\\x.dcm.\n"
            "Lesion measures 2.4 x 1.7 cm (series 3, image 45), previously 2.0 x 1.5 cm. MR angiography, MS lesions.\n"
            "Dictated by: Meredith Grey\n/s/ Derek Shepherd")
    res = scrubber.scrub(text, known, BACK_100, STUDY, path_token=lambda p: "file-T.dcm")
    for gone in ("Ada", "Lovelace", "Li Wu", "WU LI", "93", "95", "7654321", "48213570", "ACC0045123", "E1234567",
                 "Gregory", "House", "Cristina", "Yang", "555 1300", "4021", "seattlegrace", "example", "Smith",
                 "Jane Doe", "Meredith", "Grey", "Derek", "Shepherd"):
        assert gone.lower() not in res.text.lower(), (gone, res.text)
    assert "90+-year-old" in res.text and "(aged 90+)" in res.text and "file-T.dcm and file-T.dcm" in res.text
    assert "Lesion measures 2.4 x 1.7 cm (series 3, image 45), previously 2.0 x 1.5 cm. MR angiography, MS lesions." \
        in res.text
    start = text.index("Lesion")
    assert res.text[res.remap(start):res.remap(start + 10, end=True)] == "Lesion mea"


def test_header_names_that_are_report_words_go_only_as_names(scrubber):
    known = tuple(identifier_variants(["Long^Rose"], [], [], []))
    res = scrubber.scrub("Rose LONG: the long axis is 2 cm; rose slightly.", known)
    assert res.text == "[REDACTED] [REDACTED]: the long axis is 2 cm; rose slightly."


def test_measurement_sentences_keep_their_sizes(scrubber):
    from test_linking_sentences import CASES

    for sentence, *_ in CASES:
        res = scrubber.scrub(sentence, (), BACK_100, STUDY)
        assert sizes(res.text) == sizes(sentence), (sentence, res.text)


def test_ner_engine_from_a_local_spacy_pipeline(tmp_path):
    """A spaCy pipeline given by path (here a tiny entity-ruler one, no download) turns on presidio's NER."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": [{"TEXT": "Zebediah"}, {"TEXT": "Quux"}]}])
    nlp.to_disk(tmp_path / "ner")
    text = "Images reviewed with colleague Zebediah Quux today. Nodule 2.4 cm."
    assert "Zebediah" in TextScrubber(engine="regex").scrub(text).text
    ner = TextScrubber(engine="spacy", spacy_model=str(tmp_path / "ner"))
    assert ner.engine == "spacy" and ner.scrub(text).text == "Images reviewed with colleague [NAME] today. Nodule 2.4 cm."
    with pytest.raises(ValueError, match="neither an installed package nor a folder"):
        TextScrubber(engine="spacy", spacy_model=str(tmp_path / "missing"))


def test_more_identifier_forms(scrubber):
    """Forms the demo does not write but archives do: other date layouts, accented and hyphenated names, titles
    without a dot, local phones, street addresses, institutions, local e-mail domains, ages in words."""
    known = tuple(identifier_variants(["Smith-Jones^Mary^^Dr.", "Núñez^José"], ["MRN998877"], [], []))
    text = ("Comparison: 03-Jun-2024, 2024/06/03, 06-03-2024. Mrs Smith-Jones and mary smith jones; JOSÉ NÚÑEZ seen by "
            "Dr. O'Brien and Dr. McDonald. Relayed to Smith, John at 555-1234. 92M with cough; a ninety-two-year-old. "
            "Lives at 12 Elm Street, Springfield, MA 02115. Outside study from Mercy General Hospital; "
            "j.doe@radiology.local. A so-called target lesion measures 5 mm (se 4 im 3/12).")
    res = scrubber.scrub(text, known, BACK_100, STUDY).text
    for gone in ("Jun-2024", "2024/06/03", "06-03-2024", "Smith", "Jones", "Mary", "José", "Núñez", "O'Brien",
                 "McDonald", "John", "555-1234", "92", "ninety", "Elm", "Springfield", "02115", "Mercy", "j.doe"):
        assert gone.lower() not in res.lower(), (gone, res)
    assert res.startswith("Comparison: 24-Feb-2024, 2024/02/24, 02-24-2024.")
    assert res.endswith("A so-called target lesion measures 5 mm (se 4 im 3/12).")


def test_cues_take_names_not_sentences_or_the_next_line(scrubber):
    text = ("Radiologist:\nFINDINGS:\nImages were read by the resident and the nodule measures 5 mm.\n"
            "Findings discussed with\nLiver: lesion 2 cm, prior 12/2023. Electronically signed by: Jane Roe, MD")
    res = scrubber.scrub(text, (), BACK_100, STUDY).text
    assert res == ("[SIGNATURE]\nFINDINGS:\nImages were read by the resident and the nodule measures 5 mm.\n"
                   "Findings discussed with\nLiver: lesion 2 cm, prior 9/2023. Electronically signed by: [NAME]")


@pytest.mark.parametrize("before", ["", "import transformers; "])  # absent, or loaded (radgraph) without pipelines
def test_presidio_loads_without_transformers_pipelines_and_transformers_is_put_back(before):
    """presidio-analyzer's package import loads its Hugging Face engine (transformers' pipelines, ~2-3 s) when
    transformers is installed; the scrubber loads presidio as if that optional extra were absent, only for that
    import, and leaves transformers as it found it."""
    import importlib.util

    if importlib.util.find_spec("transformers") is None:
        pytest.skip("transformers is not installed: nothing to keep out")
    out = fresh_python(f"import sys; {before}module = sys.modules.get('transformers'); "
                       "from curation.deid.text import TextScrubber; "
                       "r = TextScrubber(engine='regex').scrub('Mail jane.doe@example.org today.'); "
                       "print([m for m in ('transformers', 'transformers.pipelines') if m in sys.modules], "
                       "sys.modules.get('transformers') is module, r.counts, r.text); import transformers")
    loaded = "['transformers']" if before else "[]"
    assert out == f"{loaded} True {{'EMAIL_ADDRESS': 1}} Mail [EMAIL] today."
