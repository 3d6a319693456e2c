"""`python manage.py devserver [ADDRPORT]` (`make run`): the quick start in one command.

Without DATABASE_URL, the quick start's own PostgreSQL in `var/postgres` is made (the first time),
started, or found running (left by a run that was killed) and used (config/localdb.py); with it, that
server is used and nothing is started. Then migrations, the local logins and keys (`bootstrap_dev`),
and the Procfile's two processes: the web server (Django's) and a job worker
(`jobs_worker`: event deliveries, retries and the periodic jobs, as in production). Ctrl-C (or
SIGTERM) stops both and the server it started. DEBUG only.
"""
import ctypes
import fcntl
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

from config.localdb import LocalServer, ServerError


class Command(BaseCommand):
    help = "The quick start: the local PostgreSQL (unless DATABASE_URL), migrations, logins, web server and job worker."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options):
        if not settings.DEBUG:
            raise CommandError("devserver is the quick start's (DEBUG=1); production runs the Procfile's processes.")
        lock = _one_at_a_time(settings.QUICK_START_DIR / "devserver.lock")
        server = None
        env = {**os.environ}
        processes: dict[str, subprocess.Popen] = {}
        stopping: list[int] = []

        def interrupted(signum, frame):
            if not processes:  # still setting up: stop now (a migration in flight rolls back)
                raise KeyboardInterrupt
            stopping.append(signum)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, interrupted)
        try:
            if not os.environ.get("DATABASE_URL"):
                server = LocalServer(settings.QUICK_START_DIR / "postgres")
                try:
                    how = server.ensure()
                except ServerError as exc:
                    raise CommandError(str(exc)) from None
                said = {"made": "made and started", "started": "started", "reused": "already running: reused"}[how]
                self.stdout.write(f"PostgreSQL in {server.dir} ({said}), {server.url()}")
                env["DATABASE_URL"] = server.url()
                _point_at(server.url())
            call_command("migrate", "--noinput", verbosity=0)
            call_command("bootstrap_dev", "--address", f"http://{addrport}")
            connections.close_all()
            manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
            # Each in a process group of its own, stopped by us; and stopped by the kernel if we are killed.
            started = {"env": env, "start_new_session": True, "preexec_fn": _die_with_parent}
            processes["web server"] = subprocess.Popen([*manage, "runserver", "--noreload", addrport], **started)
            processes["job worker"] = subprocess.Popen([*manage, "jobs_worker", "--concurrency", "2"], **started)
            while not stopping:
                ended = [(name, p.returncode) for name, p in processes.items() if p.poll() is not None]
                if ended:
                    name, code = ended[0]
                    raise CommandError(f"the {name} stopped (exit {code}); the quick start stops with it")
                time.sleep(0.3)
        except KeyboardInterrupt:
            pass
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
                signal.signal(signum, signal.SIG_IGN)
            for process in processes.values():
                _stop(process, signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    _stop(process, signal.SIGKILL)
                    process.wait()
            if server is not None:
                if server.stop():
                    self.stdout.write(f"Stopped. PostgreSQL's data stays in {server.dir} for the next run.")
                else:
                    self.stderr.write(f"PostgreSQL did not stop; its log: {server.log}")
            lock.close()


def _one_at_a_time(path: Path):
    """One quick start per directory: a second one would share the first's PostgreSQL (and stop it
    when it stops). An exclusive lock on a file, held while this process lives: the kernel lets go
    of it however the process ends, a SIGKILL included. Returns the open file that holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    held = path.open("a+")
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        held.seek(0)
        owner = held.read().strip() or "another process"
        held.close()
        raise CommandError(f"a quick start already runs from {path.parent} (process {owner}); stop it first "
                           "(Ctrl-C in its terminal)") from None
    held.seek(0)
    held.truncate()
    held.write(f"{os.getpid()}\n")
    held.flush()
    return held


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
