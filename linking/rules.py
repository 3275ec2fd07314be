"""Offline rule-based finding extraction in the RadGraph schema, on a blank spaCy pipeline.

Entities: observations (OBS-DP present, OBS-DA absent/negated, OBS-U uncertain) and anatomy (ANAT-DP), with
``located_at`` (observation → anatomy) and ``modify`` (descriptor → observation) relations, in the
structure the radgraph package returns (tokens, label, start_ix/end_ix inclusive, relations).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from functools import lru_cache

from curation.io.nlp_imports import import_spacy
from linking.radgraph_schema import summarise


OBSERVATIONS = [
    "lymphadenopathy", "metastasis", "metastases", "metastatic disease", "hypodensity", "hyperdensity", "lesion",
    "lesions", "nodule", "nodules", "mass", "masses", "cyst", "cysts", "tumor", "tumour", "node", "nodes",
    "lymph node", "adenopathy", "ascites", "effusion", "consolidation", "opacity", "thickening", "calcification",
    "hemangioma", "fracture", "collection", "abscess", "implant", "implants", "deposit", "focus", "disease",
    "embolism", "embolus", "emboli", "filling defect", "thrombus", "thrombosis", "granuloma", "atelectasis", "fibrosis",
    "abnormality", "pneumothorax", "aneurysm", "hematoma", "haematoma", "hernia", "adenoma", "carcinoma", "recurrence",
    "conglomerate", "opacification", "ground-glass opacity", "ground glass opacity", "infiltrate", "stenosis",
    "hydronephrosis", "obstruction", "calculus", "calculi", "stone", "stones", "dilatation", "dilation", "enlargement", "splenomegaly", "hepatomegaly", "nodulus",
]
DESCRIPTORS = ["hypodense", "hyperdense", "cystic", "solid", "enhancing", "spiculated", "dominant", "small", "large",
               "subcentimeter", "new", "enlarged", "indeterminate", "additional", "suspicious"]
ANATOMY = [
    "right hepatic lobe", "left hepatic lobe", "hepatic", "liver", "right lower lobe", "right upper lobe", "right middle lobe",
    "left lower lobe", "left upper lobe", "lingula", "lung", "lungs", "pulmonary", "kidney", "kidneys", "renal", "spleen",
    "splenic", "pancreas", "pancreatic", "adrenal", "adrenal gland", "bone", "bones", "osseous", "mediastinum",
    "mediastinal", "hilum", "hilar", "axilla", "axillary", "retroperitoneum", "retroperitoneal", "pelvis", "peritoneum",
    "segment", "chest", "abdomen", "pleura", "pleural", "thyroid", "breast", "colon", "bladder", "prostate", "uterus",
]
NEGATION = re.compile(r"\b(no|without|negative for|free of|absence of|not seen|no evidence of|resolved|nor)\b"
                      r"\W*(?:[\w/-]+\W+){0,5}$", re.IGNORECASE)   # the cue's scope: five words up to the observation
NEGATION_AFTER = re.compile(r"^\W*(?:(?:has|have|is|are|was|were)\s+)?(?:resolved|disappeared|not (?:seen|identified|visible|"
                            r"present|enlarged|demonstrated|detected|thickened|appreciated)|absent|no longer (?:seen|visible|"
                            r"present|enlarged|identified|demonstrated)|(?:none|no)\W*$)", re.IGNORECASE)
PSEUDO_NEGATION = re.compile(r"\b(?:without (?:(?:iv|intravenous|oral)\s+)?contrast|no (?:significant |interval )?change|"
                             r"not only|no longer enlarged)\b", re.IGNORECASE)
NEGATED_UNKNOWN = re.compile(r"^\W*(?:\d+[.)]\s*)?(?:no|without|negative for|free of|absence of)\s+(?:evidence of\s+)?"
                             r"(?:(?:new|definite|suspicious|significant|focal|other|further|acute|free)\s+)*"
                             r"([a-z][\w-]*(?:\s+(?!or\b|and\b|in\b|of\b|on\b|at\b|is\b|are\b|to\b|with\b)[a-z][\w-]*){0,2})",
                             re.IGNORECASE)
UNCERTAIN = re.compile(r"\b(possible|possibly|likely|probable|probably|may|might|suspicious for|cannot be excluded|"
                       r"not (?:be )?excluded|cannot be ruled out|not ruled out|worrisome for|suspected|presumed|presumably|"
                       r"indeterminate|too small to characteri[sz]e|questionable|equivocal|suggestive of|concerning for)\b",
                       re.IGNORECASE)
CLAUSE_BREAK = re.compile(r"[;,]|\bbut\b|\bhowever\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def nlp():
    """A blank English pipeline with phrase rules: no model download, deterministic."""
    spacy = import_spacy()  # on first use, without thinc's torch when nothing here can use it (~2 CPU s a process)
    with _own_factories_only():
        pipe = spacy.blank("en")
    ruler = pipe.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns([{"label": label, "pattern": p} for label, words in _lexicon() for p in words])
    return pipe


@contextmanager
def _own_factories_only():
    """Build a Language without importing other packages' components. spaCy's Language() imports every installed
    ``spacy_factories`` entry point, and presidio-analyzer's (a Hugging Face token pipe) imports all of presidio,
    transformers' pipelines and torch: ~3 s CPU a process for components a blank English pipeline never uses
    (benchmarks/bench_link.py, start-up). spaCy has no public switch; this turns off that one registry's
    entry-point lookup while the pipeline is built, and builds the normal way if spaCy renames it."""
    from spacy.util import registry

    factories = getattr(registry, "_entry_point_factories", None)
    if not isinstance(getattr(factories, "entry_points", None), bool):
        yield
        return
    saved, factories.entry_points = factories.entry_points, False
    try:
        yield
    finally:
        factories.entry_points = saved


def _lexicon() -> list[tuple[str, list[str]]]:
    plural = sorted(set(OBSERVATIONS) | {w + "s" for w in OBSERVATIONS if not w.endswith("s")})
    return [("OBS", plural), ("DESC", DESCRIPTORS), ("ANAT", ANATOMY)]


@lru_cache(maxsize=1)
def _matcher():
    """The entity ruler's phrases as a bare PhraseMatcher: the same entities at a third of the cost."""
    pipe = nlp()
    from spacy.matcher import PhraseMatcher

    pm = PhraseMatcher(pipe.vocab, attr="LOWER")
    for label, words in _lexicon():
        pm.add(label, [pipe.make_doc(w) for w in words])
    return pm


