"""`python manage.py devserver [ADDRPORT]` (`make run`): the quick start in one command.

Without DATABASE_URL, the quick start's own PostgreSQL in `var/postgres` is made (the first time),
started, or found running (left by a run that was killed) and used (config/localdb.py); with it, that
server is used and nothing is started. Then migrations, the local logins and keys (`bootstrap_dev`),
and the Procfile's two processes: the web server (Django's) and a job worker
(`jobs_worker`: event deliveries, retries and the periodic jobs, as in production). Ctrl-C (or
SIGTERM) stops both and the server it started. DEBUG only.
"""
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dj_database_url
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from config.localdb import LocalServer


class Command(BaseCommand):
    help = "The quick start: the local PostgreSQL (unless DATABASE_URL), migrations, logins, web server and job worker."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options):
        if not settings.DEBUG:
            raise CommandError("devserver is the quick start's (DEBUG=1); production runs the Procfile's processes.")
        server = None
        env = {**os.environ}
        _one_at_a_time(settings.QUICK_START_DIR / "devserver.pid")
        if not os.environ.get("DATABASE_URL"):
            server = LocalServer(settings.QUICK_START_DIR / "postgres")
            how = server.ensure()
            said = {"made": "made and started", "started": "started", "reused": "already running: reused"}[how]
            self.stdout.write(f"PostgreSQL in {server.dir} ({said}), {server.url()}")
            env["DATABASE_URL"] = server.url()
            _point_at(server.url())
        stopping = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.append(True))
        processes = []
        try:
            call_command("migrate", "--noinput", verbosity=0)
            call_command("bootstrap_dev", "--address", f"http://{addrport}")
            connections.close_all()
            manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
            # Each in a process group of its own, stopped by us; and stopped by the kernel if we are killed.
            started = {"env": env, "start_new_session": True, "preexec_fn": _die_with_parent}
            processes = [
                subprocess.Popen([*manage, "runserver", "--noreload", addrport], **started),
                subprocess.Popen([*manage, "jobs_worker", "--concurrency", "2"], **started),
            ]
            while not stopping and all(process.poll() is None for process in processes):
                time.sleep(0.3)
            if not stopping:
                raise CommandError("a process of the quick start stopped; the others are stopped too")
        finally:
            for process in processes:
                _stop(process, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    _stop(process, signal.SIGKILL)
                    process.wait()
            if server is not None:
                server.stop()
                self.stdout.write(f"Stopped. PostgreSQL's data stays in {server.dir} for the next run.")
            (settings.QUICK_START_DIR / "devserver.pid").unlink(missing_ok=True)


def _one_at_a_time(lock: Path) -> None:
    """One quick start per directory: a second would share (and, when it stops, stop) the first
    one's PostgreSQL. A lock left by a run that was killed names a process that is gone."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    if lock.exists():
        text = lock.read_text().strip()
        pid = int(text) if text.isdigit() else 0
        if pid and pid != os.getpid() and _alive(pid):
            raise CommandError(f"a quick start already runs from {lock.parent} (process {pid}); stop it first "
                               f"(Ctrl-C in its terminal, or kill {pid})")
    lock.write_text(f"{os.getpid()}\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    return not cmdline.exists() or b"devserver" in cmdline.read_bytes()  # a pid reused by another program is no lock


def _die_with_parent() -> None:
    """In the child, before it runs: SIGTERM when the parent dies (Linux), so a devserver killed with
    SIGKILL leaves no web server or worker behind (its PostgreSQL stays, for the next run to reuse)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def _point_at(url: str) -> None:
    """This process's connection, at the server just started (its port may differ from the one the
    settings read before it was chosen)."""
    parsed = dj_database_url.parse(url)
    connections["default"].settings_dict.update({key: parsed[key] for key in ("NAME", "USER", "HOST", "PORT")})
    connections["default"].close()
