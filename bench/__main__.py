"""`python -m bench [--quick]`: the whole benchmark in one run on the local PostgreSQL.

Full: bench/results/latest.{json,md,png}. Quick (about a minute, a smoke test that the benchmark
runs and reports; it asserts no timing): bench/results/quick.{json,md,png}.
"""
import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs")
    parser.add_argument("--skip", action="append", default=[], choices=["limit", "core", "http", "growth"],
                        help="leave a part out (such a run is not kept among the full runs)")
    parser.add_argument("--only", nargs="+", metavar="SCENARIO", help="HTTP scenarios to run (default: all)")
    args = parser.parse_args()

    from bench import env

    env.recreate_database(env.BENCH_DB)
    env.migrate()
    env.setup_django()
    from bench import core, growth, http, limit, report

    q = args.quick
    result = {"quick": q, "skipped": args.skip, "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": report.machine()}
    clients = [4, 16] if q else [1, 4, 16]
    seconds = 2 if q else 10
    began = time.time()

    def step(name, fn):
        if name in args.skip:
            return
        t = time.time()
        print(f"[bench] {name} ...", flush=True)
        result[name] = fn()
        print(f"[bench] {name} done in {time.time() - t:.0f} s", flush=True)

    step("limit", lambda: limit.measure(clients, seconds))
    wallet_ids = core.create_wallets(1000 if q else core.WALLETS)
    step("core", lambda: core.measure(wallet_ids, clients, seconds))
    with tempfile.TemporaryDirectory() as workdir:
        step("http", lambda: http.measure(http.prepare_data(50 if q else 200), [16] if q else [16, 64], seconds, Path(workdir),
                                              ["healthz", *[s for s in args.only if s != "healthz"]] if args.only else http.SCENARIOS))

    def grow():
        levels = [10**4, 10**5] if q else [10**5, 10**6, 10**7]
        measured = growth.measure(levels, 1000 if q else 10_000, 50 if q else 300)
        measured["monthly_payouts"] = growth.monthly_payouts(measured.pop("wallets")[: 200 if q else 10_000])
        return measured

    step("growth", grow)
    result["duration_s"] = round(time.time() - began)
    written = report.write(result, env.RESULTS, "quick" if q else "latest")
    print(report.markdown(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
