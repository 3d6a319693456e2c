"""Paying experts out to their banks.

A payout is recorded and its amount held on the expert's wallet in one transaction; the gateway is
called after that commits (no lock held); its answer is applied in a new transaction: paid
captures the hold to payout clearing, failed releases it back.
"""
import logging
from dataclasses import asdict
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from experts.models import BankDetail
from payouts.models import Payout
from payouts.selectors import expert_wallet, monthly_payout_exists, monthly_payout_quote
from wallets import ledger, selectors
from wallets.crypto import decrypt
from wallets.errors import DomainError, ErrorCode
from wallets.events import event_emit
from wallets.gateways import (
    METHODS,
    GatewayPayout,
    GatewayRefused,
    GatewayUnavailable,
    PayoutDestination,
    gateway_for,
    live,
)
from wallets.models import Account, Entry, GatewayEvent, Hold, JournalTransaction, Tenant
from wallets.money import parse_amount
from wallets.recovery import ANSWERED, NO_RECOVERY, RECORDED, SUBMITTING, calls_out, no_transaction_open
from wallets.services import holds
from wallets.services.holds import Payee
from wallets.validation import invalid, parse_uuid

logger = logging.getLogger(__name__)


def _payment_method(method) -> str:
    if method not in METHODS:
        raise invalid("paymentMethod", f"Must be one of {', '.join(METHODS)}.")
    return method


def _require_destination(method: str, bank: BankDetail) -> None:
    """A live Stripe payout goes to the expert's connected account: the bank detail must name one."""
    if live() and method == "STRIPE" and not bank.stripe_account_id:
        raise DomainError(
            ErrorCode.STRIPE_ACCOUNT_REQUIRED, "STRIPE payouts go to a connected account: add stripeAccountId to the bank detail."
        )


def _already_exists() -> DomainError:
    return DomainError(ErrorCode.PAYOUT_ALREADY_EXISTS, "A monthly payout for this expert and month already exists.")


def _payout_record(
    *, wallet: Account, amount: Decimal, kind: str, month, method: str, bank: BankDetail, retry_of=None,
    recovery=NO_RECOVERY,
) -> Payout:
    """Phase 1 of a payout: recorded, and its amount held on the wallet, in one transaction (`recorded`)."""
    try:
        with recovery.step(RECORDED) as remember:
            payout_id = Payout._meta.pk.default()
            hold = holds.hold_place(
                wallet=wallet,
                amount=amount,
                reference_type="payout",
                reference_id=str(payout_id),
                description=f"Payout hold: {payout_id}",
            )
            payout = Payout.objects.create(
                id=payout_id,
                expert_id=wallet.user_id,
                wallet=wallet,
                amount=amount,
                currency=wallet.currency,
                kind=kind,
                month=month,
                payment_method=method,
                bank_account=bank,
                hold=hold,
                retry_of=retry_of,
            )
            remember(payout=str(payout.id))
        return payout
    except IntegrityError:
        if kind == Payout.Kind.MONTHLY:
            raise _already_exists() from None
        raise


def payout_execute(*, payout_id, recovery=NO_RECOVERY) -> Payout:
    """Phases 2 and 3 of a payout: marked submitted (`submitting`, committed before anything leaves,
    so it can no longer be cancelled); the gateway asked to pay with no transaction open, keyed by the
    payout's id; its answer kept on the payout (`answered`); then applied: paid captures the hold to
    payout clearing, failed releases it, anything else (a timeout included) leaves the payout
    processing, its hold in place, for the gateway's webhook or `sync_gateway_status`. Resumes after
    whichever of these an earlier attempt committed; each applies at most once."""
    payout = Payout.objects.select_related("bank_account").get(pk=payout_id)
    if payout.status != Payout.Status.PENDING:
        return payout  # the answer was applied (by an earlier attempt or the gateway's webhook)
    if payout.gateway_answer is None:
        if payout.submitted_at is None:
            with recovery.step(SUBMITTING):
                Payout.objects.filter(pk=payout.pk, submitted_at__isnull=True).update(submitted_at=timezone.now())
        reply = _ask_gateway(payout)
        if reply is None:
            return Payout.objects.get(pk=payout_id)  # another process is asking the gateway right now
        with recovery.step(ANSWERED):
            Payout.objects.filter(pk=payout.pk, gateway_answer__isnull=True).update(gateway_answer=asdict(reply))
    return payout_apply_answer(payout_id=payout_id)


