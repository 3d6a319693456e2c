"""The test command needs no PostgreSQL on the machine: where nothing answers at DATABASE_URL it runs
against a throwaway cluster of its own (config/localdb.py) and deletes it after."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import os, psycopg\n"
    "with psycopg.connect(os.environ['DATABASE_URL'].replace('postgres://', 'postgresql://')) as db:\n"
    "    print('answered', db.execute('SELECT 1 + 1').fetchone()[0], os.environ['DATABASE_URL'])\n"
)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def test_with_no_server_the_command_runs_on_a_cluster_of_its_own_which_is_deleted_after():
    nowhere = f"postgres://postgres@127.0.0.1:{_closed_port()}/wallet"

    done = subprocess.run([sys.executable, "-m", "config.localdb", "with-server", "--", sys.executable, "-c", SCRIPT],
                          cwd=ROOT, env={**os.environ, "DATABASE_URL": nowhere}, capture_output=True, text=True,
                          timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Nothing answers at {nowhere}" in done.stdout
    directory = re.search(r"from (\S+) \(", done.stdout).group(1)
    used = re.search(r"answered 2 (\S+)", done.stdout).group(1)
    assert used != nowhere and used.startswith("postgres://postgres@127.0.0.1:")
    assert not Path(directory).exists()
    port = int(used.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # its server is gone too


@pytest.mark.django_db  # the test database: it exists on the server
def test_with_a_server_answering_the_command_runs_on_it():
    from tests.events.conftest import _database_url

    here = _database_url()
    done = subprocess.run([sys.executable, "-m", "config.localdb", "with-server", "--", sys.executable, "-c", SCRIPT],
                          cwd=ROOT, env={**os.environ, "DATABASE_URL": here}, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"answered 2 {here}" in done.stdout and "Nothing answers" not in done.stdout


@pytest.fixture
def reachable_dir():
    """A directory the server's account can reach when we are root (pytest's own are 0700 under root's)."""
    directory = Path(tempfile.mkdtemp(prefix="wallet-localdb-test-"))
    os.chmod(directory, 0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_cluster_is_made_once_then_started_reused_and_its_database_made_again_if_missing(reachable_dir):
    from config.localdb import LocalServer

    server = LocalServer(reachable_dir / "pg")
    try:
        assert server.ensure() == "made" and server.running()
        server._psql('DROP DATABASE "wallet"')  # a first run stopped before it made it
        assert server.ensure() == "reused"
        assert server._psql("SELECT datname FROM pg_database WHERE datname = 'wallet'").strip() == "wallet"
        assert server.stop() and not server.running()
        assert server.ensure() == "started"
    finally:
        server.destroy()
    assert not server.dir.exists()


def test_a_pid_file_left_by_a_reboot_naming_another_program_does_not_stop_a_start(reachable_dir):
    from config.localdb import LocalServer

    server = LocalServer(reachable_dir / "pg")
    try:
        server.ensure()
        pid_file = server.data / "postmaster.pid"
        lines = pid_file.read_text().splitlines()
        assert server.stop()
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # the pid's new owner
        try:
            pid_file.write_text("\n".join([str(other.pid), *lines[1:]]) + "\n")
            pid_file.chmod(0o644)

            assert not server.running()
            assert server.ensure() == "started" and server.running()
            assert other.poll() is None  # nothing was sent to it
        finally:
            other.kill()
    finally:
        server.destroy()


def test_a_terminated_run_without_a_server_still_deletes_its_cluster():
    nowhere = f"postgres://postgres@127.0.0.1:{_closed_port()}/wallet"
    run = subprocess.Popen([sys.executable, "-m", "config.localdb", "with-server", "--", sys.executable, "-c",
                            "import time; print('running', flush=True); time.sleep(120)"],
                           cwd=ROOT, env={**os.environ, "DATABASE_URL": nowhere}, stdout=subprocess.PIPE, text=True)
    said = []
    for line in run.stdout:
        said.append(line)
        if line.startswith("running"):
            break
    directory = re.search(r"from (\S+) \(", "".join(said)).group(1)
    assert Path(directory).exists()

    run.terminate()  # as a CI timeout would
    assert run.wait(timeout=60) != 0
    assert not Path(directory).exists()
