"""Offline rule-based finding extraction in the RadGraph schema, on a blank spaCy pipeline.

Entities: observations (OBS-DP present, OBS-DA absent/negated, OBS-U uncertain) and anatomy (ANAT-DP), with
``located_at`` (observation → anatomy) and ``modify`` (descriptor → observation) relations, in the
structure the radgraph package returns (tokens, label, start_ix/end_ix inclusive, relations).
"""
from __future__ import annotations

import re
from functools import lru_cache

import spacy

from linking.radgraph_schema import summarise

OBSERVATIONS = [
    "lymphadenopathy", "metastasis", "metastases", "metastatic disease", "hypodensity", "hyperdensity", "lesion",
    "lesions", "nodule", "nodules", "mass", "masses", "cyst", "cysts", "tumor", "tumour", "node", "nodes",
    "lymph node", "adenopathy", "ascites", "effusion", "consolidation", "opacity", "thickening", "calcification",
    "hemangioma", "fracture", "collection", "abscess", "implant", "implants", "deposit", "focus", "disease",
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
NEGATION = re.compile(r"\b(no|without|negative for|free of|absence of|not seen|no evidence of|resolved)\b", re.IGNORECASE)
UNCERTAIN = re.compile(r"\b(possible|possibly|likely|probable|probably|may|might|suspicious for|cannot be excluded|"
                       r"indeterminate|too small to characteri[sz]e|questionable|equivocal|suggestive of|concerning for)\b",
                       re.IGNORECASE)
CLAUSE_BREAK = re.compile(r"[;,]|\bbut\b|\bhowever\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def nlp():
    """A blank English pipeline with phrase rules: no model download, deterministic."""
    pipe = spacy.blank("en")
    ruler = pipe.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    plural = lambda words: sorted(set(words) | {w + "s" for w in words if not w.endswith("s")})  # noqa: E731
    patterns = [{"label": "OBS", "pattern": p} for p in plural(OBSERVATIONS)]
    patterns += [{"label": "DESC", "pattern": p} for p in DESCRIPTORS]
    patterns += [{"label": "ANAT", "pattern": p} for p in ANATOMY]
    ruler.add_patterns(patterns)
    return pipe


def backend_name() -> str:
    from curation import __version__
    return f"rules-spacy {__version__} (spacy {spacy.__version__})"


def _clause_before(text: str, start: int) -> str:
    """The part of the sentence before a position, back to the previous clause break."""
    head = text[:start]
    cut = max((m.end() for m in CLAUSE_BREAK.finditer(head)), default=0)
    return head[cut:]


def analyse(text: str) -> dict:
    """RadGraph-style entities for one sentence, plus the finding-level summary opseg stores."""
    doc = nlp()(text)
    ents, obs, anat, desc = {}, [], [], []
    for ent in doc.ents:
        before = _clause_before(text, ent.start_char)
        if ent.label_ == "OBS":
            label = "OBS-DA" if NEGATION.search(before) else "OBS-U" if UNCERTAIN.search(text) else "OBS-DP"
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
    return summarise(" ".join(t.text for t in doc), {ids[e]: v for e, v in ents.items()})
