"""Requests that call a payment gateway run in phases (wallets.recovery): the gateway is called with
no transaction open and no row lock held, with our own idempotency key; a retry with the same
`Idempotency-Key` after a crash in any phase resumes from the last recovery point, calls out at most
once more with the same key, and moves money once.

Run for real on PostgreSQL (transaction=True): the gateway looks at the connection and at pg_locks.
"""
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from payouts import services as payout_services
from payouts.models import Payout
from tests.admin.builders import FailingGateway, expert_with_bank, payout_with_gateway
from tests.admin.conftest import logged_in, make_staff
from tests.factories import make_api_key
from tests.history import backdated_deposit
from tests.invariants import assert_ledger_invariants
from tests.webuddy.helpers import create_user, funded_user
from tests.webuddy.test_bank_details import add as add_bank
from wallets.gateways import SimulatedGateway
from wallets.models import Account, IdempotencyRecord, Recharge
from wallets.selectors import system_account_balance
from wallets.services import recharges

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal

# What the test gateway saw at each call: (kind, idempotency key, in a transaction, locks held).
CALLS: list[tuple] = []


def _locks_held() -> list:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT locktype, mode FROM pg_locks WHERE pid = pg_backend_pid() "
            "AND locktype NOT IN ('virtualxid') AND NOT (locktype = 'relation' AND relation = 'pg_locks'::regclass)"
        )
        return cursor.fetchall()


class RecordingGateway(SimulatedGateway):
    """The simulated gateway, noting at the moment of each call whether a transaction was open and
    which locks this backend held. `crash` makes the next call fail before the provider sees it."""

    crash = False
    gate: dict | None = None

    def _note(self, kind, key):
        if RecordingGateway.crash:
            RecordingGateway.crash = False
            raise RuntimeError("the process died before the provider saw the call")
        CALLS.append((kind, key, connection.in_atomic_block, _locks_held()))
        if RecordingGateway.gate is not None:
            RecordingGateway.gate["entered"].set()
            RecordingGateway.gate["release"].wait(timeout=30)

    def create_order(self, *, reference, amount, currency, idempotency_key, metadata=None):
        self._note("order", idempotency_key)
        return super().create_order(reference=reference, amount=amount, currency=currency, idempotency_key=idempotency_key)

    def create_payout(self, *, reference, amount, currency, destination, idempotency_key):
        self._note("payout", idempotency_key)
        return super().create_payout(
            reference=reference, amount=amount, currency=currency, destination=destination, idempotency_key=idempotency_key
        )


@pytest.fixture(autouse=True)
def recording_gateway(monkeypatch):
    CALLS.clear()
    RecordingGateway.crash, RecordingGateway.gate = False, None
    monkeypatch.setattr(recharges, "gateway_for", RecordingGateway)
    monkeypatch.setattr(payout_services, "gateway_for", RecordingGateway)
    yield
    assert_ledger_invariants()


@pytest.fixture
def client():
    _, raw = make_api_key("webuddy")
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return api


def headers(key):
    return {"HTTP_IDEMPOTENCY_KEY": key} if key else {}


def recharge(client, user, key=None, amount=250):
    return client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": amount, "paymentMethod": "RAZORPAY"},
                       format="json", **headers(key))


def manual_payout(client, expert, bank, key=None, amount=100):
    return client.post("/v1/payouts/manual", {"expertId": expert["id"], "amount": amount, "bankAccount": bank["id"],
                                              "paymentMethod": "RAZORPAY"}, format="json", **headers(key))


def expert_with_bank_account(client, balance=1000):
    expert = funded_user(client, balance)
    return expert, add_bank(client, expert["id"]).json()


def assert_called_outside_any_transaction(kinds):
    assert [call[0] for call in CALLS] == kinds
    for kind, key, in_transaction, locks in CALLS:
        assert (in_transaction, locks) == (False, []), (kind, key)


@pytest.mark.parametrize("key", [None, "recharge-key"])
def test_a_recharge_calls_the_gateway_with_no_transaction_or_lock(client, key):
    user = create_user(client)
    CALLS.clear()

    response = recharge(client, user, key)

    assert (response.status_code, response.json()["status"]) == (201, "succeeded")
    assert_called_outside_any_transaction(["order"])
    assert CALLS[0][1] == f"recharge-{response.json()['id']}"


