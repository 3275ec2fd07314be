"""opseg curation: archive indexing, annotation/report extraction, the later stages, the pipeline and the CLI.

Importing it configures nothing: DICOM reading settings are applied by curation.dicom.read on first use.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opseg")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.1.0"

EXTRACTOR = f"opseg-extract {__version__}"
