"""The SAM2CT reference inference path, checked property by property with tiny (128 px) random-weight models:
decoder flags, which slices' memories are read at every step of a 44-slice propagation (both policies), pointer
positions, the model view round trip, arrow-tail normalisation, bf16 autocast on CPU, the device check, and
`opseg eval` vs `opseg segment` on a real CT. The full numerical comparison against the reference code is
benchmarks/parity_reference.py (docs/benchmarks.md)."""
import glob
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from sam2.modeling.sam2_utils import get_1d_sine_pe

from curation.dicom.volume import load_volume
from schemas import AnnotationRecord
from schemas.mask_nifti import paste
from segmentation.prompts import ARROW_TAIL_PX, Prompt, PromptError
from segmentation.protocol import evaluate_dataset, load_case
from segmentation.sam2ct.backend import SAM2CTSegmenter
from segmentation.sam2ct.build import build_sam2ct
from segmentation.sam2ct.device import DeviceError, resolve_device
from segmentation.sam2ct.engine import PropagationEngine, Track, preprocess
from segmentation.sam2ct.prompting import encode_prompt
from segmentation.sam2ct.view import to_view
from segmentation.stage import segment_series
from segmentation.synthetic_prompts import arrow_prompt
from sam2ct_checkpoints import save_layouts

CT_3SLICE = sorted(glob.glob(str(Path(__file__).parent / "data" / "dcmqi_ct_3slice" / "*.dcm")))
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_sam2ct(128, mcm=True)


@pytest.fixture(scope="module")
def layouts(tiny, tmp_path_factory):
    return save_layouts(tiny, tmp_path_factory.mktemp("tiny"))


def test_sam2ct_layout_defaults_to_the_reference_path(layouts):
    ref = SAM2CTSegmenter(layouts / "sam2ct.pt", image_size=128, device="cpu")
    m, dec = ref.engine.model, ref.engine.model.sam_mask_decoder
    assert ref.memory_policy == "sam2ct-reference" and ref.view == "transposed"
    assert dec.dynamic_multimask_via_stability and dec.dynamic_multimask_stability_delta == 0.05
    assert dec.dynamic_multimask_stability_thresh == 0.98
    assert m.binarize_mask_from_pts_for_mem_enc and not m.multimask_output_in_sam
    assert not m.use_mask_input_as_output_without_sam  # mask prompts go through the SAM heads
    assert "memory=sam2ct-reference" in ref.name and "view=transposed" in ref.name and "arrow_tail=25px" in ref.name
    sam2 = SAM2CTSegmenter(layouts / "sam2.pt", image_size=128, device="cpu")
    m2 = sam2.engine.model
    assert sam2.memory_policy == "sam2" and sam2.view == "dicom"
    assert not m2.sam_mask_decoder.dynamic_multimask_via_stability and not m2.binarize_mask_from_pts_for_mem_enc
    assert m2.use_mask_input_as_output_without_sam and m2.multimask_output_in_sam
    chosen = SAM2CTSegmenter(layouts / "sam2.pt", image_size=128, device="cpu", memory_policy="sam2ct-reference",
                             view="transposed")
    assert chosen.engine.model.sam_mask_decoder.dynamic_multimask_via_stability and chosen.view == "transposed"


class ReadLog(dict):
    """A memory bank that logs which tracked slices the model fetched."""

    def __init__(self, data, log):
        super().__init__(data)
        self.log = log

    def get(self, key, default=None):
        if key in self:
            self.log.add(key)
        return super().get(key, default)


class AlwaysOn(PropagationEngine):
    """Random weights stop early; a mask that never empties makes every slice of the volume a tracked step."""

    def _mask(self, out, shape_rc):
        return np.ones(shape_rc, bool)


def _reads_per_step(model, n=44, k=20):
    reads, captured = {}, {}
    original = model._prepare_memory_conditioned_features

    def logged(**kw):
        log = reads.setdefault((kw["frame_idx"], kw["track_in_reverse"]), set())
        bank = kw["output_dict"]
        kw["output_dict"] = {"cond_frame_outputs": bank["cond_frame_outputs"],
                             "non_cond_frame_outputs": ReadLog(bank["non_cond_frame_outputs"], log)}
        return original(**kw)

    def grab(module, args, kwargs, output):
        captured.setdefault("calls", []).append((kwargs["memory_pos"].clone(), kwargs["num_obj_ptr_tokens"]))

    model._prepare_memory_conditioned_features = logged
    hook = model.memory_attention.register_forward_hook(grab, with_kwargs=True)
    try:
        hu = np.random.default_rng(0).normal(0, 200, (n, 64, 64)).astype(np.float32)
        engine = AlwaysOn(model, True, "cpu", batch_size=8)
        (t,) = engine.run(hu, [Track("a", Prompt("point", k, np.array([[32.0, 32.0]])), None)])
    finally:
        hook.remove()
        del model._prepare_memory_conditioned_features
    assert sorted(t.masks) == list(range(n)) and engine.last_features.encoded.most_common(1)[0][1] == 1
    return reads, captured["calls"]


@pytest.mark.parametrize("policy,reach", [("sam2", 15), ("sam2ct-reference", 8)])
def test_memories_read_at_every_step_of_a_44_slice_propagation(tiny, policy, reach):
    """The slices each step reads are exactly the last `reach` tracked ones: SAM2 reads masks of 6 and pointers of
    15 slices back, the reference pointers of 8 (and masks of 6). Pruning must never drop one of them."""
    tiny.set_memory_policy(policy)
    try:
        reads, _ = _reads_per_step(tiny)
    finally:
        tiny.set_memory_policy("sam2")
    n, k = 44, 20
    for z in range(k + 1, n):
        assert reads[(z, False)] == {q for q in range(z - reach, z) if q > k}, (policy, "superior", z)
    for z in range(k - 1, -1, -1):
        assert reads[(z, True)] == {q for q in range(z + 1, z + reach + 1) if q < k}, (policy, "inferior", z)


def test_reference_pointer_positions_and_mask_memory_indices(tiny):
    tiny.set_memory_policy("sam2ct-reference")
    try:
        _, calls = _reads_per_step(tiny)
    finally:
        tiny.set_memory_policy("sam2")
    hw = (128 // 16) ** 2
    memory_pos, n_ptr = calls[15]  # superior slice 36: 8 slices tracked behind it
    split = tiny.hidden_dim // tiny.mem_dim
    assert n_ptr == 9 * split  # prompt slice + the last 8 slices
    positions = torch.tensor([0, 8, 7, 6, 5, 4, 3, 2, 1]) / 7  # prompt slice at 0, then oldest first at d/7
    with torch.inference_mode():
        expected = tiny.obj_ptr_tpos_proj(get_1d_sine_pe(positions, dim=tiny.hidden_dim)).repeat_interleave(split, 0)
    assert torch.allclose(memory_pos[-n_ptr:, 0], expected, atol=1e-6)
    assert memory_pos.shape[0] - n_ptr == 7 * hw  # prompt slice + the last 6 slices' mask memories


def test_memory_temporal_index_is_six_minus_d(tiny):
    tiny.set_memory_policy("sam2ct-reference")
    torch.manual_seed(3)
    img = torch.randn(4, 3, 128, 128)
    seen = []
    hook = tiny.memory_attention.register_forward_hook(lambda m, a, kw, o: seen.append(kw["memory_pos"].clone()),
                                                       with_kwargs=True)
    try:
        with torch.inference_mode():
            _, feats, pos, sizes = tiny._prepare_backbone_features(tiny.forward_image(img))
            bank = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
            pts = {"point_coords": torch.tensor([[[60.0, 60.0]]]), "point_labels": torch.tensor([[1]])}
            for z in range(4):
                out = tiny.track_step(z, z == 0, [x[:, z:z + 1] for x in feats], [x[:, z:z + 1] for x in pos], sizes,
                                      pts if z == 0 else None, None, bank, 4)
                (bank["cond_frame_outputs"] if z == 0 else bank["non_cond_frame_outputs"])[z] = out
    finally:
        hook.remove()
        tiny.set_memory_policy("sam2")
    hw = 64
    at3 = seen[-1]  # slice 3 reads prompt (index 6), slice 1 (d=2 -> 4), slice 2 (d=1 -> 5), oldest first
    for block, (z, index) in enumerate([(0, 6), (1, 4), (2, 5)]):
        out = bank["cond_frame_outputs"][0] if z == 0 else bank["non_cond_frame_outputs"][z]
        enc = out["maskmem_pos_enc"][-1].flatten(2).permute(2, 0, 1)
        assert torch.allclose(at3[block * hw:(block + 1) * hw], enc + tiny.maskmem_tpos_enc[index], atol=1e-5)


def test_view_round_trip(layouts):
    """The transposed-view segmenter equals a DICOM-view one fed the transposed volume and prompts, transposed back."""
    rng = np.random.default_rng(1)
    hu = rng.normal(0, 150, (3, 40, 56)).astype(np.float32)
    hu[:, 10:25, 20:40] += 300
    p = Prompt("polygon", 1, np.array([[10.0, 20.0], [10.0, 40.0], [25.0, 40.0], [25.0, 20.0]]), length_px=25.0)
    assert np.array_equal(p.transposed().transposed().points, p.points) and np.array_equal(to_view(to_view(hu, "transposed"), "transposed"), hu)
    ours = SAM2CTSegmenter(layouts / "sam2ct.pt", image_size=128, device="cpu")
    dicom = SAM2CTSegmenter(layouts / "sam2ct.pt", image_size=128, device="cpu", view="dicom")
    (a,) = ours.segment_many(hu, (2.0, 0.7, 0.8), [p])
    (b,) = dicom.segment_many(np.ascontiguousarray(hu.transpose(0, 2, 1)), (2.0, 0.8, 0.7), [p.transposed()])
    assert type(a) is type(b)
    if not isinstance(a, Exception):
        assert a.mask.shape == hu.shape and np.array_equal(a.mask, b.mask.transpose(0, 2, 1))


def test_arrow_tail_is_normalised_as_in_training():
    rng = np.random.default_rng(0)
    tip = np.array([50.0, 50.0])
    for drawn in (np.array([50.0, 10.0]), np.array([90.0, 90.0])):
        arrow = Prompt("arrow", 0, np.array([drawn, tip]), tip=tip)
        enc = encode_prompt(arrow, (100, 100), 200, True, arrow_tail_px=30.0)
        assert enc["point_labels"].tolist() == [[6, 5]]  # head first, as the reference orders them
        head, tail = enc["point_coords"][0].numpy() / 2 + 0.5  # back to slice (col, row) coordinates
        assert np.allclose(head, tip[::-1]) and np.isclose(np.linalg.norm(tail - head), 30.0, atol=1e-4)
        direction = (drawn - tip)[::-1] / np.linalg.norm(drawn - tip)
        assert np.allclose((tail - head) / 30.0, direction, atol=1e-5)
    mask = np.zeros((64, 64), bool)
    mask[20:40, 25:45] = True
    for _ in range(10):  # the synthetic training arrows already sit at the setting's distance
        a = arrow_prompt(mask, 0, rng, tail_px=ARROW_TAIL_PX)
        assert np.isclose(np.linalg.norm(a.points[0] - a.tip), ARROW_TAIL_PX)


def test_preprocessing_scales_by_the_volume_range_like_the_reference():
    hu = np.array([[[-100.0, 0.0], [100.0, 300.0]]])  # never reaches the clamp: min-max over the volume
    raw = preprocess(hu, 2)[0, 0] * 0.229 + 0.485
    assert torch.allclose(raw, torch.tensor([[0.0, 0.25], [0.5, 1.0]]), atol=1e-6)
    whole = np.concatenate([hu, hu + 1000])  # a few slices of a volume are scaled by the whole volume's range
    part = preprocess(whole[:1], 2, window=(-100.0, 500.0))
    assert torch.equal(part, preprocess(whole, 2)[:1])


def test_bad_prompts_end_per_prompt_with_a_reason(layouts):
    seg = SAM2CTSegmenter(layouts / "sam2ct.pt", image_size=128, device="cpu")
    hu = np.zeros((4, 32, 32), np.float32)
    bad = [Prompt("point", 1, np.array([[40.0, 5.0]])), Prompt("point", 9, np.array([[4.0, 5.0]])),
           Prompt("mask", 1, np.zeros((0, 2)), mask=np.zeros((8, 8), bool))]
    reasons = [r.reason for r in seg.segment_many(hu, (1.0, 1.0, 1.0), bad)]
    assert reasons == ["prompt_outside_image", "slice_outside_volume", "bad_mask_prompt"]
    (one,) = seg.segment_many(hu[:1], (1.0, 1.0, 1.0), bad[:1])
    assert isinstance(one, PromptError) and one.reason == "single_slice_series"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_a_gpu_fails_at_start(layouts, tmp_path):
    from segmentation.train import TrainConfig, train

    with pytest.raises(DeviceError, match="no_cuda"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="no_cuda"):
        SAM2CTSegmenter(layouts / "sam2ct.pt", image_size=128, device="cuda")
    with pytest.raises(DeviceError, match="no_cuda"):  # before the (missing) dataset is read
        train(TrainConfig(data=str(tmp_path / "absent"), out=str(tmp_path / "run"), device="cuda"))
    assert resolve_device(None) == "cpu"
    from typer.testing import CliRunner
    from curation.cli import app

    res = CliRunner().invoke(app, ["train", str(tmp_path), "--init", "random", "--out", str(tmp_path / "run"),
                                   "--device", "cuda"])
    assert res.exit_code == 2 and "no usable CUDA GPU" in res.output and not (tmp_path / "run").exists()


def test_engine_and_a_training_step_under_cpu_bf16_autocast(tiny, layouts):
    from segmentation.train import Sample, param_groups, run_clip, TrainConfig
    from segmentation.sam2ct.device import autocast

    rng = np.random.default_rng(0)
    hu = rng.normal(40, 20, (6, 48, 48)).astype(np.float32)
    hu[1:5, 14:34, 14:34] += 250
    mask_prompt = np.zeros((48, 48), bool)
    mask_prompt[14:34, 14:34] = True
    seg = SAM2CTSegmenter(layouts / "sam2ct.pt", image_size=128, device="cpu", amp="bf16")
    res = seg.segment_many(hu, (2.0, 1.0, 1.0), [Prompt("mask", 2, np.argwhere(mask_prompt) + 0.5, mask=mask_prompt,
                                                        length_px=20.0), Prompt("point", 2, np.array([[24.0, 24.0]]))])
    assert not isinstance(res[0], Exception) and res[0].mask[2].sum() == mask_prompt.sum()
    model = build_sam2ct(128, mcm=True, memory_policy="sam2ct-reference")
    model.load_state_dict(tiny.state_dict())
    model.train()
    lesion = np.zeros(hu.shape, bool)
    lesion[1:5, 14:34, 14:34] = True
    sample = Sample(hu, lesion, "synthetic", (float(hu.min()), float(hu.max())))
    opt = torch.optim.AdamW(param_groups(model, TrainConfig(data="", out="", lr=1e-4, lr_image_encoder=1e-4)))
    before = model.sam_mask_decoder.iou_token.weight.detach().clone()
    for kind in ("line", "mask"):
        with autocast("cpu", "bf16"):
            loss, dice = run_clip(model, sample, kind, rng, 3, "cpu", training=True)
        assert torch.isfinite(loss) and 0.0 <= dice <= 1.0
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    assert not torch.equal(before, model.sam_mask_decoder.iou_token.weight)


class Recorder:
    """Wraps a segmenter to keep what `opseg eval` sent and got."""

    def __init__(self, seg):
        self.seg, self.name, self.checkpoint, self.calls = seg, seg.name, seg.checkpoint, []

    def segment_many(self, hu, spacing, prompts):
        out = self.seg.segment_many(hu, spacing, prompts)
        self.calls.append((hu.copy(), prompts, out))
        return out


def test_eval_and_segment_give_the_same_mask_for_the_same_prompt(layouts, tmp_path):
    """A real CT series (dcmqi, 3 slices) segmented through `opseg segment`'s path (DICOM -> load_volume ->
    annotation -> segment_series) and `opseg eval`'s (a NIfTI of it stored RAS -> load_case -> synthetic prompt)."""
    vol = load_volume(CT_3SLICE, "ct3")
    label = np.zeros(vol.hu.shape, np.uint8)
    rr, cc = np.mgrid[0:512, 0:512]
    label[:, ((rr - 300) / 40) ** 2 + ((cc - 200) / 30) ** 2 <= 1] = 1
    for sub, arr in (("imagesTr", vol.hu.astype(np.int16)), ("labelsTr", label)):
        (tmp_path / sub).mkdir()
        img = nib.Nifti1Image(np.ascontiguousarray(arr.transpose(2, 1, 0)), LPS_TO_RAS @ vol.geometry.affine)
        nib.save(nib.as_closest_canonical(img), tmp_path / sub / "ct3.nii.gz")  # RAS on disk: rotated 180°
    hu, lab, _ = load_case(tmp_path / "imagesTr" / "ct3.nii.gz", tmp_path / "labelsTr" / "ct3.nii.gz")
    assert np.array_equal(hu, vol.hu) and np.array_equal(lab, label)
    seg = SAM2CTSegmenter(layouts / "sam2ct.pt", image_size=128, device="cpu")
    rec = Recorder(seg)
    evaluate_dataset(tmp_path, rec, 1, kinds=("point", "line", "box"))
    px = vol.geometry.pixel_spacing
    got = 0
    for i, (eval_hu, prompts, results) in enumerate(rec.calls):
        assert np.array_equal(eval_hu, vol.hu)
        (p,), (res,) = prompts, results
        kind = "polygon" if p.kind == "polygon" else p.kind
        a = AnnotationRecord(annotation_id=f"a{i}", source_kind="gsps", source_sop_uid="1", source_path="p", kind=kind,
                             slice_index=p.slice_index, points_px=p.points[:, ::-1].tolist(),
                             length_mm=p.length_px * (px[0] + px[1]) / 2 if p.length_px else None)
        rows, _ = segment_series(vol, [a], seg)
        if isinstance(res, Exception):
            assert rows[0].error is not None and rows[0].error.startswith(res.reason)
            continue
        got += 1
        assert np.array_equal(paste(rows[0].mask, rows[0].bbox, vol.hu.shape), res.mask), p.kind
    assert got >= 1
