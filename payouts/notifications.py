"""The payment providers' events about payouts (RazorpayX payouts, Stripe transfers), applied through
`payouts.services.payout_apply_status`: paid, failed (never after paid), reversed (credited back).
Registered with `wallets.notifications` when the app is ready."""
from payouts.models import Payout
from payouts.services import payout_apply_status
from wallets.gateways import GatewayPayout, from_minor_units
from wallets.gateways.razorpay_live import payout_answer
from wallets.models import GatewayEvent
from wallets.validation import parse_uuid
from wallets.notifications import Handled, notification_handler

Provider = GatewayEvent.Provider
Outcome = GatewayEvent.Outcome


def _payout(*, provider_payout_id, our_id) -> Payout | None:
    """The payout an event is about: by the provider's id, or by our id (their `reference_id` or
    metadata), which is all we have when our own call timed out before it answered."""
    if provider_payout_id:
        found = Payout.objects.filter(provider_payout_id=provider_payout_id).first()
        if found is not None:
            return found
    ours = parse_uuid(our_id) if isinstance(our_id, str) else None
    return None if ours is None else Payout.objects.filter(pk=ours).first()


def _apply(payout: Payout | None, answer: GatewayPayout, reversed_amount=None, what="") -> Handled:
    if payout is None:
        return Handled(Outcome.UNKNOWN, detail=f"no payout for {what}")
    if answer.status == "reversed" and reversed_amount is not None and payout.currency:
        reversed_amount = from_minor_units(reversed_amount, payout.currency)
    _, outcome = payout_apply_status(payout_id=payout.id, answer=answer, reversed_amount=reversed_amount)
    return Handled(outcome, "payout", str(payout.id))


@notification_handler(Provider.RAZORPAY, "payout.processed", "payout.failed", "payout.rejected", "payout.reversed")
def _razorpayx_payout(event: dict) -> Handled:
    entity = ((event.get("payload") or {}).get("payout") or {}).get("entity")
    if not entity or "id" not in entity:
        return Handled(Outcome.UNKNOWN, detail="no payout in the event")
    answer = payout_answer(entity)
    if event.get("event") == "payout.reversed":
        answer = GatewayPayout(status="reversed", provider_payout_id=entity["id"])
    payout = _payout(provider_payout_id=entity["id"], our_id=entity.get("reference_id"))
    return _apply(payout, answer, entity.get("amount") if answer.status == "reversed" else None, entity["id"])


@notification_handler(Provider.STRIPE, "transfer.reversed")
def _stripe_transfer_reversed(event: dict) -> Handled:
    transfer = ((event.get("data") or {}).get("object")) or {}
    if "id" not in transfer:
        return Handled(Outcome.UNKNOWN, detail="no transfer in the event")
    payout = _payout(provider_payout_id=transfer["id"], our_id=(transfer.get("metadata") or {}).get("payoutId"))
    answer = GatewayPayout(status="reversed", provider_payout_id=transfer["id"])
    return _apply(payout, answer, transfer.get("amount_reversed") or 0, transfer["id"])
