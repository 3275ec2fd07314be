"""SAM2CT = SAM2Base with the SAM2CT prompt encoder, memory-conditioned memories (MCM) and two inference paths.

MCM (paper §3.4): SAM2 encodes a new memory from the slice's raw image features; SAM2CT encodes it from the
features after memory attention (``pix_feat`` returned by ``_track_step``). With ``mcm=False`` and policy
``sam2`` the model is numerically SAM2 for labels 0-3.

Policy ``sam2ct-reference`` is the published SAM2CT inference code's behaviour (checked against
github samdchurch/SAM2CT, see docs/weights.md), set by ``set_memory_policy``:
- decoder: single-mask output with sam2's dynamic fallback to the most stable of the 3 multimask outputs
  (stability delta 0.05, threshold 0.98); the prompt slice's memory is encoded from the binarised mask;
- memory: the prompt slice's memory at temporal index 6 and the non-conditioning memories of the last 6 slices
  at index 6-d (SAM2: d-1); object pointers: the prompt slice's at position 0 plus the last 8 slices' at d/7;
- a mask prompt goes through the SAM heads as a dense prompt (SAM2 skips them and rescales the mask), and the
  given mask itself, through a sigmoid, is what the memory encoder sees.
"""
from __future__ import annotations

import torch
from sam2.modeling.sam2_base import SAM2Base
from sam2.modeling.sam2_utils import get_1d_sine_pe

from segmentation.sam2ct.prompt_encoder import SAM2CTPromptEncoder

MEMORY_POLICIES = ("sam2", "sam2ct-reference")
REFERENCE_POINTER_WINDOW = 8   # pointers of slices d = 1..8 back, at positions d / (8 - 1)
STABILITY_DELTA, STABILITY_THRESH = 0.05, 0.98


