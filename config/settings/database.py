"""PostgreSQL: the primary (`DATABASE_URL`; without it, DEBUG only, the quick start's own server in
`var/postgres`, config/localdb.py), PgBouncer's pooling mode, a streaming replica for reads that may
lag, and the cache shared by the app servers."""
import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.settings import env
from config.settings.base import BASE_DIR, DEBUG

# The quick start's own files: its PostgreSQL cluster (`postgres/`) and its local logins and keys.
QUICK_START_DIR = env.path("QUICK_START_DIR", BASE_DIR / "var")
DATABASE_URL = env.string("DATABASE_URL")
if not DATABASE_URL:
    if not DEBUG:
        raise ImproperlyConfigured("DATABASE_URL is required; only the quick start (DEBUG=1) has a server of its own.")
    # The quick start's server, which `manage.py devserver` (`make run`) makes and starts (config/localdb.py).
    from config.localdb import quick_start_url

    DATABASE_URL = quick_start_url(QUICK_START_DIR / "postgres")
DB_CONN_MAX_AGE = env.integer("DB_CONN_MAX_AGE", 60)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL server (postgres://...): the ledger is PostgreSQL's.")
# The same backend with a health check that needs no round trip (config/postgresql/base.py).
DATABASES["default"]["ENGINE"] = "config.postgresql"
# Behind PgBouncer in transaction pooling mode (`DATABASE_POOLING=transaction`): no server-side
# cursors (a cursor lives in one server session, which the pooler hands to others between
# transactions). Prepared statements are off already (Django's default for psycopg); advisory locks
# are transaction-scoped (wallets/events.py). Jobs and migrations may use `DATABASE_DIRECT_URL`.
DATABASE_POOLING = env.choice("DATABASE_POOLING", "session", ("session", "transaction"))
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_POOLING == "transaction"
# The server itself, for what needs a session of its own: the job workers' LISTEN (wallets/jobs.py).
DATABASE_DIRECT_URL = env.string("DATABASE_DIRECT_URL")
# A streaming replica (optional): reads that may lag go there (wallets/replica.py), everything else,
# every read inside a money transaction and a client's reads soon after its own write to the primary.
DATABASE_REPLICA_URL = env.string("DATABASE_REPLICA_URL")
REPLICA_READ_AFTER_WRITE_SECONDS = env.integer("REPLICA_READ_AFTER_WRITE_SECONDS", 10)
# After a failed connection or read, or a lag above REPLICA_MAX_LAG_SECONDS, the replica is left
# alone for REPLICA_RETRY_SECONDS (reads go to the primary).
REPLICA_RETRY_SECONDS = env.integer("REPLICA_RETRY_SECONDS", 5)
REPLICA_MAX_LAG_SECONDS = env.integer("REPLICA_MAX_LAG_SECONDS", 5)
REPLICA_CONNECT_TIMEOUT = env.integer("REPLICA_CONNECT_TIMEOUT", 2)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=DB_CONN_MAX_AGE,
                                                 conn_health_checks=True)
    DATABASES["replica"].update(
        ENGINE="config.postgresql",
        DISABLE_SERVER_SIDE_CURSORS=DATABASE_POOLING == "transaction",
        # Tests: the replica serves the primary's test database (it is a copy of the whole cluster).
        TEST={"MIRROR": "default"},
    )
    DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = REPLICA_CONNECT_TIMEOUT
    DATABASE_ROUTERS = ["wallets.replica.ReplicaRouter"]
# A cache shared by every process (`CACHE_URL=redis://...`): a client's last write, for reading its
# own writes from the primary. Without one each process keeps its own (enough for one process).
CACHE_URL = env.string("CACHE_URL")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
