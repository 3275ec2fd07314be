"""QC on a mask's window of the volume gives exactly the metrics of the whole volume (the stage never pastes a
mask into a full volume any more): lines, arrow tips far from the mask, masks on the volume's border."""
import numpy as np
import pytest
from scipy import ndimage

from curation.qc.stage import QCThresholds, mask_metrics, mask_window
from schemas import AnnotationRecord, MaskRecord
from schemas.mask_nifti import bbox_of

SHAPE = (12, 64, 80)


def _case(seed: int, at_edge: bool):
    rng = np.random.default_rng(seed)
    hu = rng.normal(-600, 300, SHAPE).astype(np.float32)
    mask = np.zeros(SHAPE, bool)
    z, r, c = (0, 0, 0) if at_edge else (3, 20, 30)
    blob = ndimage.binary_opening(rng.random((5, 14, 16)) > 0.35)
    mask[z:z + 5, r:r + 14, c:c + 16] = blob
    hu[mask] += 700
    return mask, hu, bbox_of(mask)


@pytest.mark.parametrize("seed,at_edge", [(0, False), (1, True), (2, False)])
@pytest.mark.parametrize("kind", ["line", "arrow"])
def test_window_metrics_equal_whole_volume_metrics(seed, at_edge, kind):
    mask, hu, bbox = _case(seed, at_edge)
    k = bbox[2] + 2
    points = [[bbox[0] - 3.5, bbox[1] + 4.2], [bbox[3] + 2.5, bbox[4] - 3.1]]   # runs out of the mask both ways
    a = AnnotationRecord(annotation_id="a", source_kind="gsps", source_sop_uid="g", source_path="g.dcm", kind=kind,
                         slice_index=k,
                         points_px=points, tip_px=[75.2, 60.7] if kind == "arrow" else None,
                         length_mm=20.0 if kind == "line" else None)
    m = MaskRecord(mask_id="m", annotation_id="a", series_uid="x", backend="classical-cpu", mask=b"", bbox=bbox,
                   n_slices=bbox[5] - bbox[2], recist_long_mm=18.0, score=0.7, stop_reason_superior="empty_slice",
                   stop_reason_inferior="max_slices")
    th, spacing = QCThresholds(), (2.5, 0.7, 0.8)
    whole = mask_metrics(mask, hu, a, m, spacing, th)
    w = mask_window(bbox, SHAPE)
    windowed = mask_metrics(mask[w], hu[w], a, m, spacing, th, origin=tuple(s.start for s in w), shape=SHAPE)
    assert windowed == whole
    names = {name for name, *_ in whole}
    assert {"line_inside_fraction" if kind == "line" else "arrow_tip_distance_mm", "outline_contrast"} <= names
    assert dict((n, v) for n, v, *_ in whole)["touches_volume_edge"] == float(at_edge)
