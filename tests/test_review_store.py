"""Review scores: appended without loss, the latest per reviewer counts, the bar for publishing, and Cohen's kappa
(checked against a textbook example)."""
import datetime as dt

import pytest

from curation.io.reviews import ReviewStore, passing_masks
from curation.publish.review_stats import cohen_kappa, pseudonymous_labels

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_appends_keep_history_and_latest_per_reviewer_counts(tmp_path):
    store = ReviewStore(tmp_path)
    store.append("m1", "ann", "major", "leaks", at=T0)
    store.append("m1", "ann", "accept", at=T0 + dt.timedelta(minutes=1))
    store.append("m1", "bo", "minor", at=T0 + dt.timedelta(minutes=2))
    assert len(list((tmp_path / "reviews").glob("*.parquet"))) == 3
    fresh = ReviewStore(tmp_path)  # another process, or a restarted server
    assert [r.score for r in fresh.records()] == ["major", "accept", "minor"]
    assert {k: r.score for k, r in fresh.latest().items()} == {("m1", "ann"): "accept", ("m1", "bo"): "minor"}
    with pytest.raises(ValueError):
        store.append("m1", "ann", "great")


def test_passing_masks_needs_every_reviewer_to_meet_the_bar(tmp_path):
    store = ReviewStore(tmp_path)
    for i, (mask, who, score) in enumerate([("a", "x", "accept"), ("a", "y", "accept"), ("b", "x", "major"),
                                            ("b", "x", "accept"), ("c", "x", "accept"), ("c", "y", "minor"),
                                            ("d", "x", "accept"), ("d", "x", "major")]):
        store.append(mask, who, score, at=T0 + dt.timedelta(seconds=i))
    assert passing_masks(store.records(), "accept") == {"a", "b"}
    assert passing_masks(store.records(), "minor") == {"a", "b", "c"}


def test_cohen_kappa_textbook_example():
    # 50 items: both yes 20, yes/no 5, no/yes 10, both no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(["accept", "minor", "major"], ["accept", "minor", "major"]) == pytest.approx(1.0)
    assert cohen_kappa(["accept"] * 4, ["accept"] * 4) is None  # chance agreement is total: undefined
    assert cohen_kappa([], []) is None


def test_card_labels_never_show_names():
    assert pseudonymous_labels(["Dr Ann Lee", "bo", "Dr Ann Lee"]) == {"Dr Ann Lee": "reviewer 1", "bo": "reviewer 2"}


def test_duckdb_view_of_reviews_empty_and_filled(tmp_path):
    from curation.io.query import connect

    assert connect(tmp_path).sql("select count(*), typeof(max(reviewed_at)) from reviews").fetchall() == [(0, "TIMESTAMP WITH TIME ZONE")]
    ReviewStore(tmp_path).append("m1", "ann", "minor", "ok", at=T0)
    assert connect(tmp_path).sql("select mask_id, reviewer, score, comment, reviewed_at = timestamptz '2026-01-01 00:00:00+00' "
                                 "from reviews").fetchall() == [("m1", "ann", "minor", "ok", True)]
