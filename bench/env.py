"""Where the benchmark runs: a database of its own on the local PostgreSQL, production settings."""
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SERVER_URL = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432")
BENCH_DB = os.environ.get("BENCH_DATABASE", "wallet_bench")
PGBENCH_DB = os.environ.get("BENCH_PGBENCH_DATABASE", "wallet_pgbench")


def database_url(name: str | None = None) -> str:
    return f"{SERVER_URL}/{name or BENCH_DB}"


def pg_args(name: str) -> list[str]:
    url = urlparse(database_url(name))
    return ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres", name]


def django_env(**extra) -> dict:
    """Production settings (DEBUG off) against the benchmark database."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        DATABASE_URL=database_url(),
        SECRET_KEY="bench-only-secret-key-0123456789abcdef0123456789",
        FIELD_ENCRYPTION_KEY="YmVuY2gtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        DB_CONN_MAX_AGE="600",
        LOGIN_FAILURE_LIMIT="1000000",
        SECURE_SSL_REDIRECT="0",  # wrk speaks plain http to the server; production sits behind https
    )
    env.update(extra)
    return env


def setup_django() -> None:
    os.environ.update(django_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def psql(sql: str, database: str = "postgres") -> str:
    return subprocess.run(
        ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", *pg_args(database)[:-1], "-d", database, "-c", sql],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def recreate_database(name: str) -> None:
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")


def migrate() -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=django_env(), check=True
    )
