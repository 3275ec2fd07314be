import json
import os
import tempfile
from pathlib import Path

import pytest

# One Hugging Face datasets cache per test session: the shared ~/.cache one holds datasets built by earlier sessions
# from files at the same temporary paths (pytest numbers its folders), and load_dataset could return those rows.
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="opseg-test-hf-datasets-")

from curation.demo import generate_archive
from curation.extract.stage import extract


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


@pytest.fixture(scope="session")
def processed_out(demo_out, tmp_path_factory) -> Path:
    """The demo output after segment, qc, lesions and link, the pipeline's order (a copy: demo_out stays
    extract-only). Treat as read-only."""
    import shutil

    from curation.lesions.stage import run_lesions
    from curation.qc.stage import run_qc
    from linking.stage import run_link
    from segmentation.stage import run_segment

    out = tmp_path_factory.mktemp("processed") / "out"
    shutil.copytree(demo_out, out)
    run_segment(out)
    run_qc(out)
    run_lesions(out)
    run_link(out)
    return out


@pytest.fixture(scope="session")
def review_out(processed_out, tmp_path_factory) -> Path:
    """A copy of processed_out that review tests may write scores into, with its de-identified copy and review
    pictures made once (build_catalog on it is then fast). Tests tell their scores apart by reviewer name."""
    import shutil

    from curation.review.catalog import build_catalog

    out = tmp_path_factory.mktemp("review") / "out"
    shutil.copytree(processed_out, out)
    build_catalog(out)
    return out


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium for the browser tests: required in CI (make system-deps installs it), else skipped."""
    import os
    import shutil

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs chromium (see .ci/run) so the pages are checked in a real browser")
        pytest.skip("no chromium on this machine")
    return browser