def _ask_gateway(payout: Payout) -> GatewayPayout | None:
    """The gateway's answer to "pay this payout", asked with no transaction open and the payout's id
    as the idempotency key; None if another process is asking about this payout right now.

    One asker at a time (a lease on the payout). A repeat first looks the payout up by our id (the
    provider's idempotency keys do not last forever), and a refusal of a repeat is not final: the
    first, unanswered attempt may have made the payout, so it stays processing for the sync."""
    no_transaction_open()
    now = timezone.now()
    claimed = Payout.objects.filter(pk=payout.pk).filter(
        Q(gateway_lease_until__isnull=True) | Q(gateway_lease_until__lt=now)
    ).update(gateway_lease_until=now + timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS),
             gateway_attempts=F("gateway_attempts") + 1)
    if not claimed:
        return None
    try:
        attempt = Payout.objects.values_list("gateway_attempts", flat=True).get(pk=payout.pk)
        return _ask_gateway_once(payout, first=attempt == 1)
    finally:
        Payout.objects.filter(pk=payout.pk).update(gateway_lease_until=None)


def _ask_gateway_once(payout: Payout, *, first: bool) -> GatewayPayout:
    gateway = gateway_for(payout.payment_method)
    bank = payout.bank_account
    destination = PayoutDestination(
        account_number=decrypt(bank.account_number_encrypted),
        ifsc_code=bank.ifsc_code,
        account_holder_name=bank.account_holder_name,
        expert_id=str(payout.expert_id),
        razorpay_contact_id=bank.razorpay_contact_id,
        razorpay_fund_account_id=bank.razorpay_fund_account_id,
        stripe_account_id=bank.stripe_account_id,
    )
    try:
        if not first and hasattr(gateway, "find_payout"):
            made = gateway.find_payout(str(payout.id))
            if made is not None:
                return made
        if hasattr(gateway, "prepare_destination"):
            prepared = gateway.prepare_destination(destination)
            if prepared.razorpay_fund_account_id != bank.razorpay_fund_account_id:
                BankDetail.objects.filter(pk=bank.pk).update(
                    razorpay_contact_id=prepared.razorpay_contact_id,
                    razorpay_fund_account_id=prepared.razorpay_fund_account_id,
                )
            destination = prepared
        return gateway.create_payout(
            reference=str(payout.id), amount=payout.amount, currency=payout.currency, destination=destination,
            idempotency_key=str(payout.id),
        )
    except GatewayUnavailable as exc:
        logger.warning("payout %s: the gateway did not answer: %s", payout.id, exc)
        return GatewayPayout(status="processing", provider_payout_id=None, failure_reason="")
    except GatewayRefused as exc:
        if first:
            return GatewayPayout(status="failed", provider_payout_id=None, failure_reason=str(exc)[:255])
        logger.error("payout %s: a repeated request was refused (%s); it stays processing", payout.id, exc)
        return GatewayPayout(status="processing", provider_payout_id=None, failure_reason="")


def payout_apply_answer(*, payout_id) -> Payout:
    """The gateway's kept answer to our payout, applied once (a second application changes nothing)."""
    answer = GatewayPayout(**Payout.objects.values_list("gateway_answer", flat=True).get(pk=payout_id))
    return payout_apply_status(payout_id=payout_id, answer=answer)[0]