def _entities(text: str):
    """(doc, entity spans): tokenised, phrases matched, overlaps resolved longest first as the ruler does."""
    doc = nlp().make_doc(text)
    from spacy.tokens import Span
    from spacy.util import filter_spans

    return doc, sorted(filter_spans([Span(doc, s, e, label=m) for m, s, e in _matcher()(doc)]), key=lambda e: e.start)


def backend_name() -> str:
    from curation import __version__
    return f"rules-spacy {__version__} (spacy {import_spacy().__version__})"


def _clause_before(text: str, start: int) -> str:
    """The part of the sentence before a position, back to the previous clause break."""
    head = text[max(0, start - 200):start]
    cut = max((m.end() for m in CLAUSE_BREAK.finditer(head)), default=0)
    return PSEUDO_NEGATION.sub(" ", head[cut:])


def _clause_after(text: str, end: int) -> str:
    tail = text[end:end + 200]
    m = CLAUSE_BREAK.search(tail)
    return tail[: m.start()] if m else tail


def _label_end(text: str) -> int:
    """End of a leading "Header:" of at most four words, else 0."""
    m = re.match(r"\W*(?:[\w/&-]+\s+){0,3}[\w/&-]+\s*:(?=\s)", text)
    return m.end() if m else 0


def _negated(text: str, ent) -> bool:
    return bool(NEGATION.search(_clause_before(text, ent.start_char)) or NEGATION_AFTER.match(_clause_after(text, ent.end_char)))


def clause_assertion(doc, text: str, observations: list) -> dict:
    """(negated, uncertain) per observation span from the clause rules: a negation cue within five words before
    it in its clause or a "not seen" / "has resolved" after it; a hedge anywhere in the sentence."""
    hedged = bool(UNCERTAIN.search(text))
    return {o: (_negated(text, o), hedged) for o in observations}


def analyse(text: str, assertion=clause_assertion) -> dict:
    """RadGraph-style entities for one sentence, plus the finding-level summary opseg stores. ``assertion``
    judges negation and uncertainty of the observations (clause rules by default, or medspaCy ConText)."""
    doc, spans = _entities(text)
    ents, obs, anat, desc = {}, [], [], []
    m = NEGATED_UNKNOWN.match(text)
    if m and not any(e.label_ == "OBS" for e in spans):  # "No hydronephrosis.": a negated finding the lexicon lacks
        unknown = doc.char_span(m.start(1), m.end(1), label="OBS", alignment_mode="expand")
        if unknown is not None and not any(e.start < unknown.end and unknown.start < e.end for e in spans):
            spans = sorted(spans + [unknown], key=lambda e: e.start)
    label_end = _label_end(text)
    if re.match(r"\W*(?:none|no|absent|not seen|negative)\W*$", text[label_end:], re.IGNORECASE):
        label_end = 0  # "New lesions: none": the header names what is absent
    spans = [e for e in spans if not (e.label_ == "OBS" and e.end_char <= label_end)]  # "Lymph nodes: no ...": a header
    judged = assertion(doc, text, [e for e in spans if e.label_ == "OBS"])
    for ent in spans:
        if ent.label_ == "OBS":
            negated, uncertain = judged[ent]
            label = "OBS-DA" if negated else "OBS-U" if uncertain else "OBS-DP"
            obs.append(ent)
        elif ent.label_ == "ANAT":
            label = "ANAT-DP"
            anat.append(ent)
        else:
            label = "OBS-DP"
            desc.append(ent)
        ents[ent] = {"tokens": ent.text, "label": label, "start_ix": ent.start, "end_ix": ent.end - 1, "relations": []}
    ids = {ent: str(i + 1) for i, ent in enumerate(ents)}
    headers = {a for a in anat if a.start == 0 and len(doc) > a.end and doc[a.end].text == ":"}  # "LIVER: ..."
    for o in obs:
        places = [a for a in anat if a not in headers] or anat
        if places:  # nearest anatomy, the one after the observation on a tie ("lesion in the liver")
            nearest = min(places, key=lambda a: (abs(a.start - o.start), a.start < o.start))
            ents[o]["relations"].append(["located_at", ids[nearest]])
    for d in desc:
        if obs:
            target = min(obs, key=lambda o: abs(o.start - d.start))
            ents[d]["relations"].append(["modify", ids[target]])
    return summarise(_token_text(doc, text), {ids[e]: v for e, v in ents.items()})


def _token_text(doc, text: str) -> str:
    """The tokens joined by spaces, as RadGraph writes its text; read from arrays (iterating Tokens is slow)."""
    from spacy.attrs import IDX, LENGTH

    return " ".join([text[i:i + n] for i, n in doc.to_array([IDX, LENGTH]).tolist()])
