"""DISPLAY -> PIXEL mapping checked against an image actually rotated and flipped with numpy."""
import numpy as np
import pytest

from curation.extract.display_area import DisplayedArea, zero_based_whole_image


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
    one = DisplayedArea.from_corners((1, 1), (512, 512), image_size=(512, 512))
    zero = DisplayedArea.from_corners((0, 0), (511, 511), image_size=(512, 512))
    edges = DisplayedArea.from_corners((0, 0), (512, 512), image_size=(512, 512))  # Softneta
    assert {(a.x0, a.y0, a.x1, a.y1) for a in (one, zero, edges)} == {(0, 0, 512, 512)}


def test_corners_with_a_zero_are_one_based_unless_they_are_the_whole_image_zero_based():
    assert zero_based_whole_image((0, 0), (511, 383), (512, 384)) and zero_based_whole_image((0, 0), (512, 384), (512, 384))
    for tl, br in [((0, 1), (512, 384)), ((0, 0), (300, 300)), ((1, 0), (511, 383)), ((0, 0), (384, 512))]:
        assert not zero_based_whole_image(tl, br, (512, 384))
    panned = DisplayedArea.from_corners((0, 1), (512, 384), image_size=(512, 384))
    assert (panned.x0, panned.y0, panned.x1, panned.y1) == (-1, 0, 512, 384)
