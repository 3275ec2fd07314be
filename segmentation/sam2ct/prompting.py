"""Annotation prompts -> SAM2/SAM2CT inputs in model pixel space.

With trained line/arrow embeddings (a SAM2CT checkpoint): line = 2 points and bidimensional = 4 points with
label 4; an arrow = its tip (label 6) and, as the reference inference does it, a point at a fixed distance from
the tip along the drawn shaft (label 5) instead of the drawn tail: the model saw fixed-length synthetic arrows
(``arrow_tail_px``, see ``segmentation.prompts.normalise_arrow_tail``). Without them (SAM2, SAM2.1, MedSAM2, random init) the
documented zero-shot fallbacks are used: a line or a bidimensional mark becomes a square box centred on
the long axis with side = its length (as MedSAM2 does for RECIST lines); an arrow becomes a positive click
placed past its tip by 15% of the shaft (a tip-only SR arrow: the tip itself). Ellipse, circle and polygon
are boxes around their extent; a point is a positive click.

Pixel convention: a prompt point at pixel index p of the slice goes to p × (model size / slice size), which is
what SAM2's image predictor and the SAM2CT reference do (sam2's prompt encoder then adds 0.5).
"""
from __future__ import annotations

import numpy as np
import torch

from segmentation.prompts import Prompt, normalise_arrow_tail
from segmentation.sam2ct.prompt_encoder import ARROW_END, ARROW_START, LINE_ENDPOINT

POSITIVE, BOX_TL, BOX_BR = 1, 2, 3


def _square_box(centre: np.ndarray, side: float) -> np.ndarray:
    h = side / 2
    return np.array([centre - h, centre + h])


def encode_prompt(p: Prompt, shape_rc: tuple[int, int], image_size: int, line_arrow_embeddings: bool,
                  device="cpu", arrow_tail_px: float | None = None) -> dict:
    """{"point_coords": [1, n, 2] (x, y), "point_labels": [1, n]} for ``track_step``'s point_inputs."""
    pts = p.points  # (row, col), corner convention
    if p.kind in ("line", "bidimensional"):
        if line_arrow_embeddings:
            coords, labels = pts, [LINE_ENDPOINT] * len(pts)
        else:
            coords, labels = _square_box((pts[0] + pts[1]) / 2, np.linalg.norm(pts[1] - pts[0])), [BOX_TL, BOX_BR]
    elif p.kind == "arrow":
        tip = p.tip if p.tip is not None else pts[-1]
        tail = pts[0]
        if line_arrow_embeddings and np.linalg.norm(tip - tail) > 0:
            coords, labels = np.array([tip, normalise_arrow_tail(tail, tip, arrow_tail_px)]), [ARROW_END, ARROW_START]
        else:
            coords, labels = (tip + 0.15 * (tip - tail))[None], [POSITIVE]
    elif p.kind in ("ellipse", "circle", "polygon"):
        if p.kind == "ellipse":  # the ellipse's own extent from its axes
            c = (pts[0] + pts[1]) / 2
            a, b = (pts[1] - pts[0]) / 2, (pts[3] - pts[2]) / 2
            half = np.sqrt(a ** 2 + b ** 2)
            coords = np.array([c - half, c + half])
        elif p.kind == "circle":
            r = np.linalg.norm(pts[1] - pts[0])
            coords = np.array([pts[0] - r, pts[0] + r])
        else:
            coords = np.array([pts.min(axis=0), pts.max(axis=0)])
        labels = [BOX_TL, BOX_BR]
    else:
        coords, labels = pts[:1], [POSITIVE]
    coords = np.asarray(coords, float)
    scale = np.array([image_size / shape_rc[0], image_size / shape_rc[1]])
    xy = ((coords - 0.5) * scale)[:, ::-1].copy()  # (row, col) with centres at +0.5 -> (x, y) pixel index × scale
    return {"point_coords": torch.as_tensor(xy[None], dtype=torch.float32, device=device),
            "point_labels": torch.as_tensor([labels], dtype=torch.int32, device=device)}


def mask_prompt(mask2d: np.ndarray, image_size: int, device="cpu") -> torch.Tensor:
    """A (rows, cols) mask as ``mask_inputs`` [1, 1, S, S]."""
    t = torch.as_tensor(mask2d, dtype=torch.float32, device=device)[None, None]
    return torch.nn.functional.interpolate(t, size=(image_size, image_size), mode="nearest")
