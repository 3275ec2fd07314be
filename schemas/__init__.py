"""Typed records and Arrow schemas: the only contract between opseg stages."""
from schemas.base import METADATA_KEY, SCHEMA_VERSION, Record, col
from schemas.catalog import InstanceRecord, SeriesRecord, StudyRecord
from schemas.annotations import AnnotationRecord, ANNOTATION_KINDS
from schemas.reports import ReportRecord, FindingRecord
from schemas.masks import MaskRecord
from schemas.links import LinkRecord
from schemas.qc import QCRecord, QuarantineRecord
from schemas.grounded import GroundedRecord
from schemas.lesions import LesionMemberRecord, LesionRecord
from schemas.reviews import REVIEW_SCORES, ReviewRecord

ALL_TABLES: dict[str, type[Record]] = {
    cls.TABLE: cls
    for cls in (
        StudyRecord, SeriesRecord, InstanceRecord, AnnotationRecord, ReportRecord,
        FindingRecord, MaskRecord, LinkRecord, QCRecord, QuarantineRecord, LesionRecord, LesionMemberRecord,
        ReviewRecord,
    )
}
PUBLISHED_TABLES: dict[str, type[Record]] = {GroundedRecord.TABLE: GroundedRecord}  # written by publish, not under OUT

__all__ = [
    "SCHEMA_VERSION", "METADATA_KEY", "Record", "col", "ALL_TABLES", "ANNOTATION_KINDS",
    "StudyRecord", "SeriesRecord", "InstanceRecord", "AnnotationRecord", "ReportRecord",
    "FindingRecord", "MaskRecord", "LinkRecord", "QCRecord", "QuarantineRecord", "GroundedRecord",
    "LesionRecord", "LesionMemberRecord", "PUBLISHED_TABLES", "ReviewRecord", "REVIEW_SCORES",
]
