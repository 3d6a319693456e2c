"""Recharges: money paid into a wallet through a payment gateway, recorded first, credited once."""
from django.db import transaction

from wallets.errors import DomainError, ErrorCode
from wallets.gateways import gateway_for
from wallets.models import Account, Recharge, Tenant
from wallets.money import parse_amount
from wallets.selectors import webuddy_wallet
from wallets.services.postings import wallet_deposit
from wallets.validation import invalid


def recharge_create(*, tenant: Tenant, user_id, amount, payment_method: str) -> tuple[Recharge, dict]:
    """Start a wallet recharge through the payment method's gateway.

    The intent is recorded first, the gateway called with no lock held, and the wallet credited
    once when the gateway confirms (at once with the simulated gateway). Returns the recharge and
    what the payer's client needs to complete a live payment.
    """
    wallet = webuddy_wallet(tenant=tenant, user_id=user_id)
    amount = parse_amount(amount, wallet.currency)
    if payment_method not in Recharge.Method.values:
        raise invalid("paymentMethod", f"Must be one of {', '.join(Recharge.Method.values)}.")
    if wallet.status != Account.Status.ACTIVE:
        raise DomainError(ErrorCode.WALLET_SUSPENDED, "The wallet is suspended.")
    recharge = Recharge.objects.create(
        user_id=wallet.user_id, account=wallet, amount=amount, currency=wallet.currency, payment_method=payment_method
    )
    order = gateway_for(payment_method).create_order(
        reference=str(recharge.id), amount=amount, currency=wallet.currency, idempotency_key=f"recharge-{recharge.id}"
    )
    Recharge.objects.filter(pk=recharge.pk).update(provider_order_id=order.provider_order_id)
    if order.status == "succeeded":
        recharge = recharge_confirm(recharge_id=recharge.id, provider_payment_id=order.provider_payment_id)
    elif order.status == "failed":
        recharge = recharge_fail(recharge_id=recharge.id, reason=order.failure_reason)
    else:
        recharge.refresh_from_db()
    return recharge, order.client_data


def recharge_confirm(*, recharge_id, provider_payment_id: str | None) -> Recharge:
    """The gateway says the money arrived: credit the wallet, exactly once."""
    with transaction.atomic():
        recharge = Recharge.objects.select_for_update().select_related("account").get(pk=recharge_id)
        if recharge.status == Recharge.Status.SUCCEEDED:
            return recharge
        posted = wallet_deposit(
            wallet=recharge.account,
            amount=recharge.amount,
            description=f"Wallet recharge via {recharge.get_payment_method_display().title()}",
            reference_type="recharge",
            reference_id=str(recharge.id),
            external_key=f"recharge:{recharge.id}",
        )
        recharge.status = Recharge.Status.SUCCEEDED
        recharge.provider_payment_id = provider_payment_id
        recharge.transaction_id = posted.transaction_id
        recharge.save(update_fields=["status", "provider_payment_id", "transaction", "updated_at"])
    return recharge


def recharge_fail(*, recharge_id, reason: str) -> Recharge:
    with transaction.atomic():
        recharge = Recharge.objects.select_for_update().get(pk=recharge_id)
        if recharge.status == Recharge.Status.PENDING:
            recharge.status = Recharge.Status.FAILED
            recharge.failure_reason = reason[:255]
            recharge.save(update_fields=["status", "failure_reason", "updated_at"])
    return recharge

