"""Training smoke run on CPU: a few steps on a tiny generated dataset lower the loss; checkpoints reload."""
import json

import numpy as np
import pytest

from curation.demo.nifti_dataset import write_nifti_dataset
from segmentation.sam2ct.build import build_sam2ct, load_checkpoint
from segmentation.synthetic_prompts import arrow_prompt, lesions, line_prompt, make_prompt
from segmentation.train import TrainConfig, train


@pytest.mark.slow
def test_a_few_steps_lower_the_loss_and_checkpoints_reload(tmp_path):
    data = write_nifti_dataset(tmp_path / "data", n_cases=1, size=96, pixel_mm=3.0, n_slices=24)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "run"), image_size=512, epochs=1, steps_per_epoch=12, frames=2,
                      lr=3e-5, lr_image_encoder=3e-5, kinds=("line",), val_fraction=0, max_val_lesions=1,
                      max_train_lesions=1)
    steps = []
    state = train(cfg, log=lambda e: steps.append(e["step_loss"]) if "step_loss" in e else None)
    assert len(steps) == 12 and np.mean(steps[-4:]) < np.mean(steps[:4])
    assert state["epoch"] == 1 and state["history"][0]["frames_per_s"] > 0
    rep = load_checkpoint(build_sam2ct(512), tmp_path / "run" / "best.pt")
    assert rep.layout == "sam2ct"
    cfg2 = TrainConfig(**{**cfg.__dict__, "epochs": 2, "steps_per_epoch": 1})
    resumed = train(cfg2, resume=True)
    assert resumed["epoch"] == 2 and len(resumed["history"]) == 2
    assert json.loads((tmp_path / "run" / "train_summary.json").read_text())["epoch"] == 2


def test_synthetic_prompts_follow_the_paper(tmp_path):
    rng = np.random.default_rng(0)
    mask = np.zeros((5, 64, 64), bool)
    rr, cc = np.mgrid[0:64, 0:64]
    for z, r in ((1, 6), (2, 12), (3, 9)):
        mask[z] = (rr - 32) ** 2 + ((cc - 30) / 1.5) ** 2 <= r ** 2
    (lesion,) = lesions(mask.astype(np.int16), 1)
    eval_slices = {make_prompt("line", lesion, rng).slice_index for _ in range(30)}
    assert eval_slices <= {1, 2, 3} and 2 in eval_slices
    from scipy import ndimage
    edge = np.argwhere(mask[2] & ~ndimage.binary_erosion(mask[2])) + 0.5
    pair_d = np.linalg.norm(edge[:, None] - edge[None], axis=2)[np.triu_indices(len(edge), 1)]
    for _ in range(10):  # evaluation lines come from the longest 10% of boundary pairs
        assert line_prompt(mask[2], 2, rng, 0.1).length_px >= np.percentile(pair_d, 89.9)
    for _ in range(20):
        a = arrow_prompt(mask[2], 2, rng)
        tail, tip = a.points
        assert abs(np.linalg.norm(tail - tip) - 25.0) < 1e-6
        to_centre = np.array([32.5, 30.5]) - tip
        cosang = np.dot(tail - tip, -to_centre) / (np.linalg.norm(tail - tip) * np.linalg.norm(to_centre) + 1e-9)
        assert cosang > np.cos(np.deg2rad(15.5)) or np.linalg.norm(to_centre) < 1.0
    box = make_prompt("box", lesion, rng)
    assert box.kind == "polygon" and make_prompt("mask", lesion, rng).mask.any()
