"""SAM2CT on the sam2 package: checkpoint layouts through the real loader, prompt tokens, MCM, propagation.

Checkpoints are made here (random init, saved as ``{"model": state_dict}``), since no weights can be
downloaded; what is checked is the wiring, not accuracy.
"""
import copy

import numpy as np
import pytest
import torch

from curation.dicom.volume import SliceRef, Volume, build_geometry
from schemas import AnnotationRecord
from segmentation.sam2ct.backend import SAM2CTSegmenter
from segmentation.sam2ct.build import SAM2CT_ONLY, CheckpointError, build_sam2ct, load_checkpoint
from segmentation.sam2ct.engine import PropagationEngine, Track, preprocess
from segmentation.prompts import Prompt
from segmentation.stage import segment_series
from sam2ct_checkpoints import sam2_layout, save_layouts

torch.manual_seed(0)


@pytest.fixture(scope="module")
def model512():
    torch.manual_seed(0)
    return build_sam2ct(512, mcm=False)


@pytest.fixture(scope="module")
def checkpoints(model512, tmp_path_factory):
    d = save_layouts(model512, tmp_path_factory.mktemp("ckpt"), sam2_name="medsam2_512.pt")
    bad_shape = sam2_layout(model512.state_dict())
    bad_shape["sam_mask_decoder.iou_token.weight"] = torch.zeros(3, 3)
    torch.save({"model": bad_shape}, d / "wrong_shapes.pt")
    (d / "notes.pt").write_text("not a checkpoint")
    return d


def test_checkpoint_layouts_load_through_the_real_loader(checkpoints):
    m = build_sam2ct(512)
    rep = load_checkpoint(m, checkpoints / "sam2ct.pt")
    assert rep.layout == "sam2ct" and rep.missing == [] and rep.has_line_arrow_embeddings
    m2 = build_sam2ct(512)
    rep2 = load_checkpoint(m2, checkpoints / "medsam2_512.pt")
    assert rep2.layout == "sam2" and rep2.missing == sorted(SAM2CT_ONLY) and not rep2.has_line_arrow_embeddings
    ref = torch.load(checkpoints / "sam2ct.pt", weights_only=True)["model"]
    assert torch.equal(m2.state_dict()["image_encoder.trunk.patch_embed.proj.weight"], ref["image_encoder.trunk.patch_embed.proj.weight"])
    with pytest.raises(CheckpointError, match="shape_mismatch"):
        load_checkpoint(build_sam2ct(512), checkpoints / "wrong_shapes.pt")
    with pytest.raises(CheckpointError, match="not_a_checkpoint"):
        load_checkpoint(build_sam2ct(512), checkpoints / "notes.pt")


def test_sam2_1024_layout_loads_and_falls_back_to_zero_shot_prompts(tmp_path):
    torch.manual_seed(5)
    donor = build_sam2ct(1024)
    torch.save({"model": sam2_layout(donor.state_dict())}, tmp_path / "sam2.1_tiny.pt")
    seg = SAM2CTSegmenter(tmp_path / "sam2.1_tiny.pt", image_size=1024, mcm=False, device="cpu")
    assert seg.report.layout == "sam2" and not seg.engine.line_arrow_embeddings
    assert "mcm=off" in seg.name and seg.engine.model.image_size == 1024


def test_labels_4_5_6_change_only_their_own_tokens(model512):
    enc = model512.sam_prompt_encoder
    pts = torch.tensor([[[100.0, 120.0], [200.0, 220.0], [300.0, 50.0]]])
    plain, _ = enc(points=(pts, torch.tensor([[1, 1, 0]])), boxes=None, masks=None)
    for label in (4, 5, 6):
        mixed, _ = enc(points=(pts, torch.tensor([[1, label, 0]])), boxes=None, masks=None)
        assert torch.equal(mixed[:, 0], plain[:, 0]) and torch.equal(mixed[:, 2], plain[:, 2])
        assert not torch.allclose(mixed[:, 1], plain[:, 1])
        pos_only = mixed[:, 1] - enc.point_embeddings[label].weight
        assert torch.allclose(pos_only, plain[:, 1] - enc.point_embeddings[1].weight, atol=1e-6)


def _one_step(model, record):
    """One prompt-slice step on a random image; returns what the memory encoder received and pix_feat."""
    seen = {}

    def capture(module, args, output):  # a forward hook must return None to leave the output alone
        seen.setdefault("pix_feat", args[0].clone())

    hook = model.memory_encoder.register_forward_hook(capture)
    original = model._track_step

    def recording(*a, **k):
        res = original(*a, **k)
        record["conditioned"] = res[3].clone()
        return res

    model._track_step = recording
    try:
        torch.manual_seed(1)
        img = torch.randn(1, 3, model.image_size, model.image_size)
        with torch.inference_mode():
            _, feats, pos, sizes = model._prepare_backbone_features(model.forward_image(img))
            bank = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
            pts = {"point_coords": torch.tensor([[[200.0, 200.0], [260.0, 240.0]]]), "point_labels": torch.tensor([[4, 4]])}
            out = model.track_step(0, True, feats, pos, sizes, pts, None, bank, 3)
        record["raw"] = feats[-1].permute(1, 2, 0).reshape(record["conditioned"].shape).clone()
        return seen["pix_feat"], out
    finally:
        hook.remove()
        del model._track_step


