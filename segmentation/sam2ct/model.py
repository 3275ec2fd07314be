"""SAM2CT = SAM2Base with the SAM2CT prompt encoder and memory-conditioned memories (MCM) as a switch.

MCM (paper §3.4): SAM2 encodes a new memory from the slice's raw image features; SAM2CT encodes it from the
features after memory attention (``pix_feat`` returned by ``_track_step``). With ``mcm=False`` the model is
numerically SAM2 for labels 0-3.
"""
from __future__ import annotations

from sam2.modeling.sam2_base import SAM2Base

from segmentation.sam2ct.prompt_encoder import SAM2CTPromptEncoder

MEMORY_POLICIES = ("sam2",)


class SAM2CT(SAM2Base):
    def __init__(self, *args, mcm: bool = False, memory_policy: str = "sam2", **kwargs):
        if memory_policy not in MEMORY_POLICIES:
            raise ValueError(f"memory_policy must be one of {MEMORY_POLICIES}, not {memory_policy!r}")
        self.mcm = mcm
        self.memory_policy = memory_policy
        super().__init__(*args, **kwargs)

    def _build_sam_heads(self):
        super()._build_sam_heads()
        # same construction as the parent's encoder, with the SAM2CT point embeddings
        self.sam_prompt_encoder = SAM2CTPromptEncoder(
            embed_dim=self.sam_prompt_embed_dim,
            image_embedding_size=(self.sam_image_embedding_size, self.sam_image_embedding_size),
            input_image_size=(self.image_size, self.image_size),
            mask_in_chans=16,
        )

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
