"""A GSPS with one line, for tests that need a mark on a given image or frame."""
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"


def item(**kw):
    d = Dataset()
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def write_line_gsps(path, study_uid, series_uid, sop_uid, frame, data, sop_class=ENHANCED_CT):
    """A GSPS with one PIXEL line (data: x0, y0, x1, y1) on one image, or on one frame of a multi-frame one."""
    gsps = Dataset()
    gsps.file_meta = FileMetaDataset()
    gsps.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.11.1"
    gsps.file_meta.MediaStorageSOPInstanceUID = gsps.SOPInstanceUID = generate_uid()
    gsps.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    gsps.SOPClassUID, gsps.Modality = "1.2.840.10008.5.1.4.1.1.11.1", "PR"
    gsps.StudyInstanceUID, gsps.SeriesInstanceUID = study_uid, generate_uid()
    ref = item(ReferencedSOPClassUID=sop_class, ReferencedSOPInstanceUID=sop_uid)
    if frame is not None:
        ref.ReferencedFrameNumber = frame
    gsps.ReferencedSeriesSequence = Sequence([item(SeriesInstanceUID=series_uid, ReferencedImageSequence=Sequence([ref]))])
    obj = item(GraphicAnnotationUnits="PIXEL", GraphicDimensions=2, NumberOfGraphicPoints=2,
                GraphicData=list(data), GraphicType="POLYLINE")
    gsps.GraphicAnnotationSequence = Sequence([item(ReferencedImageSequence=Sequence([ref]), GraphicLayer="L",
                                                     GraphicObjectSequence=Sequence([obj]))])
    gsps.save_as(path, enforce_file_format=True)
