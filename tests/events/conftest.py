"""A webhook receiver on this machine (a thread with `http.server`) and real job workers
(`manage.py jobs_worker` subprocesses on the test database, as the Procfile runs them)."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """Answers each POST with the next planned reply (a status code, a (status, body) pair, or
    "hang": hold the request until `release()`), then 200; keeps what it received."""

    def __init__(self):
        self.plan: list = []
        self.received: list[dict] = []
        self.released = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append({"headers": dict(self.headers), "body": body, "path": self.path})
                    reply = receiver.plan.pop(0) if receiver.plan else 200
                if reply == "hang":
                    receiver.released.wait(120)
                    reply = 200
                reply, answer = reply if isinstance(reply, tuple) else (reply, b"ok" if reply < 300 else b"receiver says no")
                try:
                    self.send_response(reply)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the caller gave up on us

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.received]

    def wait_for(self, count: int, timeout: float = 60) -> list[dict]:
        return wait_until(lambda: len(self.received) >= count and self.received, timeout,
                          f"{count} request(s) at the receiver (got {len(self.received)})")

    def release(self):
        self.released.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


def wait_until(check, timeout: float, what: str):
    """Poll `check()` until it is truthy (returned) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def _database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


WORKER_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings_test",
    "JOBS_HEARTBEAT_SECONDS": "1",
    "JOBS_STALLED_SECONDS": "3",
    "WEBHOOK_RETRY_BASE_SECONDS": "1",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "LOG_LEVEL": "WARNING",
}


class Workers:
    """Worker processes of the job engine on the test database, stopped at the end of the test."""

    def __init__(self):
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, *, concurrency: int = 4, **env) -> subprocess.Popen:
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"wallet-test-worker-{os.getpid()}-{len(self.logs)}.log"
        environment = {**os.environ, **WORKER_ENV, "DATABASE_URL": _database_url(), **{k: str(v) for k, v in env.items()}}
        process = subprocess.Popen(
            [sys.executable, "manage.py", "jobs_worker", "--concurrency", str(concurrency),
             "--fetch-job-polling-interval", "0.2"],
            cwd=ROOT, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        self.logs.append(log)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL: no goodbye, no heartbeat any more, its jobs left `doing`."""
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def output(self) -> str:
        return "\n".join(log.read_text(errors="replace")[-3000:] for log in self.logs if log.exists())


def _clear_job_tables():
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_periodic_defers, procrastinate_workers CASCADE")


@pytest.fixture
def workers(transactional_db, request):
    """Start real workers with `workers.start()`; the job tables are emptied before and after."""
    _clear_job_tables()
    made = Workers()
    yield made
    made.stop_all()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(made.output())
    _clear_job_tables()
    for log in made.logs:
        log.unlink(missing_ok=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
