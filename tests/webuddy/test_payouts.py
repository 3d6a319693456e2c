"""`/v1/payouts/manual`, `/v1/payouts/monthly` and `run_monthly_payouts`."""
from decimal import Decimal

import pytest
from django.core.management import call_command

from payouts import services as payout_services
from payouts.models import Payout
from tests.clock import mid_month, month
from tests.history import backdated_deposit
from tests.invariants import assert_ledger_invariants
from tests.webuddy.helpers import funded_user, num, wallet_of
from tests.webuddy.test_bank_details import add as add_bank
from wallets.gateways import GatewayPayout, SimulatedGateway
from wallets.models import Account, Hold
from wallets.selectors import system_account_balance
from wallets.services import postings

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _ledger_stays_whole(db):
    yield
    assert_ledger_invariants()


def expert_with_bank(client, balance=0):
    expert = funded_user(client, balance)
    bank = add_bank(client, expert["id"]).json()
    return expert, bank


def manual(client, expert, bank_id, amount, method="RAZORPAY"):
    return client.post(
        "/v1/payouts/manual",
        {"expertId": expert["id"], "amount": amount, "bankAccount": bank_id, "paymentMethod": method},
        format="json",
    )


def test_manual_payout_is_paid_and_leaves_the_wallet(webuddy_client):
    expert, bank = expert_with_bank(webuddy_client, 1000)

    response = manual(webuddy_client, expert, bank["id"], 400)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "expertId", "amount", "currency", "kind", "month", "status", "paymentMethod", "bankAccountId",
        "providerPayoutId", "failureReason", "createdAt", "updatedAt",
    }
    assert (body["expertId"], body["amount"], body["currency"], body["kind"], body["month"], body["status"]) == (
        expert["id"], 400, "INR", "manual", None, "paid",
    )
    assert (body["paymentMethod"], body["bankAccountId"], body["failureReason"]) == ("RAZORPAY", bank["id"], None)
    assert body["providerPayoutId"].startswith("sim_rzp_payout_")
    assert wallet_of(webuddy_client, expert["id"]) == {
        "balance": 600, "heldBalance": 0, "availableBalance": 600, "currency": "INR", "status": "active"
    }
    assert system_account_balance(tenant="webuddy", code=Account.System.PAYOUT_CLEARING, currency="INR") == D(400)


class FailingGateway(SimulatedGateway):
    def create_payout(self, **kwargs):
        return GatewayPayout(status="failed", provider_payout_id="sim_failed_1", failure_reason="account closed")


def test_failed_payout_releases_the_hold(webuddy_client, monkeypatch):
    expert, bank = expert_with_bank(webuddy_client, 1000)
    monkeypatch.setattr(payout_services, "gateway_for", FailingGateway)

    body = manual(webuddy_client, expert, bank["id"], 400).json()

    assert (body["status"], body["failureReason"]) == ("failed", "account closed")
    assert wallet_of(webuddy_client, expert["id"])["balance"] == 1000
    assert wallet_of(webuddy_client, expert["id"])["heldBalance"] == 0
    assert Hold.objects.get(payout__id=body["id"]).status == Hold.Status.RELEASED


class SlowGateway(SimulatedGateway):
    def create_payout(self, **kwargs):
        return GatewayPayout(status="processing", provider_payout_id="sim_processing_1")


def test_processing_payout_keeps_the_amount_held_until_the_gateway_answers(webuddy_client, monkeypatch):
    expert, bank = expert_with_bank(webuddy_client, 1000)
    monkeypatch.setattr(payout_services, "gateway_for", SlowGateway)

    body = manual(webuddy_client, expert, bank["id"], 400).json()

    assert body["status"] == "processing"
    assert wallet_of(webuddy_client, expert["id"])["heldBalance"] == 400
    payout_services.payout_mark_paid(payout_id=body["id"], provider_payout_id="sim_processing_1")
    payout_services.payout_mark_paid(payout_id=body["id"], provider_payout_id="sim_processing_1")  # replayed answer
    assert wallet_of(webuddy_client, expert["id"]) == {
        "balance": 600, "heldBalance": 0, "availableBalance": 600, "currency": "INR", "status": "active"
    }


