"""The benchmark's report: targets checked against the same run, a markdown table and a plot."""
import json
import platform
import subprocess
from pathlib import Path


def _g(d, *keys, default=None):
    for key in keys:
        if not isinstance(d, dict):
            return default
        d = d.get(key, d.get(str(key)) if not isinstance(key, str) else None)
        if d is None:
            return default
    return d


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu, "cores": __import__("os").cpu_count(), "python": platform.python_version(),
        "postgresql_client": pg, "kernel": platform.release(),
    }


HTTP_KEYED = ("session", "withdraw", "charge", "recharge", "escrow", "payout")
HTTP_MONEY = ("session", "withdraw", "charge", "recharge", "escrow", "history", "payout", *(f"{s}_keyed" for s in HTTP_KEYED))
HTTP_ALL = ("healthz", *HTTP_MONEY)


def targets(r: dict) -> list[dict]:
    rows = []

    def add(name, value, goal, ok, note=""):
        rows.append({"target": name, "value": value, "goal": goal, "met": bool(ok), "note": note})

    tpcb4 = _g(r, "limit", "tpcb_like", 4, "tps")
    core4 = _g(r, "core", "random_pairs", 4, "per_second")
    if tpcb4 and core4:
        ratio = core4 / tpcb4
        add("ledger core, 4 processes, random pairs vs pgbench tpcb-like -c 4", f"{ratio:.2f}x ({core4:.0f} vs {tpcb4:.0f}/s)", ">= 0.60x", ratio >= 0.6)
    tpcb1 = _g(r, "limit", "tpcb_like", 1, "latency_avg_ms")
    core1 = _g(r, "core", "random_pairs", 1, "per_second")
    if tpcb1 and core1:
        mean = 1000 / core1  # one client: one posting after another
        add("one posting from one client vs pgbench tpcb-like -c 1, mean latency", f"{mean / tpcb1:.2f}x ({mean:.2f} vs {tpcb1:.2f} ms)", "<= 2x", mean <= 2 * tpcb1)
    hot16 = _g(r, "core", "hot_wallet", 16)
    hotrow16 = _g(r, "limit", "hot_row", 16, "tps")
    if hot16 and hotrow16:
        ratio = hot16["per_second"] / hotrow16
        add("one hot wallet, 16 processes vs hot-row pgbench -c 16", f"{ratio:.2f}x ({hot16['per_second']:.0f} vs {hotrow16:.0f}/s)", ">= 0.50x", ratio >= 0.5)
        add("one hot wallet, 16 processes: errors reaching a caller", sum(hot16["errors"].values()), "0", not hot16["errors"])
        add("one hot wallet, 16 processes: p99", f"{hot16['p99_ms']} ms", "<= 100 ms", hot16["p99_ms"] <= 100)
    health = _g(r, "http", "healthz", 16, "requests_per_second")
    for scenario in HTTP_MONEY:
        row = _g(r, "http", scenario, 16)
        if health and row:
            ratio, p99 = row["requests_per_second"] / health, 50 if scenario.startswith("withdraw") else 100
            least = 0.45 if scenario.startswith("withdraw") else 0.30
            add(f"HTTP {scenario} at 16 connections vs /healthz", f"{ratio:.2f}x ({row['requests_per_second']:.0f} vs {health:.0f} req/s)", f">= {least:.2f}x", ratio >= least)
            add(f"HTTP {scenario} at 16 connections: p99", f"{row['p99_ms']} ms", f"<= {p99} ms", row["p99_ms"] <= p99)
            add(f"HTTP {scenario} at 16 connections: non-2xx", row["non_2xx"], "0", row["non_2xx"] == 0 and not row["socket_errors"])
    for scenario in HTTP_KEYED:
        plain, keyed = _g(r, "http", scenario, 16), _g(r, "http", f"{scenario}_keyed", 16)
        if plain and keyed:
            ratio = keyed["requests_per_second"] / plain["requests_per_second"]
            add(f"HTTP {scenario} at 16 connections, keyed vs without a key", f"{ratio:.2f}x ({keyed['requests_per_second']:.0f} vs {plain['requests_per_second']:.0f} req/s)", ">= 0.90x", ratio >= 0.9)
    levels = _g(r, "growth", "levels") or {}
    if len(levels) >= 2:
        keys = sorted(levels, key=int)
        first, last = levels[keys[0]], levels[keys[-1]]
        for metric in ("history_page", "balance_at"):
            growth = last[metric]["p99_ms"] / first[metric]["p99_ms"]
            add(f"growth {keys[0]} -> {keys[-1]} entries: {metric} p99", f"{growth:.2f}x ({first[metric]['p99_ms']} -> {last[metric]['p99_ms']} ms)", "<= 2x", growth <= 2)
        per_entry = [levels[k]["reconcile_s"] / int(k) for k in keys]
        linear = per_entry[-1] <= 2 * per_entry[0] or levels[keys[0]]["reconcile_s"] < 0.5
        add("reconcile stays linear (time per entry)", " / ".join(f"{p * 1e6:.2f} us" for p in per_entry), "<= 2x growth", linear)
        add("reconcile finds the loaded ledger whole", all(levels[k]["reconcile_ok"] for k in keys), "True", all(levels[k]["reconcile_ok"] for k in keys))
    rss = _g(r, "http", "worker_peak_rss_mb")
    if rss is not None:
        add("gunicorn worker peak RSS", f"{rss} MB", "< 150 MB", rss < 150)
    return rows


