"""Segmentation stage: annotation prompts -> 3D masks (classical CPU backend; SAM2CT with user weights)."""
from curation import __version__

__all__ = ["__version__"]