def payout_apply_status(*, payout_id, answer: GatewayPayout, reversed_amount: Decimal | None = None) -> tuple[Payout, str]:
    """What the gateway says of a payout (its answer, a webhook, a status read back), applied once:
    paid captures the hold, failed releases it (never after paid), reversed credits back what came
    back (`reversed_amount` in all, all of it if not given), anything else leaves it processing with
    the provider's id. Returns the payout and the outcome: `applied`, `ignored`, or `conflict` (the
    provider says paid of a payout we closed as failed or cancelled: for finance)."""
    before = Payout.objects.values_list("status", "reversed_amount", flat=False).get(pk=payout_id)
    if answer.status == "paid":
        payout = payout_mark_paid(payout_id=payout_id, provider_payout_id=answer.provider_payout_id)
    elif answer.status == "failed":
        payout = payout_mark_failed(payout_id=payout_id, reason=answer.failure_reason or "rejected by the gateway",
                                    provider_payout_id=answer.provider_payout_id)
    elif answer.status == "reversed":
        payout = payout_reverse(payout_id=payout_id, reversed_total=reversed_amount, provider_payout_id=answer.provider_payout_id)
    else:
        payout = payout_mark_processing(payout_id=payout_id, provider_payout_id=answer.provider_payout_id)
    if (payout.status, payout.reversed_amount) != before:
        return payout, GatewayEvent.Outcome.APPLIED
    contradicted = answer.status in ("paid", "reversed") and payout.status in (Payout.Status.FAILED, Payout.Status.CANCELLED)
    return payout, GatewayEvent.Outcome.CONFLICT if contradicted else GatewayEvent.Outcome.IGNORED


def payout_reverse(*, payout_id, reversed_total: Decimal | None, provider_payout_id: str | None = None) -> Payout:
    """Money of a paid payout came back (the bank returned it, or the transfer was reversed):
    credit the wallet what came back since last time, from payout clearing, in a reversal posting;
    all of it back makes the payout `reversed`. A payout the gateway had not yet reported paid is
    captured first (it was paid, then came back). Partial reversals add up; each amount once."""
    payout = Payout.objects.get(pk=payout_id)
    if payout.status in (Payout.Status.PENDING, Payout.Status.PROCESSING):
        payout_mark_paid(payout_id=payout_id, provider_payout_id=provider_payout_id or payout.provider_payout_id)
    with transaction.atomic():
        payout = _lock_payout(payout_id)
        if payout.status not in (Payout.Status.PAID, Payout.Status.REVERSED):
            logger.error("payout %s is %s but the gateway says it was reversed", payout.id, payout.status)
            return payout
        total = payout.amount if reversed_total is None else min(Decimal(reversed_total), payout.amount)
        delta = total - payout.reversed_amount
        if delta <= 0:
            return payout
        wallet = payout.wallet
        ledger.post(
            kind=JournalTransaction.Kind.REVERSAL,
            legs=[
                ledger.system_leg(wallet.tenant_id, Account.System.PAYOUT_CLEARING, payout.currency, -delta, Entry.Type.REFUND),
                ledger.wallet_leg(wallet, delta, Entry.Type.REFUND),
            ],
            description=f"Payout returned: {payout.id}",
            reference_type="payout",
            reference_id=str(payout.id),
            external_key=f"payout-reversal:{payout.id}:{total}",
        )
        payout.reversed_amount = total
        if total == payout.amount:
            payout.status = Payout.Status.REVERSED
        payout.save(update_fields=["reversed_amount", "status", "updated_at"])
        _emit(payout, "payout.reversed")
    return payout


def _lock_payout(payout_id) -> Payout:
    payout = Payout.objects.select_for_update(of=("self",)).filter(pk=payout_id).first()
    if payout is None:
        raise DomainError(ErrorCode.PAYOUT_NOT_FOUND, "No such payout.")
    return payout


def _emit(payout: Payout, type: str) -> None:
    event_emit(tenant=payout.wallet.tenant, type=type, obj=payout)


