"""Recharges: money paid into a wallet through a payment gateway, recorded first, credited once."""
import logging
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wallets.errors import DomainError, ErrorCode
from wallets.events import event_emit
from wallets.gateways import (
    GatewayOrder,
    GatewayPayment,
    GatewayRefused,
    GatewayUnavailable,
    gateway_for,
    live,
)
from wallets.models import Account, GatewayEvent, Recharge, Tenant
from wallets.money import parse_amount
from wallets.recovery import ANSWERED, NO_RECOVERY, RECORDED, calls_out, no_transaction_open
from wallets.selectors import recharge_find, webuddy_wallet
from wallets.services.postings import wallet_deposit
from wallets.validation import invalid

logger = logging.getLogger(__name__)
Outcome = GatewayEvent.Outcome


@calls_out
def recharge_create(
    *, tenant: Tenant, user_id, amount, payment_method: str, recovery=NO_RECOVERY
) -> tuple[Recharge, dict]:
    """Take money into a wallet through the payment method's gateway, in phases: the recharge is
    recorded (`recorded`); the gateway is asked for an order with no transaction open, keyed by the
    recharge's id; its answer is kept on the recharge (`answered`); then applied: credited once when
    the gateway confirms (at once with the simulated gateway), failed, or left pending for the
    payer. A retry with the same `recovery` resumes after the last phase done. Returns the recharge
    and what the payer's client needs to pay."""
    recharge_id = recovery.data.get("recharge")
    if recharge_id is None:
        wallet = webuddy_wallet(tenant=tenant, user_id=user_id)
        amount = parse_amount(amount, wallet.currency)
        if payment_method not in Recharge.Method.values:
            raise invalid("paymentMethod", f"Must be one of {', '.join(Recharge.Method.values)}.")
        if wallet.status != Account.Status.ACTIVE:
            raise DomainError(ErrorCode.WALLET_SUSPENDED, "The wallet is suspended.")
        with recovery.step(RECORDED) as remember:
            recharge = Recharge.objects.create(
                user_id=wallet.user_id, account=wallet, amount=amount, currency=wallet.currency,
                payment_method=payment_method,
            )
            remember(recharge=str(recharge.id))
    else:
        recharge = Recharge.objects.get(pk=recharge_id)
    if recharge.gateway_answer is None:
        no_transaction_open()
        try:
            order = gateway_for(recharge.payment_method).create_order(**_order_request(recharge))
        except (GatewayUnavailable, GatewayRefused) as exc:
            # The recharge stays pending; a retry with the same Idempotency-Key asks again.
            logger.warning("recharge %s: creating the order failed: %s", recharge.id, exc)
            raise DomainError(
                ErrorCode.GATEWAY_UNAVAILABLE, "The payment provider could not be reached; retry with the same Idempotency-Key."
            ) from None
        with recovery.step(ANSWERED):
            _answer_keep(recharge.pk, order)
    recharge = recharge_apply_order(recharge_id=recharge.id)
    return recharge, recharge.checkout


def _order_request(recharge: Recharge) -> dict:
    """What we ask the gateway for a recharge's order, the same every time (our key, our reference)."""
    return {
        "reference": str(recharge.id), "amount": recharge.amount, "currency": recharge.currency,
        "idempotency_key": f"recharge-{recharge.id}",
        "metadata": {"rechargeId": str(recharge.id), "userId": str(recharge.user_id)},
    }


def _answer_keep(recharge_id, order: GatewayOrder) -> None:
    """The gateway's answer to our order, kept on the recharge before it is applied (the first one only)."""
    Recharge.objects.filter(pk=recharge_id, gateway_answer__isnull=True).update(
        gateway_answer=asdict(order), provider_order_id=order.provider_order_id, checkout=order.client_data,
        updated_at=timezone.now(),
    )


def recharge_apply_order(*, recharge_id) -> Recharge:
    """The gateway's kept answer to our order, applied: credited or failed if the gateway already
    knows (each at most once, whoever applies it first), else left pending for the payer."""
    recharge = Recharge.objects.select_related("account").get(pk=recharge_id)
    order = GatewayOrder(**recharge.gateway_answer)
    if order.status == "succeeded":
        return recharge_confirm(recharge_id=recharge_id, provider_payment_id=order.provider_payment_id)
    if order.status == "failed":
        return recharge_fail(recharge_id=recharge_id, reason=order.failure_reason)
    return recharge


