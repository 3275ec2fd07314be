"""The RadGraph backend through the radgraph package's real loading code, with a tiny model the test builds."""
import shutil

import pytest

from curation.io.tables import read_records
from linking.radgraph_backend import RadGraphBackend, RadGraphModelError
from linking.radgraph_schema import normalise_label, summarise
from linking.stage import run_link
from schemas import FindingRecord

pytest.importorskip("radgraph", reason="install with `make install-radgraph`")
from radgraph_tiny import build_tiny_radgraph  # noqa: E402  (tests/ is on sys.path under pytest)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_radgraph(tmp_path_factory.mktemp("rg"))


def test_loads_offline_and_gives_the_same_fields_as_the_rules(tiny_model):
    rg = RadGraphBackend(tiny_model)
    out = rg.analyse("A nodule in the right lower lobe measures 9 mm.")
    assert set(out) == {"radgraph", "observation", "anatomy", "laterality", "negated", "uncertain", "history"}
    labels = {e["label"] for e in out["radgraph"]["entities"].values()}
    assert labels <= {"ANAT-DP", "ANAT-DA", "ANAT-U", "OBS-DP", "OBS-DA", "OBS-U"}
    assert rg.name.startswith("radgraph 0.1.18 (radgraph")


def test_link_stage_rows_record_the_radgraph_backend(tiny_model, demo_out, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(demo_out, out)
    run_link(out, backend="radgraph", model_dir=tiny_model)
    findings = read_records(out, FindingRecord)
    assert findings and all(f.backend.startswith("radgraph 0.1.18") for f in findings)
    assert any(f.sizes_mm for f in findings)  # sizes and image references come from the shared parsers


def test_missing_files_fail_clearly_without_download(tmp_path):
    folder = tmp_path / "radgraph-xl"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(RadGraphModelError, match="missing vocabulary, weights.th"):
        RadGraphBackend(folder)
    with pytest.raises(RadGraphModelError, match="named after the model type"):
        RadGraphBackend(tmp_path)


def test_xl_labels_normalise_to_v1():
    assert normalise_label("Observation::definitely absent") == "OBS-DA"
    assert normalise_label("Anatomy::definitely present") == "ANAT-DP"
    assert normalise_label("Observation::measurement::definitely present") == "OBS-DP"
    assert normalise_label("Observation::uncertain") == "OBS-U"
    ents = {"1": {"tokens": "effusion", "label": "Observation::definitely absent", "start_ix": 1, "end_ix": 1,
                  "relations": [["located_at", "2"]]},
            "2": {"tokens": "left pleural", "label": "Anatomy::definitely present", "start_ix": 2, "end_ix": 3, "relations": []}}
    s = summarise("no effusion left pleural", ents)
    assert (s["observation"], s["anatomy"], s["laterality"], s["negated"]) == ("effusion", "left pleural", "left", True)
