"""Fuzz target for the GSPS/SR parsers: any bytes -> annotations or quarantine rows, never an exception.

    python tests/fuzz_parsers.py -atheris_runs=100000      # coverage-guided, when atheris is installed
    python tests/fuzz_parsers.py --mutations 5000          # plain mutation of the real samples otherwise

The seed corpus is the real GSPS/SR samples in tests/data; mutations flip, insert, delete and truncate bytes.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from curation.extract.stage import parse_object  # noqa: E402
from curation.dicom.lookup import ImageLookup  # noqa: E402
from schemas import InstanceRecord  # noqa: E402

SEEDS = sorted((HERE / "data" / "agfa_impax_agility_gsps").glob("*.dcm")) + sorted((HERE / "data" / "dcmjs_tid1500_sr").glob("*.dcm"))
_LOOKUP = ImageLookup([])
_TMP = Path(tempfile.mkdtemp(prefix="opseg-fuzz-")) / "object.dcm"


def check_one(data: bytes, category: str) -> tuple[list, list]:
    """Parse one object; fail loudly on anything but annotations + quarantine rows with reasons."""
    _TMP.write_bytes(data)
    inst = InstanceRecord(path=str(_TMP), size=len(data), mtime_ns=0, sop_uid="1.2.3", sop_class_uid="", study_uid="9",
                          series_uid="8", category=category)
    recs, bad, _ = parse_object(inst, _LOOKUP)
    for q in bad:
        assert q.reason and q.path == str(_TMP), q
    for r in recs:
        for p in r.points_px or []:
            assert all(v == v and abs(v) != float("inf") for v in p), r
    return recs, bad


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        pos = rng.randrange(len(b)) if b else 0
        if op < 0.4 and b:
            b[pos] = rng.randrange(256)
        elif op < 0.6:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op < 0.8 and b:
            del b[pos:pos + rng.randint(1, 64)]
        else:
            b = b[:pos]
    return bytes(b)


def run_mutations(n: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    corpus = [(p.read_bytes(), "gsps" if "gsps" in p.parent.name else "sr") for p in SEEDS]
    outcomes = {"annotations": 0, "quarantined": 0}
    for _ in range(n):
        data, category = rng.choice(corpus)
        recs, bad = check_one(mutate(data, rng), category)
        outcomes["annotations"] += len(recs)
        outcomes["quarantined"] += bool(bad)
    return outcomes


def atheris_main() -> None:
    import atheris

    def one_input(data: bytes) -> None:
        check_one(data, "gsps" if data[:1] < b"\x80" else "sr")
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    if any(a.startswith("-atheris") for a in sys.argv[1:]) or os.environ.get("OPSEG_FUZZ_ATHERIS"):
        atheris_main()
    else:
        ap = argparse.ArgumentParser()
        ap.add_argument("--mutations", type=int, default=2000)
        ap.add_argument("--seed", type=int, default=0)
        a = ap.parse_args()
        print(run_mutations(a.mutations, a.seed))
