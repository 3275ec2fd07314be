"""Negation and uncertainty from medspaCy's ConText (its ~100 default rules) on the rules backend's own
observation spans, so the two judges see the same targets; ``benchmarks/bench_negation.py`` compares them.

medspaCy 1.3.1 pins spacy<3.8 in its metadata but runs on spacy 3.8 when installed with --no-deps after its
real needs (see the shared design note "linking" and pyproject.toml's ``context`` extra).
"""
from __future__ import annotations

from functools import lru_cache


class ContextUnavailable(RuntimeError):
    pass


@lru_cache(maxsize=1)
def _context():
    try:
        import medspacy  # noqa: F401  (registers the Span extensions)
        from medspacy.context import ConText
    except ImportError as exc:
        raise ContextUnavailable("medspaCy is not installed: `make install-context` (see README)") from exc
    from linking.rules import nlp
    return ConText(nlp())


def context_assertion(doc, text: str, observations: list) -> dict:
    """(negated, uncertain) per observation span, as ConText reads the sentence."""
    from spacy.tokens import Span
    from spacy.util import filter_spans

    ctx = _context()
    for i, token in enumerate(doc):
        token.is_sent_start = i == 0
    targets = filter_spans([Span(doc, o.start, o.end, label="OBS") for o in observations])
    doc.ents = targets
    ctx(doc)
    by_span = {(e.start, e.end): (bool(e._.is_negated), bool(e._.is_uncertain or e._.is_hypothetical)) for e in doc.ents}
    return {o: by_span.get((o.start, o.end), (False, False)) for o in observations}


def analyse(text: str) -> dict:
    from linking.rules import analyse as rules_analyse
    return rules_analyse(text, assertion=context_assertion)
