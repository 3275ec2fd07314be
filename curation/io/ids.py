"""Stable row ids: the same inputs give the same id in every run, process and executor."""
from __future__ import annotations

import hashlib


def stable_id(*parts: object) -> str:
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()[:16]
