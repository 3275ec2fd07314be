"""DIMSE source: C-FIND (study level with ModalitiesInStudy, then series level), C-MOVE of each wanted series
to a storage SCP that opseg starts for the duration of the fetch (the PACS must know opseg's AE title)."""
from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Optional

from pydicom.dataset import Dataset

from curation.extract.sources.base import ANNOTATION_MODALITIES, FetchStats
from curation.extract.sources.mining import mine


class DIMSEError(RuntimeError):
    pass


class DIMSESource:
    name = "dimse"

    def __init__(self, host: str, port: int, called_ae: str = "ANY-SCP", calling_ae: str = "OPSEG",
                 store_port: int = 11113, dates: tuple[Optional[str], Optional[str]] = (None, None),
                 modalities: tuple[str, ...] = ANNOTATION_MODALITIES, retries: int = 3, backoff: float = 0.5,
                 timeout: float = 60.0):
        self.host, self.port, self.called, self.calling = host, port, called_ae, calling_ae
        self.store_port, self.dates, self.modalities = store_port, dates, modalities
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.stats = FetchStats()
        self._received: "queue.Queue[Dataset]" = queue.Queue()

    # ---- associations --------------------------------------------------------------------------------------------
    def _associate(self, contexts):
        from pynetdicom import AE

        ae = AE(ae_title=self.calling)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout
        for c in contexts:
            ae.add_requested_context(c)
        for attempt in range(self.retries + 1):
            assoc = ae.associate(self.host, self.port, ae_title=self.called)
            if assoc.is_established:
                self.stats.requests += 1
                return assoc
            time.sleep(self.backoff * 2 ** attempt)
        raise DIMSEError(f"no association with {self.called}@{self.host}:{self.port} after {self.retries + 1} tries")

    def _find(self, query: Dataset) -> list[Dataset]:
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

        assoc = self._associate([FIND])
        try:
            out = []
            for status, identifier in assoc.send_c_find(query, FIND):
                if status and status.Status in (0xFF00, 0xFF01) and identifier is not None:
                    out.append(identifier)
            return out
        finally:
            assoc.release()

    # ---- primitives --------------------------------------------------------------------------------------------
    def annotation_series(self) -> list[tuple[str, str]]:
        studies = set()
        for modality in self.modalities:
            q = Dataset()
            q.QueryRetrieveLevel, q.StudyInstanceUID, q.ModalitiesInStudy = "STUDY", "", modality
            lo, hi = self.dates
            q.StudyDate = f"{lo or ''}-{hi or ''}" if lo or hi else ""
            studies |= {str(r.StudyInstanceUID) for r in self._find(q) if r.get("StudyInstanceUID")}
        found = set()
        for study in sorted(studies):
            q = Dataset()
            q.QueryRetrieveLevel, q.StudyInstanceUID, q.SeriesInstanceUID, q.Modality = "SERIES", study, "", ""
            for r in self._find(q):
                if str(r.get("Modality", "")) in self.modalities:
                    found.add((study, str(r.SeriesInstanceUID)))
        return sorted(found)

    def series_of_sop(self, study: str, sop: str) -> Optional[str]:
        q = Dataset()
        q.QueryRetrieveLevel, q.StudyInstanceUID, q.SeriesInstanceUID, q.SOPInstanceUID = "IMAGE", study, "", sop
        hits = self._find(q)
        return str(hits[0].SeriesInstanceUID) if hits else None

    def fetch_series(self, study: str, series: str):
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

        q = Dataset()
        q.QueryRetrieveLevel, q.StudyInstanceUID, q.SeriesInstanceUID = "SERIES", study, series
        assoc = self._associate([MOVE])
        failed = 0
        try:
            for status, _ in assoc.send_c_move(q, self.calling, MOVE):
                if status and status.Status not in (0x0000, 0xFF00) and not (0xB000 <= status.Status <= 0xBFFF):
                    failed += 1
        finally:
            assoc.release()
        got = []
        while not self._received.empty():
            got.append(self._received.get())
        if failed and not got:
            raise DIMSEError(f"C-MOVE of series {series} failed")
        return got

    # ---- the storage SCP that receives C-MOVE sub-operations -------------------------------------------------------
    def _on_store(self, event):
        ds = event.dataset
        ds.file_meta = event.file_meta
        self.stats.bytes += len(event.request.DataSet.getvalue()) if hasattr(event.request.DataSet, "getvalue") else 0
        self._received.put(ds)
        return 0x0000

    def fetch(self, cache: Path, progress=None) -> FetchStats:
        from pynetdicom import AE, AllStoragePresentationContexts, evt

        scp = AE(ae_title=self.calling)
        scp.supported_contexts = AllStoragePresentationContexts
        server = scp.start_server(("127.0.0.1" if self.host in ("127.0.0.1", "localhost") else "", self.store_port),
                                  block=False, evt_handlers=[(evt.EVT_C_STORE, self._on_store)])
        try:
            return mine(self, cache, progress)
        finally:
            server.shutdown()
