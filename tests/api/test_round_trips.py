"""The money requests' database round trips: each service runs as one transaction with no savepoint
of its own inside (nested services work inside their caller's transaction), and reads each row once.

Counts, not timings: a regression here is an extra round trip on every request of that kind.
"""
import pytest
from django.db import connection

from tests.tmr.helpers import charge, signed_in
from tests.webuddy.helpers import create_user, funded_user

pytestmark = pytest.mark.django_db


class Statements:
    def __init__(self):
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)

    @property
    def savepoints(self) -> int:
        return sum(1 for s in self.sql if s.startswith("SAVEPOINT"))

    @property
    def work(self) -> list[str]:
        """Statements of the request's own work: not savepoints, and not the API key lookup (tests
        turn the per-process auth cache off; in production it answers from memory)."""
        return [
            s for s in self.sql
            if not s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) and '"wallets_apikey"' not in s
        ]


def run(call):
    statements = Statements()
    with connection.execute_wrapper(statements):
        response = call()
    return response, statements


def test_session_start_and_end_take_one_transaction_each_without_nested_savepoints(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)

    started, start_sql = run(lambda: webuddy_client.post(
        "/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100}, format="json"
    ))
    ended, end_sql = run(lambda: webuddy_client.post(
        "/v1/sessions/end", {"sessionId": started.json()["id"], "expertId": expert["id"], "actualFee": 100}, format="json"
    ))

    assert (started.status_code, ended.status_code) == (201, 200)
    # Inside the test's own transaction the request's one transaction shows as one savepoint.
    assert (start_sql.savepoints, end_sql.savepoints) == (1, 1)
    # start: wallet+user, expert, hold, posting, session, its event.
    assert len(start_sql.work) == 6, start_sql.work
    # end: session+hold (locked) with the expert and their fee rate in one statement, expert wallet,
    # posting, hold, session, its event.
    assert len(end_sql.work) == 6, end_sql.work
    assert sum("FOR UPDATE" in s for s in end_sql.work) == 1


def test_escrow_release_locks_the_escrow_and_its_hold_in_one_statement(tmr_key_client):
    buyer, buyer_user = signed_in()
    _, seller_user = signed_in()
    charge(buyer, 500)
    frozen = tmr_key_client.post(
        "/api/v1/wallet/escrow/freeze",
        {"user_id": buyer_user["id"], "order_id": "order-1", "amount": 150, "currency": "USD"},
        format="json",
    )

    released, sql = run(lambda: tmr_key_client.post(
        "/api/v1/wallet/escrow/release", {"order_id": "order-1", "payee_id": seller_user["id"]}, format="json"
    ))

    assert (frozen.status_code, released.status_code) == (201, 200)
    assert sql.savepoints == 1
    assert sum("FOR UPDATE" in s for s in sql.work) == 1
    # escrow+hold (locked), payee wallet, posting, hold, escrow, its event.
    assert len(sql.work) == 6, sql.work
