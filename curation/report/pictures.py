"""Overlay pictures for QC: a mask (outline) and the radiologist's original mark on axial, coronal and sagittal
views of the CT around the lesion, as small PNGs a reviewer can scan quickly."""
from __future__ import annotations

from typing import Optional

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

MASK_RGB = (255, 64, 64)
PROMPT_RGB = (255, 220, 0)
TARGET_PX = 240  # long side of each picture


def window(hu: np.ndarray) -> np.ndarray:
    """Lung window where the region is mostly air, soft-tissue window otherwise, as uint8."""
    level, width = (-600.0, 1500.0) if np.median(hu) < -400 else (40.0, 400.0)
    return (np.clip((hu - (level - width / 2)) / width, 0, 1) * 255).astype(np.uint8)


def _outline(mask2d: np.ndarray) -> np.ndarray:
    return mask2d & ~ndimage.binary_erosion(mask2d)


def _coloured(gray: np.ndarray, outline: np.ndarray) -> tuple[Image.Image, object]:
    """The windowed slice with the mask outline, and the ink the mark is drawn in. A palette image of the grays it
    holds plus the two overlay colours when they fit in 256 entries (every demo picture: at most 156 colours): it
    decodes to the very RGB pixels of the plain RGB picture, and its PNG compresses a third of the bytes (smaller
    files, 5-9x less zlib time). RGB otherwise."""
    used = np.bincount(gray.ravel(), minlength=256) > 0
    n = int(used.sum())
    if n + 2 > 256:
        rgb = np.repeat(gray[..., None], 3, axis=2)
        rgb[outline] = MASK_RGB
        return Image.fromarray(rgb), PROMPT_RGB
    index = (np.cumsum(used) - 1).astype(np.uint8)[gray]
    index[outline] = n
    img = Image.fromarray(index, "P")
    img.putpalette(np.repeat(np.flatnonzero(used).astype(np.uint8), 3).tobytes() + bytes(MASK_RGB) + bytes(PROMPT_RGB))
    return img, n + 1


def _picture(hu2d: np.ndarray, mask2d: np.ndarray, aspect: float, segments: list) -> Image.Image:
    """hu2d/mask2d in (vertical, horizontal) order; aspect = vertical / horizontal voxel size; segments are
    polylines [(h, v), ...] in the same voxel coordinates (pixel centres at +0.5)."""
    img, ink = _coloured(window(hu2d), _outline(mask2d))
    h, w = hu2d.shape
    sx = TARGET_PX / max(w, h * aspect)
    sy = sx * aspect
    img = img.resize((max(1, round(w * sx)), max(1, round(h * sy))), Image.NEAREST)
    draw = ImageDraw.Draw(img)
    for seg in segments:
        pts = [(x * sx, y * sy) for x, y in seg]
        if len(pts) == 1:
            x, y = pts[0]
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline=ink, width=2)
        else:
            draw.line(pts, fill=ink, width=2)
    return img


def _box(lo: int, hi: int, size: int, margin: int) -> tuple[int, int]:
    return max(0, lo - margin), min(size, hi + margin)


def prompt_segments(kind: str, points: Optional[list], tip: Optional[list]) -> list[list[tuple[float, float]]]:
    """The mark as drawn on its slice: polylines in (column, row) PIXEL coordinates."""
    if not points:
        return [[tuple(tip)]] if tip else []
    pts = [tuple(p) for p in points]
    if kind == "bidimensional" and len(pts) == 4:
        return [pts[:2], pts[2:]]
    if kind == "ellipse" and len(pts) == 4:  # GSPS ELLIPSE: major-axis then minor-axis endpoints
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = pts
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        t = np.linspace(0, 2 * np.pi, 49)
        ring = [(cx + (x1 - x0) / 2 * np.cos(a) + (x3 - x2) / 2 * np.sin(a),
                 cy + (y1 - y0) / 2 * np.cos(a) + (y3 - y2) / 2 * np.sin(a)) for a in t]
        return [ring]
    if kind in ("ellipse", "circle", "polygon"):
        return [pts + pts[:1]]
    if kind == "arrow" and tip:
        tail = max(pts, key=lambda p: (p[0] - tip[0]) ** 2 + (p[1] - tip[1]) ** 2)
        return [[tail, tuple(tip)], [tuple(tip)]]
    return [pts]


