"""A throwaway PostgreSQL cluster: initdb into a temporary directory, served on a free local port,
restarted on demand, stopped and deleted at the end (the soak's own database server, so nothing it
does touches another).

The server binaries are found under `/usr/lib/postgresql/<version>/bin` (the newest version) or on
PATH. PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user and every
server command runs as that user (`runuser -u postgres --`)."""
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_VERSIONS_DIR = Path("/usr/lib/postgresql")


def pg_bin_dir() -> Path | None:
    """The directory of `initdb` and `pg_ctl`: the newest installed version's, else PATH's."""
    found = []
    for initdb in PG_VERSIONS_DIR.glob("*/bin/initdb"):
        version = initdb.parent.parent.name
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", version):
            found.append((tuple(int(part) for part in version.split(".")), initdb.parent))
    if found:
        return max(found)[1]
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def free_port(start: int, end: int = 5999) -> int:
    """The first port from `start` on which nothing listens on 127.0.0.1."""
    for port in range(start, end):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port between {start} and {end}")


class Cluster:
    """`start()` makes and starts it; `restart()` is `pg_ctl restart -m fast`; `destroy()` stops the
    server (immediately) and deletes its directory. `url(database)` is a `DATABASE_URL`."""

    def __init__(self, *, min_port: int = 5450, settings: dict | None = None):
        self.bin = pg_bin_dir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.min_port = min_port
        self.settings = settings or {}
        self.port: int | None = None
        self.dir: Path | None = None
        self.as_user = "postgres" if os.geteuid() == 0 else None

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        return subprocess.run(command, cwd=self.dir, check=check, capture_output=True, text=True, timeout=timeout)

    def start(self) -> "Cluster":
        self.dir = Path(tempfile.mkdtemp(prefix="wallet-soak-pg-"))
        if self.as_user:
            owner = pwd.getpwnam(self.as_user)
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.port = free_port(self.min_port)
        options = {"port": self.port, "listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.dir),
                   **self.settings}
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# the soak's throwaway cluster\n")
            for name, value in options.items():
                conf.write(f"{name} = '{value}'\n")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        return self

    def create_database(self, name: str) -> None:
        self._run("psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                  "-c", f'CREATE DATABASE "{name}"')

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def restart(self) -> None:
        """A fast restart: sessions are cut off, open transactions rolled back, then it serves again."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60", "restart")

    def destroy(self) -> None:
        if self.dir is None:
            return
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
