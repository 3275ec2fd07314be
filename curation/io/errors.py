"""One exception shape for everything that ends in quarantine: a short machine-readable reason + detail."""
from __future__ import annotations


class ReasonedError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail
