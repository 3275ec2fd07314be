"""The evaluate stage: masks, lesion grouping and links scored against a truth source. It lives in the pipeline
layer because it joins three stages' evaluators (segmentation, lesions, linking), and stages never import each
other."""
from __future__ import annotations

import json

from curation.io.partition import Partition
from curation.io.stage import Stage
from curation.io.truth import Truth
from curation.lesions.evaluate import evaluate_lesions
from linking.evaluate import evaluate_links
from segmentation.evaluate import evaluate_demo


class EvaluateStage(Stage):
    name = "evaluate"
    reads = ("masks", "annotations", "lesions", "lesion_members", "links", "findings")
    writes = ("eval",)
    partitioned = False
    source_label = "truth"

    def __init__(self, truth: Truth):
        super().__init__()
        self.truth = truth

    def source_fingerprint(self) -> str:
        return self.truth.fingerprint

    def process(self, part: Partition) -> dict:
        folder = part.out / "eval"
        folder.mkdir(exist_ok=True)
        seg, links = evaluate_demo(part.out, self.truth), evaluate_links(part.out, self.truth)
        (folder / "segmentation.json").write_text(json.dumps(seg, indent=1))
        (folder / "links.json").write_text(json.dumps(links, indent=1, default=str))
        lesions = evaluate_lesions(part.out, self.truth)
        (folder / "lesions.json").write_text(json.dumps(lesions, indent=1, sort_keys=True))
        return {"segmentation": seg["summary"], "lesions": lesions,
                "links": {k: v for k, v in links.items() if not isinstance(v, (list, dict))}}
