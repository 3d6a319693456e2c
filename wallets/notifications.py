"""Signed notifications from the payment providers, recorded once and applied through the same
services as a synchronous answer.

`notification_receive` records the event by (provider, event id) in one transaction with its effect: a
replay of an event already recorded changes nothing; an event for nothing of ours, or of a type we do
not handle, is recorded for finance (outcome `unknown`) and answered 200, so the provider does not
retry it forever. Each app registers the handlers of its own objects (`notification_handler`): recharges
here, payouts in `payouts.notifications`. The signature is checked by the view before anything is read.
"""
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from wallets.errors import DomainError
from wallets.gateways import GatewayPayment
from wallets.gateways.razorpay_live import payment_of
from wallets.gateways.stripe_live import intent_payment
from wallets.models import GatewayEvent, Recharge
from wallets.services.recharges import recharge_apply_payment
from wallets.validation import json_document_check

logger = logging.getLogger(__name__)
Provider = GatewayEvent.Provider
Outcome = GatewayEvent.Outcome


@dataclass(frozen=True)
class Handled:
    outcome: str
    object_type: str = ""
    object_id: str = ""
    detail: str = ""


_handlers: dict[tuple[str, str], Callable[[dict], Handled]] = {}


def notification_handler(provider: str, *event_types: str):
    """Register `fn(event) -> Handled` for these event types of the provider."""

    def register(fn):
        for event_type in event_types:
            _handlers[(provider, event_type)] = fn
        return fn

    return register


@dataclass(frozen=True)
class Received:
    event: GatewayEvent
    replayed: bool


def _storable(event: dict) -> dict:
    """The event as the database can keep it (no NUL characters, no NaN); else a note of what it was."""
    try:
        return json_document_check(event, field="payload")
    except DomainError:
        return {"note": "the event could not be stored as it came", "type": str(event.get("type") or event.get("event"))}


def notification_receive(*, provider: str, event_id: str, event_type: str, event: dict) -> Received:
    """Record the provider's event once and apply it in the same transaction."""
    with transaction.atomic():
        record, created = GatewayEvent.objects.get_or_create(
            provider=provider, event_id=event_id[:128],
            defaults={"event_type": event_type[:64], "outcome": Outcome.UNKNOWN, "payload": _storable(event)},
        )
        if not created:
            return Received(record, replayed=True)
        handler = _handlers.get((provider, event_type))
        if handler is None:
            handled = Handled(Outcome.UNKNOWN, detail="an event type we do not handle")
        else:
            try:
                with transaction.atomic():
                    handled = handler(event)
            except (DomainError, ValueError, TypeError, KeyError, AttributeError) as exc:
                # Signed but not what we understand (an odd amount, a missing field): recorded for finance,
                # answered 200, so the provider does not send it again forever.
                logger.exception("%s event %s (%s) could not be applied", provider, event_id, event_type)
                handled = Handled(Outcome.UNKNOWN, detail=f"could not be applied: {type(exc).__name__}: {exc}")
        record.outcome, record.object_type, record.object_id = handled.outcome, handled.object_type, handled.object_id
        record.detail = handled.detail[:255]
        record.save(update_fields=["outcome", "object_type", "object_id", "detail"])
    if handled.outcome == Outcome.MISMATCH:
        logger.error("%s event %s: %s", provider, event_id, handled.detail)
    return Received(record, replayed=False)


# Recharges


def _apply_to_recharge(method: str, payment: GatewayPayment) -> Handled:
    recharge = Recharge.objects.select_related("account").filter(
        payment_method=method, provider_order_id=payment.provider_order_id
    ).first() if payment.provider_order_id else None
    if recharge is None:
        return Handled(Outcome.UNKNOWN, detail=f"no recharge for order {payment.provider_order_id}")
    outcome = recharge_apply_payment(recharge=recharge, payment=payment)
    detail = ""
    if outcome == Outcome.MISMATCH:
        detail = f"paid {payment.amount} {payment.currency}, the recharge is {recharge.amount} {recharge.currency}"
    elif outcome == Outcome.CONFLICT:
        paid_by = Recharge.objects.values_list("provider_payment_id", flat=True).get(pk=recharge.pk)
        detail = f"{payment.provider_payment_id}: {payment.status}, the recharge was paid by {paid_by}"
    return Handled(outcome, "recharge", str(recharge.id), detail)


@notification_handler(Provider.RAZORPAY, "payment.captured", "payment.failed", "order.paid")
def _razorpay_payment(event: dict) -> Handled:
    entity = ((event.get("payload") or {}).get("payment") or {}).get("entity")
    if not entity or "id" not in entity:
        return Handled(Outcome.UNKNOWN, detail="no payment in the event")
    payment = payment_of(entity)
    if event.get("event") == "payment.failed":
        payment = GatewayPayment(**{**payment.__dict__, "status": "failed"})
    return _apply_to_recharge(Recharge.Method.RAZORPAY, payment)


@notification_handler(Provider.RAZORPAY, "payment.authorized")
def _razorpay_authorized(event: dict) -> Handled:
    """A payment waits for our capture (orders are made with manual capture): the capture is queued
    as a job (no outside call inside this transaction), which captures at most one per order."""
    from wallets import jobs
    from wallets.tasks import recharge_capture

    entity = ((event.get("payload") or {}).get("payment") or {}).get("entity")
    if not entity or "id" not in entity:
        return Handled(Outcome.UNKNOWN, detail="no payment in the event")
    payment = payment_of(entity)
    recharge = Recharge.objects.filter(
        payment_method=Recharge.Method.RAZORPAY, provider_order_id=payment.provider_order_id
    ).first() if payment.provider_order_id else None
    if recharge is None:
        return Handled(Outcome.UNKNOWN, detail=f"no recharge for order {payment.provider_order_id}")
    # No queueing lock: a job safe to run twice (the claim) whose retry must never collide with a newer one.
    jobs.defer(recharge_capture, recharge_id=str(recharge.id))
    return Handled(Outcome.APPLIED, "recharge", str(recharge.id), f"{payment.provider_payment_id}: capture queued")


@notification_handler(Provider.STRIPE, "payment_intent.succeeded", "payment_intent.payment_failed")
def _stripe_intent(event: dict) -> Handled:
    intent = ((event.get("data") or {}).get("object")) or {}
    if "id" not in intent:
        return Handled(Outcome.UNKNOWN, detail="no PaymentIntent in the event")
    payment = intent_payment(intent)
    if event.get("type") == "payment_intent.payment_failed":
        payment = GatewayPayment(**{**payment.__dict__, "status": "failed"})
    return _apply_to_recharge(Recharge.Method.STRIPE, payment)
