"""Free-text scrubbing (reports, GSPS/SR labels, error messages) with presidio recognisers.

Two engines: ``regex`` (the offline default: opseg's radiology patterns, presidio's e-mail/URL/IP recognisers
and each patient's own identifiers read from the DICOM headers, names in any order and case) and ``spacy``
(the same plus presidio's spaCy NLP engine and NER recogniser for PERSON), chosen when a spaCy pipeline is
installed locally or a model path is configured. Patterns run as compiled regexes and presidio's recognisers
directly, not through its AnalyzerEngine: there, context enhancement, the phonenumbers phone search and the
URL recogniser's TLD list cost ~20 ms a report (measured, benchmarks/bench_deid.py) and found nothing more. Dates move by
the patient's offset (years inferred from the study date when missing); paths and UIDs become the pseudonyms
the tables use. Replacements are applied here, not by presidio-anonymizer, so sentence offsets into the report
carry over to the scrubbed text.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional

import regex

from curation.deid.dates import rewrite
from curation.deid.patterns import PATTERNS, PLACEHOLDER
from curation.io.nlp_imports import import_presidio_analyzer, import_spacy

SPACY_MODEL_ENV = "OPSEG_DEID_SPACY_MODEL"
SPACY_PACKAGES = ("en_core_web_trf", "en_core_web_lg", "en_core_web_md", "en_core_web_sm")
# Name parts that are also report words: matched only when written as a name (Title or UPPER case).
REPORT_WORDS = frozenset(
    "long short small large mass bone rose hill white black brown green gray grey young old right left lower upper low "
    "high bright dark stone wall bay lung heart liver head neck chest hand foot arm leg back side lobe cyst node clear "
    "free fine full wide early late rich king bishop page price hall lane wood moore may june april august ward".split())


_AFFIXES = {"dr", "mr", "mrs", "ms", "miss", "prof", "md", "phd", "do", "jr", "sr", "ii", "iii", "iv"}


@dataclass
class Scrubbed:
    text: str
    spans: list = field(default_factory=list)     # (start, end, replacement) in the original text, sorted
    counts: dict = field(default_factory=dict)    # entity -> replacements

    def remap(self, offset: int, end: bool = False) -> int:
        """An offset in the original text -> the same place in the scrubbed text."""
        delta = 0
        for s, e, rep in self.spans:
            if e <= offset:
                delta += len(rep) - (e - s)
            elif s < offset:  # inside a replacement: snap to its edge
                return s + delta + (len(rep) if end else 0)
            else:
                break
        return offset + delta


def identifier_variants(names: list[str], ids: list[str], dates: list[str], phones: list[str]) -> list[str]:
    """Strings that identify one patient, as they may be written in free text (name parts match in any order)."""
    out: set[str] = set()
    for pn in names:
        parts = [p for p in re.split(r"[\^\s,=]+", pn or "") if p and not p.isdigit() and p.lower().strip(".") not in _AFFIXES]
        out |= {p for p in parts if len(p) >= 3}
        out |= {h for p in parts if "-" in p for h in p.split("-") if len(h) >= 3}  # Smith-Jones: Smith, Jones
        for a, b in zip(parts, parts[1:]):  # short parts ("Li", "Wu") only next to another part, either order
            out |= {f"{a} {b}", f"{b} {a}", f"{a}, {b}", f"{b}, {a}", f"{a}^{b}"}
    for v in ids + phones:
        v = (v or "").strip()
        if len(v) >= 4:
            out.add(v)
            digits = re.sub(r"\D", "", v)
            if len(digits) >= 7 and digits != v:
                out.add(digits)
            # multi-line values (addresses "Petersgraben\r\nBasel\r\n...") are written a line at a time
            out |= {part.strip() for part in re.split(r"[\r\n,;]+", v) if len(part.strip()) >= 4} - {v}
    for d in dates:
        if d and len(d) == 8 and d.isdigit():
            day = dt.date(int(d[:4]), int(d[4:6]), int(d[6:8]))
            out |= {d, day.isoformat(), day.strftime("%m/%d/%Y"), f"{day.month}/{day.day}/{day.year}",
                    day.strftime("%d.%m.%Y"), day.strftime("%B %d, %Y").replace(" 0", " ")}
    return sorted(out, key=len, reverse=True)


@lru_cache(maxsize=4096)  # one per patient; a run visits a patient's rows together
def _known_regex(known: tuple[str, ...]):
    alternatives = []
    import_spacy()
    from spacy.lang.en.stop_words import STOP_WORDS  # "Will", "Hope", "May": names only when capitalised

    for k in known:
        words = [w.lower() for w in re.split(r"[^\w]+", k) if w]
        flexible = lambda v: regex.escape(v).replace(r"\ ", r"\s+")  # noqa: E731
        if words and all(w in REPORT_WORDS or w in STOP_WORDS for w in words):
            alternatives.append(f"(?-i:{flexible(k.title())}|{flexible(k.upper())})")
        else:
            alternatives.append(flexible(k))
    return regex.compile(r"(?i)(?<![A-Za-z0-9])(?:" + "|".join(alternatives) + r")(?![A-Za-z0-9])")


def installed_spacy_model(configured: Optional[str] = None) -> Optional[str]:
    """A local spaCy pipeline for NER: the configured name/path, $OPSEG_DEID_SPACY_MODEL, or an installed en_core_web_*."""
    import_spacy()
    import spacy.util

    for candidate in (configured, os.environ.get(SPACY_MODEL_ENV)):
        if candidate:
            if not (spacy.util.is_package(candidate) or os.path.isdir(candidate)):
                raise ValueError(f"spaCy model {candidate!r} is neither an installed package nor a folder")
            return candidate
    return next((p for p in SPACY_PACKAGES if spacy.util.is_package(p)), None)


class TextScrubber:
    """One set of recognisers for the run; per-patient identifiers, date shift and pseudonym functions come per call."""

    def __init__(self, engine: str = "auto", spacy_model: Optional[str] = None):
        import tldextract
        import tldextract.tldextract as tld_module

        import_presidio_analyzer()   # without its Hugging Face engine (and torch where spaCy cannot use it)
        from presidio_analyzer.predefined_recognizers import EmailRecognizer

        # presidio's e-mail recogniser calls tldextract, which would fetch the public-suffix list online
        tld_module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        self.patterns = [(entity, regex.compile(rx, regex.MULTILINE), score) for entity, rx, score in PATTERNS]
        self.recognizers = [EmailRecognizer()]  # validates the domain (tldextract)
        model = installed_spacy_model(spacy_model) if engine in ("auto", "spacy") else None
        if engine == "spacy" and model is None:
            raise ValueError(f"no spaCy pipeline installed: install one (e.g. en_core_web_sm) or set {SPACY_MODEL_ENV}")
        self.engine, self.model, self._nlp, self._ner = "regex", None, None, None
        if model:
            from presidio_analyzer.nlp_engine import SpacyNlpEngine
            from presidio_analyzer.predefined_recognizers import SpacyRecognizer

            self._nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
            self._nlp.load()
            self._ner = SpacyRecognizer(supported_entities=["PERSON"])
            self.engine, self.model = "spacy", model

    def describe(self) -> str:
        from importlib.metadata import version

        base = f"presidio-analyzer {version('presidio-analyzer')} recognisers + opseg radiology patterns"
        return base + (f" + spaCy NER ({self.model})" if self.model else " (regex engine)")

    def _find(self, text: str, known: tuple[str, ...]) -> list[tuple[int, int, str, float]]:
        hits = []
        for entity, rx, score in self.patterns:
            for m in rx.finditer(text):
                start, end = m.span("phi") if "phi" in rx.groupindex and m.start("phi") >= 0 else m.span()
                hits.append((start, end, entity, score))
        for rec in self.recognizers:
            hits += [(r.start, r.end, r.entity_type, r.score)
                     for r in rec.analyze(text, rec.supported_entities, None) if r.score >= 0.3]
        if known:
            hits += [(m.start(), m.end(), "KNOWN_PHI", 1.0) for m in _known_regex(known).finditer(text)]
        if self._ner is not None:
            artifacts = self._nlp.process_text(text, "en")
            hits += [(r.start, r.end, "PERSON", r.score) for r in self._ner.analyze(text, ["PERSON"], artifacts)]
        return hits

    def scrub(self, text: Optional[str], known: tuple[str, ...] = (),
              shift_date: Optional[Callable[[dt.date], dt.date]] = None, reference: Optional[dt.date] = None,
              path_token: Optional[Callable[[str], str]] = None, uid: Optional[Callable[[str], str]] = None) -> Scrubbed:
        """known: the patient's identifiers; reference: the study date (for dates written without a year)."""
        if not text:
            return Scrubbed(text or "")
        # widest first, then strongest: overlapping hits collapse into the span that covers most
        hits = sorted(self._find(text, tuple(known)), key=lambda h: (h[0], -(h[1] - h[0]), -h[3]))
        spans, counts, last_end, last_entity = [], {}, -1, ""
        for start, end, entity, _ in hits:
            if end <= last_end or end <= start:
                continue
            if start < last_end:  # overlaps the previous span and reaches further: one span, a plain placeholder
                s0, _, _ = spans[-1]
                spans[-1] = (s0, end, PLACEHOLDER.get(last_entity, "[REDACTED]"))
                last_end = end
                continue
            original = text[start:end]
            rep = PLACEHOLDER.get(entity, "[REDACTED]")
            if entity == "DATE":
                rep = rewrite(original, shift_date, reference) or rep
            elif entity == "PATH" and path_token:
                rep = path_token(original)
            elif entity == "UID" and uid:
                rep = uid(original) or rep
            spans.append((start, end, rep))
            counts[entity] = counts.get(entity, 0) + 1
            last_end, last_entity = end, entity
        pieces, pos = [], 0
        for s, e, rep in spans:
            pieces += [text[pos:s], rep]
            pos = e
        pieces.append(text[pos:])
        return Scrubbed("".join(pieces), spans, counts)
