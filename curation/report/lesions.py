"""What the static QC report and the review app both show of a mask: the queries that gather a mask with its
mark, linked sentence and QC metrics, the overlay pictures (drawn once per content hash), and the HTML section."""
from __future__ import annotations

import hashlib
import html
import json
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Optional

from curation.dicom.cache import SeriesVolumes, series_volumes
from curation.dicom.volume import VolumeError
from schemas.mask_nifti import crop

VIEWS = ("axial", "coronal", "sagittal")
PICTURE_STYLE = "2"  # bump when the drawing changes, so cached pictures are redrawn
# zlib level of the pictures' PNGs: on the demo's 453 palette pictures level 1 takes 0.16 ms a picture against 0.67 at
# Pillow's default 6, for 1.49 MB against 1.17 (the RGB pictures before: 1.71 MB at level 6, 1.4 ms); docs/benchmarks.md
PNG_LEVEL = 1

LEGEND = ("<p class='legend'>mask outline<span style='background:#ff4040'></span> radiologist's mark"
          "<span style='background:#ffdc00'></span></p>")

MASKS_SQL = """
select m.mask_id, m.series_uid, m.mask, m.bbox, m.error, m.backend, m.recist_long_mm, m.recist_short_mm,
       m.volume_ml, a.annotation_id, a.kind, a.slice_index, a.points_px, a.tip_px, a.length_mm, a.study_uid,
       a.text as mark_text, q.passed as qc_passed, q.detail as qc_detail
from masks m join annotations a using (annotation_id)
left join qc q on q.entity_id = m.mask_id and q.metric = 'qc_pass'
order by a.study_uid, m.series_uid, m.mask_id
"""
LINKS_SQL = """
select l.annotation_id, l.tier, l.score, l.evidence, f.text, f.section, f.char_start, f.char_end, r.text as report_text
from links l join findings f using (finding_id) join reports r on r.report_id = f.report_id
order by l.annotation_id, l.tier, l.score desc, l.link_id
"""

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
.lesion{border:1px solid #bbb;border-radius:6px;padding:.6em;margin:1em 0}
.views img{margin-right:6px;border:1px solid #444;background:#000}
.pass{color:#080;font-weight:bold}.fail{color:#b00;font-weight:bold}.na{color:#777}
mark{background:#ffe066}.report{white-space:pre-wrap;font-size:.85em;background:#f6f6f6;padding:.5em}
blockquote{border-left:4px solid #ffcc00;margin:.5em 0;padding:.2em .8em;background:#fffbe6}
.legend span{display:inline-block;width:1em;height:.7em;margin:0 .3em}
"""
def verdict(passed: Optional[bool]) -> str:
    if passed is None:
        return "<span class='na'>no QC</span>"
    return "<span class='pass'>QC pass</span>" if passed else "<span class='fail'>QC fail</span>"


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return html.escape(str(v))


def picture_key(row: dict) -> str:
    h = hashlib.sha1(PICTURE_STYLE.encode() + (row["mask"] or b""))
    h.update(json.dumps([row["slice_index"], row["points_px"], row["tip_px"], row["kind"], row["bbox"]]).encode())
    return h.hexdigest()[:20]


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def draw_series(series_uid: str, rows: list[dict], volumes: SeriesVolumes, img_dir: Path) -> Optional[str]:
    """Pictures for every mask of one series (the volume is read once). Returns an error text or None."""
    import io

    from curation.report.pictures import overlays

    todo = [r for r in rows if not all((img_dir / f"{r['picture']}_{v}.png").exists() for v in VIEWS)]
    if not todo:
        return None
    try:
        vol = volumes.load(series_uid, stored=True)   # int16 as cached: overlays convert only their crops
    except VolumeError as exc:
        return f"{exc.reason}: {exc.detail}"
    geo = vol.geometry
    spacing = (geo.slice_spacing, *geo.pixel_spacing)
    for r in todo:
        c0, r0, s0 = r["bbox"][:3]
        pics = overlays(vol.hu, crop(r["mask"]), spacing, r["slice_index"], r["kind"], r["points_px"], r["tip_px"],
                        higher_slice_is_superior=geo.affine[2, 2] > 0, origin=(s0, r0, c0))
        for view, img in pics.items():
            buf = io.BytesIO()
            img.save(buf, format="PNG", compress_level=PNG_LEVEL)
            write_atomic(img_dir / f"{r['picture']}_{view}.png", buf.getvalue())
    return None


def load_lesions(con) -> tuple[list[dict], dict[str, dict], dict[str, list]]:
    """(masks with their annotation and QC verdict, best link per annotation, QC metric rows per mask)."""
    rel = con.sql(MASKS_SQL)
    masks = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
    rel = con.sql(LINKS_SQL)
    links: dict[str, dict] = {}
    for r in rel.fetchall():
        links.setdefault(r[0], dict(zip(rel.columns, r)))  # best tier, then best score
    metrics = defaultdict(list)
    for e, *rest in con.sql("select entity_id, metric, value, threshold, passed, detail from qc "
                            "where entity_kind = 'mask'").fetchall():
        metrics[e].append(rest)
    return masks, links, metrics


def load_dice(evaluation: Optional[Path]) -> dict[str, float]:
    """annotation_id -> Dice from an evaluation file (`opseg eval --report`), {} without one."""
    if not evaluation or not Path(evaluation).exists():
        return {}
    return {r["annotation_id"]: r["dice"] for r in json.loads(Path(evaluation).read_text()).get("rows", [])
            if r.get("dice") is not None}


def draw_pictures(out: Path, masks: list[dict], img_dir: Path,
                  progress: Optional[Callable[[str, int], Callable[[int], None]]] = None,
                  workers: int = 1) -> tuple[list[dict], dict]:
    """Give every mask without an error its picture key and draw what is missing (one volume read per series, from
    the run's volume cache; ``workers`` threads draw different series: numpy, zlib and PNG encoding release the GIL).
    Returns (masks whose pictures exist, {series: why its pictures could not be drawn})."""
    ok = [m for m in masks if m["error"] is None]
    for m in ok:
        m["picture"] = picture_key(m)
    volumes = series_volumes(out)
    by_series = defaultdict(list)
    for m in ok:
        by_series[m["series_uid"]].append(m)
    tick = progress("report pictures (series)", len(by_series)) if progress else None
    series_errors = {}
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for series_uid, err in pool.map(lambda item: (item[0], draw_series(item[0], item[1], volumes, img_dir)),
                                        by_series.items()):
            if err:
                series_errors[series_uid] = err
            if tick:
                tick(1)
    return [m for m in ok if m["series_uid"] not in series_errors], series_errors


def lesion_html(m: dict, link: Optional[dict], metrics: list, dice: Optional[float], open_details: bool = False) -> str:
    """One mask's section: verdict, facts, the three pictures (img/<key>_<view>.png), the linked sentence
    highlighted in its report and the QC metrics; open_details unfolds the report and metrics (review page)."""
    opened = " open" if open_details else ""
    head = (f"<section class='lesion' id='{m['mask_id']}'><h3>{html.escape(m['kind'])} · {verdict(m['qc_passed'])}"
            f" · <code>{m['mask_id'][:16]}</code></h3>")
    facts = (f"<p>study <code>{html.escape(m['study_uid'] or '')}</code>, slice {fmt(m['slice_index'])}; drawn "
             f"{fmt(m['length_mm'])} mm; mask long/short axis {fmt(m['recist_long_mm'])}/{fmt(m['recist_short_mm'])}"
             f" mm, {fmt(m['volume_ml'])} ml" + (f"; Dice {dice:.3f}" if dice is not None else "") +
             f"; backend {html.escape(m['backend'])}</p>")
    if m["qc_passed"] is False:
        facts += f"<p class='fail'>failed: {html.escape(m['qc_detail'] or '')}</p>"
    views = "<div class='views'>" + "".join(
        f"<img src='img/{m['picture']}_{v}.png' alt='{v} view of {m['mask_id'][:16]}' title='{v}'>" for v in VIEWS) + "</div>"
    if link:
        text, a, b = link["report_text"], link["char_start"], link["char_end"]
        report = (html.escape(text[:a]) + "<mark>" + html.escape(text[a:b]) + "</mark>" + html.escape(text[b:]))
        linked = (f"<p>linked sentence (tier {link['tier']}, score {link['score']:.2f}, "
                  f"{html.escape(', '.join(link['evidence'] or []))}; section {html.escape(link['section'] or '-')}):</p>"
                  f"<blockquote>{html.escape(link['text'])}</blockquote>"
                  f"<details{opened}><summary>report</summary><div class='report'>{report}</div></details>")
    else:
        linked = "<p class='na'>no linked sentence</p>"
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{fmt(v)}</td><td>{fmt(t)}</td>"
                   f"<td>{'' if p is None else ('✔' if p else '✘')}</td><td>{html.escape(d or '')}</td></tr>"
                   for n, v, t, p, d in metrics)
    table = (f"<details{opened}><summary>QC metrics</summary><table><tr><th>metric</th><th>value</th><th>threshold</th>"
             f"<th>pass</th><th>detail</th></tr>{rows}</table></details>")
    return head + facts + views + linked + table + "</section>"
