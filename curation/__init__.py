"""opseg curation: archive indexing, annotation/report extraction, the demo archive and the CLI."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opseg")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.1.0"

EXTRACTOR = f"opseg-extract {__version__}"

# Real archives are full of values that break VR rules (long SH, odd DS): read them, do not warn per file.
import pydicom.config as _pydicom_config  # noqa: E402

_pydicom_config.settings.reading_validation_mode = _pydicom_config.IGNORE
