"""The HTTP API under load: gunicorn with production settings on PostgreSQL, and wrk (a separate
process) sending each scenario at 16 and 64 connections."""
import os
import re
import resource
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

from bench.env import ROOT, django_env

LUA = Path(__file__).resolve().parent / "lua"
PORT = int(os.environ.get("BENCH_HTTP_PORT", "8089"))
# Each money scenario twice: as it is, and `_keyed`, with a fresh Idempotency-Key on every POST (what a
# careful client sends), so the two are measured side by side in one run.
KEYED = ["session", "withdraw", "charge", "recharge", "escrow", "payout"]
SCENARIOS = ["healthz", "session", "withdraw", "charge", "recharge", "escrow", "history", "payout", *(f"{s}_keyed" for s in KEYED)]
SCRIPTS = {"withdraw": "wallet_money", "charge": "wallet_money"}  # scenario -> its Lua script, when they differ
# What each scenario's requests are, for the report.
DESCRIPTIONS = {
    "healthz": "GET /healthz (the ceiling: one SELECT 1 behind the same server)",
    "session": "WeBuddy session start, adjust, end (each a request)",
    "withdraw": "TMR Land withdraw (JWT)",
    "charge": "TMR Land charge (JWT)",
    "recharge": "WeBuddy recharge (gateway: the configured default)",
    "escrow": "TMR Land escrow freeze, release (each a request)",
    "history": "WeBuddy history page (20 lines)",
    "payout": "WeBuddy manual payout to a bank account",
}
DESCRIPTIONS.update({f"{s}_keyed": f"{DESCRIPTIONS[s]}, a fresh Idempotency-Key on each POST" for s in KEYED})


