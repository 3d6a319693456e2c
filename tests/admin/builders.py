"""Money states the back office acts on, made through the same services the API uses."""
from datetime import datetime, timezone
from decimal import Decimal

from experts.services import bank_detail_add
from kyc.services import kyc_submit
from payouts import services as payout_services
from tests.factories import make_user, make_wallet
from tests.history import backdated_deposit
from wallets.gateways import SimulatedGateway
from wallets.models import User


def kyc_applicant(name="Li Wei", number="310101199001011234"):
    user = make_user(username=f"tmr-{name.lower().replace(' ', '-')}-{number[-4:]}")
    make_wallet(user=user, currency="USD")
    return kyc_submit(user=user, full_name=name, id_type="national_id", id_number=number)


def expert_with_bank(*, balance=0, earned_last_month=0, name="Expert"):
    """A WeBuddy expert (INR wallet) with a primary bank account; `earned_last_month` is backdated
    to the first day of the previous month, so a monthly run for that month pays it."""
    user = make_user(tenant="webuddy", name=name, phone_number=None)
    wallet = make_wallet(user=user, currency="INR", balance=balance or None)
    if earned_last_month:
        now = datetime.now(timezone.utc)
        year, month = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
        backdated_deposit(wallet, Decimal(earned_last_month), datetime(year, month, 2, tzinfo=timezone.utc))
        wallet.refresh_from_db()
    bank = bank_detail_add(
        expert=user, bank_name="HDFC Bank", account_number="50100012345678", ifsc_code="HDFC0001234",
        account_holder_name=name, branch_name="Andheri",
    )
    return user, wallet, bank


class UnreachableGateway(SimulatedGateway):
    def create_payout(self, **kwargs):
        raise ConnectionError("gateway unreachable")


class FailingGateway(SimulatedGateway):
    def create_payout(self, **kwargs):
        from wallets.gateways import GatewayPayout

        return GatewayPayout(status="failed", provider_payout_id="sim_failed", failure_reason="account closed")


def unsent_payout(*, expert: User, bank, amount) -> "payout_services.Payout":
    """A manual payout recorded and held, never sent to the gateway (the process stopped there)."""
    from wallets import selectors

    wallet = selectors.webuddy_wallet(tenant=expert.tenant, user_id=expert.pk)
    return payout_services._payout_record(
        wallet=wallet, amount=Decimal(amount), kind="manual", month=None, method="RAZORPAY", bank=bank
    )


def payout_with_gateway(monkeypatch, gateway, *, expert: User, bank, amount) -> "payout_services.Payout":
    """A manual payout whose gateway answers with `gateway` (fails, or never answers: stays pending)."""
    monkeypatch.setattr(payout_services, "gateway_for", gateway)
    try:
        payout_services.payout_request_manual(
            tenant=expert.tenant, expert_id=expert.pk, amount=amount, bank_account_id=bank.pk, payment_method="RAZORPAY"
        )
    except ConnectionError:
        pass
    finally:
        monkeypatch.undo()
    return payout_services.Payout.objects.filter(expert=expert).order_by("-created_at").first()
