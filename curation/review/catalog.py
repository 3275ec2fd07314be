"""What the review app serves: the folder it reads (the de-identified copy by default), each mask's section as
the QC report draws it, and the key under which a score is stored.

Scores are stored in OUT/reviews under the mask ids of OUT itself, whichever copy the reviewer looked at: the
de-identified copy maps its pseudonymous mask ids back with the project secret, and `opseg deid` (run by
publish) carries the reviews into the copy under the pseudonyms again. So reviews never depend on which copy was
served and survive a re-run of de-identification.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pyarrow.parquet as pq

from curation.deid.secret import ProjectSecret
from curation.deid.tables import MANIFEST, deidentify, key_token
from curation.io.errors import ReasonedError
from curation.io.query import connect
from curation.report.lesions import draw_pictures, lesion_html, load_dice, load_lesions

Progress = Optional[Callable[[str, int], Callable[[int], None]]]


class ReviewError(ReasonedError):
    pass


@dataclass(frozen=True)
class ReviewItem:
    mask_id: str              # as served (a pseudonym in the de-identified copy)
    stored_id: str            # as stored in OUT/reviews (OUT's own mask id)
    study: Optional[str]
    prompt_kind: str
    qc_passed: Optional[bool]
    section_html: str         # the QC report's section of this mask (escaped by lesion_html)


@dataclass
class Catalog:
    out: Path                 # where reviews are written (OUT/reviews) and pictures cached (OUT/report/img)
    served: Path              # the tables shown: OUT/deid, or OUT with --no-deid
    items: list[ReviewItem]
    not_drawn: dict           # series -> why its masks cannot be shown

    @property
    def img_dir(self) -> Path:
        return self.out / "report" / "img"

    def by_id(self) -> dict[str, ReviewItem]:
        return {i.mask_id: i for i in self.items}


def _mask_ids(out: Path) -> list[str]:
    folder = out / "masks"
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        return []
    return pq.read_table(folder, columns=["mask_id"]).column("mask_id").to_pylist()


def _deid_is_stale(out: Path, served: Path) -> bool:
    manifest = served / MANIFEST
    if not manifest.exists():
        return True
    newest = max((p.stat().st_mtime for t in ("masks", "links", "qc", "annotations", "reports")
                  for p in (out / t).glob("*.parquet")), default=0.0)
    return newest > manifest.stat().st_mtime


def serving_folder(out: Path, deid: bool = True, secret_file: Optional[Path] = None,
                   progress: Progress = None) -> tuple[Path, dict[str, str]]:
    """(folder to serve, served mask id -> OUT mask id). Makes or refreshes OUT/deid when it is missing or older
    than OUT's tables. OUT that is itself a de-identified copy is served as it is."""
    out = Path(out)
    if not deid or (out / MANIFEST).exists():
        return out, {m: m for m in _mask_ids(out)}
    served = out / "deid"
    secret = ProjectSecret.for_output(out, secret_file)
    if _deid_is_stale(out, served):
        deidentify(out, served, secret, progress=progress)
    return served, {key_token(secret, m): m for m in _mask_ids(out)}


def build_catalog(out: Path, deid: bool = True, secret_file: Optional[Path] = None, progress: Progress = None) -> Catalog:
    """Every mask that has pictures, with its section pre-rendered (so a page view is a dictionary lookup)."""
    out = Path(out)
    if not (out / "masks").is_dir() or not (out / "studies").is_dir():
        raise ReviewError("no_masks", f"{out} has no masks to review: run `opseg run` (or extract and segment) first")
    served, stored_of = serving_folder(out, deid, secret_file, progress)
    masks, links, metrics = load_lesions(connect(served))
    dice = load_dice(served / "eval" / "segmentation.json")
    img_dir = out / "report" / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    drawn, not_drawn = draw_pictures(served, masks, img_dir, progress)
    items = [ReviewItem(mask_id=m["mask_id"], stored_id=stored_of[m["mask_id"]], study=m["study_uid"],
                        prompt_kind=m["kind"], qc_passed=m["qc_passed"],
                        section_html=lesion_html(m, links.get(m["annotation_id"]), metrics.get(m["mask_id"], []),
                                                 dice.get(m["annotation_id"]), open_details=True))
             for m in drawn if m["mask_id"] in stored_of]  # a copy older than OUT may hold masks OUT no longer has
    return Catalog(out=out, served=served, items=items, not_drawn=not_drawn)
