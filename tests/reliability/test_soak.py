"""The randomized soak with faults (`bench/soak.py`), its one-minute version: the whole service on a
PostgreSQL cluster of its own (never the suite's database), under mixed traffic while a gunicorn
worker and a job worker are SIGKILLed and the database is restarted. It fails if money is lost or
applied twice, an event is not delivered, or a 5xx comes outside the restart (docs/reliability.md)."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.pgcluster import pg_bin_dir, pgbouncer_binary

ROOT = Path(__file__).resolve().parents[2]


def _soak(tmp_path, seconds: int, *options: str) -> dict:
    if pg_bin_dir() is None:
        message = "the soak makes its own PostgreSQL cluster and needs the server binaries (initdb, pg_ctl)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    summary = tmp_path / "soak.json"
    # Without the suite's database settings: the soak makes and names its own.
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DATABASE_POOLING", "DATABASE_REPLICA_URL",
                           "DATABASE_DIRECT_URL")}
    soak = subprocess.Popen(
        [sys.executable, "-m", "bench.soak", "--seconds", str(seconds), "--seed", "1", "--json", str(summary), *options],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        output, _ = soak.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        soak.send_signal(signal.SIGTERM)  # it stops its processes and deletes its cluster on the way out
        output, _ = soak.communicate(timeout=120)
        pytest.fail("the soak did not finish within 10 minutes:\n" + output[-6000:])

    assert soak.returncode == 0, output[-10000:]
    result = json.loads(summary.read_text())
    assert result["ok"] and result["money_lost"] == {}
    assert all(check["ok"] for check in result["checks"])
    assert {fault["name"] for fault in result["faults"]} == {"web worker", "job worker", "database restart"}
    assert all(fault["recovery"] is not None for fault in result["faults"])
    return result


def test_a_minute_of_mixed_traffic_with_faults_loses_and_doubles_no_money(tmp_path):
    assert _soak(tmp_path, 60)["pooler"] is None


@pytest.mark.stack
def test_a_short_soak_through_pgbouncer_in_transaction_mode_loses_and_doubles_no_money(tmp_path):
    if pgbouncer_binary() is None:
        pytest.fail("pgbouncer is not installed (`make tools` installs Debian's package)")
    result = _soak(tmp_path, 40, "--pooler")
    assert result["pooler"] == "pgbouncer (transaction pooling)"
    assert result["operations"] > 0 and result["http_statuses"].get("200", 0) + result["http_statuses"].get("201", 0) > 0
