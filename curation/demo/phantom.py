"""A synthetic abdomen/lower-chest CT with known lesions: organs as smooth ellipses, lesions as lobulated
ellipsoids with partial-volume edges, scanner-like noise. Deterministic for a given random generator."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

HU = {"air": -1000.0, "fat": -100.0, "muscle": 50.0, "soft": 35.0, "liver": 60.0, "spleen": 50.0,
      "kidney": 150.0, "lung": -850.0, "bone": 650.0, "marrow": 250.0}
ORGAN_LABELS = {"body": 1, "liver": 2, "kidney_right": 3, "kidney_left": 4, "lung_right": 5, "lung_left": 6,
                "spine": 7, "spleen": 8}


@dataclass
class Lesion:
    lesion_id: int
    organ: str
    center_mm: np.ndarray      # (x, y, z) in the phantom's patient frame (LPS mm)
    radii_mm: np.ndarray       # ellipsoid semi-axes (a, b, c)
    angle: float               # in-plane rotation (radians)
    hu: float
    lobulation: float


@dataclass
class Phantom:
    hu: np.ndarray             # float32 (slice, row, column)
    organs: np.ndarray         # uint8 labels
    lesions_mask: np.ndarray   # uint8 lesion ids (0 = none)
    lesions: list[Lesion]
    pixel_spacing: float
    slice_spacing: float
    origin: np.ndarray         # LPS of voxel (0, 0, 0)


def _ellipse(x, y, cx, cy, a, b):
    return ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0


def make_phantom(rng: np.random.Generator, size: int, pixel_spacing: float, n_slices: int, slice_spacing: float,
                 n_lesions: int) -> Phantom:
    fov = size * pixel_spacing
    origin = np.array([-fov / 2 + pixel_spacing / 2, -fov / 2 + pixel_spacing / 2, 0.0])
    xs = origin[0] + np.arange(size) * pixel_spacing
    ys = origin[1] + np.arange(size) * pixel_spacing
    X, Y = np.meshgrid(xs, ys)  # rows = y (posterior +), columns = x (patient left +)
    zs = origin[2] + np.arange(n_slices) * slice_spacing
    body_a, body_b = 0.40 * fov * rng.uniform(0.92, 1.0), 0.30 * fov * rng.uniform(0.92, 1.0)
    hu = np.full((n_slices, size, size), HU["air"], np.float32)
    organs = np.zeros((n_slices, size, size), np.uint8)
    for k, z in enumerate(zs):
        t = k / max(1, n_slices - 1)  # 0 inferior .. 1 superior
        sl, lab = hu[k], organs[k]
        body = _ellipse(X, Y, 0, 0, body_a, body_b)
        sl[body] = HU["fat"]
        lab[body] = ORGAN_LABELS["body"]
        sl[_ellipse(X, Y, 0, 0, body_a - 14, body_b - 14)] = HU["muscle"]
        sl[_ellipse(X, Y, 0, 0, body_a - 22, body_b - 22)] = HU["soft"]
        spine_y = 0.62 * body_b
        sl[_ellipse(X, Y, 0, spine_y, 17, 15)] = HU["bone"]
        sl[_ellipse(X, Y, 0, spine_y, 13, 11)] = HU["marrow"]
        lab[_ellipse(X, Y, 0, spine_y, 17, 15)] = ORGAN_LABELS["spine"]
        if t > 0.55:  # lower chest: lungs grow toward the top
            s = min(1.0, (t - 0.55) / 0.3)
            for name, sx in (("lung_right", -1), ("lung_left", 1)):
                m = _ellipse(X, Y, sx * 0.45 * body_a, -0.05 * body_b, 0.33 * body_a * s + 1, 0.62 * body_b * s + 1)
                sl[m] = HU["lung"]
                lab[m] = ORGAN_LABELS[name]
        if 0.3 < t < 0.8:  # liver on the patient's right (image left), under the right lung
            s = np.sin(np.pi * (t - 0.3) / 0.5)
            m = _ellipse(X, Y, -0.38 * body_a, -0.05 * body_b, 0.42 * body_a * s + 1, 0.60 * body_b * s + 1)
            m &= ~(lab == ORGAN_LABELS["lung_right"])
            sl[m] = HU["liver"]
            lab[m] = ORGAN_LABELS["liver"]
            m = _ellipse(X, Y, 0.55 * body_a, 0.15 * body_b, 0.16 * body_a * s + 1, 0.28 * body_b * s + 1)
            m &= lab == ORGAN_LABELS["body"]
            sl[m] = HU["spleen"]
            lab[m] = ORGAN_LABELS["spleen"]
        if 0.05 < t < 0.45:  # kidneys beside the spine
            s = np.sin(np.pi * (t - 0.05) / 0.4)
            for name, sx in (("kidney_right", -1), ("kidney_left", 1)):
                m = _ellipse(X, Y, sx * 0.36 * body_a, 0.38 * body_b, 0.12 * body_a * s + 1, 0.2 * body_b * s + 1)
                sl[m] = HU["kidney"]
                lab[m] = ORGAN_LABELS[name]
    lesions, lesion_mask = _place_lesions(rng, organs, origin, pixel_spacing, slice_spacing, n_lesions)
    for les in lesions:
        box = ndimage.find_objects((lesion_mask == les.lesion_id).astype(np.uint8))[0]
        box = tuple(slice(max(0, b.start - 3), b.stop + 3) for b in box)
        soft = ndimage.gaussian_filter((lesion_mask[box] == les.lesion_id).astype(np.float32), sigma=(0.4, 0.7, 0.7))
        hu[box] += soft * (les.hu - hu[box]) * (soft > 0.02)
    hu += rng.normal(0.0, 12.0, hu.shape).astype(np.float32)
    return Phantom(hu, organs, lesion_mask, lesions, pixel_spacing, slice_spacing, origin)


LESION_SITES = (("liver", 2, (-45.0, -25.0)), ("lung_right", 5, (820.0, 880.0)), ("lung_left", 6, (820.0, 880.0)),
                ("kidney_right", 3, (-110.0, -90.0)), ("kidney_left", 4, (-110.0, -90.0)), ("liver", 2, (40.0, 70.0)))


def _place_lesions(rng, organs, origin, ps, ss, n):
    """Lesions inside organs, not touching each other; the site list cycles so every organ appears."""
    nz, ny, nx = organs.shape
    mask = np.zeros(organs.shape, np.uint8)
    lesions: list[Lesion] = []
    attempts = 0
    interiors: dict[int, np.ndarray] = {}
    while len(lesions) < n and attempts < 600:
        attempts += 1
        organ, label, (dlo, dhi) = LESION_SITES[(len(lesions) + attempts) % len(LESION_SITES)]
        if label not in interiors:
            interiors[label] = np.argwhere(ndimage.binary_erosion(organs == label, iterations=max(1, round(4.5 / ps))))
        candidates = interiors[label]
        if len(candidates) == 0:
            continue
        k, j, i = candidates[rng.integers(len(candidates))]
        diam = rng.uniform(9.0, 36.0) if organ == "liver" else rng.uniform(8.0, 24.0)
        diam *= max(0.5, 1.0 - attempts / 600)  # crowded or thin organs: try smaller lesions
        radii = np.array([diam / 2, diam / 2 * rng.uniform(0.6, 0.95), diam / 2 * rng.uniform(0.7, 1.1)])
        radii[2] = max(radii[2], 1.1 * ss)  # at least ~2-3 slices
        angle = rng.uniform(0, np.pi)
        ca, sa = np.cos(angle), np.sin(angle)
        cx, cy, cz = i * ps, j * ps, k * ss
        reach = 1.2 * radii.max()
        box = tuple(slice(max(0, int(c - reach / sp) - 1), min(dim, int(c + reach / sp) + 2))
                    for c, sp, dim in ((k, ss, nz), (j, ps, ny), (i, ps, nx)))
        zz, yy, xx = np.meshgrid(np.arange(box[0].start, box[0].stop) * ss, np.arange(box[1].start, box[1].stop) * ps,
                                 np.arange(box[2].start, box[2].stop) * ps, indexing="ij")
        dx, dy, dz = xx - cx, yy - cy, zz - cz
        u, v = ca * dx + sa * dy, -sa * dx + ca * dy
        theta = np.arctan2(v, u)
        lob = rng.uniform(0.0, 0.12)
        r = 1.0 + lob * np.sin(3 * theta + rng.uniform(0, 2 * np.pi))
        local = (u / radii[0]) ** 2 + (v / radii[1]) ** 2 + (dz / radii[2]) ** 2 <= r ** 2
        if not local.any() or (local & (organs[box] != label)).sum() > 0.05 * local.sum():
            continue
        if (ndimage.binary_dilation(local, iterations=max(1, round(3.0 / ps))) & (mask[box] > 0)).any():
            continue
        if (box[0].start == 0 and local[0].any()) or (box[0].stop == nz and local[-1].any()):
            continue
        lid = len(lesions) + 1
        mask[box][local] = lid
        base = {"liver": 60.0, "lung_right": -850.0, "lung_left": -850.0}.get(organ, 150.0)
        lesions.append(Lesion(lid, organ, origin + np.array([cx, cy, cz]), radii, angle, base + rng.uniform(dlo, dhi), lob))
    return lesions, mask
