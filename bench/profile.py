"""`python -m bench.profile [--requests N] [--top K] [scenario ...]`: where a request's time goes.

Each scenario's requests are sent straight to the WSGI application in this process (production
settings, the benchmark's own database, no network and no load generator), so the figures are the
service's alone: CPU time per request of this process (`time.process_time`), wall time per request
(CPU plus waiting for PostgreSQL), and the functions that cost the most CPU (cProfile, cumulative and
own time). PostgreSQL's side is in `pg_stat_statements` when it is loaded; it is not needed here.
"""
import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
import uuid

SCENARIOS = ["healthz", "withdraw", "charge", "session", "recharge", "escrow", "history", "payout"]


def _environ(method: str, path: str, auth: str | None, body: dict | None, key: str | None = None) -> dict:
    raw = b"" if body is None else json.dumps(body).encode()
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw)), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }
    if body is not None:
        environ["CONTENT_TYPE"] = "application/json"
    if auth:
        environ["HTTP_AUTHORIZATION"] = auth
    if key:
        environ["HTTP_IDEMPOTENCY_KEY"] = key
    return environ


class Caller:
    def __init__(self, app, keyed: bool = False):
        self.app = app
        self.keyed = keyed

    def __call__(self, method: str, path: str, auth: str | None = None, body: dict | None = None) -> tuple[int, bytes]:
        status: list = []
        key = str(uuid.uuid4()) if self.keyed and method in ("POST", "PATCH") else None
        chunks = self.app(_environ(method, path, auth, body, key), lambda s, h, exc_info=None: status.append(s))
        content = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        return int(status[0].split()[0]), content


def _requests(name: str, data: dict, n: int):
    """The scenario's requests, each a (method, path, auth, body, expected status), made as they are needed."""
    key, tmr_key = f"Api-Key {data['webuddy_key']}", f"Api-Key {data['tmr_key']}"
    users, experts, tokens = data["users"], data["experts"], data["tokens"]
    buyers, sellers = data["buyers"], data["sellers"]
    for i in range(n):
        if name == "healthz":
            yield ("GET", "/healthz", None, None, 200)
        elif name == "withdraw":
            yield ("POST", "/api/v1/wallet/withdraw", f"Bearer {tokens[i % len(tokens)]}", {"amount": 0.01, "currency": "USD"}, 200)
        elif name == "charge":
            yield ("POST", "/api/v1/wallet/charge", f"Bearer {tokens[i % len(tokens)]}", {"amount": 0.01, "currency": "USD"}, 200)
        elif name == "history":
            yield ("GET", f"/v1/wallet/history?userId={users[i % len(users)]}&page=1&pageSize=20", key, None, 200)
        elif name == "recharge":
            yield ("POST", "/v1/wallet/recharge", key, {"userId": users[i % len(users)], "amount": 10, "paymentMethod": "RAZORPAY"}, 201)
        elif name == "payout":
            expert = data["payees"][i % len(data["payees"])]
            yield ("POST", "/v1/payouts/manual", key, {"expertId": expert["id"], "amount": 1, "bankAccount": expert["bank"],
                                                      "paymentMethod": "RAZORPAY"}, 201)
        elif name == "session":
            user, expert = users[i % len(users)], experts[i % len(experts)]
            session = yield ("POST", "/v1/sessions/start", key, {"userId": user, "expertId": expert, "sessionFee": 10}, 201)
            yield ("POST", "/v1/sessions/adjust", key, {"sessionId": session["id"], "adjustedFee": 12}, 200)
            yield ("POST", "/v1/sessions/end", key, {"sessionId": session["id"], "expertId": expert, "actualFee": 12}, 200)
        elif name == "escrow":
            order = f"profile-{uuid.uuid4().hex[:12]}"
            yield ("POST", "/api/v1/wallet/escrow/freeze", tmr_key,
                   {"user_id": buyers[i % len(buyers)], "order_id": order, "amount": 10, "currency": "USD"}, 201)
            yield ("POST", "/api/v1/wallet/escrow/release", tmr_key, {"order_id": order, "payee_id": sellers[i % len(sellers)]}, 200)


def run(call: Caller, name: str, data: dict, n: int) -> tuple[int, float, float]:
    """Send the scenario's requests; (requests, CPU seconds, wall seconds)."""
    count, cpu, wall = 0, 0.0, 0.0
    plan = _requests(name, data, n)
    answer = None
    while True:
        try:
            method, path, auth, body, expected = plan.send(answer) if answer is not None else next(plan)
        except StopIteration:
            return count, cpu, wall
        c0, w0 = time.process_time(), time.perf_counter()
        status, content = call(method, path, auth, body)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        count += 1
        if status != expected:
            raise RuntimeError(f"{method} {path}: {status} {content[:300]!r}")
        answer = json.loads(content) if content.startswith(b"{") else {}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], help=f"any of {SCENARIOS} (default: all)")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=25, help="functions to list (0: timings only)")
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--keyed", action="store_true", help="a fresh Idempotency-Key on every POST")
    parser.add_argument("--no-setup", action="store_true", help="reuse the database of the last run")
    args = parser.parse_args()

    from bench import env

    os.environ.setdefault("JWT_ACCESS_MINUTES", "600")  # the tokens outlive a profiling session
    database = "wallet_profile"
    env.BENCH_DB = database
    if not args.no_setup:
        env.recreate_database(database)
        env.migrate()
    env.setup_django()
    from django.core.wsgi import get_wsgi_application

    from bench.http import prepare_data

    if args.no_setup:
        data = json.loads((env.RESULTS / "profile-data.json").read_text())
    else:
        data = prepare_data(100)
        env.RESULTS.mkdir(parents=True, exist_ok=True)
        (env.RESULTS / "profile-data.json").write_text(json.dumps(data))
    call = Caller(get_wsgi_application(), keyed=args.keyed)
    for name in args.scenarios or SCENARIOS:
        run(call, name, data, 20)  # warm: imports, connection, caches
        count, cpu, wall = run(call, name, data, args.requests)  # timed without the profiler's overhead
        print(f"\n## {name}: {count} requests, CPU {cpu / count * 1000:.2f} ms/request, wall {wall / count * 1000:.2f} ms/request")
        if not args.top:
            continue
        profiler = cProfile.Profile()
        profiler.enable()
        run(call, name, data, args.requests)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(args.sort).print_stats(args.top)
        print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