class SAM2CT(SAM2Base):
    def __init__(self, *args, mcm: bool = False, memory_policy: str = "sam2", **kwargs):
        self.mcm = mcm
        super().__init__(*args, **kwargs)
        self._sam2_defaults = (self.multimask_output_in_sam, self.binarize_mask_from_pts_for_mem_enc,
                               self.use_mask_input_as_output_without_sam, self.sam_mask_decoder.dynamic_multimask_via_stability)
        self.set_memory_policy(memory_policy)

    def set_memory_policy(self, policy: str) -> None:
        """Switch between SAM2's inference path and the SAM2CT reference's (attributes only: no weights change)."""
        if policy not in MEMORY_POLICIES:
            raise ValueError(f"memory_policy must be one of {MEMORY_POLICIES}, not {policy!r}")
        self.memory_policy = policy
        dec = self.sam_mask_decoder
        if policy == "sam2ct-reference":
            self.multimask_output_in_sam = False
            self.binarize_mask_from_pts_for_mem_enc = True
            self.use_mask_input_as_output_without_sam = False
            dec.dynamic_multimask_via_stability = True
            dec.dynamic_multimask_stability_delta, dec.dynamic_multimask_stability_thresh = STABILITY_DELTA, STABILITY_THRESH
        else:
            (self.multimask_output_in_sam, self.binarize_mask_from_pts_for_mem_enc,
             self.use_mask_input_as_output_without_sam, dec.dynamic_multimask_via_stability) = self._sam2_defaults

    def memory_reach(self) -> int:
        """How many slices back the memory attention can read: older non-conditioning outputs may be dropped."""
        if self.memory_policy == "sam2ct-reference":
            return max(REFERENCE_POINTER_WINDOW, self.num_maskmem - 1)
        return max(self.num_maskmem - 1, self.max_obj_ptrs_in_encoder - 1 if self.use_obj_ptrs_in_encoder else 0)

    def _build_sam_heads(self):
        super()._build_sam_heads()
        # same construction as the parent's encoder, with the SAM2CT point embeddings
        self.sam_prompt_encoder = SAM2CTPromptEncoder(
            embed_dim=self.sam_prompt_embed_dim,
            image_embedding_size=(self.sam_image_embedding_size, self.sam_image_embedding_size),
            input_image_size=(self.image_size, self.image_size),
            mask_in_chans=16,
        )

    def _reference_pointers(self, cond, recent, B, C, device):
        """Object-pointer tokens and their positions: prompt slice at 0, slice d back at d/7."""
        pointers = [(0, o["obj_ptr"]) for o in cond if o.get("obj_ptr") is not None]
        pointers += [(d, o["obj_ptr"]) for d, o in recent if d <= REFERENCE_POINTER_WINDOW]
        positions, ptrs = zip(*pointers)
        ptrs = torch.stack(ptrs, dim=0)
        tpos_dim = C if self.proj_tpos_enc_in_obj_ptrs else self.mem_dim
        scaled = torch.tensor(positions).to(device=device) / (REFERENCE_POINTER_WINDOW - 1)
        pos = self.obj_ptr_tpos_proj(get_1d_sine_pe(scaled, dim=tpos_dim))
        pos = pos.unsqueeze(1).expand(-1, B, self.mem_dim)
        if self.mem_dim < C:  # one pointer -> C/mem_dim tokens, as SAM2 splits them
            ptrs = ptrs.reshape(-1, B, C // self.mem_dim, self.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
            pos = pos.repeat_interleave(C // self.mem_dim, dim=0)
        return ptrs, pos

    def _prepare_memory_conditioned_features(self, frame_idx, is_init_cond_frame, current_vision_feats,
                                             current_vision_pos_embeds, feat_sizes, output_dict, num_frames,
                                             track_in_reverse=False):
        """SAM2's memory selection, or the SAM2CT reference's (module docstring). Memories are read oldest
        first, the order the reference concatenates them in."""
        if self.memory_policy == "sam2" or is_init_cond_frame or self.num_maskmem == 0:
            return super()._prepare_memory_conditioned_features(
                frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes,
                output_dict, num_frames, track_in_reverse)
        B, C = current_vision_feats[-1].size(1), self.hidden_dim
        H, W = feat_sizes[-1]
        device = current_vision_feats[-1].device
        back = 1 if track_in_reverse else -1  # where the already tracked slices lie
        cond = list(output_dict["cond_frame_outputs"].values())
        tracked = output_dict["non_cond_frame_outputs"]
        reach = self.memory_reach()
        recent = [(d, tracked.get(frame_idx + back * d)) for d in range(reach, 0, -1)]
        recent = [(d, o) for d, o in recent if o is not None]
        top = self.num_maskmem - 1
        memory, memory_pos = [], []
        for index, out in [(top, o) for o in cond] + [(top - d, o) for d, o in recent if d <= top]:
            memory.append(out["maskmem_features"].to(device).flatten(2).permute(2, 0, 1))
            enc = out["maskmem_pos_enc"][-1].to(device).flatten(2).permute(2, 0, 1)
            memory_pos.append(enc + self.maskmem_tpos_enc[index])
        n_ptr_tokens = 0
        if self.use_obj_ptrs_in_encoder:
            ptrs, pos = self._reference_pointers(cond, recent, B, C, device)
            memory.append(ptrs)
            memory_pos.append(pos)
            n_ptr_tokens = ptrs.shape[0]
        fused = self.memory_attention(curr=current_vision_feats, curr_pos=current_vision_pos_embeds,
                                      memory=torch.cat(memory, dim=0), memory_pos=torch.cat(memory_pos, dim=0),
                                      num_obj_ptr_tokens=n_ptr_tokens)
        return fused.permute(1, 2, 0).view(B, C, H, W)

    def track_step(self, frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes,
                   point_inputs, mask_inputs, output_dict, num_frames, track_in_reverse=False, run_mem_encoder=True,
                   prev_sam_mask_logits=None):
        """One slice: SAM head on memory-conditioned features, then the memory from raw or conditioned features."""
        current_out, sam_outputs, _, pix_feat = self._track_step(
            frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes, point_inputs,
            mask_inputs, output_dict, num_frames, track_in_reverse, prev_sam_mask_logits)
        _, _, ious, low_res_masks, high_res_masks, obj_ptr, object_score_logits = sam_outputs
        if mask_inputs is not None and not self.use_mask_input_as_output_without_sam:
            high_res_masks = mask_inputs.to(high_res_masks.dtype)  # the reference: the given mask is the output
        # object scores are kept in training too: the object-presence loss needs them
        current_out.update(pred_masks=low_res_masks, pred_masks_high_res=high_res_masks, obj_ptr=obj_ptr, ious=ious,
                           object_score_logits=object_score_logits)
        memory_feats = current_vision_feats
        if self.mcm:  # BCHW conditioned map back to the (HW)BC layout the memory encoder path expects
            memory_feats = list(current_vision_feats[:-1]) + [pix_feat.flatten(2).permute(2, 0, 1)]
        self._encode_memory_in_output(memory_feats, feat_sizes, point_inputs, run_mem_encoder, high_res_masks,
                                      object_score_logits, current_out)
        return current_out
