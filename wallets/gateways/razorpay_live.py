"""Razorpay in live mode: orders and payments through the official SDK (`razorpay`), payouts through
RazorpayX over HTTP (`requests`: the SDK has no calls for contacts, fund accounts and payouts).

Every call goes to `RAZORPAY_API_BASE` with the key id and secret, gives up after
`GATEWAY_TIMEOUT_SECONDS`, and is made with no database transaction open. Orders take no idempotency
header (the receipt, our recharge id, names them); payouts carry `X-Payout-Idempotency` (our payout id).
"""
import hashlib
import hmac
from decimal import Decimal

import razorpay
import requests
from django.conf import settings

from wallets.gateways import (
    GatewayOrder,
    GatewayPayment,
    GatewayPayout,
    GatewayRefused,
    GatewayUnavailable,
    PayoutDestination,
    from_minor_units,
    minor_units,
)
from wallets.metrics import gateway_call

# RazorpayX payout statuses: what each means for our payout.
PAYOUT_STATUSES = {
    "processed": "paid",
    "failed": "failed",
    "rejected": "failed",
    "cancelled": "failed",
    "reversed": "reversed",
}


def _signature(message: str, secret: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _same(expected: str, given) -> bool:
    """A constant-time comparison of hex digests that refuses anything but ASCII text."""
    return isinstance(given, str) and given.isascii() and hmac.compare_digest(expected.encode(), given.encode())


def checkout_signature_valid(*, order_id: str, payment_id: str, signature: str) -> bool:
    """Razorpay Checkout's `razorpay_signature`: HMAC-SHA256 of `order_id|payment_id` with the key secret."""
    return _same(_signature(f"{order_id}|{payment_id}", settings.RAZORPAY_KEY_SECRET), signature)


def webhook_signature_valid(*, body: bytes, signature: str | None) -> bool:
    """`X-Razorpay-Signature`: HMAC-SHA256 of the raw body with the webhook secret."""
    if not signature:
        return False
    return _same(hmac.new(settings.RAZORPAY_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest(), signature)


def payout_answer(entity: dict) -> GatewayPayout:
    """A RazorpayX payout entity as our answer: paid, failed, reversed, or still processing."""
    status = PAYOUT_STATUSES.get(entity.get("status"), "processing")
    details = entity.get("status_details") or {}
    reason = entity.get("failure_reason") or details.get("description") or ""
    return GatewayPayout(status=status, provider_payout_id=entity.get("id"), failure_reason=str(reason)[:255])


def payment_of(entity: dict) -> GatewayPayment:
    currency = str(entity.get("currency", "")).upper()
    return GatewayPayment(
        provider_payment_id=entity["id"],
        provider_order_id=entity.get("order_id"),
        status=entity.get("status", ""),
        amount=from_minor_units(entity.get("amount", 0), currency) if currency in ("INR", "USD") else Decimal(-1),
        currency=currency,
        failure_reason=str(entity.get("error_description") or "")[:255],
        created_at=int(entity.get("created_at") or 0),
    )


def order_answer(order: dict) -> GatewayOrder:
    """A Razorpay order as our answer: pending, with what Checkout needs to pay it."""
    return GatewayOrder(
        status="pending",
        provider_order_id=order["id"],
        client_data={
            "keyId": settings.RAZORPAY_KEY_ID, "orderId": order["id"], "amount": order["amount"],
            "currency": order["currency"],
        },
    )


class RazorpayGateway:
    method = "RAZORPAY"

    def __init__(self):
        self.timeout = settings.GATEWAY_TIMEOUT_SECONDS
        self.client = razorpay.Client(
            auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET), base_url=settings.RAZORPAY_API_BASE
        )

    def _sdk(self, call, *args, **kwargs):
        with gateway_call("razorpay", getattr(call, "__qualname__", "call")):
            try:
                return call(*args, timeout=self.timeout, **kwargs)
            except razorpay.errors.BadRequestError as exc:
                raise GatewayRefused(str(exc)) from exc
            except (razorpay.errors.ServerError, razorpay.errors.GatewayError, requests.RequestException, ValueError) as exc:
                raise GatewayUnavailable(str(exc) or type(exc).__name__) from exc

    def _x(self, operation: str, method: str, path: str, *, json=None, headers=None) -> dict:
        """A RazorpayX call over HTTP (`operation` names it in the metrics)."""
        with gateway_call("razorpayx", operation):
            return self._x_call(method, path, json=json, headers=headers)

    def _x_call(self, method: str, path: str, *, json=None, headers=None) -> dict:
        try:
            response = requests.request(
                method, f"{settings.RAZORPAY_API_BASE}{path}", json=json, headers=headers or {},
                auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET), timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise GatewayUnavailable(str(exc) or type(exc).__name__) from exc
        if response.status_code >= 500:
            raise GatewayUnavailable(f"RazorpayX answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise GatewayUnavailable("RazorpayX answered something that is not JSON") from exc
        if response.status_code >= 400:
            error = body.get("error") or {}
            raise GatewayRefused(str(error.get("description") or f"RazorpayX answered {response.status_code}"))
        return body

    # Money in

    def create_order(self, *, reference, amount, currency, idempotency_key, metadata=None) -> GatewayOrder:
        order = self._sdk(self.client.order.create, data={
            "amount": minor_units(amount, currency), "currency": currency, "receipt": reference, "notes": metadata or {},
            # Payments are captured by us, one per order (wallets.services.recharges), never by Razorpay:
            # with automatic capture two payments of one order would both be taken.
            "payment": {"capture": "manual"},
        })
        return order_answer({**order, "amount": minor_units(amount, currency), "currency": currency})

    def recover_order(self, *, reference, amount, currency, idempotency_key, metadata=None, made_at=None):
        """The order a create whose answer was lost made, found by its receipt (our reference: orders
        take no idempotency key); None if Razorpay has none (nobody can have paid it)."""
        found = self._sdk(self.client.order.all, {"receipt": reference, "count": 10})
        orders = [order for order in found.get("items") or [] if order.get("receipt") == reference]
        return order_answer(orders[-1]) if orders else None

    def fetch_payment(self, payment_id: str) -> GatewayPayment:
        return payment_of(self._sdk(self.client.payment.fetch, payment_id))

    def capture_payment(self, payment: GatewayPayment) -> GatewayPayment:
        return payment_of(self._sdk(
            self.client.payment.capture, payment.provider_payment_id, minor_units(payment.amount, payment.currency),
            {"currency": payment.currency},
        ))

    def order_payments(self, order_id: str) -> list[GatewayPayment]:
        items = self._sdk(self.client.order.payments, order_id).get("items", [])
        return [payment_of(item) for item in items]

    # Money out (RazorpayX)

    def prepare_destination(self, destination: PayoutDestination) -> PayoutDestination:
        """The bank account as a RazorpayX contact and fund account (made once; the caller keeps the ids)."""
        if destination.razorpay_fund_account_id:
            return destination
        contact_id = destination.razorpay_contact_id
        if not contact_id:
            contact = self._x("contacts.create", "POST", "/v1/contacts", json={
                "name": destination.account_holder_name, "type": "vendor", "reference_id": destination.expert_id,
            })
            contact_id = contact["id"]
        fund_account = self._x("fund_accounts.create", "POST", "/v1/fund_accounts", json={
            "contact_id": contact_id,
            "account_type": "bank_account",
            "bank_account": {
                "name": destination.account_holder_name, "ifsc": destination.ifsc_code,
                "account_number": destination.account_number,
            },
        })
        return PayoutDestination(
            account_number=destination.account_number, ifsc_code=destination.ifsc_code,
            account_holder_name=destination.account_holder_name, expert_id=destination.expert_id,
            razorpay_contact_id=contact_id, razorpay_fund_account_id=fund_account["id"],
            stripe_account_id=destination.stripe_account_id,
        )

    def create_payout(self, *, reference, amount, currency, destination, idempotency_key) -> GatewayPayout:
        """A RazorpayX payout, keyed by `X-Payout-Idempotency`; GatewayRefused if RazorpayX refuses it."""
        mode = "IMPS" if amount <= settings.PAYOUT_IMPS_LIMIT else "NEFT"
        entity = self._x("payouts.create", "POST", "/v1/payouts", json={
            "account_number": settings.RAZORPAYX_ACCOUNT_NUMBER,
            "fund_account_id": destination.razorpay_fund_account_id,
            "amount": minor_units(amount, currency),
            "currency": currency,
            "mode": mode,
            "purpose": "payout",
            "queue_if_low_balance": True,
            "reference_id": reference,
            "narration": "Expert payout",
        }, headers={"X-Payout-Idempotency": idempotency_key})
        return payout_answer(entity)

    def find_payout(self, reference: str) -> GatewayPayout | None:
        """The payout made for our reference (our payout id), if RazorpayX has one."""
        found = self._x("payouts.find", "GET", f"/v1/payouts?account_number={settings.RAZORPAYX_ACCOUNT_NUMBER}&reference_id={reference}")
        items = found.get("items") or []
        return payout_answer(items[0]) if items else None

    def fetch_payout(self, provider_payout_id: str) -> GatewayPayout:
        return payout_answer(self._x("payouts.fetch", "GET", f"/v1/payouts/{provider_payout_id}"))
