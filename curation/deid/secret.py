"""The project secret: every pseudonym is an HMAC under it, so the same archive always maps the same way and
nobody without the secret can recompute a mapping from a known UID or MRN."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Optional

ENV = "OPSEG_DEID_SECRET"


class ProjectSecret:
    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("the de-identification secret must be at least 16 bytes")
        self._key = key

    @classmethod
    def load(cls, path: Optional[Path] = None, create_at: Optional[Path] = None) -> "ProjectSecret":
        """From a file, else $OPSEG_DEID_SECRET, else a new random secret saved (0600) at create_at."""
        if path is not None:
            return cls(Path(path).read_bytes().strip())
        if os.environ.get(ENV):
            return cls(os.environ[ENV].encode())
        if create_at is None:
            raise ValueError(f"no secret: pass a secret file or set {ENV}")
        create_at = Path(create_at)
        if not create_at.exists():
            create_at.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(create_at, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_hex(32).encode())
        return cls(create_at.read_bytes().strip())

    @classmethod
    def for_output(cls, out: Path, path: Optional[Path] = None) -> "ProjectSecret":
        """The secret for an output folder: the file given, $OPSEG_DEID_SECRET, or OUT/_secret/deid.key."""
        return cls.load(path, create_at=Path(out) / "_secret" / "deid.key")

    def token(self, kind: str, value: str, n: int = 24) -> str:
        """Hex pseudonym of a value within a namespace (kind), e.g. token('annotation', id)."""
        return hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()[:n]

    def seed(self, kind: str, value: str) -> str:
        return self.token(kind, value, 64)

    @property
    def fingerprint(self) -> str:
        """Identifies which secret was used (for the manifest) without revealing it."""
        return self.token("fingerprint", "opseg", 16)
