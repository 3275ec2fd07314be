"""A radiologist's keyboard session in headless Chromium, driven over the DevTools protocol: a comment and three
scores (1, 2, 3) become three rows in OUT/reviews; n/p move through the list; the pictures load."""
import pytest

from curation.io.reviews import ReviewStore
from curation.review.catalog import build_catalog
from curation.review.devtools import headless_page
from curation.review.server import BackgroundServer


@pytest.fixture()
def browser_page(review_out, tmp_path, chromium):
    catalog = build_catalog(review_out)
    with BackgroundServer(catalog, reviewer="kbd-tester", lifetime_s=120) as url, \
            headless_page(chromium, tmp_path / "profile") as tools:
        tools.call("Page.navigate", url=url + "/")
        yield catalog, tools


def test_keyboard_scores_three_masks_into_three_rows(browser_page):
    catalog, tools = browser_page
    tools.wait_for("document.body && document.body.dataset.ready === '1'")
    order = tools.eval("S.masks.map(m => m.mask_id)")
    start = tools.eval("S.i")
    assert start == 0  # a new reviewer starts at the top of the list
    assert tools.wait_for("document.querySelectorAll('#section img').length") == 3
    tools.wait_for("Array.from(document.querySelectorAll('#section img')).every(i => i.complete && i.naturalWidth > 0)")
    assert tools.eval("document.querySelector('#section mark, #section .na') !== null")  # sentence or 'no link'

    tools.press("c")
    assert tools.eval("document.activeElement.id") == "comment"
    tools.call("Input.insertText", text="edge a bit wide")
    tools.press("Escape")
    for n, key in enumerate(("1", "2", "3"), start=1):
        tools.press(key)
        tools.wait_for(f"document.body.dataset.saved === '{n}' && S.i === {start + n}")
    tools.press("p")
    tools.wait_for(f"S.i === {start + 2}")
    tools.press("n")
    tools.wait_for(f"S.i === {start + 3}")

    rows = [r for r in ReviewStore(catalog.out).records() if r.reviewer == "kbd-tester"]
    stored = {i.mask_id: i.stored_id for i in catalog.items}
    assert [(r.mask_id, r.score, r.comment) for r in rows] == [
        (stored[order[start]], "accept", "edge a bit wide"), (stored[order[start + 1]], "minor", None),
        (stored[order[start + 2]], "major", None)]
    shown = tools.eval("Array.from(document.querySelectorAll('#rows tr')).slice(0, 3).map(r => r.cells[4].textContent)")
    assert shown == ["accept", "minor", "major"]
