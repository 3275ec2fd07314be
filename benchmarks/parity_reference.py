"""Do opseg's SAM2CT masks equal the published SAM2CT inference code's? Same random weights, same CT, same prompts.

    python benchmarks/parity_reference.py REF_CHECKOUT [--image-size 512] [--slices 44] [--threads 2]

REF_CHECKOUT is your own clone of github.com/samdchurch/SAM2CT (no licence: opseg ships none of it and only
imports it from that path, at run time). What the script does:
- the CT: the real 20-slice DICOM series of ../shared/real-data/totalseg-example (TotalSegmentator, CC BY 4.0) read
  by opseg's ``load_volume``, mirrored end to end to ``--slices`` slices so a propagation can run 40+ slices;
- random hiera-tiny weights (object-score bias raised by ``--object-bias`` so that propagation goes on) saved in
  the published layout ``{"model": state_dict}`` (8 point embeddings), loaded
  by both: opseg through ``SAM2CTSegmenter`` (its default for that layout: the reference path, transposed view),
  the reference through its own ``build_sam2_volume_predictor`` and config (with its post-processing flags on);
- the reference's input is made by its own ``load_and_preprocess_image`` from an ITK-style NIfTI of the series
  (array axis 0 = DICOM column), so view and preprocessing are compared too (max |difference| printed);
- line, point, box, mask and arrow prompts on the middle slice; the reference gets them in its frame
  (x = NIfTI j, y = NIfTI i, pixel index × model size / slice size), the arrow with the same tail point opseg
  normalises to (its own helper for that is missing from the repository);
- per-slice Dice on slices 1..N-1 (the reference's backward pass never reaches slice 0), for opseg's default
  path and, as the naive contrast, opseg's stock-SAM2 path (``--memory-policy sam2 --view transposed``).

Run-time shims (nothing of the reference is changed on disk): ``volume_inference.py`` imports
``torchvision.transforms.Normalize`` only to subtract the ImageNet mean and divide by the std; where torchvision
cannot be imported (CPU-only torch here) a module with that one class is registered before the import. Hydra
is pointed at ``REF_CHECKOUT/sam2ct/config`` the way its ``__main__`` does, and the image size / RoPE sizes are
overridden for 512 px as for opseg.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SERIES = next((d / "shared" / "real-data" / "totalseg-example" / "example_ct_dicom" for d in ROOT.parents
               if (d / "shared" / "real-data").is_dir()), None)  # ../shared beside the checkout (or a worktree)
KINDS = ("line", "point", "box", "mask", "arrow")
# random weights rarely call a tracked slice "object present", so propagation would stop at once; raising the
# object-score bias in the shared weights keeps both models propagating (it changes nothing else)
OBJECT_BIAS = "sam_mask_decoder.pred_obj_score_head.layers.2.bias"


def load_series(folder: Path, n_slices: int, slice_size: int | None = None):
    """The real series through opseg's reader, mirrored (0..19, 18..0, 1..) to ``n_slices`` slices; optionally
    resampled in-plane to ``slice_size`` (quick runs at a small model size compare at the model's resolution)."""
    from curation.dicom.volume import load_volume
    from scipy import ndimage

    vol = load_volume(sorted(str(p) for p in folder.iterdir()), "parity")
    n = vol.hu.shape[0]
    order = [abs(((i + n - 1) % (2 * n - 2)) - (n - 1)) for i in range(n_slices)]
    geo = vol.geometry
    hu, (dr, dc) = vol.hu[order].astype(np.float32), geo.pixel_spacing
    if slice_size and slice_size != hu.shape[1]:
        f = slice_size / hu.shape[1]
        hu = np.round(ndimage.zoom(hu, (1, f, slice_size / hu.shape[2]), order=1))
        dr, dc = dr / f, dc / f
    return hu, (geo.slice_spacing, dr, dc)


def write_itk_nifti(hu: np.ndarray, spacing, path: Path) -> None:
    """The series as ITK writes DICOM to NIfTI: array (i, j, k) = (column, row, slice), LPS axes."""
    import nibabel as nib

    s, r, c = spacing
    affine = np.diag([-c, -r, s, 1.0])  # LPS (+x, +y, +z) in RAS terms
    nib.save(nib.Nifti1Image(np.ascontiguousarray(hu.transpose(2, 1, 0)).astype(np.int16), affine), str(path))


def prompts_for(hu: np.ndarray, k: int, tail_px: float):
    """opseg prompts, (row, col) with pixel centres at +0.5, around the slice centre."""
    from segmentation.prompts import Prompt

    _, rows, cols = hu.shape
    u = rows / 512  # sizes below are for a 512-px slice
    r0, c0 = rows * 0.52, cols * 0.55
    rr, cc = np.mgrid[0:rows, 0:cols]
    ellipse = ((rr + 0.5 - r0) / (22 * u)) ** 2 + ((cc + 0.5 - c0) / (30 * u)) ** 2 <= 1
    line = np.array([[r0 - 18 * u, c0 - 25 * u], [r0 + 18 * u, c0 + 25 * u]])
    box = np.array([[r0 - 20, c0 - 28], [r0 - 20, c0 + 28], [r0 + 20, c0 + 28], [r0 + 20, c0 - 28], [r0 - 20, c0 - 28]]) * 1.0
    box = (box - [r0, c0]) * u + [r0, c0]
    tip = np.array([r0, c0])
    return {
        "line": Prompt("line", k, line, length_px=float(np.linalg.norm(line[1] - line[0]))),
        "point": Prompt("point", k, tip[None].copy()),
        "box": Prompt("polygon", k, box, length_px=70.0 * u),
        "mask": Prompt("mask", k, np.argwhere(ellipse) + 0.5, mask=ellipse, length_px=60.0 * u),
        "arrow": Prompt("arrow", k, np.array([tip + np.array([-31.0, 47.0]) * u, tip]), tip=tip.copy()),
    }


def reference_inputs(p, shape_rc, size: int, tail_px: float):
    """The reference's point_prompt / mask_prompt for an opseg prompt: its frame is the transposed slice,
    points as (x, y) = (DICOM row, DICOM column) pixel indices × scale."""
    from segmentation.prompts import normalise_arrow_tail

    scale = np.array([size / shape_rc[0], size / shape_rc[1]])

    def xy(pts):  # (row, col) centres at +0.5 -> reference (x = row index, y = column index) × scale
        return (np.asarray(pts, float) - 0.5) * scale

    if p.kind == "mask":
        m = torch.as_tensor(p.mask.T.copy(), dtype=torch.float32)[None, None]
        return None, torch.nn.functional.interpolate(m, size=(size, size), mode="nearest")
    if p.kind == "line":
        coords, labels = xy(p.points), [4, 4]
    elif p.kind == "point":
        coords, labels = xy(p.points[:1]), [1]
    elif p.kind == "polygon":
        coords, labels = xy([p.points.min(axis=0), p.points.max(axis=0)]), [2, 3]
    else:  # arrow: [head, the point tail_px along the drawn shaft], labels [6, 5]
        coords, labels = xy([p.tip, normalise_arrow_tail(p.points[0], p.tip, tail_px)]), [6, 5]
    pts = {"point_coords": torch.as_tensor(coords[None], dtype=torch.float32),
           "point_labels": torch.as_tensor([labels], dtype=torch.int32)}
    return pts, None


def import_reference(ref: Path):
    """The reference's builder and preprocessing, imported from the user's checkout (shims in the docstring)."""
    try:
        import torchvision.transforms  # noqa: F401
    except Exception:
        class Normalize:  # torchvision.transforms.Normalize on a tensor: (x - mean) / std per channel
            def __init__(self, mean, std):
                self.mean, self.std = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]

            def __call__(self, x):
                return (x - self.mean) / self.std

        tv, tr = types.ModuleType("torchvision"), types.ModuleType("torchvision.transforms")
        tr.Normalize, tv.transforms = Normalize, tr
        sys.modules.update({"torchvision": tv, "torchvision.transforms": tr})
    sys.path.insert(0, str(ref))
    import volume_inference
    from sam2ct.build_sam2ct import build_sam2_volume_predictor

    return volume_inference, build_sam2_volume_predictor


