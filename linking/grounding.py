"""Which findings may ground a mark, and why the others may not (written into their entities_json).

Only FINDINGS, IMPRESSION and ADDENDUM sentences ground marks. A value repeated in the conclusion or in an
addendum list (same long axis within the coarser precision) is one lesion with the body sentence: it is
grounded on the body, even when the conclusion names another place ("segment 5" in the findings, "segment 7"
in the conclusion). When only the repeat cites an image, the repeat grounds instead, since the image is the
stronger evidence; either way the one left out says which finding it repeats.
"""
from __future__ import annotations

import json

from linking.headers import GROUNDED_SECTIONS


def _meta(f) -> dict:
    return json.loads(f.entities_json or "{}")


def _longs(meta: dict) -> list[tuple[float, float]]:
    return [(max(s["dims_mm"]), s["precision_mm"]) for s in meta.get("sizes", [])
            if s["temporal"] == "current" and not {"sum", "change", "attribute"} & set(s.get("flags", []))]


def _set_reason(f, meta: dict, reason: str) -> None:
    meta["not_grounded"] = reason
    f.entities_json = json.dumps(meta)


def usable_findings(findings: list) -> list:
    """The findings that can ground a mark; the rest get ``not_grounded`` in their entities_json."""
    metas = {id(f): _meta(f) for f in findings}
    candidates = [f for f in findings if "not_grounded" not in metas[id(f)]
                  and (f.section or "").split("/")[0] in GROUNDED_SECTIONS]
    body = [f for f in candidates if (f.section or "").startswith("FINDINGS")]
    body_ids = {id(f) for f in body}
    left_out: set[int] = set()
    for f in candidates:
        if id(f) in body_ids:
            continue
        mine = _longs(metas[id(f)])
        same = [b for b in body if b.report_id == f.report_id and id(b) not in left_out
                and any(abs(a - v) <= max(pa, pv) for a, pa in mine for v, pv in _longs(metas[id(b)]))]
        if not same:
            continue
        b = same[0]
        if f.image_refs and not b.image_refs:
            left_out.add(id(b))
            _set_reason(b, metas[id(b)], f"repeated_in:{f.finding_id}")
        else:
            left_out.add(id(f))
            _set_reason(f, metas[id(f)], f"repeat_of:{b.finding_id}")
    return [f for f in candidates if id(f) not in left_out]