def _mask_box(mask: np.ndarray, origin: tuple[int, int, int], box) -> np.ndarray:
    """The mask (a crop whose first voxel sits at ``origin`` of the volume) over the volume box
    ((z0, z1), (r0, r1), (c0, c1)); zero where the crop does not reach."""
    out = np.zeros([hi - lo for lo, hi in box], bool)
    src, dst = [], []
    for (lo, hi), o, n in zip(box, origin, mask.shape):
        a, b = max(lo, o), min(hi, o + n)
        if b <= a:
            return out
        src.append(slice(a - o, b - o))
        dst.append(slice(a - lo, b - lo))
    out[tuple(dst)] = mask[tuple(src)]
    return out


def overlays(hu: np.ndarray, mask: np.ndarray, spacing: tuple[float, float, float], slice_index: Optional[int],
             kind: str, points: Optional[list], tip: Optional[list], higher_slice_is_superior: bool = True,
             origin: tuple[int, int, int] = (0, 0, 0)) -> dict[str, Image.Image]:
    """Axial (at the annotated slice), coronal and sagittal (through the mark) pictures of one lesion.

    hu is the (slice, row, column) volume (any numeric dtype; the pictures see it as float32); mask is boolean, the
    whole volume or its bbox crop whose first voxel is ``origin`` (slice, row, column), so a reader need not paste
    every mask into a volume-sized array; spacing is (slice, row, column) in mm."""
    zs, rs, cs = (np.flatnonzero(mask.any(axis=ax)) + o for ax, o in zip(((1, 2), (0, 2), (0, 1)), origin))
    segments = prompt_segments(kind, points, tip)
    flat = [p for seg in segments for p in seg]
    z = slice_index if slice_index is not None and 0 <= slice_index < hu.shape[0] else int((zs[0] + zs[-1]) // 2)
    plane = mask[z - origin[0]] if 0 <= z - origin[0] < mask.shape[0] else None
    on_slice = plane if plane is not None and plane.any() else mask.any(axis=0)
    # the reformats cut through the lesion (offsets added before rounding: the same voxel as on the whole plane)
    rr, cc = (int(round(v + o)) for v, o in zip(ndimage.center_of_mass(on_slice), origin[1:]))
    cc, rr = min(max(cc, 0), hu.shape[2] - 1), min(max(rr, 0), hu.shape[1] - 1)
    extent = max(rs[-1] - rs[0], cs[-1] - cs[0]) + 1
    margin = max(12, extent // 2)
    r0, r1 = _box(min(rs[0], *(int(p[1]) for p in flat)) if flat else rs[0],
                  max(rs[-1] + 1, *(int(p[1]) + 1 for p in flat)) if flat else rs[-1] + 1, hu.shape[1], margin)
    c0, c1 = _box(min(cs[0], *(int(p[0]) for p in flat)) if flat else cs[0],
                  max(cs[-1] + 1, *(int(p[0]) + 1 for p in flat)) if flat else cs[-1] + 1, hu.shape[2], margin)
    z0, z1 = _box(min(zs[0], z), max(zs[-1], z) + 1, hu.shape[0], max(3, int(round(margin * spacing[1] / spacing[0]))))
    shift = [[(x - c0, y - r0) for x, y in seg] for seg in segments]
    f32 = np.float32
    ax_mask = _mask_box(mask, origin, ((z, z + 1), (r0, r1), (c0, c1)))[0]
    pics = {"axial": _picture(hu[z, r0:r1, c0:c1].astype(f32), ax_mask, spacing[1] / spacing[2], shift)}
    zline = z - z0 + 0.5
    cor_hu, cor_mask = hu[z0:z1, rr, c0:c1].astype(f32), _mask_box(mask, origin, ((z0, z1), (rr, rr + 1), (c0, c1)))[:, 0]
    sag_hu, sag_mask = hu[z0:z1, r0:r1, cc].astype(f32), _mask_box(mask, origin, ((z0, z1), (r0, r1), (cc, cc + 1)))[..., 0]
    cor_seg = [[(x - c0, zline) for x, _ in seg] for seg in segments]
    sag_seg = [[(y - r0, zline) for _, y in seg] for seg in segments]
    if higher_slice_is_superior:  # radiological display: head at the top, so the slice axis is flipped
        cor_hu, cor_mask, sag_hu, sag_mask = cor_hu[::-1], cor_mask[::-1], sag_hu[::-1], sag_mask[::-1]
        zflip = (z1 - z0)
        cor_seg = [[(x, zflip - y) for x, y in seg] for seg in cor_seg]
        sag_seg = [[(x, zflip - y) for x, y in seg] for seg in sag_seg]
    pics["coronal"] = _picture(cor_hu, cor_mask, spacing[0] / spacing[2], cor_seg)
    pics["sagittal"] = _picture(sag_hu, sag_mask, spacing[0] / spacing[1], sag_seg)
    return pics
