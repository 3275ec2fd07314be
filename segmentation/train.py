"""Fine-tune SAM2CT on a NIfTI dataset folder the way the SAM2CT paper describes (§2.2-2.3).

Each step: a lesion (3D component of the chosen label), a prompt kind, a synthetic training prompt on a
slice sampled by lesion area, and an 8-slice sub-volume that starts at that slice and runs up or down;
slice 0 is conditioned on the prompt, the others are tracked through the memory bank as at inference.
Loss: focal (×20) + Dice (×1) on the mask logits + MSE of the predicted IoU (×1) + object-presence BCE (×1),
as in SAM2's training.
AdamW with the paper's learning rates (5e-6; image encoder 3e-6). Validation Dice on held-out cases
picks ``best.pt``; ``last.pt`` holds the optimiser and epoch for ``--resume``. Checkpoints use the
published layout ``{"model": state_dict}`` and load with ``load_checkpoint``.

Training runs the model the way it will be used: SAM2CT-layout checkpoints get the SAM2CT reference inference
path and the transposed model view (``segmentation.sam2ct.view``), so slices and prompts are presented in that
view, with that memory selection and mask-prompt handling, the reference's preprocessing and the same arrow-tail
setting (``arrow_tail_px``) the inference normalises drawn arrows to.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from segmentation.prompts import ARROW_TAIL_PX, arrow_tail
from segmentation.protocol import dataset_cases, load_case
from segmentation.sam2ct.build import build_sam2ct, load_checkpoint
from segmentation.sam2ct.device import autocast, resolve_device
from segmentation.sam2ct.engine import preprocess, value_range
from segmentation.sam2ct.prompting import encode_prompt, mask_prompt
from segmentation.sam2ct.view import to_view
from segmentation.synthetic_prompts import lesions, make_prompt

TRAIN_VIEW, TRAIN_POLICY = "transposed", "sam2ct-reference"  # what a SAM2CT-layout checkpoint is run with


@dataclass
class TrainConfig:
    data: str
    out: str
    init: str = "random"            # "random" or a checkpoint path
    lesion_label: int = 1
    image_size: int = 1024
    epochs: int = 80
    steps_per_epoch: Optional[int] = None  # default: one step per training lesion
    frames: int = 8
    lr: float = 5e-6
    lr_image_encoder: float = 3e-6
    weight_decay: float = 0.01
    val_fraction: float = 0.2
    kinds: tuple = ("arrow", "line", "point", "box", "mask")
    mcm: bool = True
    seed: int = 0
    device: Optional[str] = None
    max_val_lesions: int = 32
    max_train_lesions: Optional[int] = None  # smoke runs: train on the first N lesions only
    arrow_tail_px: Optional[float] = ARROW_TAIL_PX  # synthetic arrow tails (None: default); inference must match
    amp: Optional[str] = None                # bf16 | off (default: bf16 on cuda, off on cpu)


@dataclass
class Sample:
    hu: np.ndarray          # in the model view
    mask: np.ndarray
    case: str
    window: Optional[tuple] = None  # the whole volume's value range (preprocessing scales by it)


def _load_lesions(pairs, label) -> list[Sample]:
    out = []
    for image, lab in pairs:
        hu, labels, _ = load_case(image, lab)
        hu, labels = to_view(hu, TRAIN_VIEW), to_view(labels, TRAIN_VIEW)
        out += [Sample(hu, m, image.name, value_range(hu)) for m in lesions(labels, label)]
    return out


def focal_loss(logits, target, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    pt = p * target + (1 - p) * (1 - target)
    w = alpha * target + (1 - alpha) * (1 - target)
    return (w * ce * (1 - pt) ** gamma).mean()


def dice_loss(logits, target, eps=1.0):
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    return (1 - (2 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


def _frames(mask: np.ndarray, k: int, n: int, rng) -> list[int]:
    step = 1 if rng.random() < 0.5 else -1
    zs = [k + step * i for i in range(n) if 0 <= k + step * i < mask.shape[0]]
    if len(zs) < min(n, mask.shape[0]):  # hit the volume's edge: go the other way instead
        zs = [k - step * i for i in range(n) if 0 <= k - step * i < mask.shape[0]]
    return zs


def run_clip(model, sample: Sample, kind: str, rng, n_frames: int, device: str, training: bool, line_arrow: bool = True,
             arrow_tail_px: Optional[float] = ARROW_TAIL_PX):
    """Prompt + propagate over a sub-volume; returns (loss, mean Dice of the frames)."""
    prompt = make_prompt(kind, sample.mask, rng, training=training, arrow_tail_px=arrow_tail_px)
    zs = _frames(sample.mask, prompt.slice_index, n_frames, rng)
    size = model.image_size
    images = preprocess(sample.hu[zs], size, sample.window).to(device)
    target = F.interpolate(torch.as_tensor(sample.mask[zs], dtype=torch.float32)[:, None], size=(size, size),
                           mode="nearest").to(device)
    backbone = model.forward_image(images)
    _, feats, pos, sizes = model._prepare_backbone_features(backbone)
    bank = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
    shape = sample.hu.shape[1:]
    point_inputs = mask_inputs = None
    if kind == "mask":
        mask_inputs = mask_prompt(prompt.mask, size, device)
    else:
        point_inputs = encode_prompt(prompt, shape, size, line_arrow, device, arrow_tail_px)
    losses, dices = [], []
    for i, z in enumerate(zs):
        f = [x[:, i:i + 1] for x in feats]
        p = [x[:, i:i + 1] for x in pos]
        out = model.track_step(frame_idx=i, is_init_cond_frame=(i == 0), current_vision_feats=f, current_vision_pos_embeds=p,
                               feat_sizes=sizes, point_inputs=point_inputs if i == 0 else None,
                               mask_inputs=mask_inputs if i == 0 else None, output_dict=bank, num_frames=len(zs))
        (bank["cond_frame_outputs"] if i == 0 else bank["non_cond_frame_outputs"])[i] = out
        logits, t = out["pred_masks_high_res"], target[i:i + 1]
        pred = (logits > 0).float()
        inter, union = (pred * t).sum(), ((pred + t) > 0).float().sum()
        iou_true = (inter / union) if union > 0 else torch.tensor(1.0, device=device)
        loss = 20 * focal_loss(logits, t) + dice_loss(logits, t)
        present = (t.sum() > 0).float().reshape(1, 1)
        if out.get("object_score_logits") is not None:  # without it the model can learn to say "no object"
            loss = loss + F.binary_cross_entropy_with_logits(out["object_score_logits"].float().reshape(1, 1), present)
        if out.get("ious") is not None:
            loss = loss + F.mse_loss(out["ious"].max(dim=1).values, iou_true.detach().expand(1))
        losses.append(loss)
        dices.append(float(2 * inter / (pred.sum() + t.sum()).clamp(min=1)))
    return torch.stack(losses).mean(), float(np.mean(dices))


def param_groups(model, cfg: TrainConfig):
    enc = [p for n, p in model.named_parameters() if n.startswith("image_encoder.") and p.requires_grad]
    rest = [p for n, p in model.named_parameters() if not n.startswith("image_encoder.") and p.requires_grad]
    return [{"params": enc, "lr": cfg.lr_image_encoder}, {"params": rest, "lr": cfg.lr}]


def train(cfg: TrainConfig, log: Optional[Callable[[dict], None]] = None, resume: bool = False) -> dict:
    device = resolve_device(cfg.device)  # before any data is read
    cfg = replace(cfg, arrow_tail_px=arrow_tail(cfg.arrow_tail_px))  # the summary records the value used
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    pairs = dataset_cases(Path(cfg.data))
    n_val = int(round(len(pairs) * cfg.val_fraction)) if len(pairs) > 1 else 0
    order = rng.permutation(len(pairs))
    val_pairs, train_pairs = [pairs[i] for i in order[:n_val]], [pairs[i] for i in order[n_val:]]
    train_set, val_set = _load_lesions(train_pairs, cfg.lesion_label), _load_lesions(val_pairs, cfg.lesion_label)
    train_set = train_set[: cfg.max_train_lesions]
    if not train_set:
        raise ValueError(f"{cfg.data}: no lesions with label {cfg.lesion_label} in the training cases")
    model = build_sam2ct(cfg.image_size, mcm=cfg.mcm, device="cpu", memory_policy=TRAIN_POLICY)
    init_report = None
    if cfg.init != "random":
        init_report = load_checkpoint(model, Path(cfg.init))
    model.to(device)
    opt = torch.optim.AdamW(param_groups(model, cfg), weight_decay=cfg.weight_decay)
    state = {"epoch": 0, "best_val_dice": -1.0, "history": []}
    last = out / "last.pt"
    if resume and last.exists():
        ckpt = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        state = ckpt["state"]
        rng = np.random.default_rng([cfg.seed, state["epoch"]])
    steps = cfg.steps_per_epoch or len(train_set)
    while state["epoch"] < cfg.epochs:
        model.train()
        t0, losses = time.perf_counter(), []
        for _ in range(steps):
            sample = train_set[int(rng.integers(len(train_set)))]
            kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
            with autocast(device, cfg.amp):
                loss, _ = run_clip(model, sample, kind, rng, cfg.frames, device, training=True, arrow_tail_px=cfg.arrow_tail_px)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if log:
                log({"epoch": state["epoch"], "step_loss": losses[-1], "kind": kind})
        seconds = time.perf_counter() - t0
        val_dice = _validate(model, val_set or train_set, cfg, device)
        state["epoch"] += 1
        entry = {"epoch": state["epoch"], "train_loss": float(np.mean(losses)), "val_dice": val_dice,
                 "clips_per_s": steps / seconds, "frames_per_s": steps * cfg.frames / seconds}
        state["history"].append(entry)
        if log:
            log(entry)
        if val_dice > state["best_val_dice"]:
            state["best_val_dice"] = val_dice
            torch.save({"model": model.state_dict()}, out / "best.pt")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "state": state, "config": asdict(cfg)}, last)
    (out / "train_summary.json").write_text(json.dumps({"config": asdict(cfg), "init": init_report.label if init_report else "random",
                                                        "device": device, **state}, indent=1, default=str))
    return state


@torch.no_grad()
def _validate(model, samples: list[Sample], cfg: TrainConfig, device: str) -> float:
    model.eval()
    rng = np.random.default_rng(cfg.seed + 1)  # the same validation prompts every epoch
    scores = []
    for s in samples[: cfg.max_val_lesions]:
        for kind in cfg.kinds:
            _, d = run_clip(model, s, kind, rng, cfg.frames, device, training=False, arrow_tail_px=cfg.arrow_tail_px)
            scores.append(d)
    return float(np.mean(scores)) if scores else 0.0
