"""Where the archive comes from: a folder, a DICOMweb server (QIDO-RS/WADO-RS) or a DIMSE PACS (C-FIND/C-MOVE).

Every source ends in the same place: a local folder of DICOM files the extract stage reads. PACS sources fetch
the GSPS/SR objects and only the CT series they reference into a cache (one folder per series, with a
completion marker), so a rerun fetches nothing it already has.
"""
from curation.extract.sources.base import FetchStats, Source, open_source

__all__ = ["FetchStats", "Source", "open_source"]
