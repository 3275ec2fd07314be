"""Finding backends: the offline rules (default) or a RadGraph model from a local folder."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional


def make_backend(name: str = "rules", model_dir: Optional[Path] = None) -> tuple[Callable[[str], dict], str]:
    if name == "rules":
        from linking.rules import analyse, backend_name
        return analyse, backend_name()
    if name == "radgraph":
        from linking.radgraph_backend import RadGraphBackend
        rg = RadGraphBackend(model_dir)
        return rg.analyse, rg.name
    raise ValueError(f"unknown finding backend {name!r}: use rules or radgraph")
