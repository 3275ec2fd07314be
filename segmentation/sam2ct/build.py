"""Build SAM2CT from the sam2 hiera-tiny config at 1024 or 512 px, and load SAM2 / SAM2.1 / MedSAM2 /
SAM2CT checkpoints from a local path with an honest report of what matched."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from curation.io.errors import ReasonedError

CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SAM2CT_ONLY = tuple(f"sam_prompt_encoder.point_embeddings.{i}.weight" for i in range(4, 8))


class CheckpointError(ReasonedError):
    """A file that is not a usable checkpoint for this model."""


@dataclass
class LoadReport:
    path: str
    layout: str                                   # sam2ct | sam2 (SAM2, SAM2.1, MedSAM2: no line/arrow embeddings)
    sha256_prefix: str
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def has_line_arrow_embeddings(self) -> bool:
        return self.layout == "sam2ct"

    @property
    def label(self) -> str:
        return f"{Path(self.path).name}@{self.sha256_prefix}"


IMAGE_SIZES = (1024, 512, 256, 128)  # 1024: SAM2, SAM2CT; 512: MedSAM2; 256/128: tiny models for tests only
AUTO = "auto"


def resolve_policy(policy: str, layout: str | None) -> str:
    """``auto``: the SAM2CT reference path for SAM2CT-layout checkpoints (and random init, which has that
    layout), SAM2's for SAM2 / SAM2.1 / MedSAM2 checkpoints; an explicit policy is kept."""
    if policy != AUTO:
        return policy
    return "sam2" if layout == "sam2" else "sam2ct-reference"


def build_sam2ct(image_size: int = 1024, mcm: bool = False, device: str = "cpu", memory_policy: str = "sam2"):
    """A randomly initialised SAM2CT (hiera-tiny); load weights with ``load_checkpoint``. The policy can be
    switched after loading with ``model.set_memory_policy`` (``auto`` builds the SAM2CT reference path)."""
    import sam2  # noqa: F401  (registers the config search path with Hydra)
    from sam2.build_sam import build_sam2

    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}: 1024 (SAM2, SAM2CT) or 512 (MedSAM2)")
    memory_policy = resolve_policy(memory_policy, None)
    feat = image_size // 16
    overrides = [
        "++model._target_=segmentation.sam2ct.model.SAM2CT",
        f"++model.image_size={image_size}",
        f"++model.mcm={str(mcm).lower()}",
        f"++model.memory_policy={memory_policy}",
        f"++model.memory_attention.layer.self_attention.feat_sizes=[{feat},{feat}]",
        f"++model.memory_attention.layer.cross_attention.feat_sizes=[{feat},{feat}]",
    ]
    return build_sam2(CONFIG, None, device=device, mode="eval", hydra_overrides_extra=overrides, apply_postprocessing=False)


def sha256_prefix(path: Path, n: int = 12) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:n]


def load_checkpoint(model, path: Path) -> LoadReport:
    """Load ``torch.load(path)["model"]``; refuse wrong shapes or missing keys other than SAM2CT's extras."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError("not_a_checkpoint", f"{path}: {type(exc).__name__}: {exc}") from None
    state = ckpt.get("model") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("not_a_checkpoint", f"{path}: no 'model' state dict of tensors")
    own = model.state_dict()
    wrong = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}" for k, v in state.items()
             if k in own and own[k].shape != v.shape]
    if wrong:
        raise CheckpointError("shape_mismatch", f"{path}: {len(wrong)} tensors do not fit, e.g. {wrong[:3]}")
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    not_allowed = [k for k in missing if k not in SAM2CT_ONLY]
    if not_allowed:
        raise CheckpointError("missing_keys", f"{path}: {len(not_allowed)} model tensors absent, e.g. {not_allowed[:3]}")
    model.load_state_dict(state, strict=False)
    layout = "sam2ct" if not any(k in missing for k in SAM2CT_ONLY) else "sam2"
    return LoadReport(str(path), layout, sha256_prefix(path), missing, unexpected)
