"""Demo SR objects: a TID 1500 measurement report (highdicom, standard layout) and a text report SR."""
from __future__ import annotations

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from curation.demo.gsps_styles import DemoMark


def _observer():
    person = hd.sr.PersonObserverIdentifyingAttributes(name="Reader^Radiology")
    return hd.sr.ObservationContext(observer_person_context=hd.sr.ObserverContext(
        observer_type=codes.cid270.Person, observer_identifying_attributes=person))


def write_tid1500(marks: list[DemoMark], series_uid: str, sop_uid: str, series_number: int) -> Dataset:
    """Lines as Length, bidimensional as Long/Short axis on one 4-point region, arrows as a POINT region."""
    groups = []
    for m in marks:
        # viewers name the tool in the tracking identifier (OHIF: "...:ArrowAnnotate"); readers rely on it
        tid = hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"{m.mark_id} {m.kind}")
        src = hd.sr.SourceImageForRegion.from_source_image(m.image)
        if m.kind == "arrow":
            region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POINT, graphic_data=m.points[1:2], source_image=src)
            measurements = []
        elif m.kind == "bidimensional":
            region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=m.points, source_image=src)
            measurements = [hd.sr.Measurement(name=codes.SCT.LongAxis, value=round(m.length_mm, 1), unit=codes.UCUM.Millimeter),
                            hd.sr.Measurement(name=codes.SCT.ShortAxis, value=round(m.short_mm, 1), unit=codes.UCUM.Millimeter)]
        elif m.kind == "ellipse":
            region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.ELLIPSE, graphic_data=m.points, source_image=src)
            measurements = [hd.sr.Measurement(name=codes.SCT.Area, value=round(3.14159265 * m.length_mm * m.short_mm / 4, 1),
                                              unit=codes.UCUM.SquareMillimeter)]
        else:
            region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POLYLINE, graphic_data=m.points, source_image=src)
            measurements = [hd.sr.Measurement(name=codes.SCT.Length, value=round(m.length_mm, 1), unit=codes.UCUM.Millimeter)]
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=tid, referenced_region=region, finding_type=codes.SCT.Lesion,
            measurements=measurements or None))
    report = hd.sr.MeasurementReport(observation_context=_observer(), procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
                                     imaging_measurements=groups)
    evidence = list({m.image.SOPInstanceUID: m.image for m in marks}.values())
    return hd.sr.Comprehensive3DSR(evidence=evidence, content=report, series_number=series_number,
                                   series_instance_uid=series_uid, sop_instance_uid=sop_uid, instance_number=1,
                                   manufacturer="opseg demo")


def write_text_report_sr(sections: list[tuple[str, str]], evidence: list[Dataset], series_uid: str, sop_uid: str,
                         series_number: int) -> Dataset:
    """A Basic Text SR: a container per report section, each holding its TEXT."""
    containers = []
    for title, text in sections:
        name = hd.sr.CodedConcept(value={"FINDINGS": "121070", "IMPRESSION": "121073", "TECHNIQUE": "121065",
                                         "INDICATION": "121109", "COMPARISON": "122073"}.get(title, "121070"),
                                  scheme_designator="DCM", meaning=title.title())
        item = hd.sr.ContainerContentItem(name=name, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
        item.ContentSequence = [hd.sr.TextContentItem(name=name, value=text,
                                                      relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)]
        containers.append(item)
    root = hd.sr.ContainerContentItem(name=hd.sr.CodedConcept(value="18748-4", scheme_designator="LN",
                                                              meaning="Diagnostic imaging report"))
    root.ContentSequence = containers
    return hd.sr.EnhancedSR(evidence=evidence[:1], content=root, series_number=series_number, series_instance_uid=series_uid,
                            sop_instance_uid=sop_uid, instance_number=1, manufacturer="opseg demo", is_complete=True,
                            is_final=True)
