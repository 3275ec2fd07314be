"""Prompt encoder with SAM2CT's extra point embeddings.

Point labels 4 / 5 / 6 select the line-endpoint / arrow-start / arrow-end embeddings (index 7 is unused,
kept so the published 8-entry layout loads). The parent embeds every point's position; labels it does not
know get no type embedding there, so adding ours afterwards changes only the tokens of labels 4-6.
"""
from __future__ import annotations

import torch
from torch import nn

from sam2.modeling.sam.prompt_encoder import PromptEncoder

LINE_ENDPOINT, ARROW_START, ARROW_END = 4, 5, 6
SAM2CT_POINT_EMBEDDINGS = 8


class SAM2CTPromptEncoder(PromptEncoder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        embed_dim = self.point_embeddings[0].weight.shape[1]
        for _ in range(SAM2CT_POINT_EMBEDDINGS - len(self.point_embeddings)):
            self.point_embeddings.append(nn.Embedding(1, embed_dim))
        self.num_point_embeddings = SAM2CT_POINT_EMBEDDINGS

    def _embed_points(self, points: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
        embedding = super()._embed_points(points, labels, pad)
        if pad:  # the parent appended one padding point (label -1)
            labels = torch.cat([labels, -torch.ones_like(labels[:, :1])], dim=1)
        for label in (LINE_ENDPOINT, ARROW_START, ARROW_END):
            embedding = torch.where((labels == label).unsqueeze(-1), embedding + self.point_embeddings[label].weight, embedding)
        return embedding