@pytest.mark.parametrize("key", [None, "manual-key"])
def test_a_manual_payout_calls_the_gateway_with_no_transaction_or_lock(client, key):
    expert, bank = expert_with_bank_account(client)
    CALLS.clear()

    response = manual_payout(client, expert, bank, key)

    assert (response.status_code, response.json()["status"]) == (201, "paid")
    assert_called_outside_any_transaction(["payout"])
    assert CALLS[0][1] == response.json()["id"]


@pytest.mark.parametrize("key", [None, "monthly-key"])
def test_a_monthly_payout_calls_the_gateway_with_no_transaction_or_lock(client, key):
    expert, bank = expert_with_bank_account(client, balance=0)
    backdated_deposit(Account.objects.get(user_id=expert["id"]), D(700), timezone.now() - timedelta(days=62))
    CALLS.clear()
    month = (timezone.now() - timedelta(days=62)).strftime("%Y-%m")

    response = client.post("/v1/payouts/monthly", {"expertId": expert["id"], "month": month}, format="json", **headers(key))

    assert (response.status_code, response.json()["status"], response.json()["amount"]) == (201, "paid", 700)
    assert_called_outside_any_transaction(["payout"])


def test_a_retried_payout_calls_the_gateway_with_no_transaction_or_lock(monkeypatch):
    expert, _, bank = expert_with_bank(balance=1000)
    failed = payout_with_gateway(monkeypatch, FailingGateway, expert=expert, bank=bank, amount=300)
    monkeypatch.setattr(payout_services, "gateway_for", RecordingGateway)
    CALLS.clear()
    finance = logged_in(make_staff(superuser=True))

    finance.post(reverse("admin:payouts_payout_changelist"), {
        "action": "retry_payouts", "_selected_action": [failed.pk], "confirm": "yes", "reason": "reopened",
    })

    assert Payout.objects.get(retry_of=failed).status == "paid"
    assert_called_outside_any_transaction(["payout"])


# Crashes between the phases, and a retry with the same key


def test_a_crash_after_the_gateway_answered_is_resumed_without_calling_it_again(client, monkeypatch):
    expert, bank = expert_with_bank_account(client)
    CALLS.clear()
    apply = payout_services.payout_apply_answer
    monkeypatch.setattr(payout_services, "payout_apply_answer", lambda **kw: (_ for _ in ()).throw(RuntimeError("crash")))

    crashed = manual_payout(client, expert, bank, "crash-1")

    assert crashed.status_code == 500
    record = IdempotencyRecord.objects.get(key="crash-1")
    assert (record.recovery_point, record.response_status) == ("answered", None)
    payout = Payout.objects.get(expert_id=expert["id"])
    assert (payout.status, payout.hold.status) == ("pending", "active")  # the intent stands, held

    monkeypatch.setattr(payout_services, "payout_apply_answer", apply)
    resumed = manual_payout(client, expert, bank, "crash-1")

    assert (resumed.status_code, resumed.json()["status"], resumed.json()["id"]) == (201, "paid", str(payout.id))
    assert len(CALLS) == 1 and CALLS[0][1] == str(payout.id)
    assert Payout.objects.filter(expert_id=expert["id"]).count() == 1
    assert client.get(f"/v1/users/{expert['id']}").json()["wallet"]["balance"] == 900
    assert system_account_balance(tenant="webuddy", code="payout_clearing", currency="INR") == D(100)
    # What a clean run answers: the payout as it now is; and replayed from now on.
    clean = client.get(f"/v1/payouts/{payout.id}").json()
    assert {k: v for k, v in resumed.json().items() if k != "updatedAt"} == {k: v for k, v in clean.items() if k != "updatedAt"}
    replay = manual_payout(client, expert, bank, "crash-1")
    assert replay.content == resumed.content and replay["Idempotent-Replayed"] == "true"


def test_a_crash_before_the_gateway_call_is_resumed_with_the_same_key(client):
    expert, bank = expert_with_bank_account(client)
    CALLS.clear()
    RecordingGateway.crash = True

    crashed = manual_payout(client, expert, bank, "crash-2")

    assert crashed.status_code == 500 and CALLS == []
    payout = Payout.objects.get(expert_id=expert["id"])
    assert IdempotencyRecord.objects.get(key="crash-2").recovery_point == "submitting"

    resumed = manual_payout(client, expert, bank, "crash-2")

    assert (resumed.status_code, resumed.json()["id"], resumed.json()["status"]) == (201, str(payout.id), "paid")
    assert [call[1] for call in CALLS] == [str(payout.id)]
    assert Payout.objects.filter(expert_id=expert["id"]).count() == 1
    assert client.get(f"/v1/users/{expert['id']}").json()["wallet"]["balance"] == 900


