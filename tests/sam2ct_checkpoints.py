"""Tiny SAM2CT checkpoints in the two real layouts (``{"model": state_dict}``), since no weights can be downloaded:
the SAM2CT layout (with the line/arrow prompt embeddings) and the stock SAM2 / MedSAM2 layout (without them)."""
from pathlib import Path

import torch

from segmentation.sam2ct.build import SAM2CT_ONLY


def sam2_layout(state: dict) -> dict:
    """A SAM2CT state dict as a stock SAM2 checkpoint holds it: no line/arrow prompt embeddings."""
    return {k: v for k, v in state.items() if k not in SAM2CT_ONLY}


def save_layouts(model, folder: Path, sam2_name: str = "sam2.pt") -> Path:
    """``folder/sam2ct.pt`` and ``folder/<sam2_name>`` from one model; returns the folder."""
    state = model.state_dict()
    torch.save({"model": state}, folder / "sam2ct.pt")
    torch.save({"model": sam2_layout(state)}, folder / sam2_name)
    return folder