def payout_mark_processing(*, payout_id, provider_payout_id: str | None) -> Payout:
    """The gateway took the payout and has not paid it yet: a pending payout becomes processing
    (`payout.processing`); the provider's id is kept when first known."""
    with transaction.atomic():
        payout = _lock_payout(payout_id)
        changed = []
        if payout.status == Payout.Status.PENDING:
            payout.status = Payout.Status.PROCESSING
            changed.append("status")
        if provider_payout_id and not payout.provider_payout_id:
            payout.provider_payout_id = provider_payout_id
            changed.append("provider_payout_id")
        if changed:
            payout.save(update_fields=[*changed, "updated_at"])
        if "status" in changed:
            _emit(payout, "payout.processing")
    return payout


def payout_mark_paid(*, payout_id, provider_payout_id: str | None) -> Payout:
    """The gateway paid: the hold is captured to payout clearing, once. A payout already closed
    otherwise (failed, cancelled) is left as it is and the conflict logged for finance: a terminal
    status never moves backwards."""
    with transaction.atomic():
        payout = _lock_payout(payout_id)
        if payout.status == Payout.Status.PAID:
            return payout
        if payout.status not in (Payout.Status.PENDING, Payout.Status.PROCESSING):
            logger.error("payout %s is %s but the gateway says paid (%s)", payout.id, payout.status, provider_payout_id)
            return payout
        holds.hold_capture(
            hold=holds.hold_lock(payout.hold_id),
            payees=[Payee(amount=payout.amount, type=Entry.Type.WITHDRAWAL, system=Account.System.PAYOUT_CLEARING)],
            debit_type=Entry.Type.WITHDRAWAL,
            description=f"Payout to bank: {payout.id}",
        )
        if payout.status == Payout.Status.PENDING:  # paid at once: it was processing on the way
            payout.status = Payout.Status.PROCESSING
            _emit(payout, "payout.processing")
        payout.status = Payout.Status.PAID
        payout.provider_payout_id = provider_payout_id
        payout.save(update_fields=["status", "provider_payout_id", "updated_at"])
        _emit(payout, "payout.paid")
    return payout


def payout_mark_failed(*, payout_id, reason: str, provider_payout_id: str | None = None) -> Payout:
    """The gateway did not pay: the hold is released back to the wallet, once. A paid payout stays paid."""
    with transaction.atomic():
        payout = _lock_payout(payout_id)
        return _close_unpaid(payout=payout, status=Payout.Status.FAILED, reason=reason, provider_payout_id=provider_payout_id)


def payout_cancel(*, payout_id, reason: str = "cancelled by staff") -> Payout:
    """Cancel a payout never sent to the gateway; the held amount goes back to the wallet. Once it
    was submitted the gateway may pay it whatever we do, so only the gateway's answer closes it."""
    with transaction.atomic():
        payout = _lock_payout(payout_id)
        if payout.status != Payout.Status.PENDING:
            raise DomainError(ErrorCode.PAYOUT_NOT_RETRYABLE, f"Only pending payouts can be cancelled; this one is {payout.status}.")
        if payout.submitted_at is not None:
            raise DomainError(
                ErrorCode.PAYOUT_NOT_RETRYABLE,
                "This payout was sent to the gateway and may be paid; it closes with the gateway's answer.",
            )
        return _close_unpaid(payout=payout, status=Payout.Status.CANCELLED, reason=reason)


def payout_retry(*, payout_id) -> Payout:
    """A new attempt for a failed payout: same expert, amount, bank account and method, held again
    (the expert needs the money available now) and sent to the gateway. Each failed payout is retried
    at most once; a failed retry can be retried in turn."""
    original = Payout.objects.select_related("wallet", "bank_account").filter(pk=payout_id).first()
    if original is None:
        raise DomainError(ErrorCode.PAYOUT_NOT_FOUND, "No such payout.")
    if original.status != Payout.Status.FAILED:
        raise DomainError(ErrorCode.PAYOUT_NOT_RETRYABLE, f"Only failed payouts can be retried; this one is {original.status}.")
    if Payout.objects.filter(retry_of=original).exists():
        raise DomainError(ErrorCode.PAYOUT_NOT_RETRYABLE, "This payout has already been retried.")
    try:
        payout = _payout_record(
            wallet=original.wallet,
            amount=original.amount,
            kind=original.kind,
            month=original.month,
            method=original.payment_method,
            bank=original.bank_account,
            retry_of=original,
        )
    except IntegrityError:  # retried concurrently (one retry per payout), or paid meanwhile for the month
        raise DomainError(ErrorCode.PAYOUT_NOT_RETRYABLE, "This payout has already been retried.") from None
    return payout_execute(payout_id=payout.id)