def recharge_confirm(*, recharge_id, provider_payment_id: str | None) -> Recharge:
    """The gateway says the money arrived: credit the wallet, exactly once, whatever the recharge's
    status was and even if the wallet has since been suspended (money received is always credited)."""
    with transaction.atomic():
        recharge = Recharge.objects.select_for_update(of=("self", "account")).select_related("account__tenant").get(pk=recharge_id)
        if recharge.status == Recharge.Status.SUCCEEDED:
            return recharge
        posted = wallet_deposit(
            wallet=recharge.account,
            amount=recharge.amount,
            description=f"Wallet recharge via {recharge.get_payment_method_display().title()}",
            reference_type="recharge",
            reference_id=str(recharge.id),
            external_key=f"recharge:{recharge.id}",
            require_active=False,
        )
        recharge.account.balance, recharge.account.held_balance = posted.balances[recharge.account_id]
        recharge.status = Recharge.Status.SUCCEEDED
        recharge.provider_payment_id = provider_payment_id
        recharge.transaction_id = posted.transaction_id
        recharge.save(update_fields=["status", "provider_payment_id", "transaction", "updated_at"])
        event_emit(tenant=recharge.account.tenant, type="recharge.succeeded", obj=recharge)
    return recharge


def recharge_fail(*, recharge_id, reason: str) -> Recharge:
    """The gateway says the payment failed: a pending recharge becomes failed (nothing else changes)."""
    with transaction.atomic():
        recharge = Recharge.objects.select_for_update(of=("self",)).select_related("account__tenant").get(pk=recharge_id)
        if recharge.status == Recharge.Status.PENDING:
            recharge.status = Recharge.Status.FAILED
            recharge.failure_reason = reason[:255]
            recharge.save(update_fields=["status", "failure_reason", "updated_at"])
            event_emit(tenant=recharge.account.tenant, type="recharge.failed", obj=recharge)
    return recharge



def _payment_matches(recharge: Recharge, payment: GatewayPayment) -> bool:
    return (
        payment.currency == recharge.currency
        and payment.amount == recharge.amount
        and (payment.provider_order_id is None or payment.provider_order_id == recharge.provider_order_id)
    )


def recharge_apply_payment(*, recharge: Recharge, payment: GatewayPayment) -> str:
    """What the provider says of the payment towards a recharge, applied: money received is credited
    once (whatever the recharge's status was), a failure fails a pending recharge. Money of another
    amount or currency is never credited: `mismatch`, for finance; a second payment of a recharge
    already paid is not credited either: `conflict`, for finance. Returns the outcome: `applied`,
    `ignored` (nothing to change), `mismatch` or `conflict`."""
    if payment.status == "captured":
        if not _payment_matches(recharge, payment):
            logger.error("recharge %s: %s paid %s %s, not %s %s", recharge.id, payment.provider_payment_id,
                         payment.amount, payment.currency, recharge.amount, recharge.currency)
            return Outcome.MISMATCH
        if recharge.status == Recharge.Status.SUCCEEDED:
            return _second_payment(recharge, payment) or Outcome.IGNORED
        # `recharge` may be stale: the one that paid is decided under the row lock, in recharge_confirm.
        confirmed = recharge_confirm(recharge_id=recharge.id, provider_payment_id=payment.provider_payment_id)
        return _second_payment(confirmed, payment) or Outcome.APPLIED
    if payment.status == "failed":
        if recharge.status != Recharge.Status.PENDING:
            return Outcome.IGNORED
        recharge_fail(recharge_id=recharge.id, reason=payment.failure_reason or "the payment failed")
        return Outcome.APPLIED
    return Outcome.IGNORED


def _second_payment(recharge: Recharge, payment: GatewayPayment) -> Outcome | None:
    """`conflict` when a recharge was paid by another payment than this one: this one is not credited
    (finance refunds it)."""
    if recharge.provider_payment_id in (None, payment.provider_payment_id):
        return None
    logger.error("recharge %s was paid by %s and again by %s", recharge.id, recharge.provider_payment_id,
                 payment.provider_payment_id)
    return Outcome.CONFLICT


