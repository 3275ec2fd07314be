"""Finding backends behind one interface: ``analyse(sentence) -> dict`` plus a name recorded in every row."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

BACKENDS = ("rules", "radgraph")


def make_backend(name: str = "rules", model_dir: Optional[Path] = None) -> tuple[Callable[[str], dict], str]:
    if name == "rules":
        if model_dir is not None:
            raise ValueError("the rules backend takes no model folder")
        from linking.rules import analyse, backend_name
        return analyse, backend_name()
    if name == "radgraph":
        from linking.radgraph_backend import RadGraphBackend
        rg = RadGraphBackend(model_dir)
        return rg.analyse, rg.name
    raise ValueError(f"unknown finding backend {name!r}: use one of {', '.join(BACKENDS)}")
