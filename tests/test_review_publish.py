"""`opseg publish --min-review` keeps exactly the masks whose reviewers' latest scores meet the bar, carries the
reviews under pseudonyms, and the card reports counts, the acceptable-or-minor rate, kappa and QC vs score."""
import shutil

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from curation.cli import app
from curation.deid.secret import ProjectSecret
from curation.deid.tables import key_token
from curation.io.query import connect
from curation.io.reviews import ReviewStore


@pytest.fixture(scope="module")
def reviewed(review_out, tmp_path_factory):
    out = tmp_path_factory.mktemp("reviewed") / "out"
    shutil.copytree(review_out, out, ignore=shutil.ignore_patterns("reviews"))
    ids = [r[0] for r in connect(out).sql("select mask_id from masks where error is null order by mask_id").fetchall()]
    store = ReviewStore(out)
    plan = [(ids[0], "Dr Ann Lee", "accept"), (ids[0], "Bo Chen", "accept"),      # both accept
            (ids[1], "Dr Ann Lee", "major"), (ids[1], "Dr Ann Lee", "accept"),    # changed her mind: accept
            (ids[2], "Dr Ann Lee", "accept"), (ids[2], "Bo Chen", "minor"),       # minor by one: not 'accept'
            (ids[3], "Dr Ann Lee", "accept"), (ids[3], "Dr Ann Lee", "major")]    # latest is major
    for mask, who, score in plan:
        store.append(mask, who, score, comment="Dr Ann Lee says fine" if mask == ids[0] and who == "Bo Chen" else None)
    return out, ids


def _publish(out, hf, bar):
    res = CliRunner().invoke(app, ["publish", str(out), "--hf", str(hf), "--no-volumes", "--min-review", bar])
    assert res.exit_code == 0, res.output
    return {c: set(pq.read_table(hf / "data" / c, columns=["mask_id"]).column("mask_id").to_pylist())
            for c in ("masks", "grounded")}


def test_min_review_keeps_exactly_the_masks_that_meet_the_bar(reviewed, tmp_path):
    out, ids = reviewed
    secret = ProjectSecret.for_output(out)
    pseudo = {m: key_token(secret, m) for m in ids}
    linked = {r[0] for r in connect(out / "deid").sql("select mask_id from links where tier in ('A', 'B')").fetchall()}
    accepted = _publish(out, tmp_path / "hf-accept", "accept")
    assert accepted["masks"] == {pseudo[ids[0]], pseudo[ids[1]]}
    # grounded has one row per lesion (issue 16): two accepted, linked marks of one lesion give one row (which two
    # masks come first depends on the mask ids, and so on the backend's version)
    lesion = {pseudo[m]: les for m, les in connect(out).sql(
        "select m.mask_id, coalesce(lm.lesion_id, m.mask_id) from masks m left join lesion_members lm using (annotation_id)"
    ).fetchall() if m in pseudo}
    assert accepted["grounded"] <= accepted["masks"] & linked
    assert {lesion[g] for g in accepted["grounded"]} == {lesion[m] for m in accepted["masks"] & linked}
    rows = pq.read_table(tmp_path / "hf-accept" / "data" / "grounded", columns=["mask_id"]).num_rows
    assert rows == len({lesion[m] for m in accepted["masks"] & linked})   # one row per lesion, not per mask
    minor = _publish(out, tmp_path / "hf-minor", "minor")
    assert minor["masks"] == {pseudo[ids[0]], pseudo[ids[1]], pseudo[ids[2]]}

    card = (tmp_path / "hf-minor" / "README.md").read_text()
    review = card[card.index("## Radiologist review"):card.index("## Intended use")]
    assert "8 scores given" in review and "6 scores of 4 masks by 2 reviewer(s)" in review
    assert "(accept 4, minor 1, major 1)" in review  # latest per reviewer: 0:a,a 1:a 2:a,m 3:M
    assert "**83%** of scores, 75% of masks" in review and "87%" in review
    assert "reviewer 1 / reviewer 2: κ = 0.00 on 2 masks" in review  # (a,a),(a,m): p_o 0.5, p_e 0.5
    assert "| QC verdict | accept | minor | major |" in review
    assert "Ann Lee" not in card and "Chen" not in card

    import datasets

    loaded = datasets.load_dataset(str(tmp_path / "hf-minor"), "reviews")
    published = [row for split in loaded.values() for row in split]
    assert len(published) == 8 and all(r["reviewer"].startswith(("staff-", "reviewer-")) for r in published)
    comments = [r["comment"] for r in published if r["comment"]]
    assert len(comments) == 1 and "says fine" in comments[0] and "Ann" not in comments[0] and "Lee" not in comments[0]


def test_publish_refuses_an_unknown_bar(reviewed, tmp_path):
    out, _ = reviewed
    res = CliRunner().invoke(app, ["publish", str(out), "--hf", str(tmp_path / "hf"), "--no-volumes",
                                   "--min-review", "major"])
    assert res.exit_code == 2 and "bad_review_bar" in res.output


def test_scores_given_after_a_publish_reach_the_next_one(reviewed, tmp_path):
    """Publishing reads the de-identified copy: a score appended after the last publish must re-run deid."""
    out, ids = reviewed
    out2 = tmp_path / "out"
    shutil.copytree(out, out2)
    pseudo = {m: key_token(ProjectSecret.for_output(out2), m) for m in ids}
    before = _publish(out2, tmp_path / "hf-1", "accept")["masks"]
    assert pseudo[ids[3]] not in before
    ReviewStore(out2).append(ids[3], "Dr Ann Lee", "accept")
    after = _publish(out2, tmp_path / "hf-2", "accept")["masks"]
    assert after == before | {pseudo[ids[3]]}


def test_a_lesion_whose_accepted_mask_is_a_member_keeps_its_grounded_row(reviewed, tmp_path):
    """--min-review filters masks before one row per lesion is picked: accepting only a non-primary member's mask
    keeps the lesion, grounded on that mask."""
    out, _ = reviewed
    out2 = tmp_path / "out"
    shutil.copytree(out, out2, ignore=shutil.ignore_patterns("reviews"))
    rows = connect(out2).sql(
        "select lm.lesion_id, lm.mask_id from lesion_members lm join links l using (annotation_id) "
        "join masks m on m.mask_id = lm.mask_id and m.error is null "
        "where lm.role <> 'primary' and l.tier in ('A', 'B') order by 1, 2").fetchall()
    assert rows, "the demo plants repeated marks of one lesion"
    lesion, member = rows[0]
    ReviewStore(out2).append(member, "Dr Ann Lee", "accept")
    grounded = _publish(out2, tmp_path / "hf", "accept")["grounded"]
    assert grounded == {key_token(ProjectSecret.for_output(out2), member)}
