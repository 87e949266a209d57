"""The benchmark scripts keep running against the package (bench_gd.machine() imported a function that a
refactoring had removed: every benchmark script crashed before measuring anything)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_machine_record_names_the_cpu_the_libraries_and_the_commit(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_gd

    info = bench_gd.machine()
    assert info["torch"] and info["engine_gemm"] in ("mkl", "openblas") and "commit" in info["eoscheck"]
    assert isinstance(info.get("blas"), list) and info["numpy"]


def test_startup_benchmark_writes_its_json(tmp_path):
    out = tmp_path / "startup.json"
    subprocess.run([sys.executable, str(BENCH / "bench_startup.py"), "--repeat", "1", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=300)
    res = json.loads(out.read_text())
    assert len(res["help_seconds"]) == 1 and res["help_seconds"][0] > 0      # measured, whatever the machine
    assert res["heavy_modules_imported"] == "[]"                             # --help imports none of them
    assert res["machine"]["eoscheck"]["commit"] is None or len(res["machine"]["eoscheck"]["commit"]) == 40