@calls_out
def recharge_verify_razorpay(*, tenant: Tenant, recharge_id, order_id, payment_id, signature) -> Recharge:
    """Razorpay Checkout's handler said the payer paid: check its signature against the order we
    stored, fetch the payment, and settle the order's payments with at most one capture
    (`_razorpay_settle`); the wallet is credited when a payment for our order, amount and currency is
    captured (all with no transaction open until the credit). 400 `invalid_signature` and 400
    `payment_mismatch` change nothing; 409 `payment_not_captured` when this payment is not (yet)
    captured, or another payment paid the recharge (this one is then left uncaptured, for finance)."""
    from wallets.gateways.razorpay_live import checkout_signature_valid

    recharge = recharge_find(tenant=tenant, recharge_id=recharge_id)
    forged = DomainError(ErrorCode.INVALID_SIGNATURE, "The checkout signature does not match the recharge's order.")
    if (
        recharge.payment_method != Recharge.Method.RAZORPAY
        or not recharge.provider_order_id
        or not all(isinstance(v, str) and v for v in (order_id, payment_id, signature))
        or order_id != recharge.provider_order_id
    ):
        raise forged
    if not live():
        if recharge.status == Recharge.Status.SUCCEEDED:
            return recharge  # the simulated gateway credited it when it was made
        raise forged
    if not checkout_signature_valid(order_id=recharge.provider_order_id, payment_id=payment_id, signature=signature):
        raise forged
    no_transaction_open()
    gateway = gateway_for(Recharge.Method.RAZORPAY)
    if recharge.status == Recharge.Status.SUCCEEDED:
        if recharge.provider_payment_id != payment_id:
            _another_paid(recharge, gateway, payment_id)
        return _verified(recharge, payment_id)
    mismatch = DomainError(ErrorCode.PAYMENT_MISMATCH, "The payment is not for this recharge's order, amount and currency.")
    try:
        payment = gateway.fetch_payment(payment_id)
    except GatewayRefused as exc:
        logger.warning("recharge %s: Razorpay refused to give payment %s: %s", recharge.id, payment_id, exc)
        raise mismatch from None
    except GatewayUnavailable as exc:
        logger.warning("recharge %s: verifying payment %s failed: %s", recharge.id, payment_id, exc)
        raise _unreachable() from None
    if payment.provider_order_id != recharge.provider_order_id or not _payment_matches(recharge, payment):
        raise mismatch
    try:
        _razorpay_settle(recharge, gateway, candidate=payment)
    except (GatewayUnavailable, GatewayRefused) as exc:
        logger.warning("recharge %s: settling payment %s failed: %s", recharge.id, payment_id, exc)
        raise _unreachable() from None
    return _verified(Recharge.objects.select_related("account").get(pk=recharge.pk), payment_id)


def _verified(recharge: Recharge, payment_id: str) -> Recharge:
    """The recharge if `payment_id` paid it; else why not (409 `payment_not_captured`)."""
    if recharge.status == Recharge.Status.SUCCEEDED and recharge.provider_payment_id == payment_id:
        return recharge
    if recharge.status == Recharge.Status.SUCCEEDED or recharge.capture_payment_id not in (None, payment_id):
        raise DomainError(ErrorCode.PAYMENT_NOT_CAPTURED, "Another payment of this order paid (or is paying) the "
                          "recharge; this one is not captured, and the provider returns it to the payer.")
    raise DomainError(ErrorCode.PAYMENT_NOT_CAPTURED, "The payment is not captured yet; the recharge is credited when it is.")


def _another_paid(recharge: Recharge, gateway, payment_id: str) -> None:
    """A payment verified for a recharge another one paid: recorded for finance if the payer's money
    is held or taken by it (best effort: the provider may not answer now; the sync does not look again).
    Asked once per payment: a verify repeated changes nothing and costs no call."""
    provider = recharge.payment_method.lower()
    if GatewayEvent.objects.filter(provider=provider, event_id__in=[f"uncaptured:{payment_id}", f"sync:{payment_id}"]).exists():
        return
    try:
        payment = gateway.fetch_payment(payment_id)
    except (GatewayUnavailable, GatewayRefused) as exc:
        logger.warning("recharge %s: payment %s could not be read: %s", recharge.id, payment_id, exc)
        return
    if payment.provider_order_id == recharge.provider_order_id and payment.status in ("authorized", "captured"):
        _for_finance(recharge, payment, Outcome.CONFLICT, "uncaptured" if payment.status == "authorized" else "sync",
                     f"{payment.status}: the recharge was paid by {recharge.provider_payment_id}")


def _unreachable() -> DomainError:
    return DomainError(ErrorCode.GATEWAY_UNAVAILABLE, "The payment provider could not be reached; try again.")


def recharge_capture_claim(*, recharge_id, payment_id: str) -> str | None:
    """Claim the recharge's one capture for `payment_id` before anything is captured: it goes to the
    first payment that asks, never to two, never on a recharge already paid, and is never moved
    (a claimed payment is captured, or left to expire; no other one is captured instead). Returns
    the payment that holds the claim."""
    with transaction.atomic():
        Recharge.objects.filter(pk=recharge_id, capture_payment_id__isnull=True).exclude(
            status=Recharge.Status.SUCCEEDED
        ).update(capture_payment_id=payment_id, updated_at=timezone.now())
        return Recharge.objects.values_list("capture_payment_id", flat=True).get(pk=recharge_id)


