"""Finding backends. The offline rules are the default (and, in this build, the only one): a RadGraph-model
backend reading a local model folder is planned behind this same interface (issue 4)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

BACKENDS = ("rules",)


def make_backend(name: str = "rules", model_dir: Optional[Path] = None) -> tuple[Callable[[str], dict], str]:
    if name == "rules":
        if model_dir is not None:
            raise ValueError("the rules backend takes no model folder")
        from linking.rules import analyse, backend_name
        return analyse, backend_name()
    raise ValueError(f"unknown finding backend {name!r}: this build has {', '.join(BACKENDS)}")
