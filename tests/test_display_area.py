"""DISPLAY -> PIXEL mapping checked against an image actually rotated and flipped with numpy."""
import numpy as np
import pytest

from curation.extract.display_area import DisplayedArea


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("flip", [False, True])
def test_display_fraction_points_at_the_same_pixel_as_on_screen(rotation, flip):
    rows, cols = 7, 11
    image = np.arange(rows * cols).reshape(rows, cols)
    shown = np.rot90(image, k=-rotation // 90)       # clockwise rotation ...
    if flip:
        shown = np.fliplr(shown)                      # ... then horizontal flip (PS3.3 C.10.6)
    area = DisplayedArea.from_corners((1, 1), (cols, rows), rotation=rotation, flip=flip)
    h, w = shown.shape
    for r in range(h):
        for c in range(w):
            uv = np.array([[(c + 0.5) / w, (r + 0.5) / h]])  # centre of the displayed pixel
            x, y = area.display_to_pixel(uv)[0]
            assert image[int(np.floor(y)), int(np.floor(x))] == shown[r, c]
            assert np.allclose(area.pixel_to_display(np.array([[x, y]])), uv)


def test_zero_based_corners_cover_the_same_area():
    one = DisplayedArea.from_corners((1, 1), (512, 512))
    zero = DisplayedArea.from_corners((0, 0), (511, 511), zero_based=True)
    assert (one.x0, one.y0, one.x1, one.y1) == (zero.x0, zero.y0, zero.x1, zero.y1) == (0, 0, 512, 512)