def test_mcm_feeds_the_memory_encoder_the_conditioned_features(model512):
    m = copy.deepcopy(model512)
    m.mcm = True
    rec = {}
    received, _ = _one_step(m, rec)
    assert torch.equal(received, rec["conditioned"]) and not torch.equal(received, rec["raw"])
    m.mcm = False
    rec = {}
    received, _ = _one_step(m, rec)
    assert torch.equal(received, rec["raw"])


def test_mcm_off_is_numerically_plain_sam2(model512):
    import sam2  # noqa: F401
    from sam2.build_sam import build_sam2

    plain = build_sam2("configs/sam2.1/sam2.1_hiera_t.yaml", None, device="cpu", apply_postprocessing=False,
                       hydra_overrides_extra=["++model.image_size=512",
                                              "++model.memory_attention.layer.self_attention.feat_sizes=[32,32]",
                                              "++model.memory_attention.layer.cross_attention.feat_sizes=[32,32]"])
    plain.load_state_dict(sam2_layout(model512.state_dict()))
    torch.manual_seed(2)
    img = torch.randn(1, 3, 512, 512)
    pts = {"point_coords": torch.tensor([[[100.0, 140.0]]]), "point_labels": torch.tensor([[1]])}
    outs = []
    for m in (model512, plain):
        with torch.inference_mode():
            _, feats, pos, sizes = m._prepare_backbone_features(m.forward_image(img))
            bank = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
            first = m.track_step(0, True, feats, pos, sizes, pts, None, bank, 2)
            bank["cond_frame_outputs"][0] = first
            second = m.track_step(1, False, feats, pos, sizes, None, None, bank, 2)
        outs.append((first, second))
    for key in ("pred_masks", "obj_ptr", "maskmem_features"):
        assert torch.equal(outs[0][0][key], outs[1][0][key]) and torch.equal(outs[0][1][key], outs[1][1][key])


def _toy_volume(n=6, size=48):
    hu = np.full((n, size, size), 40.0, np.float32)
    hu[1:5, 14:34, 14:34] = 200.0
    geo = build_geometry([SliceRef(f"1.{i}", None, (0.0, 0.0, 2.0 * i), (1, 0, 0, 0, 1, 0), size, size, (1.0, 1.0))
                          for i in range(n)])
    return Volume(hu, geo, "toy")


def test_propagation_encodes_each_slice_once_and_stops_consistently(model512):
    vol = _toy_volume()
    prompts = [Prompt("line", 2, np.array([[24.0, 15.0], [24.0, 33.0]]), length_px=18.0),
               Prompt("point", 3, np.array([[24.0, 24.0]])),
               Prompt("arrow", 2, np.array([[5.0, 5.0], [14.0, 14.0]]), tip=np.array([14.0, 14.0]))]
    engine = PropagationEngine(copy.deepcopy(model512), line_arrow_embeddings=True, device="cpu", batch_size=3)
    tracks = engine.run(vol.hu, [Track(str(i), p, None) for i, p in enumerate(prompts)])
    counts = engine.last_features.encoded
    assert counts and max(counts.values()) == 1  # three lesions, both directions: every slice encoded once
    for t in tracks:
        if t.error:
            continue
        zs = sorted(t.masks)
        assert zs == list(range(zs[0], zs[-1] + 1)) and all(t.masks[z].any() for z in zs)
        assert t.stops["superior"] == ("volume_edge" if zs[-1] == vol.hu.shape[0] - 1 else "empty_slice")
        assert t.stops["inferior"] == ("volume_edge" if zs[0] == 0 else "empty_slice")


def test_size_limit_bounds_propagation(model512):
    vol = _toy_volume(n=8)
    engine = PropagationEngine(copy.deepcopy(model512), line_arrow_embeddings=False, device="cpu")
    (t,) = engine.run(vol.hu, [Track("a", Prompt("point", 4, np.array([[24.0, 24.0]])), None, max_extent=1)])
    if t.error is None:
        assert min(t.masks) >= 3 and max(t.masks) <= 5
        for name in ("superior", "inferior"):
            assert t.stops[name] in ("size_limit", "empty_slice")


def test_preprocessing_window():
    x = preprocess(np.array([[[-1000.0, 0.0], [500.0, 2000.0]]]), 4)
    assert x.shape == (1, 3, 4, 4)
    raw = x[0, 0] * 0.229 + 0.485
    assert torch.isclose(raw.min(), torch.tensor(0.0), atol=1e-5) and torch.isclose(raw.max(), torch.tensor(1.0), atol=1e-5)


