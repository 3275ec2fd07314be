"""SAM2CT on the ``sam2`` package: line/arrow prompt embeddings, memory-conditioned memories, checkpoint loading.

Built by subclassing sam2 1.1.0 (``PromptEncoder``, ``SAM2Base``); no sam2 code is copied.
"""
