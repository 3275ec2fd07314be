"""Free-text scrubbing (reports, GSPS/SR labels) with presidio's analyzer on its regex-only engine, plus the
recognisers presidio lacks for radiology: MRN, accession, "Dr. X", signature and "discussed with" lines, and
each patient's own identifiers read from the DICOM headers (names, IDs, birth date, phone). Dates are moved
by the patient's offset, not removed, so intervals stay meaningful. Replacements are applied here (not by
presidio-anonymizer) so that sentence offsets into the report can be carried over to the scrubbed text."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"

# (entity, regex, score). Dates: parsed and shifted by _shift_date when the pattern yields a real date.
PATTERNS = [
    ("SIGNATURE", r"(?im)^[^\n]*\b(?:electronically signed|signed by|dictated by|transcribed by|reported by|read by|"
                  r"attending(?: radiologist)?:|radiologist:)[^\n]*$", 0.9),
    ("COMMUNICATION", r"(?i)\b(?:discussed with|communicated (?:to|with)|called to|notified|conveyed to)\b"
                      r"(?:\s*(?:Dr|Mr|Mrs|Ms|Prof)\.|[^.\n])*", 0.85),
    ("MRN", r"(?i)\b(?:MRN|MR\s?#|medical record(?: number| no\.?)?|patient id|hospital (?:number|no\.?))\s*[:#]?\s*"
            r"[A-Z0-9][A-Z0-9-]{3,}\b", 0.9),
    ("ACCESSION", r"(?i)\b(?:accession(?: number| no\.?| #)?|acc\s?(?:#|no\.?))\s*[:#]?\s*[A-Z0-9][A-Z0-9-]{3,}\b", 0.9),
    ("PERSON", r"\b(?:Dr|Doctor|Prof)\.?\s+[A-Z][a-zA-Z'-]+(?:\s+[A-Z][a-zA-Z'-]+)?", 0.8),
    ("PERSON", r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-zA-Z'-]+,?\s+(?:MD|M\.D\.|DO|PhD|RN|PA-C)\b", 0.8),
    ("PERSON", r"(?i)\b(?:patient|pt|name)\s*[:.]\s*[A-Z][a-zA-Z'-]+(?:[ ,^]+[A-Z][a-zA-Z'-]+){0,2}", 0.8),
    ("DATE", r"\b(?:19|20)\d{2}-\d{1,2}-\d{1,2}\b", 0.9),
    ("DATE", r"\b\d{1,2}/\d{1,2}/(?:19|20)?\d{2}\b", 0.9),
    ("DATE", r"\b\d{1,2}\.\d{1,2}\.(?:19|20)\d{2}\b", 0.9),
    ("DATE", r"\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b", 0.7),
    ("DATE", rf"(?i)\b(?:{_MONTHS}|{_MON})\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}\b", 0.9),
    ("DATE", rf"(?i)\b\d{{1,2}}\s+(?:{_MONTHS}|{_MON})\s+(?:19|20)\d{{2}}\b", 0.9),
    ("PHONE_NUMBER", r"(?<![\d.])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b", 0.7),
]
PRESIDIO_ENTITIES = ["EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE"]
PLACEHOLDER = {"PERSON": "[NAME]", "KNOWN_PHI": "[REDACTED]", "EMAIL_ADDRESS": "[EMAIL]", "PHONE_NUMBER": "[PHONE]",
               "US_SSN": "[ID]", "IP_ADDRESS": "[ID]", "CREDIT_CARD": "[ID]", "IBAN_CODE": "[ID]", "MRN": "[MRN]",
               "ACCESSION": "[ACCESSION]", "SIGNATURE": "[SIGNATURE]", "COMMUNICATION": "[COMMUNICATION]",
               "DATE": "[DATE]"}


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


def _parse_date(text: str) -> Optional[tuple[dt.date, str]]:
    """(date, format to write it back in) for the formats PATTERNS accepts."""
    t = text.strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%d.%m.%Y", "%Y%m%d", "%B %d, %Y", "%B %d %Y", "%b %d, %Y",
                "%b %d %Y", "%d %B %Y", "%d %b %Y"):
        try:
            return dt.datetime.strptime(re.sub(r"(\d)(st|nd|rd|th)", r"\1", t).replace(".,", ","), fmt).date(), fmt
        except ValueError:
            continue
    return None


def identifier_variants(names: list[str], ids: list[str], dates: list[str], phones: list[str]) -> list[str]:
    """Strings that identify one patient, as they may be written in free text."""
    out: set[str] = set()
    for pn in names:
        for part in re.split(r"[\^\s,]+", pn or ""):
            if len(part) >= 3 and not part.isdigit():
                out.add(part)
    for v in ids + phones:
        v = (v or "").strip()
        if len(v) >= 4:
            out.add(v)
            digits = re.sub(r"\D", "", v)
            if len(digits) >= 7 and digits != v:
                out.add(digits)
    for d in dates:
        if d and len(d) == 8 and d.isdigit():
            day = dt.date(int(d[:4]), int(d[4:6]), int(d[6:8]))
            out |= {d, day.isoformat(), day.strftime("%m/%d/%Y"), f"{day.month}/{day.day}/{day.year}",
                    day.strftime("%d.%m.%Y"), day.strftime("%B %d, %Y").replace(" 0", " ")}
    return sorted(out, key=len, reverse=True)


class TextScrubber:
    """One presidio analyzer for the run; per-patient identifiers come in per call."""

    def __init__(self):
        import tldextract
        import tldextract.tldextract as tld_module
        from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        # presidio's e-mail recogniser calls tldextract, which would fetch the public-suffix list online
        tld_module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        registry = RecognizerRegistry()
        registry.load_predefined_recognizers(languages=["en"])
        registry.remove_recognizer("SpacyRecognizer")  # needs a spaCy NER model: not available offline
        for i, (entity, regex, score) in enumerate(PATTERNS):
            registry.add_recognizer(PatternRecognizer(supported_entity=entity, name=f"opseg_{entity}_{i}",
                                                      patterns=[Pattern(f"{entity}_{i}", regex, score)]))
        self._pattern, self._recognizer = Pattern, PatternRecognizer
        self.engine = AnalyzerEngine(registry=registry, supported_languages=["en"],
                                     nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}]))
        self.entities = PRESIDIO_ENTITIES + sorted({e for e, _, _ in PATTERNS}) + ["KNOWN_PHI"]

    def scrub(self, text: Optional[str], known: tuple[str, ...] = (),
              shift_date: Optional[Callable[[dt.date], dt.date]] = None) -> Scrubbed:
        if not text:
            return Scrubbed(text or "")
        ad_hoc = []
        if known:
            regex = r"(?i)(?<![A-Za-z0-9])(?:" + "|".join(re.escape(k) for k in known) + r")(?![A-Za-z0-9])"
            ad_hoc.append(self._recognizer(supported_entity="KNOWN_PHI", name="patient_identifiers",
                                           patterns=[self._pattern("known", regex, 1.0)]))
        results = self.engine.analyze(text=text, language="en", entities=self.entities, ad_hoc_recognizers=ad_hoc,
                                      score_threshold=0.3)
        # widest first, then strongest: overlapping hits collapse into the span that covers most
        results = sorted(results, key=lambda r: (r.start, -(r.end - r.start), -r.score))
        spans, counts, last_end = [], {}, -1
        for r in results:
            if r.start < last_end:
                continue
            original = text[r.start:r.end]
            rep = PLACEHOLDER.get(r.entity_type, "[REDACTED]")
            if r.entity_type == "DATE" or (r.entity_type == "KNOWN_PHI" and _parse_date(original)):
                parsed = _parse_date(original)
                if parsed and shift_date and r.entity_type == "DATE":
                    day, fmt = parsed
                    rep = shift_date(day).strftime(fmt)
            spans.append((r.start, r.end, rep))
            counts[r.entity_type] = counts.get(r.entity_type, 0) + 1
            last_end = r.end
        pieces, pos = [], 0
        for s, e, rep in spans:
            pieces += [text[pos:s], rep]
            pos = e
        pieces.append(text[pos:])
        return Scrubbed("".join(pieces), spans, counts)
