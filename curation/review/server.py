"""Running the review app: `opseg review` in the foreground, or a bounded background server for tests and
benchmarks (127.0.0.1, a free port, stops on exit or after its lifetime)."""
from __future__ import annotations

import getpass
import ipaddress
import socket
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import uvicorn

from curation.review.app import create_app
from curation.review.catalog import Catalog, Progress, build_catalog

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): the page asks for a name
        return ""


def make_app(catalog: Catalog, host: str, reviewer: Optional[str]):
    hosts = LOOPBACK_HOSTS if _is_loopback(host) else ("*",)
    return create_app(catalog, reviewer if reviewer is not None else default_reviewer(), allowed_hosts=hosts)


def serve(out: Path, host: str = "127.0.0.1", port: int = 8765, reviewer: Optional[str] = None, deid: bool = True,
          secret_file: Optional[Path] = None, progress: Progress = None, echo: Callable[[str], None] = print) -> None:
    catalog = build_catalog(out, deid=deid, secret_file=secret_file, progress=progress)
    if catalog.not_drawn:
        echo(f"{len(catalog.not_drawn)} series have no pictures (their masks are not listed): "
             + "; ".join(f"{s[:24]}: {why}" for s, why in list(catalog.not_drawn.items())[:3]))
    if not _is_loopback(host):
        echo(f"WARNING: serving {'de-identified ' if catalog.served != catalog.out else 'IDENTIFIABLE '}patient data "
             f"on {host}, reachable from other machines, without authentication")
    echo(f"reviewing {len(catalog.items)} masks from {catalog.served}; scores -> {catalog.out / 'reviews'}; "
         f"open http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/  (Ctrl-C stops)")
    uvicorn.run(make_app(catalog, host, reviewer), host=host, port=port, log_level="warning")


class BackgroundServer:
    """``with BackgroundServer(catalog) as base_url: ...``: the app on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, catalog: Catalog, reviewer: Optional[str] = "tester", lifetime_s: float = 300.0):
        self.app = make_app(catalog, "127.0.0.1", reviewer)
        self.lifetime_s = lifetime_s
        # proto=IPPROTO_TCP: asyncio only disables Nagle on sockets that say so; with proto 0 every keep-alive
        # response stalls ~40 ms (headers and body are two writes, the client delays its ACK)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", timeout_keep_alive=2, limit_concurrency=64)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.timer = threading.Timer(lifetime_s, self.stop)
        self.timer.daemon = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> str:
        self.thread.start()
        self.timer.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.stop()
                raise RuntimeError("the review server did not start")
            time.sleep(0.02)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True

    def __exit__(self, *exc) -> None:
        self.timer.cancel()
        self.stop()
        self.thread.join(timeout=10)
        self.sock.close()
