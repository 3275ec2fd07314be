"""Where the tests' real DICOM samples live (a module of its own: some dependencies install a top-level
package named ``tests``, so test modules must not import ``tests.conftest``)."""
from pathlib import Path

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "dicom-samples"
