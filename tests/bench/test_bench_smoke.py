"""The benchmark's quick run: it runs end to end and writes its report. No timing is asserted;
speed is judged by a full `make bench` (see docs/performance.md)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_runs_and_writes_its_report():
    if shutil.which("wrk") is None or shutil.which("pgbench") is None:
        message = "wrk and pgbench are needed for the benchmark smoke run (make tools installs wrk)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((ROOT / "bench/results/quick.json").read_text())
    assert set(report) >= {"limit", "core", "http", "growth", "targets", "machine"}
    assert report["limit"]["tpcb_like"]["4"]["tps"] > 0
    assert report["core"]["random_pairs"]["4"]["ops"] > 0
    assert report["http"]["healthz"]["16"]["requests"] > 0
    assert all(level["reconcile_ok"] for level in report["growth"]["levels"].values())
    assert report["growth"]["monthly_payouts"]["paid"] == report["growth"]["monthly_payouts"]["experts"]
    assert {t["target"].split(":")[0] for t in report["targets"]}
    assert (ROOT / "bench/results/quick.png").stat().st_size > 10_000
    assert "## Targets" in (ROOT / "bench/results/quick.md").read_text()
