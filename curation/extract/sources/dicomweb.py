"""DICOMweb source: QIDO-RS for GSPS/SR series, WADO-RS for them and the CT series they reference."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from curation.extract.sources.base import ANNOTATION_MODALITIES, FetchStats
from curation.extract.sources.mining import mine


def _tag(item: dict, tag: str) -> Optional[str]:
    v = item.get(tag, {}).get("Value")
    return str(v[0]) if v else None


class DICOMwebSource:
    name = "dicomweb"

    def __init__(self, url: str, dates: tuple[Optional[str], Optional[str]] = (None, None),
                 modalities: tuple[str, ...] = ANNOTATION_MODALITIES, retries: int = 5, backoff: float = 0.5,
                 session: Optional[requests.Session] = None):
        from dicomweb_client.api import DICOMwebClient

        self.url, self.dates, self.modalities = url, dates, modalities
        self.stats = FetchStats()
        session = session or requests.Session()
        retry = Retry(total=retries, backoff_factor=backoff, status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=("GET",), raise_on_status=False)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        session.hooks["response"].append(self._count)
        self.client = DICOMwebClient(url, session=session)

    def _count(self, response, *args, **kwargs):
        self.stats.requests += 1
        self.stats.bytes += int(response.headers.get("Content-Length") or len(response.content or b""))

    def _date_filter(self) -> dict:
        lo, hi = self.dates
        return {"StudyDate": f"{lo or ''}-{hi or ''}"} if lo or hi else {}

    def annotation_series(self) -> list[tuple[str, str]]:
        found = set()
        for modality in self.modalities:
            for item in self.client.search_for_series(search_filters={"Modality": modality, **self._date_filter()},
                                                      fields=["StudyInstanceUID", "SeriesInstanceUID"]):
                study, series = _tag(item, "0020000D"), _tag(item, "0020000E")
                if study and series:
                    found.add((study, series))
        return sorted(found)

    def fetch_series(self, study: str, series: str):
        return self.client.retrieve_series(study, series)

    def series_of_sop(self, study: str, sop: str) -> Optional[str]:
        hits = self.client.search_for_instances(study_instance_uid=study, search_filters={"SOPInstanceUID": sop},
                                                fields=["SeriesInstanceUID"])
        return _tag(hits[0], "0020000E") if hits else None

    def fetch(self, cache: Path, progress=None) -> FetchStats:
        return mine(self, cache, progress)
