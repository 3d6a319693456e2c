"""`Idempotency-Key` on POST and PATCH: replay, reuse with another body, in-flight duplicates (a
request that only touches our database: see tests/payments/test_phases.py for those that call out)."""
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from tests.api import views
from tests.factories import make_api_key, make_wallet
from tests.invariants import assert_ledger_invariants
from wallets.models import IdempotencyRecord, JournalTransaction

D = Decimal
URL = "/v1/test/deposit"


def client_with_key(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def post(client, wallet, amount, key="key-1"):
    return client.post(
        URL, data='{"walletId": "%s", "amount": %s}' % (wallet.id, amount), content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_retry_with_the_same_body_replays_the_first_response(webuddy_client):
    wallet = make_wallet()

    first = post(webuddy_client, wallet, "10.50")
    second = post(webuddy_client, wallet, "10.5")  # the same number, written differently

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    wallet.refresh_from_db()
    assert wallet.balance == D("10.50")
    assert JournalTransaction.objects.filter(entries__account=wallet).count() == 1


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_same_key_with_another_body_is_422_idempotency_key_reused(webuddy_client):
    wallet = make_wallet()
    post(webuddy_client, wallet, "10")

    response = post(webuddy_client, wallet, "11")

    assert (response.status_code, response.json()["code"]) == (422, "idempotency_key_reused")
    wallet.refresh_from_db()
    assert wallet.balance == D("10")


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_every_key_of_one_tenant_shares_its_idempotency_keys():
    """A partner's backend retrying with its second (rotated) key is the same client asking again."""
    wallet = make_wallet()
    one = client_with_key(make_api_key("webuddy", "one")[1])
    two = client_with_key(make_api_key("webuddy", "two")[1])

    first = post(one, wallet, "5")
    again = post(two, wallet, "5")

    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (201, 201, "true")
    assert again.content == first.content
    wallet.refresh_from_db()
    assert wallet.balance == D("5")
    reused = post(two, wallet, "6")
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")


@pytest.mark.django_db
def test_two_tenants_never_share_an_idempotency_key():
    from wallets.tenants import tenant_create

    tenant_create(code="acme", name="Acme Consults", dialect="webuddy", currencies=["INR"])
    webuddy = client_with_key(make_api_key("webuddy")[1])
    acme = client_with_key(make_api_key("acme")[1])
    body = {"phoneNumber": "+919876500001", "name": "Asha"}

    ours = webuddy.post("/v1/users", body, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
    theirs = acme.post("/v1/users", body, format="json", HTTP_IDEMPOTENCY_KEY="same-key")

    assert (ours.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs and theirs.json()["id"] != ours.json()["id"]
    assert set(IdempotencyRecord.objects.values_list("client", flat=True)) == {"tenant:webuddy", "tenant:acme"}


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_a_refusal_is_stored_and_replayed_too(webuddy_client):
    wallet = make_wallet()

    first = post(webuddy_client, wallet, "0.001")
    second = post(webuddy_client, wallet, "0.001")

    assert first.status_code == second.status_code == 400
    assert second.content == first.content and second["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_without_a_key_every_request_runs(webuddy_client):
    wallet = make_wallet()
    for _ in range(2):
        webuddy_client.post(URL, {"walletId": str(wallet.id), "amount": 1}, format="json")
    wallet.refresh_from_db()
    assert wallet.balance == D("2")
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_an_over_long_key_is_refused(webuddy_client):
    wallet = make_wallet()
    response = post(webuddy_client, wallet, "1", key="k" * 256)
    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_invalid")
    wallet.refresh_from_db()
    assert wallet.balance == 0


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_an_expired_key_runs_again_and_purge_removes_old_records(webuddy_client, capsys):
    wallet = make_wallet()
    post(webuddy_client, wallet, "1")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = post(webuddy_client, wallet, "1")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    wallet.refresh_from_db()
    assert wallet.balance == D("2")

    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("purge_idempotency_keys")
    assert "Deleted 1" in capsys.readouterr().out
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_records_live_for_24_hours(webuddy_client):
    wallet = make_wallet()
    post(webuddy_client, wallet, "1")
    record = IdempotencyRecord.objects.get()
    assert record.expires_at - record.created_at == timedelta(hours=24)


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.api.urls")
def test_a_duplicate_while_the_first_is_running_waits_for_it_and_replays_its_answer():
    """The request touches only our database: its key is claimed in the transaction of its work, so a
    duplicate waits on the key's row until the first commits, then replays what it answered."""
    wallet = make_wallet()
    _, raw = make_api_key("webuddy")
    views.gate.update(entered=threading.Event(), release=threading.Event(), enabled=True)
    results = {}

    def send(name):
        try:
            results[name] = post(client_with_key(raw), wallet, "7")
        finally:
            connections.close_all()

    first = threading.Thread(target=send, args=("first",))
    first.start()
    try:
        assert views.gate["entered"].wait(timeout=30)
        views.gate["enabled"] = False  # the duplicate must not stop at the gate itself
        duplicate = threading.Thread(target=send, args=("duplicate",))
        duplicate.start()
        duplicate.join(timeout=1)
        assert duplicate.is_alive()  # waiting on the first one's claim
    finally:
        views.gate["release"].set()
        first.join(timeout=30)
    duplicate.join(timeout=30)

    assert results["first"].status_code == 201 and "Idempotent-Replayed" not in results["first"]
    again = results["duplicate"]
    assert (again.status_code, again["Idempotent-Replayed"], again.content) == (201, "true", results["first"].content)
    wallet.refresh_from_db()
    assert wallet.balance == D("7")
    assert IdempotencyRecord.objects.get().finished
    assert_ledger_invariants()


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.api.urls")
def test_a_duplicate_waits_at_most_idempotency_wait_seconds_then_is_409_in_use(settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 1
    wallet = make_wallet()
    _, raw = make_api_key("webuddy")
    views.gate.update(entered=threading.Event(), release=threading.Event(), enabled=True)
    results = {}

    def first():
        try:
            results["first"] = post(client_with_key(raw), wallet, "7")
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert views.gate["entered"].wait(timeout=30)
        views.gate["enabled"] = False
        began = time.monotonic()
        in_flight = post(client_with_key(raw), wallet, "7")
        waited = time.monotonic() - began
    finally:
        views.gate["release"].set()
        thread.join(timeout=30)

    assert (in_flight.status_code, in_flight.json()["code"]) == (409, "idempotency_key_in_use")
    assert 0.9 <= waited < 10  # it waited for the first one, but not for as long as the first one took
    assert results["first"].status_code == 201
    replay = post(client_with_key(raw), wallet, "7")
    assert replay.status_code == 201 and replay.content == results["first"].content
    wallet.refresh_from_db()
    assert wallet.balance == D("7")


@pytest.mark.django_db
def test_the_claims_wait_limit_does_not_outlive_the_claim():
    """The work after a claim waits for its own locks as any request does."""
    from django.db import connection, transaction
    from rest_framework.test import APIRequestFactory

    from wallets.api.idempotency import _claim

    request = APIRequestFactory().post("/v1/x")
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        usual = cursor.fetchone()[0]
        for _ in range(2):  # a new key, then the same key again (the record found, replayed)
            with transaction.atomic():
                _claim(client="tenant:webuddy", key="wait-limit", fingerprint="f", request=request)
                cursor.execute("SHOW lock_timeout")
                assert cursor.fetchone()[0] == usual
            IdempotencyRecord.objects.filter(key="wait-limit").update(response_status=200, response_body="{}")


@pytest.mark.django_db
@pytest.mark.urls("tests.api.urls")
def test_the_key_and_the_work_commit_together_or_not_at_all(webuddy_client, monkeypatch):
    from wallets.api import idempotency

    wallet = make_wallet()

    def fail(*args, **kwargs):
        raise RuntimeError("the response could not be stored")

    monkeypatch.setattr(idempotency, "_store", fail)
    webuddy_client.raise_request_exception = False
    failed = post(webuddy_client, wallet, "4", key="together")
    assert failed.status_code == 500
    wallet.refresh_from_db()
    assert wallet.balance == 0 and not IdempotencyRecord.objects.filter(key="together").exists()
    assert not JournalTransaction.objects.filter(entries__account=wallet).exists()
    monkeypatch.undo()

    retried = post(webuddy_client, wallet, "4", key="together")  # nothing was kept: the retry runs
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried
    wallet.refresh_from_db()
    assert wallet.balance == D("4")


@pytest.mark.races
@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.api.urls")
def test_many_concurrent_retries_move_money_once():
    wallet = make_wallet()
    _, raw = make_api_key("webuddy")
    barrier = threading.Barrier(12)
    statuses = []

    def attempt():
        try:
            barrier.wait(timeout=30)
            statuses.append(post(client_with_key(raw), wallet, "3").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert statuses == [201] * 12  # one ran; the others waited on its key and replayed it
    wallet.refresh_from_db()
    assert wallet.balance == D("3")
    assert_ledger_invariants()


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_tenant_the_newest_record_of_each_key():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    one, _ = make_api_key("webuddy", "one")
    two, _ = make_api_key("webuddy", "two")
    orders, _ = make_api_key("tmr", "orders")
    now = timezone.now()

    def record(client, key, status):
        return IdempotencyRecord.objects.create(
            client=client, key=key, request_hash="h", method="POST", path="/v1/users", response_status=status,
            response_body="{}", created_at=now, expires_at=now + timedelta(hours=24))

    older = record(f"key:{one.pk}", "K", 201)
    newest = record(f"key:{two.pk}", "K", 200)
    only = record(f"key:{two.pk}", "L", 201)
    other_tenant = record(f"key:{orders.pk}", "K", 201)
    user = record("user:5f0c6a8e-0000-0000-0000-000000000000", "K", 201)
    kept = record("tenant:tmr", "M", 201)  # the tenant's own record of M (written by the new code already)
    shadowed = record(f"key:{orders.pk}", "M", 201)
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("wallets", "0026_statement_page_function")])
    executor = MigrationExecutor(connection)
    executor.migrate(latest)

    clients = dict(IdempotencyRecord.objects.values_list("pk", "client"))
    assert clients == {older.pk: f"key:{one.pk}", newest.pk: "tenant:webuddy", only.pk: "tenant:webuddy",
                       other_tenant.pk: "tenant:tmr", user.pk: user.client, kept.pk: "tenant:tmr",
                       shadowed.pk: f"key:{orders.pk}"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.api.urls")
def test_a_record_an_old_process_wrote_under_its_keys_name_is_renamed_and_replayed():
    """0029: what processes of the code before 0027 wrote under an API key's name while a deploy
    rolled out takes the tenant's name, so a retry with the key replays it (or resumes it)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    wallet = make_wallet()
    key, raw = make_api_key("webuddy", "partner")
    first = post(client_with_key(raw), wallet, "5", key="deploy-1")
    IdempotencyRecord.objects.filter(key="deploy-1").update(client=f"key:{key.pk}")
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("wallets", "0028_recharge_capture_claim")])
    executor = MigrationExecutor(connection)
    executor.migrate(latest)

    assert IdempotencyRecord.objects.get(key="deploy-1").client == "tenant:webuddy"
    again = post(client_with_key(raw), wallet, "5", key="deploy-1")
    assert (again.status_code, again["Idempotent-Replayed"], again.content) == (201, "true", first.content)
    wallet.refresh_from_db()
    assert wallet.balance == D("5")
