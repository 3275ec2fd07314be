"""The HTML QC report: pictures show the mask and the mark, the linked sentence is highlighted, and the page
renders in headless Chromium with every picture loaded."""
import re
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from curation.report.lesions import PNG_LEVEL
from curation.report.pictures import MASK_RGB, PROMPT_RGB, TARGET_PX, _picture, overlays, prompt_segments, window
from curation.report.html import VIEWS, write_report
from curation.io.query import connect


@pytest.fixture(scope="module")
def report(processed_out, tmp_path_factory):
    target = tmp_path_factory.mktemp("report")
    return processed_out, target, write_report(processed_out, target, page_size=6)


def _colour_pixels(path, rgb):
    a = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    return int((np.abs(a.astype(int) - rgb).sum(axis=1) < 30).sum())


def test_every_mask_has_three_views_with_mask_and_mark(report):
    out, target, index = report
    con = connect(out)
    ids = [r[0] for r in con.sql("select mask_id from masks where error is null").fetchall()]
    pages = sorted(target.glob("masks-*.html"))
    assert len(pages) == -(-len(ids) // 6)
    html = "".join(p.read_text() for p in pages)
    pictures = re.findall(r"src='img/([0-9a-f]+)_(axial|coronal|sagittal)\.png'", html)
    assert len(pictures) == 3 * len(ids)
    assert all(f"id='{i}'" in html for i in ids)
    for key, view in pictures:
        png = target / "img" / f"{key}_{view}.png"
        assert png.exists()
        assert _colour_pixels(png, MASK_RGB) > 0, png  # the mask outline is drawn on every view
        if view == "axial":
            assert _colour_pixels(png, PROMPT_RGB) > 0, png  # and the radiologist's mark on its slice


def test_linked_sentence_is_highlighted_in_the_report_text(report):
    out, target, _ = report
    html = "".join(p.read_text() for p in target.glob("masks-*.html"))
    con = connect(out)
    sentence = con.sql("select f.text from links l join findings f using (finding_id) where l.tier = 'A' "
                       "order by l.link_id limit 1").fetchall()[0][0]
    import html as h
    assert f"<mark>{h.escape(sentence)}</mark>" in html


def test_summary_has_plots_and_quarantine(report):
    out, target, index = report
    text = index.read_text()
    for plot in ("qc_pass_by_kind.png", "recist_error.png"):
        assert (target / "plots" / plot).exists() and f"plots/{plot}" in text
    reasons = [r[0] for r in connect(out).sql("select distinct reason from quarantine").fetchall()]
    assert reasons and all(r in text for r in reasons)


def test_rerun_redraws_nothing_and_keeps_the_pages(report):
    out, target, _ = report
    before = {p.name: p.stat().st_mtime_ns for p in (target / "img").glob("*.png")}
    pages = {p.name: p.read_text() for p in target.glob("*.html")}
    write_report(out, target, page_size=6)
    assert {p.name: p.stat().st_mtime_ns for p in (target / "img").glob("*.png")} == before
    assert {p.name: p.read_text() for p in target.glob("*.html")} == pages


def test_dice_histogram_with_an_evaluation_file(processed_out, demo_dir, tmp_path):
    import json

    from curation.demo.truth import DemoTruth
    from segmentation.evaluate import evaluate_demo

    ev = tmp_path / "segmentation.json"
    ev.write_text(json.dumps(evaluate_demo(processed_out, DemoTruth(demo_dir))))
    index = write_report(processed_out, tmp_path / "r", evaluation=ev)
    assert (tmp_path / "r" / "plots" / "dice.png").exists() and "mean Dice" in index.read_text()
    assert "this run: masks" in index.read_text()   # QC precision/recall per kind on this run, next to the calibration


def test_summary_shows_the_qc_calibration_per_kind(report):
    from schemas.qc import CALIBRATED_AS, QC_BY_KIND

    out, _, index = report
    table = re.search(r"<table class='qc-by-kind'>(.*?)</table>", index.read_text()).group(1)
    kinds = {r[0] for r in connect(out).sql("select distinct a.kind from masks m join annotations a using "
                                            "(annotation_id) where m.error is null").fetchall()}
    assert kinds & set(QC_BY_KIND)
    for kind in kinds:
        row = re.search(rf"<tr><td>{kind}[^<]*</td>(.*?)</tr>", table).group(1)
        cal = QC_BY_KIND.get(CALIBRATED_AS.get(kind, kind))
        assert (f"{cal[0]:.2f} / {cal[2]:.2f}" in row and f"{cal[1]:.2f} / {cal[3]:.2f}" in row) if cal else (
            "not calibrated" in row)
    assert "differ from the calibrated defaults" not in index.read_text()


def test_the_report_says_when_the_thresholds_are_not_the_calibrated_ones():
    import duckdb

    from curation.report.html import _qc_meaning

    con = duckdb.connect()
    con.sql("create table annotations as select * from (values ('a', 'line'), ('b', 'arrow')) t(annotation_id, kind)")
    con.sql("create table masks as select * from (values ('ma', 'a'), ('mb', 'b')) t(mask_id, annotation_id)")
    con.sql("create table qc as select * from (values ('ma', 'recist_error_pct', 30.0), ('ma', 'classical_certainty', 0.0), "
            "('mb', 'classical_certainty', 0.0)) t(entity_id, metric, threshold)")
    ok = [{"annotation_id": "a", "kind": "line", "qc_passed": True}, {"annotation_id": "b", "kind": "arrow", "qc_passed": True}]
    text = _qc_meaning(con, ok, {"a": 0.9})
    # a line needs no certainty by default (per-kind calibration), an arrow does: only the arrow's threshold differs
    assert "differ from the calibrated defaults" in text and "arrow: classical_certainty" in text
    assert "line: " not in text and "recist_error_pct" not in text


def test_overlay_geometry_on_a_known_lesion():
    hu = np.full((20, 64, 64), 40.0)
    mask = np.zeros(hu.shape, bool)
    mask[8:13, 20:30, 30:44] = True
    pics = overlays(hu, mask, (2.0, 1.0, 1.0), 10, "line", [[30.5, 25.0], [43.5, 25.0]], None)
    assert set(pics) == set(VIEWS)
    ax = np.asarray(pics["axial"])
    assert ax.shape[1] > ax.shape[0]  # the crop follows the lesion (wider than tall)
    # coronal: 5 slices of 2 mm against 14 columns of 1 mm: the mask outline is wider than tall on screen
    red = np.argwhere((np.abs(np.asarray(pics["coronal"].convert("RGB")).astype(int) - MASK_RGB).sum(axis=2) < 30))
    height, width = np.ptp(red[:, 0]), np.ptp(red[:, 1])
    assert 0.5 < height / width * 14 / 10 < 1.0
    assert prompt_segments("bidimensional", [[0, 0], [4, 0], [2, -1], [2, 1]], None) == [[(0, 0), (4, 0)], [(2, -1), (2, 1)]]



def test_overlays_of_a_bbox_crop_equal_those_of_the_pasted_mask():
    """The report draws from each mask's stored crop and the int16 cache: the pictures must be the ones the whole
    pasted mask on float32 HU gives, also when the annotated slice misses the mask and the lesion touches an edge."""
    rng = np.random.default_rng(3)
    hu = rng.integers(-1000, 400, (18, 50, 60)).astype(np.int16)
    mask = np.zeros(hu.shape, bool)
    mask[5:9, 0:7, 41:60] = rng.random((4, 7, 19)) > 0.3   # on the top and right edges of the image
    mask[6, 3, 50] = True
    (zs, rs, cs) = (np.flatnonzero(mask.any(axis=ax)) for ax in ((1, 2), (0, 2), (0, 1)))
    crop, origin = mask[zs[0]:zs[-1] + 1, rs[0]:rs[-1] + 1, cs[0]:cs[-1] + 1], (zs[0], rs[0], cs[0])
    for slice_index, kind, points in ((6, "line", [[44.5, 3.0], [58.0, 5.5]]), (14, "ellipse", None), (None, "arrow", None)):
        whole = overlays(hu.astype(np.float32), mask, (2.5, 0.7, 0.7), slice_index, kind, points, [50.0, 3.0])
        cropped = overlays(hu, crop, (2.5, 0.7, 0.7), slice_index, kind, points, [50.0, 3.0], origin=origin)
        for view in VIEWS:
            assert np.array_equal(np.asarray(whole[view].convert("RGB")), np.asarray(cropped[view].convert("RGB"))), \
                (slice_index, view)


def _rgb_picture(hu2d, mask2d, aspect, segments):
    """The picture drawn in RGB throughout (the report's drawing before its palette pictures), as a reference."""
    rgb = np.repeat(window(hu2d)[..., None], 3, axis=2)
    rgb[mask2d & ~ndimage.binary_erosion(mask2d)] = MASK_RGB
    h, w = hu2d.shape
    sx = TARGET_PX / max(w, h * aspect)
    sy = sx * aspect
    img = Image.fromarray(rgb).resize((max(1, round(w * sx)), max(1, round(h * sy))), Image.NEAREST)
    draw = ImageDraw.Draw(img)
    for seg in segments:
        pts = [(x * sx, y * sy) for x, y in seg]
        if len(pts) == 1:
            draw.ellipse([pts[0][0] - 4, pts[0][1] - 4, pts[0][0] + 4, pts[0][1] + 4], outline=PROMPT_RGB, width=2)
        else:
            draw.line(pts, fill=PROMPT_RGB, width=2)
    return img


@pytest.mark.parametrize("grays", [40, 256])
def test_palette_pictures_have_the_rgb_drawings_pixels(grays, tmp_path):
    """A picture is a palette PNG when its grays and the two overlay colours fit in 256 entries (else RGB): either
    way its pixels, read back from the PNG, are those of the same drawing made in RGB."""
    rng = np.random.default_rng(5)
    levels = rng.permutation(np.arange(30 * 44) % grays).reshape(30, 44)   # every one of `grays` gray levels
    hu = ((levels + 0.5) * (400 / 255) - 160).astype(np.float32)            # the soft-tissue window's level steps
    mask = np.zeros(hu.shape, bool)
    mask[8:20, 10:30] = True
    segments = [[(12.5, 9.0), (28.5, 18.0)], [(20.0, 15.0)]]
    pic = _picture(hu, mask, 1.6, segments)
    assert pic.mode == ("P" if grays <= 254 else "RGB")
    pic.save(tmp_path / "p.png", format="PNG", compress_level=PNG_LEVEL)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "p.png").convert("RGB")),
                          np.asarray(_rgb_picture(hu, mask, 1.6, segments)))


def test_report_renders_in_headless_chromium(report, tmp_path, chromium):
    browser = chromium
    _, target, index = report
    for page in [index] + sorted(target.glob("masks-*.html")):
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
               f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()]
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
        ok = re.search(r'data-images-ok="(\d+)"', dom)
        broken = re.search(r'data-images-broken="(\d+)"', dom)
        assert ok and broken, f"{page.name}: the page's load script did not run"
        assert int(broken.group(1)) == 0 and int(ok.group(1)) > 0, page.name
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1000,1400",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", index.as_uri()],
                   capture_output=True, timeout=120)
    assert np.asarray(Image.open(shot).convert("L")).std() > 10  # something was drawn, not a blank page


def test_the_report_stages_setup_imports_matplotlib_without_choosing_a_backend():
    """The local executor sets the report stage up in its own process, which may be a caller's notebook: its
    plotting backend stays the caller's to choose (Agg is set where the plots are drawn)."""
    import sys

    code = ("import sys; from curation.report.stage import ReportStage; ReportStage().setup(); import matplotlib; "
            "assert 'matplotlib.pyplot' in sys.modules; print(matplotlib.rcParams._get_backend_or_none())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "None"
