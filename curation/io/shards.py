"""Work split by study: a study always lands in the same shard for a given shard count, so a rerun or a
resumed run recomputes exactly the shards that were not finished and writes the same part files."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def contains(self, study_uid: Optional[str]) -> bool:
        if self.count == 1:
            return True
        h = int(hashlib.sha1((study_uid or "").encode()).hexdigest()[:8], 16)
        return h % self.count == self.index

    @property
    def part(self) -> str:
        """The part file a stage writes for this shard (the whole-archive shard keeps the plain name)."""
        return "part-00000" if self.count == 1 else f"shard-{self.index:05d}-of-{self.count:05d}"

    def quarantine_part(self, stage: str) -> str:
        return stage if self.count == 1 else f"{stage}-{self.part}"


ALL = Shard()
