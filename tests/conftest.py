import json
from pathlib import Path

import pytest

from curation.demo import generate_archive
from curation.extract import extract


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_archive(out, seed=0, n_studies=3, bad_input=True)
    return out


@pytest.fixture(scope="session")
def demo_out(demo_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    extract(demo_dir / "dicom", out, reports=[demo_dir / "reports.jsonl"], workers=2)
    return out


@pytest.fixture(scope="session")
def truth(demo_dir) -> dict:
    def rows(name):
        return [json.loads(line) for line in (demo_dir / "truth" / name).read_text().splitlines()]
    return {"annotations": rows("annotations.jsonl"), "lesions": rows("lesions.jsonl"), "reports": rows("reports.jsonl")}