def recharge_capture(*, recharge_id) -> str:
    """Settle a Razorpay recharge's payments with its provider now (the job a `payment.authorized`
    webhook queues): at most one captured, as `_razorpay_settle` says."""
    recharge = Recharge.objects.select_related("account").get(pk=recharge_id)
    if not live() or recharge.payment_method != Recharge.Method.RAZORPAY or not recharge.provider_order_id:
        return Outcome.IGNORED
    no_transaction_open()
    return _razorpay_settle(recharge, gateway_for(Recharge.Method.RAZORPAY))


def _razorpay_settle(recharge: Recharge, gateway, *, candidate: GatewayPayment | None = None) -> str:
    """The payments of the recharge's Razorpay order, settled with at most one capture:
    1. a payment already captured is applied (credited once; a second one is a conflict for finance);
    2. else the payment holding the recharge's claim is captured; the claim goes first to
       `candidate` (the payment being verified) or to the oldest authorized payment that matches;
    3. every other authorized payment is left uncaptured (Razorpay returns it to the payer) and
       recorded for finance as a conflict.
    Returns the outcome: `applied`, `ignored`, `mismatch`, `conflict`, or the recharge's status."""
    payments = {p.provider_payment_id: p for p in gateway.order_payments(recharge.provider_order_id)}
    if candidate is not None:
        listed = payments.get(candidate.provider_payment_id)
        if listed is None or _later(candidate, listed):  # the listing may lag behind what was just fetched
            payments[candidate.provider_payment_id] = candidate
    oldest_first = sorted(payments.values(), key=lambda p: (p.created_at, p.provider_payment_id))
    captured = [p for p in oldest_first if p.status == "captured"]
    authorized = [p for p in oldest_first if p.status == "authorized" and _payment_matches(recharge, p)]
    holder = Recharge.objects.values_list("capture_payment_id", flat=True).get(pk=recharge.pk)
    if not captured and authorized:  # money already taken for this order: nothing more is captured
        if holder is None:
            wanted = payments[candidate.provider_payment_id] if candidate is not None else authorized[0]
            if wanted in authorized:
                holder = recharge_capture_claim(recharge_id=recharge.pk, payment_id=wanted.provider_payment_id)
        claimed = next((p for p in authorized if p.provider_payment_id == holder), None)
        if claimed is not None and Recharge.objects.filter(pk=recharge.pk, status=Recharge.Status.SUCCEEDED).exists():
            claimed = None  # paid meanwhile (a payment captured elsewhere, its webhook first): nothing more is taken
        if claimed is not None:
            try:
                captured = [gateway.capture_payment(claimed)]
            except GatewayRefused:  # captured meanwhile (a retry, the sync): read it again
                captured = [gateway.fetch_payment(claimed.provider_payment_id)]
    outcome = recharge.status
    for payment in captured:
        if payment.status == "captured":
            result = _settled(recharge, payment)
            outcome = Outcome.APPLIED if Outcome.APPLIED in (result, outcome) else result
    taken = {payment.provider_payment_id for payment in captured if payment.status == "captured"}
    paid = Recharge.objects.filter(pk=recharge.pk, status=Recharge.Status.SUCCEEDED).exists()
    for payment in authorized:
        # Left for finance only once another payment paid, or holds the claim (with no claim yet, the
        # next settler may still capture this one).
        if payment.provider_payment_id not in taken and (paid or holder not in (None, payment.provider_payment_id)):
            _for_finance(recharge, payment, Outcome.CONFLICT, "uncaptured",
                         "authorized, left uncaptured: the order is paid (or being paid) by another payment")
    return outcome


# How far a Razorpay payment has come: a later read of it never shows an earlier step (a failed
# payment may still be authorized late, so failed comes before authorized).
_PAYMENT_STEPS = {"created": 0, "failed": 1, "authorized": 2, "captured": 3, "refunded": 4}


def _later(one: GatewayPayment, other: GatewayPayment) -> bool:
    return _PAYMENT_STEPS.get(one.status, 0) > _PAYMENT_STEPS.get(other.status, 0)


