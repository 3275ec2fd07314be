"""The review web app (Starlette, ASGI): the page, its script, mask sections, pictures and a small JSON API.

Only what the catalog lists is reachable: pictures by a strict name pattern inside OUT/report/img (resolved, so
a symlink cannot lead outside OUT), sections by mask id from memory. Every error is JSON with a reason. Writes
need Content-Type application/json, which a foreign web page cannot send to this server without a CORS
preflight that it never answers, and the Host header must name the bound address (no DNS rebinding).
"""
from __future__ import annotations

import json
import re
from typing import Optional

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from curation.io.reviews import ReviewStore
from curation.report.lesions import VIEWS
from curation.review.catalog import Catalog
from curation.review.page import SCRIPT, render_page
from schemas import REVIEW_SCORES

MAX_BODY_BYTES = 16 * 1024
MAX_COMMENT_CHARS = 2000
MAX_REVIEWER_CHARS = 100
PICTURE_NAME = re.compile(r"[0-9a-f]{20}_(?:" + "|".join(VIEWS) + r")\.png")
REVIEW_FIELDS = {"mask_id", "score", "comment", "reviewer"}
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
           "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; "
                                      "frame-ancestors 'none'"}


def _error(status: int, reason: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": reason, "detail": detail}, status_code=status, headers=HEADERS)


class ReviewApp:
    def __init__(self, catalog: Catalog, default_reviewer: str, store: Optional[ReviewStore] = None):
        self.catalog = catalog
        self.items = catalog.by_id()
        self.store = store or ReviewStore(catalog.out)
        self.store.records()  # read the score files before the first request, not during it
        self.default_reviewer = default_reviewer
        self.img_root = catalog.img_dir.resolve()
        self.out_root = catalog.out.resolve()

    # ---- reading ------------------------------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        label = "de-identified copy" if self.catalog.served != self.catalog.out else "identifiable tables (--no-deid)"
        return Response(render_page(self.default_reviewer, f"{len(self.items)} masks · {label}"),
                        media_type="text/html; charset=utf-8", headers=HEADERS)

    async def script(self, request: Request) -> Response:
        return Response(SCRIPT, media_type="text/javascript; charset=utf-8", headers=HEADERS)

    def mask_rows(self, reviewer: str) -> list[dict]:
        """The list the page shows: this reviewer's unscored masks first, then the rest, in study order."""
        latest = self.store.latest()
        reviewers: dict[str, int] = {}
        mine: dict[str, str] = {}
        for (stored, who), rec in latest.items():
            reviewers[stored] = reviewers.get(stored, 0) + 1
            if who == reviewer:
                mine[stored] = rec.score
        rows = [{"mask_id": i.mask_id, "study": i.study, "prompt_kind": i.prompt_kind,
                 "qc_verdict": None if i.qc_passed is None else ("pass" if i.qc_passed else "fail"),
                 "review_state": "reviewed" if i.stored_id in mine else "unreviewed",
                 "my_score": mine.get(i.stored_id), "n_reviewers": reviewers.get(i.stored_id, 0)}
                for i in self.catalog.items]
        return sorted(rows, key=lambda r: r["review_state"] == "reviewed")  # stable: study order within each group

    async def masks(self, request: Request) -> Response:
        reviewer = (request.query_params.get("reviewer") or self.default_reviewer).strip()
        rows = await run_in_threadpool(self.mask_rows, reviewer)
        return JSONResponse({"reviewer": reviewer, "scores": list(REVIEW_SCORES), "masks": rows}, headers=HEADERS)

    async def section(self, request: Request) -> Response:
        item = self.items.get(request.path_params["mask_id"])
        if item is None:
            return _error(404, "unknown_mask", "no such mask in this output")
        return Response(item.section_html, media_type="text/html; charset=utf-8", headers=HEADERS)

    async def picture(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not PICTURE_NAME.fullmatch(name):
            return _error(404, "not_found", "only the review pictures (img/<hash>_<view>.png) are served")
        path = (self.img_root / name).resolve()
        if path.parent != self.img_root or not path.is_relative_to(self.out_root):
            return _error(403, "outside_output", "refusing a picture that resolves outside the output folder")
        if not path.is_file():
            return _error(404, "not_found", "no such picture")
        return FileResponse(path, media_type="image/png", headers=HEADERS)

    # ---- writing ------------------------------------------------------------------------------------------------
    async def _body(self, request: Request) -> bytes | JSONResponse:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return _error(415, "not_json", "send the review as Content-Type: application/json")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            return _error(413, "body_too_large", f"a review is at most {MAX_BODY_BYTES} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _error(413, "body_too_large", f"a review is at most {MAX_BODY_BYTES} bytes")
        return body

    async def post_review(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _error(400, "malformed_json", f"the body is not JSON: {exc}")
        except RecursionError:
            return _error(400, "malformed_json", "the body nests too deeply")
        if not isinstance(data, dict):
            return _error(400, "malformed_json", "the body must be a JSON object")
        if extra := sorted(set(data) - REVIEW_FIELDS):
            return _error(422, "unknown_fields", f"unexpected fields {extra}; allowed: {sorted(REVIEW_FIELDS)}")
        mask_id, score, comment = data.get("mask_id"), data.get("score"), data.get("comment")
        reviewer = data.get("reviewer") or self.default_reviewer
        if not isinstance(mask_id, str) or not mask_id:
            return _error(422, "missing_mask_id", "mask_id (a string) is required")
        item = self.items.get(mask_id)
        if item is None:
            return _error(404, "unknown_mask", f"no mask {mask_id[:64]!r} in this output")
        if score not in REVIEW_SCORES:
            return _error(422, "bad_score", f"score must be one of {list(REVIEW_SCORES)}, not {str(score)[:32]!r}")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS):
            return _error(422, "bad_comment", f"comment must be a string of at most {MAX_COMMENT_CHARS} characters")
        if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > MAX_REVIEWER_CHARS:
            return _error(422, "bad_reviewer", f"reviewer must be a name of 1-{MAX_REVIEWER_CHARS} characters "
                                               "(set one on the page or start with --reviewer)")
        rec = await run_in_threadpool(self.store.append, item.stored_id, reviewer.strip(), score,
                                      comment.strip() if comment else None)
        return JSONResponse({"mask_id": mask_id, "reviewer": rec.reviewer, "score": rec.score,
                             "reviewed_at": rec.reviewed_at.isoformat()},
                            status_code=201, headers=HEADERS)


def create_app(catalog: Catalog, default_reviewer: str, allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
               store: Optional[ReviewStore] = None) -> Starlette:
    """allowed_hosts: Host header values accepted (["*"] when the user binds a non-loopback address on purpose)."""
    app = ReviewApp(catalog, default_reviewer, store)
    routes = [Route("/", app.page), Route("/review.js", app.script), Route("/api/masks", app.masks),
              Route("/api/masks/{mask_id}/section", app.section), Route("/img/{name:path}", app.picture),
              Route("/api/reviews", app.post_review, methods=["POST"])]
    return Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))])