def test_a_payout_retried_with_a_rotated_api_key_is_paid_once(webuddy_client):
    """The partner rotates its key (docs/security.md) between a payout and its retry: the same client."""
    from tests.conftest import api_key_client

    expert, bank = expert_with_bank(webuddy_client, 1000)
    rotated = api_key_client("webuddy")
    body = {"expertId": expert["id"], "amount": 300, "bankAccount": bank["id"], "paymentMethod": "RAZORPAY"}

    first = webuddy_client.post("/v1/payouts/manual", body, format="json", HTTP_IDEMPOTENCY_KEY="payout-K")
    retry = rotated.post("/v1/payouts/manual", body, format="json", HTTP_IDEMPOTENCY_KEY="payout-K")

    assert (first.status_code, retry.status_code, retry["Idempotent-Replayed"]) == (201, 201, "true")
    assert retry.json()["id"] == first.json()["id"] and Payout.objects.count() == 1
    assert num(wallet_of(webuddy_client, expert["id"])["balance"]) == D(700)


def test_manual_payout_beyond_available_is_400(webuddy_client):
    expert, bank = expert_with_bank(webuddy_client, 100)
    response = manual(webuddy_client, expert, bank["id"], 100.01)
    assert (response.status_code, response.json()["code"]) == (400, "insufficient_balance")
    assert Payout.objects.count() == 0


def test_manual_payout_to_someone_elses_bank_account_is_400(webuddy_client):
    expert, _ = expert_with_bank(webuddy_client, 100)
    _, other_bank = expert_with_bank(webuddy_client)
    for bank_id in (other_bank["id"], "00000000-0000-0000-0000-000000000000", "x"):
        response = manual(webuddy_client, expert, bank_id, 10)
        assert (response.status_code, response.json()["code"]) == (400, "bank_account_not_found")


@pytest.mark.parametrize("amount", [0, -1, 1.001])
def test_bad_payout_amounts_are_400(webuddy_client, amount):
    expert, bank = expert_with_bank(webuddy_client, 100)
    response = manual(webuddy_client, expert, bank["id"], amount)
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_manual_payout_for_an_unknown_expert_is_404(webuddy_client):
    _, bank = expert_with_bank(webuddy_client, 100)
    response = manual(webuddy_client, {"id": "00000000-0000-0000-0000-000000000000"}, bank["id"], 10)
    assert (response.status_code, response.json()["code"]) == (404, "expert_not_found")


# The month the experts earned in: two months before the current one, so it is over whatever the date.
EARNED = -2


def expert_who_earned_in_a_past_month(client, earned=D(1000), since=D(500)):
    """An expert who earned `earned` in the month EARNED (and `since` today, after it is over)."""
    expert, bank = expert_with_bank(client)
    wallet = Account.objects.get(user_id=expert["id"])
    backdated_deposit(wallet, earned, mid_month(EARNED))

    postings.wallet_deposit(wallet=wallet, amount=since)  # earned after that month
    return expert, bank


def monthly(client, expert, month, threshold=None):
    body = {"expertId": expert["id"], "month": month}
    if threshold is not None:
        body["payoutThreshold"] = threshold
    return client.post("/v1/payouts/monthly", body, format="json")


def test_monthly_payout_pays_the_balance_at_the_end_of_the_month(webuddy_client):
    expert, bank = expert_who_earned_in_a_past_month(webuddy_client)

    response = monthly(webuddy_client, expert, month(EARNED), threshold=500)

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["month"], body["amount"], body["status"], body["bankAccountId"]) == (
        "monthly", month(EARNED), 1000, "paid", bank["id"],
    )
    assert num(wallet_of(webuddy_client, expert["id"])["balance"]) == D(500)


def test_monthly_payout_is_capped_by_what_is_available_now(webuddy_client):
    expert, bank = expert_who_earned_in_a_past_month(webuddy_client, since=D("0.01"))
    assert manual(webuddy_client, expert, bank["id"], 700).status_code == 201
    body = monthly(webuddy_client, expert, month(EARNED)).json()
    assert num(body["amount"]) == D("300.01")


