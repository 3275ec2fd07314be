"""Findings from a RadGraph model read from a local folder, through the radgraph package's own loader.

The folder is what the package unpacks into its cache, ``<dir>/<model_type>/`` with config.json,
vocabulary/ and weights.th (model_type radgraph, radgraph-xl or modern-radgraph-xl); the text encoder named
in config.json must be local too. Hub access is switched off before loading, so a missing file fails at
once with a clear message instead of a download attempt. One sentence per forward pass.
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from linking.radgraph_schema import summarise

MODEL_TYPES = ("radgraph", "radgraph-xl", "modern-radgraph-xl")
REQUIRED = ("config.json", "vocabulary", "weights.th")


class RadGraphModelError(ValueError):
    pass


class RadGraphBackend:
    def __init__(self, model_dir: Path | None):
        if model_dir is None:
            raise RadGraphModelError("the radgraph backend needs --model-dir: a local folder named after its model "
                                     f"type ({', '.join(MODEL_TYPES)}) holding {', '.join(REQUIRED)}")
        model_dir = Path(model_dir)
        if model_dir.name not in MODEL_TYPES:
            raise RadGraphModelError(f"{model_dir}: the folder must be named after the model type ({', '.join(MODEL_TYPES)})")
        missing = [f for f in REQUIRED if not (model_dir / f).exists()]
        if missing:
            raise RadGraphModelError(f"{model_dir}: missing {', '.join(missing)} (no download is attempted)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from radgraph import RadGraph
        except ImportError as exc:
            raise RadGraphModelError("the radgraph package is not installed: `make install-radgraph` (see README)") from exc
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints its device on load
            self.model = RadGraph(model_type=model_dir.name, model_cache_dir=str(model_dir.parent), cuda=-1)
        from importlib.metadata import version
        self.name = f"radgraph {version('radgraph')} ({model_dir.name})"  # the folder's name only: backends are published

    def analyse(self, text: str) -> dict:
        out = self.model(text) or {}
        doc = next(iter(out.values()), {"text": text, "entities": {}})
        return summarise(doc.get("text", text), doc.get("entities", {}))
