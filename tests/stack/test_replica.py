"""Reads that may lag are served by the real streaming replica that the test command starts
(bench.stack); everything else by the primary, which the service reaches through PgBouncer. Each test
checks which database ran the reads (`served()`), and a paused replica (its replay held still) shows
what a lagging one would answer."""
import io
import logging
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import OperationalError, connections, transaction
from django.test import Client
from rest_framework.test import APIClient

from tests.admin.conftest import make_staff
from tests.factories import make_api_key
from tests.stack.conftest import REPLICA, caught_up, replay_paused, replica_cluster, served
from tests.tmr.helpers import signed_in
from tests.webuddy.helpers import create_user
from wallets import replica
from wallets.models import Account, Entry, Event
from wallets.services import accounts, postings

pytestmark = [pytest.mark.stack,
              pytest.mark.django_db(transaction=True, databases=["default", "replica"])]

ENTRIES = Entry._meta.db_table
ACCOUNTS = Account._meta.db_table


def key_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key('webuddy')[1]}")
    return client


def deposit(user_id: str, amount: str) -> None:
    """Money arrives by a path that is no client's request (a provider's webhook, say)."""
    postings.wallet_deposit(wallet=Account.objects.get(user_id=user_id), amount=Decimal(amount))


def history_amounts(client, user_id, **query) -> list:
    response = client.get("/v1/wallet/history", {"userId": user_id, **query})
    assert response.status_code == 200, response.content
    return [line["amount"] for line in response.json()["items"]]


@pytest.fixture
def webuddy_user():
    """A WeBuddy user with 5.00 in their wallet, made by one backend; `reader` is another key of the
    same tenant that has written nothing."""
    writer = key_client()
    user = create_user(writer)
    deposit(user["id"], "5")
    caught_up()
    return user


def test_the_replica_is_a_real_streaming_standby():
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), status FROM pg_stat_wal_receiver")
        assert cursor.fetchone() == (True, "streaming")
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), count(*) FROM pg_stat_replication WHERE state = 'streaming'")
        assert cursor.fetchone() == (False, 1)


def test_a_history_page_is_read_from_the_replica_and_shows_its_lag(webuddy_user):
    reader = key_client()
    with served() as sql:
        assert history_amounts(reader, webuddy_user["id"]) == [5]
    assert sql.reads(REPLICA, ENTRIES) and not sql.reads("default", ENTRIES)
    kind = reader.get("/v1/wallet/history", {"userId": webuddy_user["id"]}).json()["items"][0]["type"]

    with replay_paused():
        deposit(webuddy_user["id"], "7")
        assert history_amounts(reader, webuddy_user["id"]) == [5]  # the replica has not seen it yet
        # The filtered page (the full view, not the lean one) reads there too.
        with served() as sql:
            assert history_amounts(reader, webuddy_user["id"], type=kind) == [5]
        assert sql.reads(REPLICA, ENTRIES) and not sql.reads("default", ENTRIES)
    assert history_amounts(reader, webuddy_user["id"]) == [7, 5]


def test_a_client_reads_its_own_write_at_once_and_others_may_lag(webuddy_user, settings):
    settings.REPLICA_READ_AFTER_WRITE_SECONDS = 2
    writer, other = key_client(), key_client()
    with replay_paused():
        response = writer.post("/v1/wallet/recharge",
                               {"userId": webuddy_user["id"], "amount": 3, "paymentMethod": "RAZORPAY"}, format="json")
        assert response.status_code == 201, response.content
        with served() as sql:
            assert history_amounts(writer, webuddy_user["id"]) == [3, 5]
        assert sql.reads("default", ENTRIES) and not sql.by(REPLICA)
        # Another client of the same tenant wrote nothing: its reads may lag, and do.
        assert history_amounts(other, webuddy_user["id"]) == [5]


def test_the_window_after_a_write_ends(webuddy_user, settings):
    settings.REPLICA_READ_AFTER_WRITE_SECONDS = 1
    writer = key_client()
    with replay_paused():
        assert writer.post("/v1/wallet/recharge", {"userId": webuddy_user["id"], "amount": 3, "paymentMethod": "RAZORPAY"},
                           format="json").status_code == 201
        assert history_amounts(writer, webuddy_user["id"]) == [3, 5]
        time.sleep(1.2)
        assert history_amounts(writer, webuddy_user["id"]) == [5]  # the window is over: the replica answers


def test_a_tmr_user_reads_their_own_charge_at_once():
    client, _ = signed_in()
    assert client.post("/api/v1/wallet/charge", {"amount": 4, "currency": "USD"}, format="json").status_code == 200
    with replay_paused(), served() as sql:
        assert client.post("/api/v1/wallet/charge", {"amount": 6, "currency": "USD"}, format="json").status_code == 200
        response = client.get("/api/v1/wallet/transactions")
    assert [item["amount"] for item in response.json()["items"]] == [6, 4]
    assert not sql.by(REPLICA)