def test_a_recharge_crashed_after_the_answer_credits_once_on_retry(client, monkeypatch):
    user = create_user(client)
    CALLS.clear()
    apply = recharges.recharge_apply_order
    monkeypatch.setattr(recharges, "recharge_apply_order", lambda **kw: (_ for _ in ()).throw(RuntimeError("crash")))

    assert recharge(client, user, "r-1").status_code == 500
    assert Recharge.objects.get(user_id=user["id"]).status == "pending"

    monkeypatch.setattr(recharges, "recharge_apply_order", apply)
    resumed = recharge(client, user, "r-1")

    assert (resumed.status_code, resumed.json()["status"], resumed.json()["wallet"]["balance"]) == (201, "succeeded", 250)
    assert len(CALLS) == 1 and Recharge.objects.filter(user_id=user["id"]).count() == 1
    assert client.get(f"/v1/users/{user['id']}").json()["wallet"]["balance"] == 250


def test_a_recharge_crashed_before_the_call_is_recorded_once_and_called_once(client):
    user = create_user(client)
    CALLS.clear()
    RecordingGateway.crash = True

    assert recharge(client, user, "r-2").status_code == 500
    resumed = recharge(client, user, "r-2")

    recharge_row = Recharge.objects.get(user_id=user["id"])
    assert (resumed.status_code, resumed.json()["id"]) == (201, str(recharge_row.id))
    assert [call[1] for call in CALLS] == [f"recharge-{recharge_row.id}"]
    assert client.get(f"/v1/users/{user['id']}").json()["wallet"]["balance"] == 250