def test_monthly_payout_below_the_threshold_is_skipped(webuddy_client):
    expert, _ = expert_who_earned_in_a_past_month(webuddy_client)

    response = monthly(webuddy_client, expert, month(EARNED), threshold=5000)

    assert response.status_code == 200
    assert response.json() == {"status": "skipped", "reason": "below_threshold", "amount": 1000}
    assert Payout.objects.count() == 0


def test_a_second_monthly_payout_for_the_month_is_409(webuddy_client):
    expert, _ = expert_who_earned_in_a_past_month(webuddy_client)
    monthly(webuddy_client, expert, month(EARNED))
    response = monthly(webuddy_client, expert, month(EARNED))
    assert (response.status_code, response.json()["code"]) == (409, "payout_already_exists")
    assert Payout.objects.count() == 1


@pytest.mark.clock
@pytest.mark.parametrize("months_from_now", [0, 1, 14])
def test_a_month_that_has_not_ended_is_400(webuddy_client, months_from_now):
    expert, _ = expert_who_earned_in_a_past_month(webuddy_client)
    response = monthly(webuddy_client, expert, month(months_from_now))
    assert (response.status_code, response.json()["code"]) == (400, "month_not_ended")


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "January", ""])
def test_a_malformed_month_is_400(webuddy_client, text):
    expert, _ = expert_who_earned_in_a_past_month(webuddy_client)
    response = monthly(webuddy_client, expert, text)
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_monthly_payout_without_a_bank_account_is_400(webuddy_client):
    expert = funded_user(webuddy_client, 100)
    response = monthly(webuddy_client, expert, month(EARNED))
    assert (response.status_code, response.json()["code"]) == (400, "bank_account_not_found")


def test_run_monthly_payouts_pays_everyone_once_and_is_safe_to_rerun(webuddy_client, capsys):
    paid, _ = expert_who_earned_in_a_past_month(webuddy_client, earned=D(800))
    small, _ = expert_who_earned_in_a_past_month(webuddy_client, earned=D(50))
    funded_user(webuddy_client, 999)  # no bank account: not an expert to pay

    call_command("run_monthly_payouts", "--month", month(EARNED), "--threshold", "100", "--dry-run")
    dry = capsys.readouterr().out
    assert "would_pay" in dry and "below_threshold" in dry and "DRY RUN" in dry
    assert Payout.objects.count() == 0

    call_command("run_monthly_payouts", "--month", month(EARNED), "--threshold", "100")
    first = capsys.readouterr().out
    assert f"{paid['id']}" in first and "paid 800.00 INR in total" in first
    assert Payout.objects.get().expert_id.hex == paid["id"].replace("-", "")

    call_command("run_monthly_payouts", "--month", month(EARNED), "--threshold", "100")
    again = capsys.readouterr().out
    assert "already_paid: 1" in again and "paid nothing" in again
    assert Payout.objects.count() == 1
    assert num(wallet_of(webuddy_client, paid["id"])["balance"]) == D(500)
    assert num(wallet_of(webuddy_client, small["id"])["balance"]) == D(550)


@pytest.mark.clock
@pytest.mark.parametrize("months_from_now", [0, 1])
def test_run_monthly_payouts_refuses_a_month_that_has_not_ended(months_from_now):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="has not ended"):
        call_command("run_monthly_payouts", "--month", month(months_from_now))


def test_the_quick_starts_demo_expert_is_paid_by_the_monthly_run_of_last_month(settings, capsys):
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("bootstrap_dev", "--demo")
    call_command("bootstrap_dev", "--demo")  # a second run of the walk-through: another expert
    said = capsys.readouterr().out

    assert said.count("earned 1200.00 INR in " + month(-1)) == 2
    call_command("run_monthly_payouts", "--month", month(-1))
    assert "paid 2400.00 INR in total" in capsys.readouterr().out
    assert Payout.objects.filter(kind="monthly", month=month(-1), amount=1200, status="paid").count() == 2
    call_command("run_monthly_payouts", "--month", month(-1))
    assert "already_paid: 2" in capsys.readouterr().out


def test_an_expert_with_nothing_at_the_months_end_is_nothing_to_pay_not_below_threshold(webuddy_client, capsys):
    expert_with_bank(webuddy_client, 100)  # earned this month only

    call_command("run_monthly_payouts", "--month", month(-1), "--dry-run")

    assert "nothing_to_pay: 1" in capsys.readouterr().out
