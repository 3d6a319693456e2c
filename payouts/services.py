"""Paying experts out to their banks.

A payout is recorded and its amount held on the expert's wallet in one transaction; the gateway is
called after that commits (no lock held); its answer is applied in a new transaction: paid
captures the hold to payout clearing, failed releases it back.
"""
import logging
from dataclasses import asdict
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from experts.models import BankDetail
from payouts.models import Payout
from payouts.selectors import (
    MonthlyQuote,
    ended_month_end,
    expert_wallet,
    monthly_payout_exists,
    monthly_payout_quote,
)
from wallets import selectors
from wallets.crypto import decrypt
from wallets.errors import DomainError, ErrorCode
from wallets.gateways import METHODS, GatewayPayout, PayoutDestination, gateway_for
from wallets.models import Account, Entry, Hold, Tenant
from wallets.money import parse_amount
from wallets.recovery import ANSWERED, NO_RECOVERY, RECORDED, SUBMITTING, no_transaction_open
from wallets.services import holds
from wallets.services.holds import Payee
from wallets.validation import invalid, parse_uuid

logger = logging.getLogger(__name__)


def _payment_method(method) -> str:
    if method not in METHODS:
        raise invalid("paymentMethod", f"Must be one of {', '.join(METHODS)}.")
    return method


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
    payout clearing, failed releases it, anything else leaves the payout processing. Resumes after
    whichever of these an earlier attempt committed; each applies at most once."""
    payout = Payout.objects.select_related("bank_account").get(pk=payout_id)
    if payout.status != Payout.Status.PENDING:
        return payout  # the answer was applied (by an earlier attempt or the gateway's webhook)
    if payout.gateway_answer is None:
        if payout.submitted_at is None:
            with recovery.step(SUBMITTING):
                Payout.objects.filter(pk=payout.pk, submitted_at__isnull=True).update(submitted_at=timezone.now())
        no_transaction_open()
        bank = payout.bank_account
        reply = gateway_for(payout.payment_method).create_payout(
            reference=str(payout.id),
            amount=payout.amount,
            currency=payout.currency,
            destination=PayoutDestination(
                account_number=decrypt(bank.account_number_encrypted),
                ifsc_code=bank.ifsc_code,
                account_holder_name=bank.account_holder_name,
            ),
            idempotency_key=f"payout-{payout.id}",
        )
        with recovery.step(ANSWERED):
            Payout.objects.filter(pk=payout.pk, gateway_answer__isnull=True).update(gateway_answer=asdict(reply))
    return payout_apply_answer(payout_id=payout_id)


def payout_apply_answer(*, payout_id) -> Payout:
    """The gateway's kept answer to our payout, applied once (a second application changes nothing)."""
    answer = GatewayPayout(**Payout.objects.values_list("gateway_answer", flat=True).get(pk=payout_id))
    if answer.status == "paid":
        return payout_mark_paid(payout_id=payout_id, provider_payout_id=answer.provider_payout_id)
    if answer.status == "failed":
        return payout_mark_failed(payout_id=payout_id, reason=answer.failure_reason or "rejected by the gateway",
                                  provider_payout_id=answer.provider_payout_id)
    Payout.objects.filter(pk=payout_id, status=Payout.Status.PENDING).update(
        status=Payout.Status.PROCESSING, provider_payout_id=answer.provider_payout_id, updated_at=timezone.now()
    )
    return Payout.objects.get(pk=payout_id)


