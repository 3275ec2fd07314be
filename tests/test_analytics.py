"""Every query in docs/analytics.md runs on a linked, QC'd demo output and returns rows."""
import re
import shutil
from pathlib import Path

import pytest

from curation.qc.stage import QCThresholds, run_qc
from curation.io.query import connect

DOC = Path(__file__).resolve().parents[1] / "docs" / "analytics.md"
QUERIES = re.findall(r"```sql\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture()
def full_out(processed_out):
    return processed_out


def test_there_are_at_least_five_queries():
    assert len(QUERIES) >= 5


@pytest.mark.parametrize("sql", QUERIES, ids=[q.splitlines()[0][:40] for q in QUERIES])
def test_query_runs_and_returns_rows(full_out, sql):
    rows = connect(full_out).sql(sql).fetchall()
    assert rows


def test_views_exist_for_absent_tables(demo_out):
    con = connect(demo_out)  # no masks, links or qc yet
    assert con.sql("select count(*) from qc").fetchall() == [(0,)]
    assert con.sql("select count(*) from masks m join annotations a using (annotation_id)").fetchall() == [(0,)]


def test_qc_verdicts_and_thresholds(full_out, tmp_path):
    shutil.copytree(full_out, tmp_path / "out")
    full_out = tmp_path / "out"  # the strict run below rewrites qc: work on a copy
    con = connect(full_out)
    verdicts = con.sql("select count(*), count(*) filter (where passed) from qc where metric = 'qc_pass'").fetchall()[0]
    n_masks = con.sql("select count(*) from masks where error is null").fetchall()[0][0]
    # marks with a drawn size are checked against it and mostly pass; arrows are checked by their tip and shaft
    # (calibrated on real CT): an arrow mask passes only if those pass (an arrow saved as its tip alone, without a
    # shaft, is never checkable)
    n_sized = con.sql("select count(*) from masks m join annotations a using (annotation_id) where m.error is null "
                      "and a.kind not in ('arrow', 'point')").fetchall()[0][0]
    assert verdicts[0] == n_masks and n_sized < n_masks and verdicts[1] >= 0.8 * n_sized
    arrows = con.sql("select m.mask_id, count(*) filter (where q.metric like 'arrow_%'), "
                     "bool_and(q.passed) filter (where q.metric like 'arrow_%' or q.metric = 'size_checkable'), "
                     "bool_or(q.passed) filter (where q.metric = 'qc_pass') from qc q join masks m on q.entity_id = m.mask_id "
                     "join annotations a using (annotation_id) where a.kind = 'arrow' group by 1").fetchall()
    assert any(n == 4 and passed for _, n, _, passed in arrows)
    assert all(checked or not passed for _, _, checked, passed in arrows)
    passed_before = {r[0] for r in con.sql("select entity_id from qc where metric = 'qc_pass' and passed").fetchall()}
    strict = run_qc(full_out, QCThresholds.from_pairs(["max_recist_error_pct=0.01"]))
    assert strict["passed"] < verdicts[1]
    # what the strict threshold newly fails, it fails for the RECIST error (masks failing other checks at the
    # defaults keep their own reasons)
    reasons = con.sql("select entity_id, detail from qc where metric = 'qc_pass' and not passed").fetchall()
    newly = [d for e, d in reasons if e in passed_before]
    assert newly and all("recist_error_pct" in d for d in newly)
    with pytest.raises(ValueError, match="unknown QC threshold"):
        QCThresholds.from_pairs(["nonsense=1"])
