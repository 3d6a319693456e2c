"""The test command's database stack (bench.stack): a primary behind PgBouncer and its streaming
replica. Helpers to see which database served a request, to wait for the replica, and to hold its
replay still (what a lagging replica looks like)."""
import os
import time
from contextlib import contextmanager

import pytest
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections

from wallets import replica

REPLICA = replica.REPLICA


@pytest.fixture(autouse=True)
def _fresh_routing():
    """Each test starts with no client's recent write remembered and the replica not marked down."""
    cache.clear()
    replica.forget_down()
    yield
    cache.clear()
    replica.forget_down()


class Served:
    """The SQL each database ran while the block ran: `served.by(alias)`, `served.selects(alias)`."""

    def __init__(self):
        self.sql: dict[str, list[str]] = {DEFAULT_DB_ALIAS: [], REPLICA: []}

    def by(self, alias: str) -> list[str]:
        return self.sql[alias]

    def reads(self, alias: str, table: str) -> list[str]:
        """The SELECTs that read `table` (the history page's function reads entries)."""
        def reads_table(sql):
            return f'"{table}"' in sql or (table == "wallets_entry" and "ledger_statement_page(" in sql)

        return [sql for sql in self.sql[alias] if sql.lstrip().upper().startswith("SELECT") and reads_table(sql)]


@contextmanager
def served():
    record = Served()

    def wrapper_for(alias):
        def wrapper(execute, sql, params, many, context):
            record.sql[alias].append(sql)
            return execute(sql, params, many, context)
        return wrapper

    with connections[DEFAULT_DB_ALIAS].execute_wrapper(wrapper_for(DEFAULT_DB_ALIAS)), \
            connections[REPLICA].execute_wrapper(wrapper_for(REPLICA)):
        yield record


def primary_lsn() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def _on_replica(sql: str, params=()):
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def caught_up(timeout: float = 30) -> None:
    """Until the replica has replayed everything the primary has committed so far."""
    lsn = primary_lsn()
    deadline = time.monotonic() + timeout
    while not _on_replica("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])[0]:
        assert time.monotonic() < deadline, f"the replica did not replay up to {lsn} in {timeout} s"
        time.sleep(0.02)


@contextmanager
def replay_paused():
    """The replica keeps serving what it had, and replays nothing new, until the block ends."""
    caught_up()
    _on_replica("SELECT pg_wal_replay_pause()")
    deadline = time.monotonic() + 10
    while _on_replica("SELECT pg_get_wal_replay_pause_state()")[0] != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        yield
    finally:
        _on_replica("SELECT pg_wal_replay_resume()")
        caught_up()


def replica_cluster():
    from bench.pgcluster import Cluster

    return Cluster.attach(os.environ["STACK_REPLICA_DIR"], int(os.environ["STACK_REPLICA_PORT"]))