def test_a_tmr_users_transactions_are_read_from_the_replica():
    client, user = signed_in()
    deposit(user["id"], "9")
    caught_up()
    with served() as sql:
        response = client.get("/api/v1/wallet/transactions")
    assert response.status_code == 200 and [item["amount"] for item in response.json()["items"]] == [9]
    assert sql.reads(REPLICA, ENTRIES) and not sql.reads("default", ENTRIES)


@pytest.mark.parametrize(("path", "key"), [("/v1/events", "webuddy"), ("/api/v1/wallet/events", "tmr")])
def test_the_events_catch_up_pages_are_read_from_the_replica(path, key, webuddy_user):
    owner = webuddy_user["id"] if key == "webuddy" else signed_in()[1]["id"]
    wallet = Account.objects.get(user_id=owner)
    accounts.wallet_suspend(wallet=wallet)
    accounts.wallet_reactivate(wallet=wallet)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key(key)[1]}")
    client.get(path)  # numbers the events on the primary
    caught_up()
    with served() as sql:
        response = client.get(path, {"limit": 1})
    assert response.status_code == 200 and len(response.json()["items"]) == 1
    pages = [query for query in sql.reads("default", "wallets_event") if '"position" IS NOT NULL' in query]
    assert sql.reads(REPLICA, "wallets_event") and not pages, "only the numbering of new events is the primary's"

    first = response.json()["items"][0]["id"]
    with replay_paused():
        accounts.wallet_suspend(wallet=wallet)
        client.get(path)  # the primary numbers it; the replica has not seen it
        newest = Event.objects.using("default").filter(tenant__code=key).order_by("-position").first()
        assert newest.type == "wallet.suspended" and newest.position is not None
        assert not Event.objects.using(REPLICA).filter(pk=newest.pk).exists()
        # A cursor only the primary has (a webhook delivered it) is not refused as unknown: it is
        # looked up there, and the page after it is read from the replica (which has none yet).
        with served() as sql:
            after_newest = client.get(path, {"after": str(newest.pk)})
        assert after_newest.status_code == 200 and after_newest.json()["items"] == []
        assert [q for q in sql.reads(REPLICA, "wallets_event") if '"position" >' in q]
        assert not [q for q in sql.reads("default", "wallets_event") if '"position" >' in q]
    assert client.get(path, {"after": first}).status_code == 200


@pytest.mark.parametrize("query", [{}, {"type": "credit"}], ids=["lean", "filtered"])
def test_an_unknown_user_on_a_lagging_replica_is_asked_of_the_primary(query):
    writer, reader = key_client(), key_client()
    caught_up()
    with replay_paused():
        user = create_user(writer)  # the replica does not have this user yet
        with served() as sql:
            response = reader.get("/v1/wallet/history", {"userId": user["id"], **query})
    assert response.status_code == 200 and response.json()["items"] == []
    assert sql.reads(REPLICA, ACCOUNTS) and sql.reads("default", ACCOUNTS), "asked of the replica, then the primary"


def test_money_requests_and_reads_inside_a_transaction_use_the_primary(webuddy_user):
    client, user = signed_in()
    deposit(user["id"], "20")
    caught_up()
    with served() as sql:
        assert client.post("/api/v1/wallet/withdraw", {"amount": 1, "currency": "USD"}, format="json").status_code == 200
        assert client.get("/api/v1/wallet").status_code == 200  # a balance is not a page that may lag
        reader = key_client()
        assert reader.post("/v1/sessions/start", {"userId": webuddy_user["id"], "expertId": create_user(reader)["id"],
                                                  "sessionFee": 1}, format="json").status_code in (200, 201)
    assert not sql.by(REPLICA)

    with served() as sql:
        with replica.may_lag():
            Account.objects.filter(user_id=user["id"]).exists()  # outside a transaction: the replica
            with transaction.atomic():
                Account.objects.filter(user_id=user["id"]).exists()  # inside one: the primary
    assert len(sql.reads(REPLICA, ACCOUNTS)) == 1 and len(sql.reads("default", ACCOUNTS)) == 1


