"""spaCy and presidio without torch where nothing could use it, and with it where something could."""
from __future__ import annotations

import importlib.util
import sys
from types import SimpleNamespace

import pytest

from curation.io import nlp_imports
from curation.io.nlp_imports import modules_absent, torch_spacy_plugins
from fresh_process import fresh_python

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")


def test_a_hidden_module_fails_to_import_and_comes_back_as_it_was():
    loaded = sys.modules["json"]
    with modules_absent("json", "opseg_not_a_module"):
        with pytest.raises(ImportError):
            import json  # noqa: F401
    assert sys.modules["json"] is loaded and "opseg_not_a_module" not in sys.modules


def _entry_point(dist_name: str, requires: list[str]):
    return SimpleNamespace(dist=SimpleNamespace(name=dist_name, requires=requires))


def test_a_spacy_plugin_that_needs_torch_is_found_one_that_needs_it_for_an_extra_is_not(monkeypatch):
    groups = {"spacy_factories": [_entry_point("spacy-transformers", ["spacy>=3.5", "torch>=1.8.0", "transformers"]),
                                  _entry_point("presidio-analyzer", ['transformers>=4.28; extra == "transformers"'])],
              "spacy_architectures": [_entry_point("spacy-legacy", [])],
              "thinc_layers": [_entry_point("my-layers", ["Torch_Geometric; python_version>'3'", "curated_transformers<3"])]}
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: groups.get(group, []))
    torch_spacy_plugins.cache_clear()
    try:
        assert torch_spacy_plugins() == ("my-layers", "spacy-transformers")
    finally:
        torch_spacy_plugins.cache_clear()


@needs_torch
def test_the_rules_backend_and_the_scrubber_load_no_torch_and_torch_still_imports_after():
    """thinc imports torch (~2 CPU s) whenever it is installed; with no spaCy plugin here that runs on torch, the link
    backend and the scrubber (presidio's device check included) leave it out, and a later `import torch` works."""
    if torch_spacy_plugins():
        pytest.skip(f"a spaCy plugin here runs on torch ({torch_spacy_plugins()}): spaCy keeps it")
    out = fresh_python("import sys; from linking.rules import analyse; from curation.deid.text import TextScrubber; "
                       "a = analyse('A 12 mm nodule in the right lower lobe.'); "
                       "r = TextScrubber(engine='regex').scrub('Mail jane.doe@example.org today.'); "
                       "from thinc.compat import has_torch; print('torch' in sys.modules, has_torch, a['laterality'], "
                       "r.text); import torch; print(torch.zeros(2).sum().item())")
    assert out.split("\n") == ["False False right Mail [EMAIL] today.", "0.0"]


@needs_torch
def test_spacy_keeps_thinc_torch_support_when_torch_is_already_loaded():
    out = fresh_python("import torch; from curation.io.nlp_imports import import_spacy; import_spacy(); "
                       "from thinc.compat import has_torch; print(has_torch)")
    assert out == "True"


def test_import_spacy_returns_the_loaded_module():
    spacy = nlp_imports.import_spacy()
    assert spacy is sys.modules["spacy"] and hasattr(spacy, "blank")
