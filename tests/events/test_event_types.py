"""Every state change a client cares about writes exactly one event, in the change's own transaction,
with `data` as that tenant's dialect renders the object in its own GET."""
from decimal import Decimal

import pytest
from django.db import transaction

from kyc import services as kyc_services
from kyc.models import KycSubmission
from payouts import services as payout_services
from sessions_app import services as session_services
from tests.events.helpers import as_json, events_of, only_event
from tests.invariants import assert_ledger_invariants
from tests.tmr.helpers import charge, signed_in
from tests.webuddy.helpers import create_user, funded_user, recharge
from tests.webuddy.test_bank_details import add as add_bank
from wallets.gateways import GatewayOrder, GatewayPayout, SimulatedGateway
from wallets.models import Account, Event, Recharge
from wallets.services import accounts
from wallets.services import recharges as recharge_services

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _ledger_stays_whole(db):
    yield
    assert_ledger_invariants()


def test_recharge_succeeded_carries_the_recharge_as_get_renders_it(webuddy_client):
    user = create_user(webuddy_client)
    made = recharge(webuddy_client, user["id"], 250)

    event = only_event("recharge.succeeded")
    assert event.tenant_id == "webuddy"
    assert as_json(event.data) == as_json(webuddy_client.get(f"/v1/wallet/recharge/{made['id']}").content)
    assert as_json(event.data)["wallet"]["balance"] == D(250)


class DecliningGateway(SimulatedGateway):
    def create_order(self, **kwargs):
        return GatewayOrder(status="failed", provider_order_id="sim_declined_1", failure_reason="card declined")


def test_recharge_failed(webuddy_client, monkeypatch):
    monkeypatch.setattr(recharge_services, "gateway_for", DecliningGateway)
    user = create_user(webuddy_client)
    made = webuddy_client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": 90, "paymentMethod": "STRIPE"},
                               format="json").json()

    event = only_event("recharge.failed")
    assert as_json(event.data) == as_json(webuddy_client.get(f"/v1/wallet/recharge/{made['id']}").content)
    assert event.data["status"] == "failed"
    assert not events_of("recharge.succeeded")


def test_a_recharge_confirmed_twice_writes_one_event(webuddy_client):
    user = create_user(webuddy_client)
    made = recharge(webuddy_client, user["id"], 40)
    recharge_services.recharge_confirm(recharge_id=made["id"], provider_payment_id="again")
    assert len(events_of("recharge.succeeded")) == 1


def test_session_started_settled(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    started = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100},
                                  format="json").json()
    assert as_json(only_event("session.started").data) == as_json(started)

    webuddy_client.post("/v1/sessions/end", {"sessionId": started["id"], "expertId": expert["id"], "actualFee": D("80.5")},
                        format="json")
    settled = only_event("session.settled")
    assert as_json(settled.data) == as_json(webuddy_client.get(f"/v1/sessions/{started['id']}").content)
    assert settled.data["status"] == "settled" and settled.data["actualFee"] == D("80.50")


def test_session_cancelled_when_it_expires(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    started = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100},
                                  format="json").json()
    session_services.session_cancel(session_id=started["id"], reason="expired")

    cancelled = only_event("session.cancelled")
    assert as_json(cancelled.data) == as_json(webuddy_client.get(f"/v1/sessions/{started['id']}").content)
    assert cancelled.data["status"] == "cancelled"


def _expert_with_bank(client, balance):
    expert = funded_user(client, balance)
    bank = add_bank(client, expert["id"]).json()
    return expert, bank


def test_bank_detail_added(webuddy_client):
    expert, bank = _expert_with_bank(webuddy_client, 0)
    event = only_event("bank_detail.added")
    listed = webuddy_client.get(f"/v1/experts/{expert['id']}/bank-details").json()["items"]
    assert as_json(event.data) == as_json(listed[0]) == as_json(bank)
    assert "123456789012" not in str(event.data)  # masked, as the API shows it