def test_a_run_whose_process_died_is_resumed_once_its_lease_runs_out(client, monkeypatch):
    expert, bank = expert_with_bank_account(client)
    CALLS.clear()
    apply = payout_services.payout_apply_answer
    monkeypatch.setattr(payout_services, "payout_apply_answer", lambda **kw: (_ for _ in ()).throw(RuntimeError("crash")))
    manual_payout(client, expert, bank, "dead-1")
    monkeypatch.setattr(payout_services, "payout_apply_answer", apply)
    # As if its process had been killed mid-run: the lease still held, for a while.
    record = IdempotencyRecord.objects.get(key="dead-1")
    IdempotencyRecord.objects.filter(pk=record.pk).update(locked_until=timezone.now() + timedelta(seconds=60))

    while_held = manual_payout(client, expert, bank, "dead-1")
    assert (while_held.status_code, while_held.json()["code"]) == (409, "idempotency_key_in_use")

    IdempotencyRecord.objects.filter(pk=record.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    resumed = manual_payout(client, expert, bank, "dead-1")

    assert (resumed.status_code, resumed.json()["status"]) == (201, "paid")
    assert len(CALLS) == 1 and Payout.objects.filter(expert_id=expert["id"]).count() == 1


# Two requests with one key at once


@pytest.mark.races
def test_two_concurrent_requests_with_one_key_run_once(client):
    expert, bank = expert_with_bank_account(client)
    CALLS.clear()
    RecordingGateway.gate = {"entered": threading.Event(), "release": threading.Event()}
    results = {}

    def first():
        try:
            results["first"] = manual_payout(client, expert, bank, "same-key")
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert RecordingGateway.gate["entered"].wait(timeout=30)  # the first is at the gateway, no transaction open
        second = manual_payout(client, expert, bank, "same-key")
    finally:
        RecordingGateway.gate["release"].set()
        thread.join(timeout=30)

    assert (second.status_code, second.json()["code"]) == (409, "idempotency_key_in_use")
    assert results["first"].status_code == 201
    after = manual_payout(client, expert, bank, "same-key")
    assert after.content == results["first"].content and after["Idempotent-Replayed"] == "true"
    assert len(CALLS) == 1 and Payout.objects.filter(expert_id=expert["id"]).count() == 1
    assert client.get(f"/v1/users/{expert['id']}").json()["wallet"]["balance"] == 900


# What an unfinished run leaves behind is finished, never started again under a new key


def crash_after_answer(monkeypatch):
    apply = payout_services.payout_apply_answer
    monkeypatch.setattr(payout_services, "payout_apply_answer", lambda **kw: (_ for _ in ()).throw(RuntimeError("crash")))
    return lambda: monkeypatch.setattr(payout_services, "payout_apply_answer", apply)


def test_an_unfinished_key_past_its_24_hours_resumes_and_is_not_purged(client, monkeypatch):
    from django.core.management import call_command

    expert, bank = expert_with_bank_account(client)
    CALLS.clear()
    restore = crash_after_answer(monkeypatch)
    assert manual_payout(client, expert, bank, "old-1").status_code == 500
    restore()
    IdempotencyRecord.objects.filter(key="old-1").update(expires_at=timezone.now() - timedelta(seconds=1))

    call_command("purge_idempotency_keys")
    resumed = manual_payout(client, expert, bank, "old-1")

    assert (resumed.status_code, resumed.json()["status"]) == (201, "paid")
    assert len(CALLS) == 1 and Payout.objects.filter(expert_id=expert["id"]).count() == 1
    assert client.get(f"/v1/users/{expert['id']}").json()["wallet"] == {
        "balance": 900, "heldBalance": 0, "availableBalance": 900, "currency": "INR", "status": "active",
    }


def test_a_payout_the_gateway_may_have_paid_is_never_cancelled(client, monkeypatch):
    expert, bank = expert_with_bank_account(client)
    restore = crash_after_answer(monkeypatch)
    assert manual_payout(client, expert, bank, "paid-1").status_code == 500
    restore()
    payout = Payout.objects.get(expert_id=expert["id"])

    with pytest.raises(payout_services.DomainError) as refused:
        payout_services.payout_cancel(payout_id=payout.id)
    resumed = manual_payout(client, expert, bank, "paid-1")

    assert "may be paid" in refused.value.message
    assert (resumed.status_code, resumed.json()["status"]) == (201, "paid")
    assert system_account_balance(tenant="webuddy", code="payout_clearing", currency="INR") == D(100)


def test_a_recharge_the_gateway_took_is_credited_even_if_the_wallet_was_suspended_meanwhile(client, monkeypatch):
    from wallets.services.accounts import wallet_suspend

    user = create_user(client)
    wallet = Account.objects.get(user_id=user["id"])

    class SuspendingGateway(RecordingGateway):
        def create_order(self, **kwargs):
            wallet_suspend(wallet=wallet)  # finance suspends the wallet while the payer is paying
            return super().create_order(**kwargs)

    monkeypatch.setattr(recharges, "gateway_for", SuspendingGateway)

    response = recharge(client, user, "susp-1")

    assert (response.status_code, response.json()["status"]) == (201, "succeeded")
    wallet.refresh_from_db()
    assert (wallet.balance, wallet.status) == (D(250), "suspended")


def test_a_monthly_run_takes_up_a_payout_an_earlier_run_left_unfinished(monkeypatch, capsys):
    from django.core.management import call_command

    expert, wallet, bank = expert_with_bank(balance=0, earned_last_month=600)
    month = (timezone.now().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    CALLS.clear()
    RecordingGateway.crash = True  # the first run dies at the gateway call

    call_command("run_monthly_payouts", "--month", month)
    first = capsys.readouterr().out
    payout = Payout.objects.get(expert=expert)
    assert "error" in first and payout.status == "pending" and CALLS == []

    call_command("run_monthly_payouts", "--month", month)
    second = capsys.readouterr().out

    payout.refresh_from_db()
    assert payout.status == "paid" and "paid 600.00 INR in total" in second
    assert [call[1] for call in CALLS] == [str(payout.id)]
    assert Payout.objects.filter(expert=expert).count() == 1
    wallet.refresh_from_db()
    assert (wallet.balance, wallet.held_balance) == (D(0), D(0))


def test_a_monthly_payout_crashed_after_the_answer_resumes_with_the_same_key(client, monkeypatch):
    expert, bank = expert_with_bank_account(client, balance=0)
    backdated_deposit(Account.objects.get(user_id=expert["id"]), D(700), timezone.now() - timedelta(days=62))
    month = (timezone.now() - timedelta(days=62)).strftime("%Y-%m")
    CALLS.clear()
    restore = crash_after_answer(monkeypatch)

    def monthly():
        return client.post("/v1/payouts/monthly", {"expertId": expert["id"], "month": month}, format="json",
                           HTTP_IDEMPOTENCY_KEY="monthly-crash")

    assert monthly().status_code == 500
    restore()
    resumed = monthly()

    assert (resumed.status_code, resumed.json()["status"], resumed.json()["amount"]) == (201, "paid", 700)
    assert len(CALLS) == 1 and Payout.objects.filter(expert_id=expert["id"]).count() == 1
