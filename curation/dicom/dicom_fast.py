"""Fast header value access for hot loops (indexing, GSPS parsing).

pydicom converts each raw element through several layers of hooks and builds a Python object per value;
for the few dozen elements opseg reads per file that conversion costs more than reading the file. This
converts the common VRs straight from the raw bytes and falls back to pydicom for everything else
(sequences, unusual VRs), so results are the same values pydicom would give, as plain Python types.
"""
from __future__ import annotations

import struct
from functools import lru_cache

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.multival import MultiValue

_STRUCT = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
_TEXT = {"UI", "CS", "LO", "SH", "DA", "TM", "DT", "AS", "AE", "DS", "IS"}


@lru_cache(maxsize=None)
def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"unknown DICOM keyword {keyword!r}")
    return tag


def value(ds, keyword: str, default=None):
    """``ds.get(keyword, default)`` with numbers as int/float (lists when multi-valued), strings stripped."""
    elem = ds._dict.get(_tag(keyword))
    if elem is None:
        return default
    if not isinstance(elem, RawDataElement):
        v = elem.value
        return list(v) if isinstance(v, MultiValue) else v
    raw = elem.value
    vr = elem.VR or dictionary_VR(elem.tag)
    if raw is None or len(raw) == 0:
        return default if vr != "SQ" else ds[elem.tag].value
    if vr in _STRUCT:
        fmt = ("<" if elem.is_little_endian else ">") + _STRUCT[vr]
        vals = [v[0] for v in struct.iter_unpack(fmt, raw)]
        return vals[0] if len(vals) == 1 else vals
    if vr in _TEXT and raw.isascii():
        # non-ASCII bytes depend on the Specific Character Set: leave those to pydicom
        text = raw.decode("ascii").strip(" \x00")
        if vr in ("DS", "IS"):
            try:
                nums = [int(p) if vr == "IS" else float(p) for p in (q.strip() for q in text.split("\\")) if p]
            except ValueError:
                return ds[elem.tag].value
            return None if not nums else nums[0] if len(nums) == 1 else nums
        parts = text.split("\\")
        return parts[0] if len(parts) == 1 else parts
    return ds[elem.tag].value


def has(ds, keyword: str) -> bool:
    return _tag(keyword) in ds._dict
