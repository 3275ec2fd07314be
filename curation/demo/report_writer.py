"""Radiology reports for the demo studies, written the way radiologists write them, with truth spans.

Sizes come from the truth marks (mm or cm, one decimal as read), image references use the site's
InstanceNumber, and the text carries the usual traps: technique numbers, prior sizes, negations,
unmeasured findings, FINDINGS/IMPRESSION repeats.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ORGAN_TEXT = {
    "liver": ("LIVER", "hepatic", "in the right hepatic lobe"),
    "lung_right": ("LUNGS", "pulmonary", "in the right lower lobe"),
    "lung_left": ("LUNGS", "pulmonary", "in the left lower lobe"),
    "kidney_right": ("KIDNEYS", "renal", "in the right kidney"),
    "kidney_left": ("KIDNEYS", "renal", "in the left kidney"),
}
NOUN = {"liver": "hypodense lesion", "lung_right": "nodule", "lung_left": "nodule", "kidney_right": "cystic lesion",
        "kidney_left": "solid lesion"}


@dataclass
class ReportSentence:
    section: str
    text: str
    lesion_id: int | None = None
    mark_id: str | None = None
    role: str = "other"        # measured | arrow_ref | impression_repeat | decoy | negated | unmeasured
    start: int = 0
    end: int = 0


@dataclass
class DemoReport:
    sentences: list[ReportSentence] = field(default_factory=list)
    text: str = ""

    def sections(self) -> list[tuple[str, str]]:
        out: dict[str, list[str]] = {}
        for s in self.sentences:
            out.setdefault(s.section, []).append(s.text)
        return [(k, " ".join(v)) for k, v in out.items()]


def _size(rng, values_mm: list[float]) -> str:
    if rng.random() < 0.5:
        parts = [f"{v / 10:.1f}" for v in values_mm]
        return " x ".join(parts) + " cm"
    parts = [f"{v:.0f}" if rng.random() < 0.5 else f"{v:.1f}" for v in values_mm]
    return " x ".join(parts) + " mm"


def _ref(rng, series_number: int, image: int) -> str:
    forms = [f"(series {series_number}, image {image})", f"(image {image} of series {series_number})",
             f"(series/image {series_number}/{image})", f"({series_number}:{image})"]
    return forms[int(rng.integers(len(forms)))]


def write_report(rng: np.random.Generator, marks: list, lesions: dict, series_number: int, thickness: float,
                 image_number: dict, unmarked: list) -> DemoReport:
    """marks: DemoMarks (one per lesion measured); lesions: id -> Lesion; image_number: mark_id -> InstanceNumber."""
    rep = DemoReport()
    add = rep.sentences.append
    add(ReportSentence("INDICATION", "Follow-up of known malignancy.", role="decoy"))
    add(ReportSentence("TECHNIQUE", f"Axial CT images of the chest, abdomen and pelvis were obtained at {thickness:g} mm slice "
                                    f"thickness after intravenous contrast, 120 kVp.", role="decoy"))
    add(ReportSentence("COMPARISON", "CT from 6 months prior.", role="decoy"))
    by_organ: dict[str, list] = {}
    for m in marks:
        by_organ.setdefault(ORGAN_TEXT[lesions[m.lesion_id].organ][0], []).append(m)
    for header in ("LUNGS", "LIVER", "KIDNEYS"):
        items = by_organ.get(header, [])
        if not items and header == "LUNGS":
            add(ReportSentence("FINDINGS", "LUNGS: No suspicious pulmonary nodules.", role="negated"))
            continue
        for i, m in enumerate(items):
            les = lesions[m.lesion_id]
            _, adj, where = ORGAN_TEXT[les.organ]
            prefix = f"{header}: " if i == 0 else ""
            ref = _ref(rng, series_number, image_number[m.mark_id])
            if m.kind != "arrow" and rng.random() < 0.3:  # radiologists do not always cite the image
                ref = ""
            if m.kind == "arrow":
                text = f"{prefix}There is a {NOUN[les.organ]} {where} {ref}, not measured."
                role = "arrow_ref"
            else:
                dims = [m.length_mm] if m.kind == "line" else [m.length_mm, m.short_mm]
                prior = [d * rng.uniform(0.7, 0.95) for d in dims]
                text = (f"{prefix}A {NOUN[les.organ]} {where} measures {_size(rng, dims)}{' ' + ref if ref else ''}, "
                        f"previously {_size(rng, prior)}.")
                role = "measured"
            add(ReportSentence("FINDINGS", text, m.lesion_id, m.mark_id, role))
    for les in unmarked:
        add(ReportSentence("FINDINGS", f"Additional subcentimeter {ORGAN_TEXT[les.organ][1]} hypodensity, too small to "
                                       "characterize.", les.lesion_id, None, "unmeasured"))
    add(ReportSentence("FINDINGS", "No ascites. No lymphadenopathy.", role="negated"))
    measured = [m for m in marks if m.kind != "arrow"]
    if measured:
        big = max(measured, key=lambda m: m.length_mm)
        les = lesions[big.lesion_id]
        add(ReportSentence("IMPRESSION", f"1. Dominant {NOUN[les.organ]} {ORGAN_TEXT[les.organ][2]} now "
                                         f"{_size(rng, [big.length_mm])}, increased.", big.lesion_id, big.mark_id,
                           "impression_repeat"))
    else:
        add(ReportSentence("IMPRESSION", "1. Stable disease.", role="other"))
    add(ReportSentence("IMPRESSION", "2. No new metastatic disease.", role="negated"))
    text, last = "", None
    for s in rep.sentences:
        if s.section != last:
            text += ("\n\n" if text else "") + f"{s.section}:\n"
            last = s.section
        else:
            text += " "
        s.start = len(text)
        text += s.text
        s.end = len(text)
    rep.text = text
    return rep
