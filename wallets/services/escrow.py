"""Escrow of TMR Land orders: the order's amount frozen on the buyer's wallet, released to the payee
(a user of the same tenant) less the tenant's fee, or cancelled back to the buyer."""
from django.db import IntegrityError, transaction

from wallets.errors import DomainError, ErrorCode
from wallets.events import event_emit
from wallets.models import Account, Entry, Escrow, Tenant, User
from wallets.money import parse_amount
from wallets.selectors import user_wallet
from wallets.services.accounts import wallet_get_or_create
from wallets.services.holds import Payee, hold_place, hold_release, hold_require_active, hold_settle
from wallets.services.postings import fee_split
from wallets.tenants import tenant_fee_percent
from wallets.validation import invalid

System = Account.System


def escrow_freeze(*, tenant: Tenant, user_id, order_id: str, amount, currency: str) -> Escrow:
    """Freeze the order's amount on the buyer's wallet; each order id is frozen once per tenant."""
    try:
        wallet = user_wallet(tenant=tenant, user_id=user_id, currency=currency)
    except DomainError as exc:
        if exc.code == ErrorCode.WALLET_NOT_FOUND and not User.objects.filter(pk=user_id, tenant=tenant).exists():
            raise DomainError(ErrorCode.USER_NOT_FOUND, "No such user.") from None
        raise
    amount = parse_amount(amount, currency)
    exists = DomainError(ErrorCode.ORDER_ALREADY_EXISTS, f"Order {order_id} is already in escrow.")
    if Escrow.objects.filter(tenant=tenant, order_id=order_id).exists():
        raise exists
    try:
        with transaction.atomic():
            hold = hold_place(
                wallet=wallet,
                amount=amount,
                reference_type="order",
                reference_id=order_id,
                description=f"Escrow freeze: order {order_id}",
            )
            escrow = Escrow.objects.create(
                tenant=tenant, order_id=order_id, user_id=wallet.user_id, account=wallet, amount=amount,
                currency=currency, hold=hold,
            )
            event_emit(tenant=tenant, type="escrow.frozen", obj=escrow)
            return escrow
    except IntegrityError:
        raise exists from None


def _lock_frozen_escrow(tenant: Tenant, order_id: str) -> Escrow:
    """The tenant's escrow and its hold, row-locked in one statement (escrow first, then hold)."""
    escrow = (
        Escrow.objects.select_for_update(of=("self", "hold"))
        .select_related("hold__account", "tenant")
        .filter(tenant=tenant, order_id=order_id)
        .first()
    )
    if escrow is None:
        raise DomainError(ErrorCode.ORDER_NOT_FOUND, f"No escrow for order {order_id}.")
    if escrow.status != Escrow.Status.FROZEN:
        raise DomainError(ErrorCode.ORDER_NOT_FROZEN, f"Order {order_id} is {escrow.status}, not frozen.")
    return escrow


def escrow_release(*, tenant: Tenant, order_id: str, payee_id) -> Escrow:
    """The order completed: the frozen amount goes to the payee (a user of the same tenant), less
    the tenant's platform fee."""
    with transaction.atomic():
        escrow = _lock_frozen_escrow(tenant, order_id)
        if payee_id == escrow.user_id:
            raise invalid("payee_id", "The payee must be another user than the buyer.")
        payee_wallet = Account.objects.filter(
            kind=Account.Kind.WALLET, tenant=tenant, user_id=payee_id, currency=escrow.currency
        ).first()
        if payee_wallet is None:  # a payee without a wallet in this currency gets one
            payee = User.objects.filter(pk=payee_id, tenant=tenant).first()
            if payee is None:
                raise DomainError(ErrorCode.USER_NOT_FOUND, "No such payee.")
            payee_wallet = wallet_get_or_create(user=payee, currency=escrow.currency)
        payout, fee = fee_split(escrow.amount, tenant_fee_percent(tenant=escrow.tenant), escrow.currency)
        hold_settle(
            hold=hold_require_active(escrow.hold),
            amount=escrow.amount,
            payees=[
                Payee(amount=payout, type=Entry.Type.CREDIT, wallet=payee_wallet),
                Payee(amount=fee, type=Entry.Type.FEE, system=System.PLATFORM_REVENUE),
            ],
            description=f"Order payout: {order_id}",
        )
        escrow.status = Escrow.Status.RELEASED
        escrow.payee_id = payee_wallet.user_id
        escrow.fee = fee
        escrow.payout_amount = payout
        escrow.save(update_fields=["status", "payee", "fee", "payout_amount", "updated_at"])
        event_emit(tenant=tenant, type="escrow.released", obj=escrow)
    return escrow


def escrow_cancel(*, tenant: Tenant, order_id: str) -> Escrow:
    """The order was cancelled: the frozen amount goes back to the buyer."""
    with transaction.atomic():
        escrow = _lock_frozen_escrow(tenant, order_id)
        hold_release(hold=escrow.hold, description=f"Escrow cancel: order {order_id}")
        escrow.status = Escrow.Status.CANCELLED
        escrow.save(update_fields=["status", "updated_at"])
        event_emit(tenant=tenant, type="escrow.cancelled", obj=escrow)
    return escrow

