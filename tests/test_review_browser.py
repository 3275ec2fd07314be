"""A radiologist's keyboard session in headless Chromium, driven over the DevTools protocol: a comment and three
scores (1, 2, 3) become three rows in OUT/reviews; n/p move through the list; the pictures load."""
import json
import subprocess
import time
import urllib.request

import pytest

from curation.io.reviews import ReviewStore
from curation.review.catalog import build_catalog
from curation.review.server import BackgroundServer

KEYS = {"1": ("Digit1", 49), "2": ("Digit2", 50), "3": ("Digit3", 51), "c": ("KeyC", 67), "n": ("KeyN", 78),
        "p": ("KeyP", 80), "Escape": ("Escape", 27)}


class DevTools:
    """The few DevTools-protocol calls the test needs, over one page's websocket."""

    def __init__(self, ws_url):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events arrive in between; skip them
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expression):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return res.get("result", {}).get("value")

    def wait_for(self, expression, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def press(self, key):
        code, vk = KEYS[key]
        text = {"text": key} if len(key) == 1 else {}
        self.call("Input.dispatchKeyEvent", type="keyDown", key=key, code=code, windowsVirtualKeyCode=vk, **text)
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=vk)

    def close(self):
        self.ws.close()


@pytest.fixture()
def browser_page(review_out, tmp_path, chromium):
    browser = chromium
    catalog = build_catalog(review_out)
    profile = tmp_path / "profile"
    with BackgroundServer(catalog, reviewer="kbd-tester", lifetime_s=120) as url:
        proc = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                                 "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                                 "--no-first-run", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port_file = profile / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text().strip()):
                assert time.monotonic() < deadline and proc.poll() is None, "chromium did not open its DevTools port"
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
            page = next(t for t in targets if t["type"] == "page")
            tools = DevTools(page["webSocketDebuggerUrl"])
            tools.call("Page.enable")
            tools.call("Page.navigate", url=url + "/")
            try:
                yield catalog, tools
            finally:
                tools.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


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