def test_the_back_office_lists_and_dashboard_are_read_from_the_replica(webuddy_user):
    staff = make_staff(superuser=True)
    client = Client()
    client.force_login(staff)
    caught_up()
    with served() as sql:
        assert client.get("/admin/wallets/account/").status_code == 200
        assert client.get("/admin/wallets/entry/").status_code == 200
    assert sql.reads(REPLICA, ACCOUNTS) and sql.reads(REPLICA, ENTRIES)
    assert not sql.reads("default", ACCOUNTS) and not sql.reads("default", ENTRIES)

    # Who is asking (their session and user row), and what they may see, is read on the primary.
    def who(alias):
        return [q for q in sql.by(alias) if 'FROM "django_session"' in q or 'FROM "wallets_user" WHERE' in q]

    assert who("default") and not who(REPLICA)

    with served() as sql:
        page = client.get("/admin/")
    assert page.status_code == 200
    assert sql.reads(REPLICA, "wallets_tenant"), "the dashboard's figures"
    assert not who(REPLICA)

    wallet = Account.objects.get(user_id=webuddy_user["id"])
    with served() as sql:
        assert client.get(f"/admin/wallets/account/{wallet.pk}/change/").status_code == 200
    assert not sql.by(REPLICA), "a change form is read where it will be written"


def test_a_replica_that_is_down_sends_reads_to_the_primary_with_a_log_line(webuddy_user, caplog):
    reader = key_client()
    cluster = replica_cluster()
    cluster.stop()
    try:
        with caplog.at_level(logging.WARNING, logger="wallet.replica"), served() as sql:
            assert history_amounts(reader, webuddy_user["id"]) == [5]
            assert history_amounts(reader, webuddy_user["id"]) == [5]
        assert sql.reads("default", ENTRIES) and not sql.by(REPLICA)
        down = [r for r in caplog.records if "replica unavailable" in r.getMessage()]
        assert len(down) == 1, "one line, then the replica is left alone for REPLICA_RETRY_SECONDS"
    finally:
        cluster.start_again()
    replica.forget_down()
    caught_up()
    with served() as sql:
        assert history_amounts(reader, webuddy_user["id"]) == [5]
    assert sql.reads(REPLICA, ENTRIES)


def test_a_replica_connection_cut_off_is_opened_again(webuddy_user):
    reader = key_client()
    assert history_amounts(reader, webuddy_user["id"]) == [5]
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    import psycopg

    with psycopg.connect(replica_cluster().url("postgres"), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    with served() as sql:
        assert history_amounts(reader, webuddy_user["id"]) == [5]
    assert sql.reads(REPLICA, ENTRIES)


def test_the_service_reaches_the_primary_through_pgbouncer_and_reconciles_through_it(webuddy_user):
    with connections["default"].cursor() as cursor:
        cursor.execute("SHOW port")
        server_port = int(cursor.fetchone()[0])
    assert int(connections["default"].settings_dict["PORT"]) != server_port, "the pooler's port, not the server's"
    # reconcile reads whole tables in chunks (`.iterator()`): through a transaction pooler, with no
    # server-side cursor to lose between transactions.
    out = io.StringIO()
    call_command("reconcile", stdout=out)
    assert "OK: the ledger reconciles." in out.getvalue(), out.getvalue()


def test_a_read_the_replica_fails_is_asked_of_the_primary(webuddy_user, caplog):
    """What a standby does when replay needs a row a query holds: it cancels the query."""
    reader = key_client()

    def cancelled(execute, sql, params, many, context):
        if f'"{ENTRIES}"' in sql or "ledger_statement_page(" in sql:
            raise OperationalError("canceling statement due to conflict with recovery")
        return execute(sql, params, many, context)

    with caplog.at_level(logging.WARNING, logger="wallet.replica"), \
            connections[REPLICA].execute_wrapper(cancelled), served() as sql:
        assert history_amounts(reader, webuddy_user["id"]) == [5]
    assert sql.reads("default", ENTRIES)
    assert any("a read failed" in r.getMessage() for r in caplog.records)


def test_a_replica_further_behind_than_allowed_is_left_alone(webuddy_user, settings, caplog):
    settings.REPLICA_MAX_LAG_SECONDS = 1
    reader = key_client()
    with replay_paused():
        deposit(webuddy_user["id"], "7")
        time.sleep(1.5)
        replica.forget_down()  # its state is read again now
        with caplog.at_level(logging.WARNING, logger="wallet.replica"), served() as sql:
            assert history_amounts(reader, webuddy_user["id"]) == [7, 5]
        assert not sql.reads(REPLICA, ENTRIES)
        assert any("behind" in r.getMessage() for r in caplog.records)


def test_history_pages_through_pgbouncer_from_many_sessions(webuddy_user):
    """The page's query keeps its plan in a server-side function, not in a PREPAREd statement (which
    would be lost when the pooler hands the next transaction to another server session)."""
    from concurrent.futures import ThreadPoolExecutor

    from wallets.selectors import wallet_history

    wallet = Account.objects.get(user_id=webuddy_user["id"])

    def pages(_):
        try:
            with replica.primary_only():
                return [[line["amount"] for line in wallet_history(wallets=[wallet], offset=0, limit=10).lines]
                        for _ in range(20)]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(6) as pool:
        results = [amounts for batch in pool.map(pages, range(6)) for amounts in batch]
    assert results == [[Decimal(5)]] * 120