def build_reference(build, ref: Path, ckpt: Path, size: int):
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    initialize_config_dir(config_dir=str(ref / "sam2ct" / "config"), version_base="1.2")
    f = size // 16
    return build("SAM2CT", str(ckpt), device="cpu", hydra_overrides_extra=[
        f"++model.image_size={size}", f"++model.memory_attention.layer.self_attention.feat_sizes=[{f},{f}]",
        f"++model.memory_attention.layer.cross_attention.feat_sizes=[{f},{f}]"])


def per_slice_dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter = (a & b).sum(axis=(1, 2))
    total = a.sum(axis=(1, 2)) + b.sum(axis=(1, 2))
    return np.where(total > 0, 2 * inter / np.maximum(total, 1), 1.0)


def extent(mask: np.ndarray) -> str:
    zs = np.flatnonzero(mask.any(axis=(1, 2)))
    return f"{zs[0]}-{zs[-1]}" if len(zs) else "none"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ref", type=Path, help="your checkout of github.com/samdchurch/SAM2CT")
    ap.add_argument("--image-size", type=int, default=512)
    ap.add_argument("--slices", type=int, default=44)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--series", type=Path, default=SERIES, help="a DICOM CT series folder (default: the TotalSegmentator example)")
    ap.add_argument("--object-bias", type=float, default=10.0, help="added to the object-score head's bias")
    ap.add_argument("--slice-size", type=int, default=None, help="resample slices in-plane (default: as stored)")
    ap.add_argument("--no-contrast", action="store_true", help="skip opseg's stock-SAM2 path")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from segmentation.prompts import ARROW_TAIL_PX
    from segmentation.sam2ct.backend import SAM2CTSegmenter
    from segmentation.sam2ct.build import build_sam2ct
    from segmentation.sam2ct.engine import preprocess
    from segmentation.sam2ct.view import to_view

    hu, spacing = load_series(args.series, args.slices, args.slice_size)
    n, size, k = hu.shape[0], args.image_size, hu.shape[0] // 2
    kinds = args.kinds.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="opseg-parity-"))
    torch.manual_seed(args.seed)
    weights = build_sam2ct(size).state_dict()
    weights[OBJECT_BIAS] = weights[OBJECT_BIAS] + args.object_bias
    torch.save({"model": weights}, tmp / "sam2ct_random.pt")
    prompts = prompts_for(hu, k, ARROW_TAIL_PX)
    paths = {"opseg": dict(), "opseg sam2 path": dict(memory_policy="sam2", view="transposed")}
    if args.no_contrast:
        paths.pop("opseg sam2 path")
    masks, seconds = {}, {}
    for name, extra in paths.items():
        seg = SAM2CTSegmenter(tmp / "sam2ct_random.pt", image_size=size, mcm=True, device="cpu", amp="off",
                              size_limit=False, **extra)
        t0 = time.perf_counter()
        out = seg.segment_many(hu, spacing, [prompts[kd] for kd in kinds])
        seconds[name] = time.perf_counter() - t0
        masks[name] = {kd: (np.zeros(hu.shape, bool) if isinstance(r, Exception) else r.mask) for kd, r in zip(kinds, out)}
        print(f"{name}: {seg.name}, {seconds[name]:.0f} s for {len(kinds)} prompts")
    vi, build = import_reference(args.ref)
    ref_model = build_reference(build, args.ref, tmp / "sam2ct_random.pt", size)
    write_itk_nifti(hu, spacing, tmp / "ct.nii.gz")
    ref_image = vi.load_and_preprocess_image(str(tmp / "ct.nii.gz"), image_size=size)
    ours = preprocess(to_view(hu, "transposed"), size)
    print(f"preprocessed input, reference vs opseg (transposed view): max |diff| {float((ref_image - ours).abs().max()):.2e}")
    masks["reference"], t0 = {}, time.perf_counter()
    for kd in kinds:
        pts, mask_in = reference_inputs(prompts[kd], hu.shape[1:], size, ARROW_TAIL_PX)
        with torch.inference_mode():
            pred = ref_model.create_prediction(prompt_slice=k, image_data=ref_image, device="cpu", mask_prompt=mask_in,
                                               point_prompt=pts)
        pred = torch.nn.functional.interpolate(pred, size=hu.shape[1:][::-1], mode="nearest")  # model -> slice size
        masks["reference"][kd] = pred[:, 0].numpy().transpose(0, 2, 1) > 0
    seconds["reference"] = time.perf_counter() - t0
    print(f"reference: {seconds['reference']:.0f} s for {len(kinds)} prompts (one propagation each)\n")
    print(f"{n}-slice volume, prompt on slice {k}, {size} px, random weights (seed {args.seed}, object bias "
          f"+{args.object_bias:g}), slices 1..{n - 1} compared")
    print("| path | prompt | extent opseg | extent reference | prompt-slice Dice | min per-slice Dice | mean | slices < 0.999 |")
    print("|---|---|---|---|---|---|---|---|")
    for name in paths:
        for kd in kinds:
            a, b = masks[name][kd], masks["reference"][kd]
            d = per_slice_dice(a[1:], b[1:])
            print(f"| {name} | {kd} | {extent(a)} | {extent(b)} | {per_slice_dice(a[k:k + 1], b[k:k + 1])[0]:.4f} | "
                  f"{d.min():.4f} | {d.mean():.4f} | {int((d < 0.999).sum())} |")


if __name__ == "__main__":
    main()
