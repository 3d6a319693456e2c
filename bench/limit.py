"""PostgreSQL's own limit on this machine: pgbench's tpcb-like bank transfer, and the same kind of
transaction on one hot row, at the client counts the ledger is measured at."""
import re
import subprocess
import tempfile

from bench.env import PGBENCH_DB, pg_args, recreate_database

HOT_ROW_SCRIPT = """\\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = 1;
SELECT abalance FROM pgbench_accounts WHERE aid = 1;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, :delta, CURRENT_TIMESTAMP);
END;
"""


def _run(args: list[str]) -> dict:
    out = subprocess.run(["pgbench", *args], check=True, capture_output=True, text=True).stdout
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
    latency = float(re.search(r"latency average = ([0-9.]+) ms", out).group(1))
    return {"tps": round(tps, 1), "latency_avg_ms": latency}


def measure(clients: list[int], seconds: int) -> dict:
    recreate_database(PGBENCH_DB)
    subprocess.run(["pgbench", "-i", "-q", "-s", "10", *pg_args(PGBENCH_DB)], check=True, capture_output=True)
    results = {"tpcb_like": {}, "hot_row": {}}
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(HOT_ROW_SCRIPT)
    for c in clients:
        common = ["-n", "-c", str(c), "-j", str(min(c, 4)), "-T", str(seconds)]
        results["tpcb_like"][c] = _run(["-b", "tpcb-like", *common, *pg_args(PGBENCH_DB)])
        results["hot_row"][c] = _run(["-f", script.name, *common, *pg_args(PGBENCH_DB)])
    return results
