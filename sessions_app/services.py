"""Consultation session money: hold the fee at start, adjust it, settle once at the end.

Every function locks the session row first (then the hold, then the wallets through the ledger),
so concurrent calls on one session are serialized and a session settles at most once.
"""
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from experts.services import expert_fee_percent
from sessions_app.models import ConsultationSession
from wallets import selectors
from wallets.errors import DomainError, ErrorCode
from wallets.events import event_emit
from wallets.models import Account, Entry, Hold, Tenant, User
from wallets.money import parse_amount
from wallets.services import accounts, holds
from wallets.services.holds import Payee
from wallets.services.postings import fee_split
from wallets.tenants import tenant_fee_percent
from wallets.validation import invalid, parse_uuid


def _expert(tenant: Tenant, expert_id) -> User:
    expert = User.objects.filter(pk=expert_id, tenant=tenant).first()
    if expert is None:
        raise DomainError(ErrorCode.EXPERT_NOT_FOUND, "No such expert.")
    return expert


def _lock_session(tenant: Tenant | None, session_id) -> ConsultationSession:
    """The tenant's session (any tenant's for operators: None) and its hold, row-locked in one
    statement (session first, then hold)."""
    sessions = ConsultationSession.objects.select_for_update(of=("self", "hold")).select_related(
        "hold__account", "expert__expert_profile"
    )
    if tenant is not None:
        sessions = sessions.filter(wallet__tenant=tenant)
    session = sessions.filter(pk=session_id).first()
    if session is None:
        raise DomainError(ErrorCode.SESSION_NOT_FOUND, "No such session.")
    return session


def _require_active(session: ConsultationSession) -> None:
    if session.status != ConsultationSession.Status.ACTIVE:
        raise DomainError(ErrorCode.SESSION_NOT_ACTIVE, f"The session is already {session.status}.")


def session_start(*, tenant: Tenant, user_id, expert_id, session_fee) -> ConsultationSession:
    """Open a session between two of the tenant's users and hold its fee on the user's wallet
    (400 `insufficient_balance` if short)."""
    wallet = selectors.webuddy_wallet(tenant=tenant, user_id=user_id)
    expert = _expert(tenant, expert_id)
    if expert.pk == wallet.user_id:
        raise invalid("expertId", "The expert must be another user.")
    fee = parse_amount(session_fee, wallet.currency, field="sessionFee")
    with transaction.atomic():
        session_id = ConsultationSession._meta.pk.default()
        hold = holds.hold_place(
            wallet=wallet,
            amount=fee,
            reference_type="session",
            reference_id=str(session_id),
            description=f"Session hold: {session_id}",
        )
        session = ConsultationSession.objects.create(
            id=session_id,
            user_id=wallet.user_id,
            expert=expert,
            wallet=wallet,
            currency=wallet.currency,
            session_fee=fee,
            current_fee=fee,
            hold=hold,
        )
        event_emit(tenant=tenant, type="session.started", obj=session)
        return session


def session_adjust(*, tenant: Tenant, session_id, adjusted_fee, defer_fee: bool) -> ConsultationSession:
    """Change the fee. Not deferred: the hold becomes the new fee now (more needs available funds).
    Deferred: only the fee is recorded; the difference is charged at settlement."""
    with transaction.atomic():
        session = _lock_session(tenant, session_id)
        _require_active(session)
        fee = parse_amount(adjusted_fee, session.currency, field="adjustedFee")
        if not defer_fee:
            holds.hold_resize(
                hold=holds.hold_require_active(session.hold),
                amount=fee,
                description=f"Session hold adjusted: {session.id}",
            )
        session.current_fee = fee
        session.fee_deferred = defer_fee
        session.save(update_fields=["current_fee", "fee_deferred", "updated_at"])
    return session


def session_fee_percent(*, tenant: Tenant, expert: User) -> Decimal:
    """The expert's own rate, else the tenant's platform fee, else the deployment's."""
    own = expert_fee_percent(expert=expert)
    return tenant_fee_percent(tenant=tenant) if own is None else own


def session_end(*, tenant: Tenant, session_id, expert_id, actual_fee) -> ConsultationSession:
    """Settle: charge `actual_fee` from the hold first, then from the balance within the credit
    limit; release the rest; credit the expert the fee less the platform's cut. `expert_id` must
    be the session's expert (compared as UUIDs: any case, with or without hyphens)."""
    with transaction.atomic():
        session = _lock_session(tenant, session_id)
        if parse_uuid(expert_id) != session.expert_id:
            raise DomainError(ErrorCode.EXPERT_MISMATCH, "expertId is not this session's expert.")
        _require_active(session)
        fee = parse_amount(actual_fee, session.currency, field="actualFee", allow_zero=True)
        percent = session_fee_percent(tenant=tenant, expert=session.expert)
        earning, platform_fee = fee_split(fee, percent, session.currency)
        expert_wallet = accounts.wallet_get_or_create(user=session.expert, currency=session.currency)
        hold, posted = holds.hold_settle(
            hold=session.hold,
            amount=fee,
            payees=[
                Payee(amount=earning, type=Entry.Type.CREDIT, wallet=expert_wallet),
                Payee(amount=platform_fee, type=Entry.Type.FEE, system=Account.System.PLATFORM_REVENUE),
            ],
            description=f"Consultation session: {session.id}",
            use_credit=True,
        )
        session.hold = hold
        session.status = ConsultationSession.Status.SETTLED
        session.actual_fee = fee
        session.charged_amount = fee
        session.expert_earning = earning
        session.platform_fee = platform_fee
        session.fee_percent = percent
        session.settlement_id = posted.transaction_id
        session.ended_at = timezone.now()
        session.save()
        event_emit(tenant=tenant, type="session.settled", obj=session)
    return session


def session_cancel(*, session_id, reason: str = "cancelled") -> ConsultationSession:
    """Close an active session without charging; everything held goes back. (Operators' command:
    any tenant's session.)"""
    with transaction.atomic():
        session = _lock_session(None, session_id)
        _require_active(session)
        if session.hold.status == Hold.Status.ACTIVE and session.hold.remaining > 0:
            holds.hold_release(hold=session.hold, description=f"Session {reason}: {session.id}")
        session.status = ConsultationSession.Status.CANCELLED
        session.ended_at = timezone.now()
        session.save(update_fields=["status", "ended_at", "updated_at"])
        event_emit(tenant=session.hold.account.tenant, type="session.cancelled", obj=session)
    return session


def sessions_expire(*, older_than: timedelta) -> list:
    """Cancel sessions left active longer than `older_than`, each in its own transaction."""
    try:
        cutoff = timezone.now() - older_than
    except OverflowError:  # older than the calendar: nothing is
        return []
    expired = []
    stale = ConsultationSession.objects.filter(status=ConsultationSession.Status.ACTIVE, started_at__lt=cutoff)
    for session_id in stale.values_list("id", flat=True).order_by("started_at"):
        try:
            session_cancel(session_id=session_id, reason="expired")
        except DomainError as exc:
            if exc.code != ErrorCode.SESSION_NOT_ACTIVE:  # ended meanwhile: nothing to do
                raise
            continue
        expired.append(session_id)
    return expired