def test_sam2ct_backend_rows_are_labelled(checkpoints):
    seg = SAM2CTSegmenter(checkpoints / "sam2ct.pt", image_size=512, mcm=True, device="cpu")
    assert seg.checkpoint.startswith("sam2ct.pt@") and "sam2ct" in seg.name and "mcm=on" in seg.name
    a = AnnotationRecord(annotation_id="a", source_kind="gsps", source_sop_uid="1", source_path="p", kind="line",
                         slice_index=2, points_px=[[15.0, 24.0], [33.0, 24.0]], length_mm=18.0)
    rows, _ = segment_series(_toy_volume(), [a], seg)
    assert rows[0].backend == seg.name and rows[0].checkpoint == seg.checkpoint
    assert rows[0].error is not None or rows[0].mask is not None


def test_reference_memory_policy_uses_reversed_temporal_indices(model512):
    captured = {}
    results = {}
    for policy in ("sam2", "sam2ct-reference"):
        m = copy.deepcopy(model512)
        m.set_memory_policy(policy)

        def capture(module, args, kwargs, output):
            captured[policy] = (kwargs["memory_pos"].clone(), kwargs["num_obj_ptr_tokens"])

        hook = m.memory_attention.register_forward_hook(capture, with_kwargs=True)
        torch.manual_seed(3)
        img = torch.randn(3, 3, 512, 512)
        with torch.inference_mode():
            _, feats, pos, sizes = m._prepare_backbone_features(m.forward_image(img))
            bank = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
            pts = {"point_coords": torch.tensor([[[200.0, 200.0]]]), "point_labels": torch.tensor([[1]])}
            for z in range(3):
                f = [x[:, z:z + 1] for x in feats]
                p = [x[:, z:z + 1] for x in pos]
                out = m.track_step(z, z == 0, f, p, sizes, pts if z == 0 else None, None, bank, 3)
                (bank["cond_frame_outputs"] if z == 0 else bank["non_cond_frame_outputs"])[z] = out
        hook.remove()
        results[policy] = bank
    # at slice 2: memories are the prompt slice (0) and slice 1 (d=1); compare slice 1's temporal encoding
    hw = 32 * 32
    for policy, index in (("sam2", 0), ("sam2ct-reference", 5)):
        mem_pos, _ = captured[policy]
        slice1 = results[policy]["non_cond_frame_outputs"][1]["maskmem_pos_enc"][-1].flatten(2).permute(2, 0, 1)
        m = model512
        assert torch.allclose(mem_pos[hw:2 * hw], slice1 + m.maskmem_tpos_enc[index], atol=1e-5), policy
    assert captured["sam2ct-reference"][1] > 0


def test_prompt_encoding_of_each_kind():
    from segmentation.sam2ct.prompting import encode_prompt

    line = Prompt("line", 0, np.array([[50.0, 20.0], [50.0, 60.0]]), length_px=40.0)
    trained = encode_prompt(line, (100, 100), 1000, True)
    assert trained["point_labels"].tolist() == [[4, 4]]
    # (x, y) = pixel index (coordinate - 0.5) × scale, as sam2's image predictor and the SAM2CT reference map them
    assert torch.allclose(trained["point_coords"][0, 0], torch.tensor([195.0, 495.0]))
    box = encode_prompt(line, (100, 100), 1000, False)  # zero-shot: square box, side = length, centred
    assert box["point_labels"].tolist() == [[2, 3]]
    (x0, y0), (x1, y1) = box["point_coords"][0].tolist()
    assert np.allclose([x1 - x0, y1 - y0], [400, 400]) and np.allclose([(x0 + x1) / 2, (y0 + y1) / 2], [395, 495])
    arrow = Prompt("arrow", 0, np.array([[10.0, 10.0], [30.0, 30.0]]), tip=np.array([30.0, 30.0]))
    assert encode_prompt(arrow, (100, 100), 100, True)["point_labels"].tolist() == [[6, 5]]  # head, then tail point
    click = encode_prompt(arrow, (100, 100), 100, False)
    assert click["point_labels"].tolist() == [[1]] and np.allclose(click["point_coords"][0, 0] + 0.5, [33.0, 33.0])
    bidi = Prompt("bidimensional", 0, np.array([[50.0, 20.0], [50.0, 60.0], [40.0, 40.0], [60.0, 40.0]]), length_px=40.0)
    assert encode_prompt(bidi, (100, 100), 100, True)["point_labels"].tolist() == [[4, 4, 4, 4]]
    ell = Prompt("ellipse", 0, np.array([[50.0, 20.0], [50.0, 60.0], [40.0, 40.0], [60.0, 40.0]]), length_px=40.0)
    assert encode_prompt(ell, (100, 100), 100, True)["point_labels"].tolist() == [[2, 3]]
