"""SOP classes opseg cares about and how an instance is classified."""
from __future__ import annotations

CT_IMAGE = {"1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.2.2"}
PRESENTATION_STATES = {  # grayscale, color, pseudo-color, blending: all carry the same annotation module
    "1.2.840.10008.5.1.4.1.1.11.1", "1.2.840.10008.5.1.4.1.1.11.2",
    "1.2.840.10008.5.1.4.1.1.11.3", "1.2.840.10008.5.1.4.1.1.11.4",
}
SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."


def classify(sop_class_uid: str | None, modality: str | None, has_pixels: bool) -> str:
    """ct_image | gsps | sr | image | other."""
    uid = sop_class_uid or ""
    if uid in CT_IMAGE:
        return "ct_image"
    if uid in PRESENTATION_STATES:
        return "gsps"
    if uid.startswith(SR_PREFIX):
        return "sr"
    if has_pixels:
        return "image"
    return "other"
