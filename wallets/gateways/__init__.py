"""Payment gateways behind one interface: collect money (recharge orders) and pay it out (bank
payouts), and read back what became of either.

`PAYMENTS_MODE=simulated` (the default, and always for TMR Land) answers at once without any network.
`PAYMENTS_MODE=live` talks to Razorpay (orders, payments, RazorpayX payouts) and Stripe
(PaymentIntents, Connect transfers) through their official SDKs, at `RAZORPAY_API_BASE` and
`STRIPE_API_BASE`.

Gateways are called with no database transaction open (`wallets.recovery.no_transaction_open`): the
caller records its intent, calls out with its own idempotency key, then applies the answer anew. A
gateway never writes to the database; it only talks to the provider.
"""
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from django.conf import settings

METHODS = ("RAZORPAY", "STRIPE")


class GatewayUnavailable(Exception):
    """The provider could not be reached or answered 5xx: what we asked may or may not have happened."""


class GatewayRefused(Exception):
    """The provider answered 4xx: what we asked did not happen."""


@dataclass(frozen=True)
class GatewayOrder:
    status: str  # "succeeded" | "pending" | "failed"
    provider_order_id: str
    provider_payment_id: str | None = None
    client_data: dict = field(default_factory=dict)  # what the payer's client needs (live mode)
    failure_reason: str = ""


@dataclass(frozen=True)
class GatewayPayout:
    status: str  # "paid" | "processing" | "failed" | "reversed"
    provider_payout_id: str | None
    failure_reason: str = ""


@dataclass(frozen=True)
class GatewayPayment:
    """What the provider says of money paid towards one of our orders (or PaymentIntents)."""

    provider_payment_id: str
    provider_order_id: str | None
    status: str  # "captured" (money received) | "authorized" | "failed" | anything else: not yet
    amount: Decimal
    currency: str
    failure_reason: str = ""
    created_at: int = 0  # when the payer made it, Unix seconds as the provider says (0: not said)


@dataclass(frozen=True)
class PayoutDestination:
    account_number: str
    ifsc_code: str
    account_holder_name: str
    expert_id: str = ""
    # Kept on the bank detail once made (RazorpayX), or given by the expert (Stripe Connect).
    razorpay_contact_id: str | None = None
    razorpay_fund_account_id: str | None = None
    stripe_account_id: str | None = None


class PaymentGateway(Protocol):
    method: str

    def create_order(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str, metadata: dict | None = None
    ) -> GatewayOrder: ...

    def create_payout(
        self, *, reference: str, amount: Decimal, currency: str, destination: PayoutDestination, idempotency_key: str
    ) -> GatewayPayout: ...

    # Live gateways only: the order a create whose answer was lost made (asked again with the same key,
    # or found by our reference), or None if the provider has none, so nobody can have paid it.
    def recover_order(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str, metadata: dict | None = None,
        made_at=None,
    ) -> GatewayOrder | None: ...


def minor_units(amount: Decimal, currency: str) -> int:
    """An exact amount in the currency's smallest unit (paise, cents), as the providers take it."""
    from wallets.money import currency_exponent

    value = amount.scaleb(currency_exponent(currency))
    if value != value.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(value)


def from_minor_units(value: int, currency: str) -> Decimal:
    from wallets.money import currency_exponent

    return Decimal(int(value)).scaleb(-currency_exponent(currency))


def live() -> bool:
    return settings.PAYMENTS_MODE == "live"


def gateway_for(method: str) -> PaymentGateway:
    """The gateway of a payment method in the deployment's mode."""
    if method not in METHODS:
        raise ValueError(f"unknown payment method {method!r}")
    if not live():
        return SimulatedGateway(method)
    if method == "RAZORPAY":
        from wallets.gateways.razorpay_live import RazorpayGateway

        return RazorpayGateway()
    from wallets.gateways.stripe_live import StripeGateway

    return StripeGateway()


# The settings live mode needs (`manage.py check` refuses to pass without them: see wallets.checks).
LIVE_SETTINGS = (
    "RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET", "RAZORPAYX_ACCOUNT_NUMBER",
    "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
)


from wallets.gateways.simulated import SimulatedGateway  # noqa: E402  (uses the types above)

__all__ = [
    "METHODS", "GatewayOrder", "GatewayPayment", "GatewayPayout", "GatewayRefused", "GatewayUnavailable",
    "PaymentGateway", "PayoutDestination", "SimulatedGateway", "from_minor_units", "gateway_for", "live", "minor_units",
]
