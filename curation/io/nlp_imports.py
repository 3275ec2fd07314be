"""spaCy and presidio-analyzer imported without the deep-learning packages they load but cannot use here.

thinc (spaCy's layer library) imports torch whenever it is installed, for its PyTorch wrappers, and presidio-analyzer
imports transformers (its Hugging Face engine) and torch (to pick a GPU for spaCy): torch alone is ~2 CPU s a
process, transformers' pipelines ~2-3 s (benchmarks/bench_link.py and bench_deid.py, start-up). opseg's rules link
backend, medspaCy ConText and the deid scrubber use spaCy's tokenizer, matchers and CPU pipelines and presidio's
recognisers. Each import here hides a package only where nothing in the process could use it through that library,
by Python's own ``sys.modules[name] = None`` (importing NAME then raises ImportError, which thinc's and presidio's
optional-dependency guards catch), and puts it back right after, so a later ``import torch`` works as usual.
"""
from __future__ import annotations

import re
import sys
import threading
from contextlib import contextmanager
from functools import lru_cache

# spaCy plugin entry-point groups: a package registering components or layers there may run them on torch via thinc
PLUGIN_GROUPS = ("spacy_factories", "spacy_architectures", "thinc_layers")
TORCH_PACKAGES = frozenset({"torch", "transformers", "curated-transformers"})
_HIDING = threading.RLock()


@contextmanager
def modules_absent(*names: str):
    """For the length of the block, ``import NAME`` fails as if NAME were not installed; afterwards each name is as it
    was: absent, or the module already loaded."""
    with _HIDING:   # one hiding at a time; sys.modules is process-wide, so call these before starting threads
        saved = {n: sys.modules[n] for n in names if n in sys.modules}
        for n in names:
            sys.modules[n] = None
        try:
            yield
        finally:
            for n in names:
                if sys.modules.get(n, 0) is None:
                    if n in saved:
                        sys.modules[n] = saved[n]
                    else:
                        del sys.modules[n]


@lru_cache(maxsize=1)
def torch_spacy_plugins() -> tuple[str, ...]:
    """Installed packages that register spaCy/thinc components or layers and need torch (spacy-transformers,
    spacy-curated-transformers: en_core_web_trf needs one of them); a requirement only for an extra does not count."""
    from importlib.metadata import entry_points

    found = set()
    for group in PLUGIN_GROUPS:
        for ep in entry_points(group=group):
            dist = ep.dist
            if dist is None or dist.name in found:
                continue
            needs = {re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0].lower().replace("_", "-")
                     for r in dist.requires or [] if "extra ==" not in r}
            if needs & TORCH_PACKAGES:
                found.add(dist.name)
    return tuple(sorted(found))


def import_spacy():
    """spaCy, with thinc's PyTorch support left out when torch is not loaded yet and no installed spaCy plugin runs
    on torch: spaCy's own components and the en_core_web_sm/md/lg pipelines run on numpy. Once spaCy is imported
    the choice is made for the process (thinc reads ``has_torch`` once)."""
    if "spacy" in sys.modules:
        return sys.modules["spacy"]
    if "torch" in sys.modules or torch_spacy_plugins():
        import spacy
        return spacy
    with modules_absent("torch"):
        import spacy
    return spacy


def import_presidio_analyzer():
    """presidio-analyzer as installed without its optional extras: without transformers (its Hugging Face engine,
    which opseg never uses), and without torch when spaCy cannot use a GPU in this process (thinc has neither torch
    nor CuPy), where presidio's device check could only end in spaCy on the CPU anyway."""
    import_spacy()
    from thinc import compat

    hidden = ["transformers"]
    if "torch" not in sys.modules and not compat.has_torch and not compat.has_cupy:
        hidden.append("torch")
    with modules_absent(*hidden):
        import presidio_analyzer
    return presidio_analyzer