def prepare_data(users: int = 200) -> dict:
    """Funded WeBuddy users and experts, TMR users with access tokens, and one key of each scope."""
    from rest_framework_simplejwt.tokens import AccessToken

    from experts.services import bank_detail_add
    from wallets import ledger
    from wallets.models import Account, Tenant, User
    from wallets.services import api_keys

    webuddy, tmr = Tenant.objects.get(code="webuddy"), Tenant.objects.get(code="tmr")
    _, webuddy_key = api_keys.api_key_create(name="bench webuddy", tenant=webuddy)
    _, tmr_key = api_keys.api_key_create(name="bench tmr", tenant=tmr)
    people = User.objects.bulk_create([User(name=f"http {i}", password="!", tenant=webuddy) for i in range(users + 20)])
    tmr_people = User.objects.bulk_create([User(name=f"http tmr {i}", password="!", tenant=tmr) for i in range(2 * users)])
    inr = Account.objects.bulk_create(
        [Account(tenant=webuddy, kind="wallet", user=u, currency="INR") for u in people[:users]]
    )
    experts = Account.objects.bulk_create(
        [Account(tenant=webuddy, kind="wallet", user=u, currency="INR") for u in people[users:]]
    )
    usd = Account.objects.bulk_create([Account(tenant=tmr, kind="wallet", user=u, currency="USD") for u in tmr_people])
    funding = Decimal("100000000")
    for wallets, currency, tenant in ((inr, "INR", webuddy), (usd, "USD", tmr)):
        legs = [ledger.Leg(account_id=a.id, currency=currency, amount=funding, type="deposit") for a in wallets]
        legs.append(ledger.Leg(
            account_id=ledger.system_account_id(tenant.code, "gateway_clearing", currency, 0), currency=currency,
            amount=-funding * len(wallets), type="deposit", is_wallet=False,
        ))
        ledger.post(kind="deposit", legs=legs, description="Benchmark funding")
    # Experts with money and a bank account, to be paid out.
    legs = [ledger.Leg(account_id=a.id, currency="INR", amount=funding, type="deposit") for a in experts]
    legs.append(ledger.Leg(
        account_id=ledger.system_account_id("webuddy", "gateway_clearing", "INR", 0), currency="INR",
        amount=-funding * len(experts), type="deposit", is_wallet=False,
    ))
    ledger.post(kind="deposit", legs=legs, description="Benchmark funding")
    payees = [
        {"id": str(a.user_id), "bank": str(bank_detail_add(
            expert=a.user, bank_name="Bench Bank", account_number=f"{500000000 + i}", ifsc_code="HDFC0001234",
            account_holder_name="Bench",
        ).id)}
        for i, a in enumerate(experts)
    ]
    return {
        "payees": payees,
        "webuddy_key": webuddy_key,
        "tmr_key": tmr_key,
        "users": [str(a.user_id) for a in inr],
        "experts": [str(a.user_id) for a in experts],
        "tokens": [str(AccessToken.for_user(u)) for u in tmr_people[:users]],
        "buyers": [str(u.id) for u in tmr_people[: users // 2]],
        "sellers": [str(u.id) for u in tmr_people[users // 2 :]],
    }


def _lua_list(values: list[str]) -> str:
    return "{" + ",".join(f'"{v}"' for v in values) + "}"


def _script(name: str, data: dict, workdir: Path) -> Path:
    base = name.removesuffix("_keyed")
    header = {
        "session": f'users = {_lua_list(data["users"])}\nexperts = {_lua_list(data["experts"])}\nkey = "{data["webuddy_key"]}"\n',
        "withdraw": f'tokens = {_lua_list(data["tokens"])}\npath = "/api/v1/wallet/withdraw"\n',
        "escrow": (
            f'buyers = {_lua_list(data["buyers"])}\nsellers = {_lua_list(data["sellers"])}\n'
            f'key = "{data["tmr_key"]}"\nrun = "{uuid.uuid4().hex[:10]}"\n'
        ),
        "history": f'users = {_lua_list(data["users"])}\nkey = "{data["webuddy_key"]}"\n',
        "charge": f'tokens = {_lua_list(data["tokens"])}\npath = "/api/v1/wallet/charge"\n',
        "recharge": f'users = {_lua_list(data["users"])}\nkey = "{data["webuddy_key"]}"\n',
        "payout": (
            "payees = {" + ",".join(f'{{"{p["id"]}","{p["bank"]}"}}' for p in data["payees"]) + "}\n"
            f'key = "{data["webuddy_key"]}"\n'
        ),
        "healthz": "",
    }[base]
    if base != name:
        header += f'keyed = true\nkeys = "{uuid.uuid4().hex[:10]}"\n'
    path = workdir / f"{name}.lua"
    body = LUA / f"{SCRIPTS.get(base, base)}.lua"
    path.write_text(header + (LUA / "common.lua").read_text() + body.read_text())
    return path


def _to_ms(text: str) -> float:
    value, unit = re.match(r"([0-9.]+)(us|ms|s)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


TICK = os.sysconf("SC_CLK_TCK")


def _processes(file: str):
    """(pid, text of /proc/<pid>/<file>) of every process still there."""
    for child in Path("/proc").iterdir():
        if child.name.isascii() and child.name.isdigit():
            try:
                yield int(child.name), (child / file).read_text()
            except OSError:
                continue


def _cpu_seconds(master_pid: int) -> dict:
    """CPU seconds used so far by the app server's workers and by PostgreSQL's processes."""
    used = {"app": 0.0, "database": 0.0}
    for pid, stat in _processes("stat"):
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ppid, cpu = int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK
        if ppid == master_pid or pid == master_pid:
            used["app"] += cpu
        elif name.startswith("postgres"):
            used["database"] += cpu
    return used


def _wrk(script: Path, connections: int, seconds: int, master_pid: int | None = None) -> dict:
    """One wrk run; with `master_pid`, also the CPU per request of the app server, PostgreSQL and wrk."""
    before = _cpu_seconds(master_pid) if master_pid else None
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{PORT}"],
        check=True, capture_output=True, text=True,
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    requests = int(re.search(r"([0-9]+) requests in", out).group(1))
    cpu = {}
    if before is not None and requests:
        after, done = _cpu_seconds(master_pid), resource.getrusage(resource.RUSAGE_CHILDREN)
        load = (done.ru_utime + done.ru_stime) - (children.ru_utime + children.ru_stime)
        cpu = {
            "app_cpu_ms": round((after["app"] - before["app"]) * 1000 / requests, 3),
            "database_cpu_ms": round((after["database"] - before["database"]) * 1000 / requests, 3),
            "wrk_cpu_ms": round(load * 1000 / requests, 3),
        }
    return {
        **cpu,
        "requests_per_second": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),
        "requests": requests,
        "p50_ms": _to_ms(re.search(r"50%\s+([0-9.]+[a-z]+)", out).group(1)),
        "p99_ms": _to_ms(re.search(r"99%\s+([0-9.]+[a-z]+)", out).group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def _worker_peak_rss_mb(master_pid: int) -> float:
    peaks = []
    for _, status in _processes("status"):
        if f"PPid:\t{master_pid}\n" in status:
            peak = re.search(r"VmHWM:\s+([0-9]+) kB", status)
            if peak:
                peaks.append(int(peak.group(1)) / 1024)
    return round(max(peaks), 1) if peaks else float("nan")


def measure(data: dict, connections: list[int], seconds: int, workdir: Path, scenarios=SCENARIOS) -> dict:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make bench installs it: apt-get install wrk)")
    workers = os.environ.get("BENCH_GUNICORN_WORKERS", "4")
    threads = os.environ.get("BENCH_GUNICORN_THREADS", "4")
    server = subprocess.Popen(
        [str(Path(os.sys.executable).parent / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{PORT}",
         "-w", workers, "-k", "gthread", "--threads", threads, "--backlog", "2048", "--log-level", "warning"],
        cwd=ROOT, env=django_env(JWT_ACCESS_MINUTES="600"), start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        results: dict = {}
        for name in scenarios:
            _wrk(_script(name, data, workdir), 4, 1)  # warm every worker's connection and caches
            # A fresh script per run: escrow order ids must not repeat across runs.
            results[name] = {c: _wrk(_script(name, data, workdir), c, seconds, server.pid) for c in connections}
        results["worker_peak_rss_mb"] = _worker_peak_rss_mb(server.pid)
        results["gunicorn"] = f"{workers} workers x {threads} threads (gthread)"
        return results
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
