"""Segmentation stage (SAM2CT and the weight-free CPU backend): issue 3; its output contract is schemas.MaskRecord."""
