"""DICOM-derived values through dicognito, one Anonymizer per patient seeded from the project secret.

A patient's studies, series, SOP instances and GSPS/SR references therefore map consistently (they are all
mapped by the same seeded anonymizer), and every date of that patient moves by one offset, which the report
text scrubber reuses. Values are fed to dicognito as the DICOM elements they came from, so each gets the
handling dicognito gives that element (UIs to 2.x UIDs, IDs to random IDs, dates shifted)."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Optional

from dicognito.anonymizer import Anonymizer
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset

from curation.deid.secret import ProjectSecret

_REFERENCE_DAY = "20000101"


class DicomPseudonyms:
    def __init__(self, secret: ProjectSecret):
        self.secret = secret
        self._anonymizer = lru_cache(maxsize=4096)(
            lambda patient: Anonymizer(id_prefix="P", seed=secret.seed("patient", patient)))
        self._uids: dict[tuple[str, str], str] = {}
        self._offsets: dict[str, int] = {}

    def map(self, patient: str, **elements: Optional[str]) -> dict[str, Optional[str]]:
        """Pseudonymise DICOM element values of one patient: map(p, StudyInstanceUID=..., StudyDate=...)."""
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        for keyword, value in elements.items():
            if value not in (None, ""):
                setattr(ds, keyword, value)
        self._anonymizer(patient).anonymize(ds)
        return {k: (str(ds[k].value) if k in ds and v not in (None, "") else None) for k, v in elements.items()}

    def uid(self, patient: str, value: Optional[str]) -> Optional[str]:
        if not value:
            return value
        key = (patient, value)
        if key not in self._uids:
            self._uids[key] = self.map(patient, StudyInstanceUID=value)["StudyInstanceUID"]
        return self._uids[key]

    def date_offset_days(self, patient: str) -> int:
        """dicognito's offset for the patient (62-730 days back), kept 10+ days clear of whole years: a date written
        without a year ("June 3") must not come back unchanged."""
        if patient not in self._offsets:
            moved = self.map(patient, StudyDate=_REFERENCE_DAY)["StudyDate"]
            days = (dt.date(int(moved[:4]), int(moved[4:6]), int(moved[6:8])) - dt.date(2000, 1, 1)).days
            years = round(days / 365.25)
            if years and abs(days - years * 365.25) < 10:
                days -= 20
            self._offsets[patient] = days
        return self._offsets[patient]

    def shift_date(self, patient: str, value: Optional[str]) -> Optional[str]:
        """A YYYYMMDD or ISO date moved by the patient's offset, in the format it came in."""
        if not value:
            return value
        digits = value.replace("-", "")[:8]
        try:
            day = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
        except ValueError:
            return None  # not a date we can move: drop it rather than publish it
        moved = day + dt.timedelta(days=self.date_offset_days(patient))
        return moved.isoformat() if "-" in value else moved.strftime("%Y%m%d")

    def shift_datetime(self, patient: str, value: Optional[str]) -> Optional[str]:
        """A DICOM DT (YYYYMMDDHHMMSS...) or ISO date-time with its date part moved; the time is kept."""
        if not value:
            return value
        iso = "-" in value[:10]
        date_part, rest = (value[:10], value[10:]) if iso else (value[:8], value[8:])
        moved = self.shift_date(patient, date_part)
        return None if moved is None else moved + rest
