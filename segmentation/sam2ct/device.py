"""Device and mixed-precision choice, checked before any work starts (not mid-run)."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Optional

import torch

from curation.io.errors import ReasonedError


class DeviceError(ReasonedError):
    """A requested device this machine cannot give."""


def resolve_device(device: Optional[str]) -> str:
    """``None``: cuda when a GPU is usable, else cpu. ``cuda[:N]`` without a usable GPU fails here, at start."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device)
    except RuntimeError as exc:
        raise DeviceError("bad_device", f"--device {device!r}: {exc}") from None
    if kind.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("no_cuda", f"--device {device}: no usable CUDA GPU here (torch {torch.__version__}, "
                                         "torch.cuda.is_available() is False); use --device cpu")
        if kind.index is not None and kind.index >= torch.cuda.device_count():
            raise DeviceError("no_cuda", f"--device {device}: only {torch.cuda.device_count()} GPU(s) visible")
    elif kind.type != "cpu":
        raise DeviceError("bad_device", f"--device {device}: use cuda[:N] or cpu")
    return device


def autocast(device: str, amp: Optional[str] = None):
    """bf16 autocast on GPU by default; ``amp="bf16"`` also on CPU (tests the mixed-precision path there),
    ``amp="off"`` disables it."""
    kind = torch.device(device).type
    if amp is None:
        amp = "bf16" if kind == "cuda" else "off"
    if amp == "off":
        return nullcontext()
    if amp != "bf16":
        raise ValueError(f"amp must be bf16 or off, not {amp!r}")
    return torch.autocast(kind, dtype=torch.bfloat16)
