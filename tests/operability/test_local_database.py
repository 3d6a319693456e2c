"""The test command needs no PostgreSQL on the machine: where nothing answers at DATABASE_URL it runs
against a throwaway cluster of its own (config/localdb.py) and deletes it after."""
import os
import re
import socket
import subprocess
import sys
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