def test_a_simulated_manual_payout_emits_processing_then_paid(webuddy_client):
    expert, bank = _expert_with_bank(webuddy_client, 1000)
    payout = webuddy_client.post(
        "/v1/payouts/manual", {"expertId": expert["id"], "amount": 400, "bankAccount": bank["id"], "paymentMethod": "RAZORPAY"},
        format="json",
    ).json()

    payout_events = [e for e in events_of() if e.type.startswith("payout.")]
    assert [e.type for e in payout_events] == ["payout.processing", "payout.paid"]
    assert payout_events[0].data["status"] == "processing"
    assert as_json(payout_events[1].data) == as_json(webuddy_client.get(f"/v1/payouts/{payout['id']}").content)


class FailingGateway(SimulatedGateway):
    def create_payout(self, **kwargs):
        return GatewayPayout(status="failed", provider_payout_id="sim_failed_1", failure_reason="account closed")


class SlowGateway(SimulatedGateway):
    def create_payout(self, **kwargs):
        return GatewayPayout(status="processing", provider_payout_id="sim_slow_1")


def test_payout_failed(webuddy_client, monkeypatch):
    expert, bank = _expert_with_bank(webuddy_client, 1000)
    monkeypatch.setattr(payout_services, "gateway_for", FailingGateway)
    payout = webuddy_client.post(
        "/v1/payouts/manual", {"expertId": expert["id"], "amount": 400, "bankAccount": bank["id"], "paymentMethod": "RAZORPAY"},
        format="json",
    ).json()

    assert [e.type for e in events_of() if e.type.startswith("payout.")] == ["payout.failed"]
    assert as_json(only_event("payout.failed").data) == as_json(webuddy_client.get(f"/v1/payouts/{payout['id']}").content)


def test_payout_processing_then_paid_then_reversed(webuddy_client, monkeypatch):
    expert, bank = _expert_with_bank(webuddy_client, 1000)
    monkeypatch.setattr(payout_services, "gateway_for", SlowGateway)
    payout = webuddy_client.post(
        "/v1/payouts/manual", {"expertId": expert["id"], "amount": 400, "bankAccount": bank["id"], "paymentMethod": "RAZORPAY"},
        format="json",
    ).json()
    assert payout["status"] == "processing"
    assert as_json(only_event("payout.processing").data) == as_json(payout)

    payout_services.payout_mark_paid(payout_id=payout["id"], provider_payout_id="sim_slow_1")
    payout_services.payout_mark_paid(payout_id=payout["id"], provider_payout_id="sim_slow_1")  # a replayed answer
    assert only_event("payout.paid").data["status"] == "paid"

    payout_services.payout_reverse(payout_id=payout["id"], reversed_total=None)
    reversed_ = only_event("payout.reversed")
    assert as_json(reversed_.data) == as_json(webuddy_client.get(f"/v1/payouts/{payout['id']}").content)
    assert reversed_.data["status"] == "reversed"
    assert len(events_of("payout.processing")) == 1


def test_wallet_suspended_and_reactivated_in_the_webuddy_dialect(webuddy_client):
    user = funded_user(webuddy_client, 70)
    wallet = Account.objects.get(user_id=user["id"])

    accounts.wallet_suspend(wallet=wallet)
    accounts.wallet_suspend(wallet=wallet)  # already suspended: no second event
    suspended = only_event("wallet.suspended")
    assert as_json(suspended.data) == as_json(webuddy_client.get(f"/v1/users/{user['id']}").content)
    assert suspended.data["wallet"]["status"] == "suspended"

    accounts.wallet_reactivate(wallet=wallet)
    assert only_event("wallet.reactivated").data["wallet"]["status"] == "active"


def test_wallet_suspended_and_reactivated_in_the_tmr_dialect():
    client, user = signed_in()
    charge(client, 30)
    wallet = Account.objects.get(user_id=user["id"], currency="USD")

    accounts.wallet_suspend(wallet=wallet)
    suspended = only_event("wallet.suspended", tenant="tmr")
    assert as_json(suspended.data) == as_json(client.get("/api/v1/wallet").content)
    assert suspended.data["status"] == "suspended" and "frozen_balance" in suspended.data

    accounts.wallet_reactivate(wallet=wallet)
    assert only_event("wallet.reactivated", tenant="tmr").data["status"] == "active"


