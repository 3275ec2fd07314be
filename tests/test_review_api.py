"""The review app over real HTTP (uvicorn on 127.0.0.1, a free port): the mask list, scoring, concurrent writers,
resuming after a restart, and bad requests: unknown mask, bad score, malformed or oversized bodies, path
traversal (plain, percent-encoded, through a symlink), a foreign Host header."""
import http.client
import json
import threading

import httpx
import pyarrow.parquet as pq
import pytest

from curation.deid.tables import MANIFEST
from curation.io.reviews import ReviewStore
from curation.review.app import MAX_BODY_BYTES
from curation.review.catalog import build_catalog
from curation.review.server import BackgroundServer


@pytest.fixture(scope="module")
def catalog(review_out):
    return build_catalog(review_out)


@pytest.fixture(scope="module")
def server(catalog):
    with BackgroundServer(catalog, reviewer="api-default", lifetime_s=240) as url:
        yield url


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server, timeout=10) as c:
        yield c


def _rows(out, reviewer):
    return [r for r in ReviewStore(out).records() if r.reviewer == reviewer]


def test_serves_the_deidentified_copy_and_lists_every_mask(catalog, client, processed_out):
    assert catalog.served == catalog.out / "deid" and (catalog.served / MANIFEST).exists()
    raw_ids = set(pq.read_table(processed_out / "masks", columns=["mask_id"]).column("mask_id").to_pylist())
    served_ids = set(pq.read_table(catalog.served / "masks", columns=["mask_id"]).column("mask_id").to_pylist())
    body = client.get("/api/masks", params={"reviewer": "lister"}).json()
    ids = [m["mask_id"] for m in body["masks"]]
    assert ids and len(ids) == len(set(ids)) and set(ids) <= served_ids and not set(ids) & raw_ids
    assert set(body["masks"][0]) == {"mask_id", "study", "prompt_kind", "qc_verdict", "review_state", "my_score",
                                     "n_reviewers"}
    assert {m["qc_verdict"] for m in body["masks"]} <= {"pass", "fail", None}
    page = client.get("/")
    assert page.status_code == 200 and "review.js" in page.text and "default-src 'self'" in page.headers["content-security-policy"]
    section = client.get(f"/api/masks/{ids[0]}/section")
    assert section.status_code == 200 and section.text.count("<img src='img/") == 3


def test_a_score_is_stored_under_the_output_mask_id_and_resorts_the_list(catalog, client):
    first = client.get("/api/masks", params={"reviewer": "rita"}).json()["masks"]
    target = first[0]["mask_id"]
    r = client.post("/api/reviews", json={"mask_id": target, "score": "minor", "comment": "trim the edge",
                                          "reviewer": "rita"})
    assert r.status_code == 201 and r.json()["score"] == "minor"
    r = client.post("/api/reviews", json={"mask_id": target, "score": "accept", "reviewer": "rita"})
    assert r.status_code == 201
    rows = _rows(catalog.out, "rita")
    stored = catalog.by_id()[target].stored_id
    assert [(x.mask_id, x.score, x.comment) for x in rows] == [(stored, "minor", "trim the edge"), (stored, "accept", None)]
    after = client.get("/api/masks", params={"reviewer": "rita"}).json()["masks"]
    assert after[-1]["mask_id"] == target and after[-1]["my_score"] == "accept" and after[-1]["review_state"] == "reviewed"
    assert all(m["review_state"] == "unreviewed" for m in after[:-1])
    assert next(m for m in client.get("/api/masks", params={"reviewer": "other"}).json()["masks"]
                if m["mask_id"] == target)["my_score"] is None  # another reviewer still has it to do


