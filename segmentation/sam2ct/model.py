"""SAM2CT = SAM2Base with the SAM2CT prompt encoder and memory-conditioned memories (MCM) as a switch.

MCM (paper §3.4): SAM2 encodes a new memory from the slice's raw image features; SAM2CT encodes it from the
features after memory attention (``pix_feat`` returned by ``_track_step``). With ``mcm=False`` the model is
numerically SAM2 for labels 0-3.
"""
from __future__ import annotations

import torch
from sam2.modeling.sam2_base import SAM2Base
from sam2.modeling.sam2_utils import get_1d_sine_pe

from segmentation.sam2ct.prompt_encoder import SAM2CTPromptEncoder

MEMORY_POLICIES = ("sam2", "sam2ct-reference")
REFERENCE_POINTER_WINDOW = 8  # the reference code reads object pointers of the last 7 slices + the prompt slice


class SAM2CT(SAM2Base):
    def __init__(self, *args, mcm: bool = False, memory_policy: str = "sam2", **kwargs):
        if memory_policy not in MEMORY_POLICIES:
            raise ValueError(f"memory_policy must be one of {MEMORY_POLICIES}, not {memory_policy!r}")
        self.mcm = mcm
        self.memory_policy = memory_policy
        super().__init__(*args, **kwargs)
        if memory_policy == "sam2ct-reference":
            self.multimask_output_in_sam = False  # the reference inference keeps a single mask

    def _build_sam_heads(self):
        super()._build_sam_heads()
        # same construction as the parent's encoder, with the SAM2CT point embeddings
        self.sam_prompt_encoder = SAM2CTPromptEncoder(
            embed_dim=self.sam_prompt_embed_dim,
            image_embedding_size=(self.sam_image_embedding_size, self.sam_image_embedding_size),
            input_image_size=(self.image_size, self.image_size),
            mask_in_chans=16,
        )

    def _prepare_memory_conditioned_features(self, frame_idx, is_init_cond_frame, current_vision_feats,
                                             current_vision_pos_embeds, feat_sizes, output_dict, num_frames,
                                             track_in_reverse=False):
        """SAM2's memory selection, or (policy ``sam2ct-reference``) the one the published SAM2CT weights were
        used with: a memory d slices back gets temporal index 6-d instead of d-1; the prompt slice's object
        pointer sits at position 0 and only pointers of the last 7 slices follow, at positions d/7."""
        if self.memory_policy == "sam2" or is_init_cond_frame or self.num_maskmem == 0:
            return super()._prepare_memory_conditioned_features(
                frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes,
                output_dict, num_frames, track_in_reverse)
        B, C = current_vision_feats[-1].size(1), self.hidden_dim
        H, W = feat_sizes[-1]
        device = current_vision_feats[-1].device
        back = 1 if track_in_reverse else -1  # where the already tracked slices lie
        cond = list(output_dict["cond_frame_outputs"].values())
        recent = [(d, output_dict["non_cond_frame_outputs"].get(frame_idx + back * d)) for d in range(1, self.num_maskmem)]
        memory, memory_pos = [], []
        for index, out in [(self.num_maskmem - 1, o) for o in cond] + [(self.num_maskmem - 1 - d, o) for d, o in recent]:
            if out is None:
                continue
            memory.append(out["maskmem_features"].to(device).flatten(2).permute(2, 0, 1))
            enc = out["maskmem_pos_enc"][-1].to(device).flatten(2).permute(2, 0, 1)
            memory_pos.append(enc + self.maskmem_tpos_enc[index])
        n_ptr_tokens = 0
        if self.use_obj_ptrs_in_encoder:
            pointers = [(0.0, o["obj_ptr"]) for o in cond]
            for d in range(1, REFERENCE_POINTER_WINDOW):
                out = output_dict["non_cond_frame_outputs"].get(frame_idx + back * d)
                if out is not None:
                    pointers.append((d / (REFERENCE_POINTER_WINDOW - 1), out["obj_ptr"]))
            positions, ptrs = zip(*pointers)
            ptrs = torch.stack(ptrs, dim=0)
            tpos_dim = C if self.proj_tpos_enc_in_obj_ptrs else self.mem_dim
            pos = self.obj_ptr_tpos_proj(get_1d_sine_pe(torch.tensor(positions, device=device), dim=tpos_dim))
            pos = pos.unsqueeze(1).expand(-1, B, self.mem_dim)
            if self.mem_dim < C:  # one pointer -> C/mem_dim tokens, as SAM2 splits them
                ptrs = ptrs.reshape(-1, B, C // self.mem_dim, self.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
                pos = pos.repeat_interleave(C // self.mem_dim, dim=0)
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
        # object scores are kept in training too: the object-presence loss needs them
        current_out.update(pred_masks=low_res_masks, pred_masks_high_res=high_res_masks, obj_ptr=obj_ptr, ious=ious,
                           object_score_logits=object_score_logits)
        memory_feats = current_vision_feats
        if self.mcm:  # BCHW conditioned map back to the (HW)BC layout the memory encoder path expects
            memory_feats = list(current_vision_feats[:-1]) + [pix_feat.flatten(2).permute(2, 0, 1)]
        self._encode_memory_in_output(memory_feats, feat_sizes, point_inputs, run_mem_encoder, high_res_masks,
                                      object_score_logits, current_out)
        return current_out