def test_kyc_submitted_verified_and_rejected():
    client, user = signed_in()
    body = {"full_name": "Li Wei", "id_type": "national_id", "id_number": "310101199001011234"}
    submitted = client.post("/api/v1/wallet/kyc", body, format="json").json()
    assert as_json(only_event("kyc.submitted").data) == as_json(submitted)

    submission = KycSubmission.objects.get(user_id=user["id"])
    kyc_services.kyc_reject(submission_id=submission.id, staff=None, reason="blurry photo")
    rejected = only_event("kyc.rejected")
    assert as_json(rejected.data) == as_json(client.get("/api/v1/wallet/kyc").content)
    assert rejected.data["status"] == "rejected" and rejected.data["id_number"] == "310101****1234"

    client.post("/api/v1/wallet/kyc", body, format="json")
    kyc_services.kyc_approve(submission_id=KycSubmission.objects.get(user_id=user["id"], status="pending").id, staff=None)
    verified = only_event("kyc.verified")
    assert as_json(verified.data) == as_json(client.get("/api/v1/wallet/kyc").content)
    assert len(events_of("kyc.submitted")) == 2


def test_escrow_frozen_released_cancelled(tmr_key_client):
    buyer, buyer_user = signed_in()
    _, seller_user = signed_in()
    charge(buyer, 500)
    events_before = {e.id for e in events_of()}

    frozen = tmr_key_client.post("/api/v1/wallet/escrow/freeze",
                                 {"user_id": buyer_user["id"], "order_id": "o-1", "amount": 150, "currency": "USD"},
                                 format="json").json()
    released = tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": "o-1", "payee_id": seller_user["id"]},
                                   format="json").json()
    tmr_key_client.post("/api/v1/wallet/escrow/freeze",
                        {"user_id": buyer_user["id"], "order_id": "o-2", "amount": 20, "currency": "USD"}, format="json")
    cancelled = tmr_key_client.post("/api/v1/wallet/escrow/cancel", {"order_id": "o-2"}, format="json").json()

    new = [e for e in events_of() if e.id not in events_before]
    assert [e.type for e in new] == ["escrow.frozen", "escrow.released", "escrow.frozen", "escrow.cancelled"]
    assert {e.tenant_id for e in new} == {"tmr"}
    assert as_json(new[0].data) == as_json(frozen)
    assert as_json(new[1].data) == as_json(released)
    assert as_json(new[3].data) == as_json(cancelled)


def test_tmr_charge_and_withdraw_emit_nothing():
    client, _ = signed_in()
    charge(client, 30)
    client.post("/api/v1/wallet/withdraw", {"amount": 10, "currency": "USD"}, format="json")
    assert Event.objects.count() == 0


def test_refused_requests_write_no_event(webuddy_client):
    user, expert = funded_user(webuddy_client, 50), create_user(webuddy_client)
    before = Event.objects.count()
    refused = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 100},
                                  format="json")
    assert refused.status_code == 400
    assert Event.objects.count() == before


def test_an_event_is_written_in_the_changes_own_transaction(webuddy_client):
    """A change rolled back after its event was written leaves neither the change nor the event."""
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    tenant = Account.objects.get(user_id=user["id"]).tenant
    before = Event.objects.count()

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        session_services.session_start(tenant=tenant, user_id=user["id"], expert_id=expert["id"], session_fee=100)
        assert Event.objects.count() == before + 1
        raise Boom

    assert Event.objects.count() == before
    assert Account.objects.get(user_id=user["id"]).held_balance == 0


def test_recharges_pending_with_a_live_gateway_write_nothing_until_settled(webuddy_client):
    user = create_user(webuddy_client)
    wallet = Account.objects.get(user_id=user["id"])
    pending = Recharge.objects.create(account=wallet, user_id=user["id"], amount=D(10), currency="INR",
                                      payment_method="RAZORPAY", provider_order_id="order_pending_1")
    assert not events_of("recharge.succeeded") and not events_of("recharge.failed")
    recharge_services.recharge_fail(recharge_id=pending.id, reason="expired")
    recharge_services.recharge_fail(recharge_id=pending.id, reason="expired")  # again: nothing more
    assert only_event("recharge.failed").data["status"] == "failed"
