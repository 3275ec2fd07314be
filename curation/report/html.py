"""``opseg report OUT``: a static HTML QC report that opens from disk.

index.html holds the summary (counts, QC pass rates by prompt kind, RECIST-error and, with an evaluation file,
Dice histograms, quarantine reasons) and links to pages of masks; each mask shows axial/coronal/sagittal
overlays of the mask and the radiologist's mark, its QC metrics and the linked report sentence highlighted.
Pictures are named by a hash of what they show, so a rerun only draws what changed.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from curation.io.query import connect, failure_counts
from curation.report.lesions import (CSS, LEGEND, VIEWS, draw_pictures, lesion_html, load_dice, load_lesions,
                                     verdict)

__all__ = ["VIEWS", "write_report"]
from schemas.qc import CALIBRATED_AS, CHECKS, GOOD_DICE, QC_BY_KIND, QC_CALIBRATION, QCThresholds

PAGE_SIZE = 50

# Lets a headless browser (and a person) see at once whether every picture loaded.
IMAGE_CHECK = ("<script>window.addEventListener('load',function(){var i=Array.prototype.slice.call(document.images),"
               "ok=i.filter(function(x){return x.complete&&x.naturalWidth>0}).length;"
               "document.body.setAttribute('data-images-ok',ok);"
               "document.body.setAttribute('data-images-broken',i.length-ok);});</script>")


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + IMAGE_CHECK + "</body></html>\n")


def load_libraries() -> None:
    """What the report imports on its way, for a stage setup made ahead of the data. pyplot is imported, not
    set up: the Agg backend is chosen only where the plots are drawn (this may run in a caller's process)."""
    import matplotlib.pyplot  # noqa: F401
    from matplotlib.backends import backend_agg  # noqa: F401

    from curation.report import pictures  # noqa: F401


def _plots(con, masks: list[dict], dice: dict, plot_dir: Path) -> list[tuple[str, str]]:
    """Summary plots as PNG files: [(file name, caption)]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []

    def save(fig, name, caption):
        fig.tight_layout()
        fig.set_layout_engine(None)   # laid out: with no engine left savefig skips its layout pass (an unseen draw)
        fig.savefig(plot_dir / name, dpi=90, metadata={"Software": None})  # no version stamp: stable bytes
        plt.close(fig)
        made.append((name, caption))

    kinds = sorted({m["kind"] for m in masks if m["error"] is None})
    if kinds:
        passed = [sum(1 for m in masks if m["kind"] == k and m["error"] is None and m["qc_passed"]) for k in kinds]
        total = [sum(1 for m in masks if m["kind"] == k and m["error"] is None) for k in kinds]
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.bar(kinds, total, color="#e88", label="fail / no QC")
        ax.bar(kinds, passed, color="#6b6", label="pass")
        ax.set_ylabel("masks")
        ax.set_title("QC pass by prompt kind")
        ax.legend()
        save(fig, "qc_pass_by_kind.png", "QC verdict per prompt kind (green: pass)")
    rec = con.sql("select value, threshold from qc where metric = 'recist_error_pct' and value is not null").fetchall()
    if rec:
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.hist([v for v, _ in rec], bins=20, color="#58a")
        if rec[0][1] is not None:
            ax.axvline(rec[0][1], color="#b00", linestyle="--", label=f"threshold {rec[0][1]:g}%")
            ax.legend()
        ax.set_xlabel("RECIST long-axis error vs the drawn line (%)")
        ax.set_ylabel("masks")
        save(fig, "recist_error.png", "RECIST long axis of the mask vs the radiologist's line (the paper's RECIST error)")
    if dice:
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.hist(list(dice.values()), bins=20, range=(0, 1), color="#a6c")
        ax.set_xlabel("Dice vs ground truth")
        ax.set_ylabel("masks")
        save(fig, "dice.png", "Dice against the evaluation file's ground truth")
    fails = failure_counts(con)
    if fails:
        fig, ax = plt.subplots(figsize=(5, 0.6 + 0.35 * len(fails)))
        ax.barh([w for w, _ in fails][::-1], [n for _, n in fails][::-1], color="#d77")
        ax.set_xlabel("masks failing the check")
        save(fig, "qc_failures.png", "Why masks fail QC")
    return made


def write_report(out: Path, target: Optional[Path] = None, evaluation: Optional[Path] = None, page_size: int = PAGE_SIZE,
                 progress: Optional[Callable[[str, int], Callable[[int], None]]] = None, workers: int = 1) -> Path:
    """``workers``: threads drawing the pictures of different series."""
    out = Path(out)
    target = Path(target) if target else out / "report"
    img_dir, plot_dir = target / "img", target / "plots"
    img_dir.mkdir(parents=True, exist_ok=True)
    plot_dir.mkdir(parents=True, exist_ok=True)
    con = connect(out)
    masks, links, metrics = load_lesions(con)
    dice = load_dice(evaluation)
    drawn, series_errors = draw_pictures(out, masks, img_dir, progress, workers=workers)
    keep = {f"{m['picture']}_{v}.png" for m in drawn for v in VIEWS}
    for stale in img_dir.glob("*.png"):
        if stale.name not in keep:
            stale.unlink()
    for old in target.glob("masks-*.html"):
        old.unlink()
    pages = [drawn[i:i + page_size] for i in range(0, len(drawn), page_size)]
    names = [f"masks-{i + 1:04d}.html" for i in range(len(pages))]
    page_of = {m["mask_id"]: names[i] for i, page in enumerate(pages) for m in page}
    for i, page in enumerate(pages):
        nav = " ".join(f"<a href='{n}'>{j + 1}</a>" if j != i else f"<b>{j + 1}</b>" for j, n in enumerate(names))
        body = [f"<h1>opseg QC · masks page {i + 1} of {len(pages)}</h1>", f"<p><a href='index.html'>summary</a> · {nav}</p>",
                LEGEND]
        body += [lesion_html(m, links.get(m["annotation_id"]), metrics.get(m["mask_id"], []),
                             dice.get(m["annotation_id"])) for m in page]
        (target / names[i]).write_text(_page(f"opseg QC masks {i + 1}", body))
    plots = _plots(con, masks, dice, plot_dir)
    body = _summary(con, out, masks, links, dice, plots, page_of, series_errors)
    index = target / "index.html"
    index.write_text(_page("opseg QC report", body))
    return index


def _qc_meaning(con, ok: list[dict], dice: dict) -> str:
    """What a pass means: the calibration on real lesions per prompt kind (for the default thresholds: says so when
    this run's differ), and, with truth, precision/recall on this run per kind."""
    text = f"<p>What a QC pass means (measured on real CT): {html.escape(QC_CALIBRATION)}."
    used = con.sql("select distinct a.kind, q.metric, q.threshold from qc q join masks m on q.entity_id = m.mask_id "
                   "join annotations a using (annotation_id) where q.threshold is not null").fetchall()
    changed = sorted({f"{k}: {n}" for k, n, t in used
                      if n in CHECKS and t != getattr(QCThresholds().for_kind(k), CHECKS[n][0])})
    if changed:
        text += (" <b>This run's thresholds differ from the calibrated defaults</b> (" + html.escape(", ".join(changed))
                 + "): the calibration below does not describe its passes.")
    scored = [m for m in ok if m["annotation_id"] in dice and m["qc_passed"] is not None]
    run = {}
    for kind in sorted({m["kind"] for m in scored}) + (["all"] if scored else []):
        ms = [m for m in scored if kind in ("all", m["kind"])]
        good = {m["annotation_id"] for m in ms if dice[m["annotation_id"]] >= GOOD_DICE}
        passed = {m["annotation_id"] for m in ms if m["qc_passed"]}
        run[kind] = (len(ms), len(good & passed) / len(passed) if passed else float("nan"),
                     len(good & passed) / len(good) if good else float("nan"))
    if scored:
        n, prec, rec = run["all"]
        text += (f" On this run, against its truth: QC precision {prec:.2f} (passing masks with Dice &ge; {GOOD_DICE}), "
                 f"recall {rec:.2f} (good masks that pass), over {n} masks.")
    text += "</p>"
    head = "<tr><th>kind</th><th>calibration: precision (tune / holdout)</th><th>recall (tune / holdout)</th>"
    head += "<th>this run: masks</th><th>precision</th><th>recall</th></tr>" if scored else "</tr>"
    rows = []
    for kind in sorted({m["kind"] for m in ok} | set(run) - {"all"}):
        cal = QC_BY_KIND.get(CALIBRATED_AS.get(kind, kind))
        if cal is None:
            cells = "<td colspan=2>not calibrated</td>"
        elif cal[0] != cal[0]:   # NaN: no mask of this kind passed in the calibration
            cells = "<td colspan=2>never passes: the mark cannot bound the mask</td>"
        else:
            cells = f"<td>{cal[0]:.2f} / {cal[2]:.2f}</td><td>{cal[1]:.2f} / {cal[3]:.2f}</td>"
        if scored:
            n, prec, rec = run.get(kind, (0, float("nan"), float("nan")))
            cells += f"<td>{n}</td><td>{prec:.2f}</td><td>{rec:.2f}</td>"
        label = f"{kind} (calibrated as {CALIBRATED_AS[kind]})" if kind in CALIBRATED_AS else kind
        rows.append(f"<tr><td>{html.escape(label)}</td>{cells}</tr>")
    return text + "<table class='qc-by-kind'>" + head + "".join(rows) + "</table>"


def _summary(con, out, masks, links, dice, plots, page_of, series_errors) -> list[str]:
    ok = [m for m in masks if m["error"] is None]
    n_pass = sum(1 for m in ok if m["qc_passed"])
    linked = sum(1 for m in ok if m["annotation_id"] in links)
    body = ["<h1>opseg QC report</h1>", f"<p>output folder <code>{html.escape(str(out))}</code></p>",
            f"<p>{len(masks)} prompts, {len(ok)} masks, <span class='pass'>{n_pass} pass QC</span>, "
            f"{len(ok) - n_pass} fail or unchecked; {linked} linked to a report sentence"
            + (f"; mean Dice {np.mean(list(dice.values())):.3f} over {len(dice)} masks with truth" if dice else "")
            + ".</p>"]
    body.append(_qc_meaning(con, ok, dice))
    tiers = con.sql("select tier, count(*) from links group by 1 order by 1").fetchall()
    body.append("<p>links by tier: " + (", ".join(f"{t}: {n}" for t, n in tiers) or "none") + "</p>")
    body += ["<h2>Summary plots</h2>"] + [f"<figure style='display:inline-block'><img src='plots/{f}' alt='{html.escape(c)}'>"
                                        f"<figcaption>{html.escape(c)}</figcaption></figure>" for f, c in plots]
    body += ["<h2>Masks</h2>", "<table><tr><th>mask</th><th>kind</th><th>study</th><th>QC</th><th>link tier</th>"
             "<th>Dice</th></tr>"]
    for m in ok:
        page = page_of.get(m["mask_id"])
        name = f"<a href='{page}#{m['mask_id']}'>{m['mask_id'][:16]}</a>" if page else m["mask_id"][:16]
        link = links.get(m["annotation_id"])
        d = dice.get(m["annotation_id"])
        body.append(f"<tr><td>{name}</td><td>{html.escape(m['kind'])}</td><td>{html.escape((m['study_uid'] or '')[-12:])}"
                    f"</td><td>{verdict(m['qc_passed'])}</td><td>{link['tier'] if link else '—'}</td>"
                    f"<td>{'' if d is None else f'{d:.3f}'}</td></tr>")
    body.append("</table>")
    failed = [m for m in masks if m["error"] is not None]
    if failed or series_errors:
        body += ["<h2>Prompts without a mask</h2>", "<table><tr><th>annotation</th><th>kind</th><th>why</th></tr>"]
        body += [f"<tr><td>{m['annotation_id'][:16]}</td><td>{html.escape(m['kind'])}</td><td>{html.escape(m['error'])}</td></tr>"
                 for m in failed]
        body += [f"<tr><td colspan=2>series {html.escape(s)}</td><td>pictures not drawn: {html.escape(e)}</td></tr>"
                 for s, e in series_errors.items()]
        body.append("</table>")
    quarantine = con.sql("select stage, reason, count(*), min(coalesce(path, entity_id)), min(detail) "
                         "from quarantine group by 1, 2 order by 3 desc, 1, 2").fetchall()
    body += ["<h2>Quarantine</h2>"]
    if quarantine:
        body += ["<table><tr><th>stage</th><th>reason</th><th>count</th><th>example</th><th>detail</th></tr>"]
        body += [f"<tr><td>{s}</td><td>{html.escape(r)}</td><td>{n}</td><td>{html.escape(str(p or ''))}</td>"
                 f"<td>{html.escape((d or '')[:200])}</td></tr>" for s, r, n, p, d in quarantine]
        body.append("</table>")
    else:
        body.append("<p>nothing quarantined</p>")
    return body