def recharges_sync(*, older_than) -> list[tuple[Recharge, str]]:
    """Recharges left pending longer than `older_than`, settled by asking their gateway (as a webhook
    would have): paid -> credited, failed -> failed. One whose order was asked for but never answered
    (a timeout, a crash) is asked again with the same key, or found by our reference; failed if the
    provider has none (nobody can have paid it). One still unpaid after RECHARGE_EXPIRE_HOURS is failed
    (a Stripe PaymentIntent cancelled first, so nobody pays it later). A recharge failed in the last
    week is asked too: a second attempt of the payer may have paid it since (its webhook lost). Each
    on its own, with no transaction open."""
    now = timezone.now()
    cutoff = now - older_than
    done = []
    stale = Recharge.objects.filter(
        Q(status=Recharge.Status.PENDING)
        | Q(status=Recharge.Status.FAILED, provider_order_id__isnull=False, created_at__gte=now - timedelta(days=7)),
        created_at__lt=cutoff,
    ).order_by("created_at")
    for recharge in stale.select_related("account").iterator():
        outcome = recharge.status
        try:
            if live() and recharge.gateway_answer is None:
                outcome = _recover_order(recharge)
                recharge = Recharge.objects.select_related("account").get(pk=recharge.pk)
            if not recharge.provider_order_id:
                if recharge.status == Recharge.Status.PENDING:
                    recharge_fail(recharge_id=recharge.id, reason="no order was made with the payment provider")
                    outcome = "failed"
            elif live():
                outcome = _sync_one(recharge)
        except (GatewayUnavailable, GatewayRefused) as exc:
            logger.warning("recharge %s: sync failed: %s", recharge.id, exc)
            outcome = "unreachable"
        done.append((recharge, outcome))
    return done


def _recover_order(recharge: Recharge) -> str:
    """A recharge whose order was asked for but never answered: the provider asked again (`recover_order`),
    its answer kept and applied as the recharge's own request would have."""
    no_transaction_open()
    order = gateway_for(recharge.payment_method).recover_order(**_order_request(recharge), made_at=recharge.created_at)
    if order is None:
        return recharge.status
    with transaction.atomic():
        _answer_keep(recharge.pk, order)
    return recharge_apply_order(recharge_id=recharge.pk).status


def _sync_one(recharge: Recharge) -> str:
    gateway = gateway_for(recharge.payment_method)
    expired = (
        recharge.status == Recharge.Status.PENDING
        and recharge.created_at < timezone.now() - timedelta(hours=settings.RECHARGE_EXPIRE_HOURS)
    )
    if recharge.payment_method == Recharge.Method.RAZORPAY:
        outcome = _razorpay_settle(recharge, gateway)
        if expired and Recharge.objects.filter(pk=recharge.pk, status=Recharge.Status.PENDING).exists():
            # An order cannot be closed: money that still arrives for it is credited (its webhook, or
            # this sync, which asks about failed recharges for a week).
            recharge_fail(recharge_id=recharge.id, reason=f"not paid within {settings.RECHARGE_EXPIRE_HOURS} hours")
            return "expired"
        return outcome
    payment = gateway.retrieve_intent(recharge.provider_order_id)
    if expired and payment.status not in ("captured", "failed"):
        try:
            payment = gateway.cancel_intent(recharge.provider_order_id, idempotency_key=f"recharge-{recharge.id}-cancel")
        except GatewayRefused:  # it can no longer be cancelled (paid meanwhile): read it again
            payment = gateway.retrieve_intent(recharge.provider_order_id)
    if payment.status in ("captured", "failed"):
        return _settled(recharge, payment)
    return recharge.status


def _settled(recharge: Recharge, payment: GatewayPayment) -> str:
    """A payment the sync found, applied; one finance must look at is recorded like a webhook event."""
    outcome = recharge_apply_payment(recharge=Recharge.objects.get(pk=recharge.pk), payment=payment)
    if outcome in (Outcome.MISMATCH, Outcome.CONFLICT):
        _for_finance(recharge, payment, outcome, "sync", f"{payment.amount} {payment.currency} {payment.status}")
    return outcome


def _for_finance(recharge: Recharge, payment: GatewayPayment, outcome: str, how: str, detail: str) -> None:
    """A payment finance must look at (a second payment, another amount), recorded once beside the
    providers' webhook events, in their queue."""
    GatewayEvent.objects.get_or_create(
        provider=recharge.payment_method.lower(), event_id=f"{how}:{payment.provider_payment_id}"[:128],
        defaults={"event_type": f"{how}.payment", "outcome": outcome, "object_type": "recharge",
                  "object_id": str(recharge.id), "detail": f"{payment.provider_payment_id}: {detail}"[:255]},
    )