def _lock_payout(payout_id) -> Payout:
    payout = Payout.objects.select_for_update(of=("self",)).filter(pk=payout_id).first()
    if payout is None:
        raise DomainError(ErrorCode.PAYOUT_NOT_FOUND, "No such payout.")
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
        payout.status = Payout.Status.PAID
        payout.provider_payout_id = provider_payout_id
        payout.save(update_fields=["status", "provider_payout_id", "updated_at"])
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
    """Within the caller's transaction, on the payout it locked."""
    if payout.status in (Payout.Status.FAILED, Payout.Status.CANCELLED):
        return payout
    if payout.status == Payout.Status.PAID:
        logger.error("payout %s is paid but was to be closed %s (%s)", payout.id, status, reason)
        return payout
    hold = Hold.objects.select_for_update().get(pk=payout.hold_id)
    if hold.status == Hold.Status.ACTIVE and hold.remaining > 0:
        holds.hold_release(hold=hold, description=f"Payout {status}: {payout.id}")
    payout.status = status
    payout.failure_reason = reason[:255]
    if provider_payout_id:
        payout.provider_payout_id = provider_payout_id
    payout.save(update_fields=["status", "failure_reason", "provider_payout_id", "updated_at"])
    return payout


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
        payout_id = _payout_record(
            wallet=wallet, amount=amount, kind=Payout.Kind.MANUAL, month=None, method=method, bank=bank, recovery=recovery
        ).id
    return payout_execute(payout_id=payout_id, recovery=recovery)


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
        wallet = selectors.webuddy_wallet(tenant=tenant, user_id=quote.expert_id)
        payout_id = _payout_record(
            wallet=wallet, amount=quote.amount, kind=Payout.Kind.MONTHLY, month=month, method=_payment_method(payment_method),
            bank=quote.bank, recovery=recovery,
        ).id
    return payout_execute(payout_id=payout_id, recovery=recovery)


def monthly_run(*, month: str, threshold=None, dry_run: bool = False, tenant: Tenant | None = None) -> list[dict]:
    """Monthly payouts for every expert with a primary bank account, in every tenant of the WeBuddy
    dialect (or in `tenant`), each expert on their own: one row per expert with what was (or, dry,
    would be) paid, or why not. Safe to re-run: an expert paid for the month is `already_paid`, a
    payout an earlier run left unfinished is taken up again (same payout, same gateway key), and one
    expert's failure (a gateway error) is reported on their row without stopping the others."""
    ended_month_end(month)
    tenants = Tenant.objects.filter(dialect=Tenant.Dialect.WEBUDDY) if tenant is None else Tenant.objects.filter(pk=tenant.pk)
    rows = []
    for each in tenants.order_by("code"):
        currency = each.default_currency
        limit = None if threshold is None else parse_amount(threshold, currency, field="threshold", allow_zero=True)
        expert_ids = (
            BankDetail.objects.filter(is_primary=True, expert__tenant=each)
            .order_by("expert_id").values_list("expert_id", flat=True).distinct()
        )
        for expert_id in expert_ids:
            row = {"tenant": each.code, "currency": currency, "expert": str(expert_id), "amount": None, "result": "",
                   "payout": None}
            try:
                unfinished = Payout.objects.filter(
                    expert_id=expert_id, kind=Payout.Kind.MONTHLY, month=month, status=Payout.Status.PENDING
                ).first()
                if dry_run:
                    quote = monthly_payout_quote(tenant=each, expert_id=expert_id, month=month, threshold=limit)
                    row["amount"] = quote.amount
                    if unfinished is not None:
                        row.update(amount=unfinished.amount, result="would_resume", payout=str(unfinished.id))
                    elif monthly_payout_exists(expert_id=expert_id, month=month):
                        row["result"] = "already_paid"
                    else:
                        row["result"] = "would_pay" if quote.payable else "below_threshold"
                elif unfinished is not None:
                    resumed = payout_execute(payout_id=unfinished.id)
                    row.update(amount=resumed.amount, result=resumed.status, payout=str(resumed.id))
                else:
                    result = payout_request_monthly(tenant=each, expert_id=expert_id, month=month, threshold=limit)
                    if isinstance(result, MonthlyQuote):
                        row.update(amount=result.amount, result="below_threshold")
                    else:
                        row.update(amount=result.amount, result=result.status, payout=str(result.id))
            except DomainError as exc:
                if exc.code == ErrorCode.MONTH_NOT_ENDED:
                    raise
                row["result"] = "already_paid" if exc.code == ErrorCode.PAYOUT_ALREADY_EXISTS else exc.code.value
            except Exception:  # noqa: BLE001 - one expert's gateway trouble must not stop the run
                logger.exception("monthly payout of expert %s for %s", expert_id, month)
                row["result"] = "error"
                if row["payout"] is None:
                    started = Payout.objects.filter(expert_id=expert_id, kind=Payout.Kind.MONTHLY, month=month,
                                                    status=Payout.Status.PENDING).first()
                    row["payout"] = None if started is None else str(started.id)
            rows.append(row)
    return rows