def _close_unpaid(*, payout: Payout, status: str, reason: str, provider_payout_id: str | None = None) -> Payout:
    """Within the caller's transaction, on the payout it locked. Only an open payout closes: a paid or
    reversed one never moves back (logged for finance), a failed or cancelled one stays as it is."""
    if payout.status not in (Payout.Status.PENDING, Payout.Status.PROCESSING):
        if payout.status in (Payout.Status.PAID, Payout.Status.REVERSED):
            logger.error("payout %s is %s but was to be closed %s (%s)", payout.id, payout.status, status, reason)
        return payout
    hold = Hold.objects.select_for_update().get(pk=payout.hold_id)
    if hold.status == Hold.Status.ACTIVE and hold.remaining > 0:
        holds.hold_release(hold=hold, description=f"Payout {status}: {payout.id}")
    payout.status = status
    payout.failure_reason = reason[:255]
    if provider_payout_id:
        payout.provider_payout_id = provider_payout_id
    payout.save(update_fields=["status", "failure_reason", "provider_payout_id", "updated_at"])
    if status == Payout.Status.FAILED:
        _emit(payout, "payout.failed")
    return payout


@calls_out
def payout_request_manual(
    *, tenant: Tenant, expert_id, amount, bank_account_id, payment_method, recovery=NO_RECOVERY
) -> Payout:
    """Pay `amount` of the tenant's expert's available balance to one of their bank accounts (in
    phases; `recovery` resumes a retried request after its last one)."""
    payout_id = recovery.data.get("payout")
    if payout_id is None:
        wallet = expert_wallet(tenant, expert_id)
        method = _payment_method(payment_method)
        amount = parse_amount(amount, wallet.currency)
        bank = BankDetail.objects.filter(pk=parse_uuid(bank_account_id), expert_id=wallet.user_id).first()
        if bank is None:
            raise DomainError(ErrorCode.BANK_ACCOUNT_NOT_FOUND, "bankAccount is not one of the expert's bank details.")
        _require_destination(method, bank)
        payout_id = _payout_record(
            wallet=wallet, amount=amount, kind=Payout.Kind.MANUAL, month=None, method=method, bank=bank, recovery=recovery
        ).id
    return payout_execute(payout_id=payout_id, recovery=recovery)


@calls_out
def payout_request_monthly(
    *, tenant: Tenant, expert_id, month: str, threshold=None, payment_method: str = "RAZORPAY", recovery=NO_RECOVERY
):
    """The expert's monthly payout (in phases, like a manual one), or a `MonthlyQuote` saying why
    nothing is paid (below threshold)."""
    payout_id = recovery.data.get("payout")
    if payout_id is None:
        quote = monthly_payout_quote(tenant=tenant, expert_id=expert_id, month=month, threshold=threshold)
        if monthly_payout_exists(expert_id=quote.expert_id, month=month):
            raise _already_exists()
        if quote.bank is None:
            raise DomainError(ErrorCode.BANK_ACCOUNT_NOT_FOUND, "The expert has no primary bank account.")
        if not quote.payable:
            return quote
        _require_destination(_payment_method(payment_method), quote.bank)
        wallet = selectors.webuddy_wallet(tenant=tenant, user_id=quote.expert_id)
        payout_id = _payout_record(
            wallet=wallet, amount=quote.amount, kind=Payout.Kind.MONTHLY, month=month, method=_payment_method(payment_method),
            bank=quote.bank, recovery=recovery,
        ).id
    return payout_execute(payout_id=payout_id, recovery=recovery)
