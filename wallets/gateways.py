"""Payment gateways behind one interface: collect money (recharge orders) and pay it out (bank
payouts). `PAYMENTS_MODE=simulated` (the default) answers at once without any network; the live
Razorpay and Stripe implementations slot in behind the same two calls.

Gateways are called outside any database transaction that holds row locks: the caller records
its intent, calls out, then applies the answer in a new transaction.
"""
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from django.conf import settings

METHODS = ("RAZORPAY", "STRIPE")


@dataclass(frozen=True)
class GatewayOrder:
    status: str  # "succeeded" | "pending" | "failed"
    provider_order_id: str
    provider_payment_id: str | None = None
    client_data: dict = field(default_factory=dict)  # what the payer's client needs (live mode)
    failure_reason: str = ""


@dataclass(frozen=True)
class GatewayPayout:
    status: str  # "paid" | "processing" | "failed"
    provider_payout_id: str
    failure_reason: str = ""


@dataclass(frozen=True)
class PayoutDestination:
    account_number: str
    ifsc_code: str
    account_holder_name: str


class PaymentGateway(Protocol):
    method: str

    def create_order(self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str) -> GatewayOrder: ...

    def create_payout(
        self, *, reference: str, amount: Decimal, currency: str, destination: PayoutDestination, idempotency_key: str
    ) -> GatewayPayout: ...


class SimulatedGateway:
    """Succeeds at once, as the TMR Land MVP and local development expect."""

    def __init__(self, method: str):
        self.method = method
        self._prefix = "sim_rzp" if method == "RAZORPAY" else "sim_stripe"

    def create_order(self, *, reference, amount, currency, idempotency_key):
        token = uuid.uuid5(uuid.NAMESPACE_URL, f"order:{idempotency_key}").hex[:16]
        return GatewayOrder(
            status="succeeded",
            provider_order_id=f"{self._prefix}_order_{token}",
            provider_payment_id=f"{self._prefix}_pay_{token}",
        )

    def create_payout(self, *, reference, amount, currency, destination, idempotency_key):
        token = uuid.uuid5(uuid.NAMESPACE_URL, f"payout:{idempotency_key}").hex[:16]
        return GatewayPayout(status="paid", provider_payout_id=f"{self._prefix}_payout_{token}")


def gateway_for(method: str) -> PaymentGateway:
    if method not in METHODS:
        raise ValueError(f"unknown payment method {method!r}")
    if settings.PAYMENTS_MODE == "simulated":
        return SimulatedGateway(method)
    raise RuntimeError(f"PAYMENTS_MODE={settings.PAYMENTS_MODE!r} has no gateway")