def markdown(r: dict) -> str:
    out = [f"# Benchmark ({'quick' if r['quick'] else 'full'} run, {r['started']})", ""]
    m = r["machine"]
    out += [f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}; {m['postgresql_client']}.", ""]
    out += ["## Targets", "", "| target | value | goal | met |", "|---|---|---|---|"]
    out += [f"| {t['target']} | {t['value']} | {t['goal']} | {'yes' if t['met'] else '**no**'} |" for t in r["targets"]]
    if "limit" in r:
        out += ["", "## Throughput vs concurrency (postings or transactions per second)", "",
                "| clients / processes | pgbench tpcb-like | pgbench hot row | ledger random pairs (p50/p99 ms) | ledger hot wallet (p50/p99 ms) |",
                "|---|---|---|---|---|"]
        for c in sorted({int(k) for k in r["limit"]["tpcb_like"]} | {int(k) for k in r.get("core", {}).get("random_pairs", {})}):
            rp = _g(r, "core", "random_pairs", c) or {}
            hw = _g(r, "core", "hot_wallet", c) or {}
            out.append(
                f"| {c} | {_g(r, 'limit', 'tpcb_like', c, 'tps', default='')} | {_g(r, 'limit', 'hot_row', c, 'tps', default='')} | "
                f"{rp.get('per_second', '')} ({rp.get('p50_ms', '')}/{rp.get('p99_ms', '')}) | "
                f"{hw.get('per_second', '')} ({hw.get('p50_ms', '')}/{hw.get('p99_ms', '')}) |"
            )
    if "http" in r:
        out += ["", f"## HTTP ({r['http'].get('gunicorn', '')}, wrk -t 2)", "",
                "CPU per request: of the gunicorn workers, of PostgreSQL's processes and of wrk, measured over the run.", "",
                "| scenario | connections | req/s | p50 ms | p99 ms | non-2xx | CPU ms/request: app / PostgreSQL / wrk |",
                "|---|---|---|---|---|---|---|"]
        for name in HTTP_ALL:
            for c, row in sorted((_g(r, "http", name) or {}).items(), key=lambda kv: int(kv[0])):
                cpu = f"{row['app_cpu_ms']:.2f} / {row['database_cpu_ms']:.2f} / {row['wrk_cpu_ms']:.2f}" if "app_cpu_ms" in row else ""
                out.append(f"| {name} | {c} | {row['requests_per_second']} | {row['p50_ms']} | {row['p99_ms']} | {row['non_2xx']} | {cpu} |")
        out.append(f"\nPeak RSS of a gunicorn worker: {r['http'].get('worker_peak_rss_mb')} MB.")
    if "growth" in r:
        out += ["", "## Growth", "", "| entries | load s | history page p50/p99 ms | balance at p50/p99 ms | reconcile s |", "|---|---|---|---|---|"]
        for k, row in sorted(r["growth"]["levels"].items(), key=lambda kv: int(kv[0])):
            out.append(
                f"| {int(k):,} | {row['load_s']} | {row['history_page']['p50_ms']}/{row['history_page']['p99_ms']} | "
                f"{row['balance_at']['p50_ms']}/{row['balance_at']['p99_ms']} | {row['reconcile_s']} |"
            )
        mp = r["growth"].get("monthly_payouts")
        if mp:
            out.append(f"\nMonthly payouts: {mp['experts']:,} experts in {mp['seconds']} s ({mp['per_second']}/s), {mp['paid']:,} paid.")
    runs = r.get("runs") or []
    if len(runs) > 1:
        out += ["", f"## The last {len(runs)} full runs, side by side (this one last)", "",
                "| target | " + " | ".join(f"run {i + 1} ({run['started'][:16]}, {run.get('commit', '?')})" for i, run in enumerate(runs)) + " | goal |",
                "|---|" + "---|" * len(runs) + "---|"]
        for t in r["targets"]:
            cells = []
            for run in runs:
                match = next((x for x in run["targets"] if x["target"] == t["target"]), None)
                cells.append("" if match is None else f"{match['value']}" + ("" if match["met"] else " **(no)**"))
            out.append(f"| {t['target']} | " + " | ".join(cells) + f" | {t['goal']} |")
        every = [t["target"] for t in r["targets"]
                 if all(next((x["met"] for x in run["targets"] if x["target"] == t["target"]), False) for run in runs)]
        out.append(f"\nMet in every one of these runs: {len(every)} of {len(r['targets'])} targets.")
    return "\n".join(out) + "\n"


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent)
    # Code changes only: the reports this writes and the docs that quote them are not the measured code.
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results", ":!docs"],
                           capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    return (done.stdout.strip() or "?") + ("+changes" if dirty.stdout.strip() else "")


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = [
        ("pgbench tpcb-like", _g(r, "limit", "tpcb_like") or {}, "tps"),
        ("pgbench hot row", _g(r, "limit", "hot_row") or {}, "tps"),
        ("ledger random pairs", _g(r, "core", "random_pairs") or {}, "per_second"),
        ("ledger hot wallet", _g(r, "core", "hot_wallet") or {}, "per_second"),
    ]
    for label, data, key in series:
        xs = sorted(int(k) for k in data)
        if xs:
            left.plot(xs, [_g(data, x, key) for x in xs], marker="o", label=label)
    left.set_xscale("log", base=2)
    left.set_xlabel("clients / worker processes")
    left.set_ylabel("transactions per second")
    left.set_title("Throughput vs concurrency")
    left.legend(fontsize=8)
    levels = _g(r, "growth", "levels") or {}
    xs = sorted(int(k) for k in levels)
    if xs:
        right.plot(xs, [levels[str(x)]["history_page"]["p99_ms"] if str(x) in levels else levels[x]["history_page"]["p99_ms"] for x in xs], marker="o", label="history page p99 (ms)")
        right.plot(xs, [(levels.get(str(x)) or levels[x])["balance_at"]["p99_ms"] for x in xs], marker="o", label="balance at time p99 (ms)")
        right.plot(xs, [(levels.get(str(x)) or levels[x])["reconcile_s"] * 1000 / max(1, x / 1e5) for x in xs], marker="o", label="reconcile ms per 10^5 entries")
        right.set_xscale("log")
        right.set_yscale("log")
    right.set_xlabel("entries in the ledger")
    right.set_title("Latency vs ledger size")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


KEPT_RUNS = 3


def write(r: dict, directory: Path, name: str) -> dict:
    """The report of this run; a full run is also kept under runs/, and its report shows the last
    KEPT_RUNS full runs side by side."""
    r["targets"] = targets(r)
    r["commit"] = _commit()
    directory.mkdir(parents=True, exist_ok=True)
    if not r["quick"] and not r.get("skipped"):
        kept = directory / "runs"
        kept.mkdir(exist_ok=True)
        (kept / f"{r['started'].replace(':', '')}.json").write_text(json.dumps(
            {k: r[k] for k in ("started", "commit", "targets")}, indent=2, default=str))
        r["runs"] = [json.loads(p.read_text()) for p in sorted(kept.glob("*.json"))[-KEPT_RUNS:]]
    (directory / f"{name}.json").write_text(json.dumps(r, indent=2, default=str))
    (directory / f"{name}.md").write_text(markdown(r))
    plot(r, directory / f"{name}.png")
    return r
