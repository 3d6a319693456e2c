"""Stripe in live mode, through the official SDK (`stripe`): PaymentIntents for recharges, Connect
transfers to the expert's connected account for payouts, and signed webhook events.

Every call goes to `STRIPE_API_BASE`, gives up after `GATEWAY_TIMEOUT_SECONDS` with no network retries
of the SDK's own (a retry is ours, with the same `Idempotency-Key`), and is made with no database
transaction open.
"""
from datetime import timedelta
from decimal import Decimal

import stripe
from django.conf import settings
from django.utils import timezone

from wallets.errors import DomainError
from wallets.gateways import (
    GatewayOrder,
    GatewayPayment,
    GatewayPayout,
    GatewayRefused,
    GatewayUnavailable,
    from_minor_units,
    minor_units,
)
from wallets.metrics import gateway_call

WEBHOOK_TOLERANCE_SECONDS = 300
# Stripe keeps an idempotency key at least 24 hours; a create asked again later might make a second intent.
STRIPE_KEY_KEPT = timedelta(hours=23)

# PaymentIntent statuses: what each means for a recharge.
INTENT_STATUSES = {"succeeded": "captured", "canceled": "failed", "requires_capture": "authorized"}


def intent_payment(intent: dict) -> GatewayPayment:
    """A PaymentIntent as a payment towards our recharge: what it received, in which currency."""
    currency = str(intent.get("currency", "")).upper()
    error = intent.get("last_payment_error") or {}
    try:
        amount = from_minor_units(intent.get("amount_received") or 0, currency)
    except (DomainError, ValueError, TypeError):  # a currency we do not keep: never ours to credit
        amount = Decimal(-1)
    return GatewayPayment(
        provider_payment_id=intent["id"],
        provider_order_id=intent["id"],
        status=INTENT_STATUSES.get(intent.get("status"), intent.get("status") or ""),
        amount=amount,
        currency=currency,
        failure_reason=str(error.get("message") or "")[:255],
        created_at=int(intent.get("created") or 0),
    )


def verified_event(*, body: bytes, signature: str | None):
    """The event of a webhook whose `Stripe-Signature` verifies (any `v1` of it, within 300 s), else
    None. Verified before anything of the body is read."""
    if not signature or not signature.isascii():
        return None
    try:
        return stripe.Webhook.construct_event(body, signature, settings.STRIPE_WEBHOOK_SECRET, WEBHOOK_TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, ValueError, TypeError, AttributeError):
        return None  # a bad signature, or a signed body that is no Stripe event


class StripeGateway:
    method = "STRIPE"

    def __init__(self):
        self.client = stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": settings.STRIPE_API_BASE},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=settings.GATEWAY_TIMEOUT_SECONDS),
        )

    @staticmethod
    def _call(call, *args, **kwargs):
        with gateway_call("stripe", getattr(call, "__qualname__", "call")):
            try:
                return call(*args, **kwargs)
            except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
                raise GatewayUnavailable(str(exc)) from exc
            except stripe.StripeError as exc:
                if exc.http_status is None or exc.http_status >= 500:
                    raise GatewayUnavailable(str(exc)) from exc
                raise GatewayRefused(exc.user_message or str(exc)) from exc

    def create_order(self, *, reference, amount, currency, idempotency_key, metadata=None) -> GatewayOrder:
        intent = self._call(
            self.client.v1.payment_intents.create,
            params={"amount": minor_units(amount, currency), "currency": currency.lower(), "metadata": metadata or {}},
            options={"idempotency_key": idempotency_key},
        )
        return GatewayOrder(
            status="pending",
            provider_order_id=intent.id,
            client_data={"paymentIntentId": intent.id, "clientSecret": intent.client_secret},
        )

    def recover_order(self, *, reference, amount, currency, idempotency_key, metadata=None, made_at=None):
        """The PaymentIntent a create whose answer was lost made: the create asked again with the same
        `Idempotency-Key` (Stripe answers with the intent it made then, or makes it now) while Stripe
        still keeps the key. After that, None: an intent whose client secret never reached the payer
        cannot have been paid (and search, which could find it, is not offered everywhere)."""
        if made_at is not None and timezone.now() - made_at >= STRIPE_KEY_KEPT:
            return None
        return self.create_order(reference=reference, amount=amount, currency=currency,
                                 idempotency_key=idempotency_key, metadata=metadata)

    def cancel_intent(self, intent_id: str, *, idempotency_key: str) -> GatewayPayment:
        """Cancel a PaymentIntent nobody paid, so nobody can any more; GatewayRefused if it can no
        longer be cancelled (it succeeded meanwhile: read it again)."""
        return intent_payment(self._call(self.client.v1.payment_intents.cancel, intent_id,
                                         options={"idempotency_key": idempotency_key}).to_dict())

    def retrieve_intent(self, intent_id: str) -> GatewayPayment:
        return intent_payment(self._call(self.client.v1.payment_intents.retrieve, intent_id).to_dict())

    def create_payout(self, *, reference, amount, currency, destination, idempotency_key) -> GatewayPayout:
        """A Connect transfer, keyed by `Idempotency-Key` and grouped by our reference (so it can be
        found again after Stripe forgets the key); GatewayRefused if Stripe refuses it."""
        transfer = self._call(
            self.client.v1.transfers.create,
            params={
                "amount": minor_units(amount, currency), "currency": currency.lower(),
                "destination": destination.stripe_account_id, "transfer_group": reference,
                "metadata": {"payoutId": reference},
            },
            options={"idempotency_key": idempotency_key},
        )
        # A transfer moves the money to the connected account when it is created.
        return GatewayPayout(status="paid", provider_payout_id=transfer.id)

    def find_payout(self, reference: str) -> GatewayPayout | None:
        """The transfer made for our reference (its transfer group), if Stripe has one."""
        found = self._call(self.client.v1.transfers.list, params={"transfer_group": reference, "limit": 1}).to_dict()
        items = found.get("data") or []
        if not items:
            return None
        status = "reversed" if items[0].get("reversed") else "paid"
        return GatewayPayout(status=status, provider_payout_id=items[0]["id"])

    def fetch_payout(self, provider_payout_id: str) -> GatewayPayout:
        transfer = self._call(self.client.v1.transfers.retrieve, provider_payout_id).to_dict()
        if transfer.get("reversed"):
            return GatewayPayout(status="reversed", provider_payout_id=transfer["id"])
        return GatewayPayout(status="paid", provider_payout_id=transfer["id"])

    def prepare_destination(self, destination):
        return destination
