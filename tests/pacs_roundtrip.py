"""Run inside a private network namespace (see tests/test_pacs_sources.py): start Orthanc with a generated
config on loopback, load an archive by C-STORE, mine it through DICOMweb and DIMSE into two caches, write
timings and request counts to WORK/result.json.

    unshare -n sh -c 'ip link set lo up && python tests/pacs_roundtrip.py ARCHIVE WORK'
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pydicom  # noqa: E402
from pynetdicom import AE  # noqa: E402

from curation.extract.sources.dicomweb import DICOMwebSource  # noqa: E402
from curation.extract.sources.dimse import DIMSESource  # noqa: E402

HTTP, DICOM, STORE = 8042, 4242, 11113
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


def start_orthanc(work: Path) -> subprocess.Popen:
    config = {"Name": "opseg-test", "StorageDirectory": str(work / "db"), "IndexDirectory": str(work / "db"),
              "HttpPort": HTTP, "DicomPort": DICOM, "DicomAet": "ORTHANC", "RemoteAccessAllowed": True,
              "AuthenticationEnabled": False, "DicomAlwaysAllowFind": True, "DicomAlwaysAllowStore": True,
              "DicomModalities": {"opseg": ["OPSEG", "127.0.0.1", STORE]}, "Plugins": [PLUGIN],
              "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}
    (work / "orthanc.json").write_text(json.dumps(config))
    proc = subprocess.Popen(["Orthanc", str(work / "orthanc.json")], stdout=open(work / "orthanc.log", "w"),
                            stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{HTTP}/system", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("Orthanc did not start: " + (work / "orthanc.log").read_text()[-2000:])


def c_store(archive: Path) -> dict:
    files = [p for p in sorted(archive.rglob("*")) if p.is_file()]
    datasets = []
    for p in files:
        try:
            datasets.append(pydicom.dcmread(p))
        except Exception:
            continue  # the archive's planted bad files
    ae = AE(ae_title="LOADER")
    for uid in sorted({str(ds.SOPClassUID) for ds in datasets if "SOPClassUID" in ds}):
        ae.add_requested_context(uid)
    assoc = ae.associate("127.0.0.1", DICOM, ae_title="ORTHANC")
    stored = 0
    for ds in datasets:
        try:
            status = assoc.send_c_store(ds)
        except Exception:
            continue
        stored += bool(status and status.Status == 0)
    assoc.release()
    return {"files": len(files), "stored": stored}


def main(archive: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    orthanc = start_orthanc(work)
    try:
        result = {"load": c_store(archive)}
        for name, make in (("dicomweb", lambda: DICOMwebSource(f"http://127.0.0.1:{HTTP}/dicom-web")),
                           ("dimse", lambda: DIMSESource("127.0.0.1", DICOM, called_ae="ORTHANC", calling_ae="OPSEG",
                                                         store_port=STORE))):
            t0 = time.perf_counter()
            stats = make().fetch(work / f"cache-{name}")
            result[name] = {**stats.to_dict(), "seconds": time.perf_counter() - t0}
            t0 = time.perf_counter()
            again = make().fetch(work / f"cache-{name}")
            result[f"{name}_rerun"] = {**again.to_dict(), "seconds": time.perf_counter() - t0}
        from curation.pipeline.run import run_pipeline  # the same fetch, as the first stage of `opseg run dicomweb+http://...`

        reps = run_pipeline(f"dicomweb+http://127.0.0.1:{HTTP}/dicom-web", work / "run-dicomweb", shards=1, deid=False)
        result["run"] = {r.name: r.stats for r in reps[:2]}
        (work / "result.json").write_text(json.dumps(result, indent=1, default=str))
    finally:
        orthanc.terminate()
        orthanc.wait(timeout=30)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