def test_concurrent_reviewers_lose_nothing(catalog, server):
    ids = [i.mask_id for i in catalog.items]
    statuses = []

    def post(k):
        with httpx.Client(base_url=server, timeout=10) as c:
            statuses.append(c.post("/api/reviews", json={"mask_id": ids[k % len(ids)], "score": "accept",
                                                         "reviewer": f"crowd-{k % 4}"}).status_code)

    threads = [threading.Thread(target=post, args=(k,)) for k in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert statuses == [201] * 24
    assert sum(len(_rows(catalog.out, f"crowd-{k}")) for k in range(4)) == 24


def test_a_restarted_server_resumes_where_the_reviewer_stopped(catalog, review_out):
    ids = [i.mask_id for i in catalog.items]
    with BackgroundServer(catalog, reviewer="resumer", lifetime_s=60) as url:
        assert httpx.post(f"{url}/api/reviews", json={"mask_id": ids[1], "score": "major"}, timeout=10).status_code == 201
    with BackgroundServer(build_catalog(review_out), reviewer="resumer", lifetime_s=60) as url:
        masks = httpx.get(f"{url}/api/masks", timeout=10).json()["masks"]
    assert masks[-1]["mask_id"] == ids[1] and masks[-1]["my_score"] == "major"


@pytest.mark.parametrize("body, headers, status, reason", [
    ({"mask_id": "0" * 16, "score": "accept"}, None, 404, "unknown_mask"),
    ({"score": "accept"}, None, 422, "missing_mask_id"),
    ({"mask_id": "FIRST", "score": "perfect"}, None, 422, "bad_score"),
    ({"mask_id": "FIRST", "score": None}, None, 422, "bad_score"),
    ({"mask_id": "FIRST", "score": "accept", "comment": 5}, None, 422, "bad_comment"),
    ({"mask_id": "FIRST", "score": "accept", "comment": "x" * 2001}, None, 422, "bad_comment"),
    ({"mask_id": "FIRST", "score": "accept", "reviewer": "  "}, None, 422, "bad_reviewer"),
    ({"mask_id": "FIRST", "score": "accept", "admin": True}, None, 422, "unknown_fields"),
    (b"{\"mask_id\": ", None, 400, "malformed_json"),
    (b"[1, 2]", None, 400, "malformed_json"),
    (b"\xff\xfe", None, 400, "malformed_json"),
    (b"[" * 6000 + b"]" * 6000, None, 400, "malformed_json"),
    (b"{}" + b" " * MAX_BODY_BYTES, None, 413, "body_too_large"),
    (b"mask_id=FIRST&score=accept", {"content-type": "application/x-www-form-urlencoded"}, 415, "not_json"),
])
def test_bad_reviews_get_a_4xx_with_a_reason_and_write_nothing(catalog, client, body, headers, status, reason):
    first = catalog.items[0].mask_id
    before = len(ReviewStore(catalog.out).records())
    if isinstance(body, dict):
        body = json.dumps({k: (first if v == "FIRST" else v) for k, v in body.items()}).encode()
    r = client.post("/api/reviews", content=body, headers=headers or {"content-type": "application/json"})
    assert (r.status_code, r.json()["error"]) == (status, reason), r.text
    assert r.json()["detail"]
    assert len(ReviewStore(catalog.out).records()) == before


def _raw_get(base_url, path, host=None):
    """A request line sent as written: no client-side normalisation of ../ or %2e%2e."""
    hostport = base_url.split("//")[1]
    conn = http.client.HTTPConnection(*hostport.split(":"), timeout=10)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host or hostport)
    conn.endheaders()
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def test_nothing_outside_the_pictures_is_readable(catalog, server):
    out = catalog.out
    secret = (out / "_secret" / "deid.key").read_bytes()
    section = httpx.get(f"{server}/api/masks/{catalog.items[0].mask_id}/section", timeout=10).text
    picture = section.split("src='img/")[1].split("'")[0]
    status, data = _raw_get(server, f"/img/{picture}")
    assert status == 200 and data.startswith(b"\x89PNG")
    link_name = "f" * 20 + "_axial.png"  # a name the picture pattern accepts, pointing outside the pictures
    (catalog.img_dir / link_name).symlink_to(out / "_secret" / "deid.key")
    outside = out.parent / ("o" * 20 + "_axial.png")
    outside.write_bytes(b"outside OUT")
    (catalog.img_dir / ("e" * 20 + "_axial.png")).symlink_to(outside)
    try:
        for path in ["/img/../_secret/deid.key", "/img/../../_secret/deid.key", "/img/..%2F..%2F_secret%2Fdeid.key",
                     "/img/%2e%2e/%2e%2e/_secret/deid.key", "/img/..%252F..%252F_secret%252Fdeid.key",
                     "/%2e%2e/_secret/deid.key", "/_secret/deid.key", "/masks/part-00000.parquet",
                     "/img/%2Fetc%2Fpasswd", "/img//etc/passwd", f"/img/{link_name}", "/img/" + "e" * 20 + "_axial.png",
                     "/api/masks/..%2F..%2F_secret%2Fdeid.key/section", "/review.js/../_secret/deid.key"]:
            status, data = _raw_get(server, path)
            assert 400 <= status < 500, (path, status)
            assert secret not in data and b"outside OUT" not in data and b"root:" not in data, path
    finally:
        (catalog.img_dir / link_name).unlink()
        (catalog.img_dir / ("e" * 20 + "_axial.png")).unlink()


def test_a_foreign_host_header_is_refused(server):
    status, _ = _raw_get(server, "/api/masks", host="attacker.example:80")
    assert status == 400


def test_cli_binds_loopback_and_serves_the_deidentified_copy_by_default(review_out, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from curation.cli import app as cli

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    res = CliRunner().invoke(cli, ["review", str(review_out), "--reviewer", "cli"])
    assert res.exit_code == 0, res.output
    assert calls == [{"host": "127.0.0.1", "port": 8765, "log_level": "warning"}]
    assert str(review_out / "deid") in res.output.replace("\n", "") and "WARNING" not in res.output
    res = CliRunner().invoke(cli, ["review", str(review_out), "--host", "0.0.0.0", "--port", "9000", "--no-deid"])
    assert res.exit_code == 0 and calls[-1]["host"] == "0.0.0.0" and "WARNING" in res.output and "IDENTIFIABLE" in res.output


def test_an_output_without_masks_is_refused_with_a_reason(demo_out):
    from typer.testing import CliRunner

    from curation.cli import app as cli

    res = CliRunner().invoke(cli, ["review", str(demo_out)])  # extract only: nothing segmented yet
    assert res.exit_code == 2 and "no_masks" in res.output


def test_no_deid_serves_the_output_itself(review_out, processed_out):
    catalog = build_catalog(review_out, deid=False)
    raw_ids = set(pq.read_table(processed_out / "masks", columns=["mask_id"]).column("mask_id").to_pylist())
    assert catalog.served == review_out and catalog.items
    assert all(i.mask_id == i.stored_id and i.mask_id in raw_ids for i in catalog.items)
