"""The one way opseg opens a DICOM file.

Real archives are full of values that break VR rules (long SH, odd DS): opseg reads them without a warning per
file. pydicom keeps that choice in a process-wide setting; it is set here, on the first read, and not when
`curation` is imported, so importing opseg as a library changes nothing for its host program.
"""
from __future__ import annotations

import pydicom
import pydicom.config


def lenient_reading() -> None:
    """Read values that break VR rules silently (idempotent; called by every opseg read)."""
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE


def read_dicom(path, **kwargs) -> pydicom.Dataset:
    lenient_reading()
    return pydicom.dcmread(path, **kwargs)
