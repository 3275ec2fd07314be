"""Short DICOM labels (graphic layer names, content labels) under the profile's D action: kept when every word is
a term viewers use for layers, otherwise a keyed dummy. A label is one or two words with no sentence around it,
so no pattern can tell a surname from a layer name ("GREY", "HOUSE_MARKS"); a closed vocabulary can."""
from __future__ import annotations

import re

LABEL_WORDS = frozenset("""
measurement measurements measure measures annotation annotations annot layer layers default graphic graphics text
texts arrow arrows line lines roi rois overlay overlays markup markups mark marks marker markers key image images
finding findings lesion lesions target targets nontarget non tumor tumour tumors recist ruler rulers length lengths
angle angles ellipse ellipses circle circles polygon polyline cad user report reports presentation state gsps pr
label labels shutter shutters cursor crosshair distance area volume axis axes long short bidimensional diameter
prior current baseline follow up new old primary secondary node nodes nodule nodules mass masses liver lung lungs
kidney kidneys bone brain chest abdomen pelvis left right unknown none dicom sr tid probe radiology imaging
diagnostic department standard info information custom general misc common system temp temporary notes note
comment comments tool tools overlay top bottom cornerstone cornerstonetools ohif weasis agfa impax osirix horos
""".split())


def label_is_safe(label: str) -> bool:
    words = [w for w in re.split(r"[^A-Za-z]+", label) if w]
    return bool(words) and all(w.lower() in LABEL_WORDS for w in words)  # a bare number is an ID, not a label
