"""Model checksums key the completion markers: new weights under the same path re-run a stage; the hash of a big
checkpoint is computed once per (path, size, mtime)."""
import json
import os

from curation.pipeline.checksums import CACHE, model_checksum


def test_checksum_changes_with_the_weights_and_is_cached(tmp_path, monkeypatch):
    out, weights = tmp_path / "out", tmp_path / "w.pt"
    weights.write_bytes(b"weights v1")
    first = model_checksum(out, [weights])
    assert first and model_checksum(out, []) == ""
    cache = json.loads((out / CACHE).read_text())
    assert [v["size"] for v in cache.values()] == [10]
    opened = []
    monkeypatch.setattr("builtins.open", lambda *a, _o=open, **k: opened.append(a[0]) or _o(*a, **k))
    assert model_checksum(out, [weights]) == first and str(weights) not in map(str, opened)  # from the cache
    monkeypatch.undo()
    weights.write_bytes(b"weights v2")
    os.utime(weights, ns=(1, 1))
    assert model_checksum(out, [weights]) != first
    folder = tmp_path / "model"
    (folder / "vocabulary").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    a = model_checksum(out, [folder])
    (folder / "vocabulary" / "tokens.txt").write_text("x")
    assert model_checksum(out, [folder]) != a
    assert model_checksum(out, [tmp_path / "absent.pt"]) != model_checksum(out, [weights])
